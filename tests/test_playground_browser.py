"""``vpnbot playground`` in a real browser: Debian's chromium through Playwright drives the page of a real
``vpnbot playground`` process, as a newcomer would. The requester types the command, fills and submits the form and
sees the card with its diff; the approver approves through the confirm dialog and the thread reaches "verified"; an
invalid form shows Slack's inline errors; the Home tab lists the card waiting for approval. The screenshots taken
on the way are the README's pictures (``docs/``)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser import chromium_or_skip
from playwright.sync_api import Locator, Page, expect

REPO = Path(__file__).resolve().parent.parent
PICTURES = REPO / "docs"
SEED_CONN = "vpnx-ol6bcqp0"
REQUESTER, APPROVER = "U0REQUEST", "U0APPROVER"
VERIFIED = "Verified: every proposed value is live."
WAIT_MS = 20_000


@pytest.fixture(scope="module")
def playground(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A ``vpnbot playground`` process on a free port (its own directory, no .env, no Slack or cloud settings of
    this machine), its URL."""
    chromium_or_skip()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TENCENTCLOUD_", "VPNBOT_"))}
    env.update(
        {
            "VPNBOT_SIM_TASK_SECONDS": "1",
            "VPNBOT_TASK_POLL_INITIAL": "0.2s",
            "VPNBOT_TASK_POLL_MAX": "0.5s",
            "VPNBOT_WATCH_INTERVAL": "0.5s",  # the tunnel story's fall is told within a second, not 15
        }
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "playground", "--port", "0"],
        cwd=tmp_path_factory.mktemp("playground"),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        found = re.search(r"open (http://127\.0\.0\.1:\d+/)", first)
        assert found, f"vpnbot playground printed {first!r}"
        yield found.group(1)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            rest, _ = process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            rest, _ = process.communicate()
        assert process.returncode == 0, rest
        assert "Traceback" not in rest, rest


def as_person(page: Page, user: str) -> None:
    page.select_option("#person", user)
    expect(page.locator("#person")).to_have_value(user)


def open_form(page: Page, url: str, conn: str = SEED_CONN) -> None:
    page.goto(f"{url}?user={REQUESTER}")
    as_person(page, REQUESTER)
    page.fill("#composer", f"/vpn edit {conn}")
    page.press("#composer", "Enter")
    expect(page.locator('#modal [data-block-id="vpnConnName"] [data-action-id="vpnConnName"]')).to_be_visible(
        timeout=WAIT_MS
    )


def field(page: Page, name: str) -> str:
    return f'#modal [data-block-id="{name}"] [data-action-id="{name}"]'


def test_a_change_from_command_to_verified_in_the_browser(page: Page, playground: str) -> None:
    open_form(page, playground)
    page.fill(field(page, "vpnConnName"), "office-shanghai-2")
    page.fill(field(page, "IKESet.ikeSaLifetimeSeconds"), "28800")
    page.locator("#modal-body").evaluate("body => { body.scrollTop = 0; }")
    page.screenshot(path=PICTURES / "playground-form.png")
    page.click("#modal-submit")
    expect(page.locator("#modal")).to_be_hidden(timeout=WAIT_MS)

    card = card_of(page, "office-shanghai-2")
    expect(card).to_be_visible(timeout=WAIT_MS)
    expect(card.locator("table")).to_contain_text("IKESet.ikeSaLifetimeSeconds")
    expect(card.locator("table")).to_contain_text("28800")
    page.screenshot(path=PICTURES / "playground-card.png")

    ts = card.get_attribute("data-ts")  # the card loses its buttons once approved: found by its ts from here on
    as_person(page, APPROVER)
    page.locator(f'.pg-message[data-ts="{ts}"] [data-action-id="approve_change"]').click()
    expect(page.locator("#confirm")).to_be_visible()
    page.click("#confirm-yes")
    expect(page.locator("#confirm")).to_be_hidden()

    parent = page.locator(f'.pg-message[data-ts="{ts}"]').first
    parent.locator(".pg-replies").click(timeout=WAIT_MS)
    expect(page.locator("#thread")).to_contain_text(VERIFIED, timeout=WAIT_MS)
    expect(page.locator(".pg-unknown")).to_have_count(0)
    page.screenshot(path=PICTURES / "playground-thread.png")


def test_an_invalid_form_shows_the_errors_inline(page: Page, playground: str) -> None:
    open_form(page, playground, "vpnx-b5n1r8kc")
    page.fill(field(page, "userGwCidrBlock"), "10.0.0.0/33")
    before = page.locator('.pg-message:has([data-action-id="approve_change"])').count()
    page.click("#modal-submit")
    error = page.locator('#modal [data-block-id="userGwCidrBlock"] .pg-error')
    expect(error).to_be_visible(timeout=WAIT_MS)
    expect(error).to_contain_text("10.0.0.0/33")
    expect(page.locator("#modal")).to_be_visible()
    expect(page.locator(field(page, "userGwCidrBlock"))).to_have_value("10.0.0.0/33")
    assert page.locator('.pg-message:has([data-action-id="approve_change"])').count() == before
    page.screenshot(path=PICTURES / "playground-errors.png")
    page.click("#modal-close")
    expect(page.locator("#modal")).to_be_hidden()


def card_of(page: Page, name: str) -> Locator:
    """The last change card showing ``name``."""
    return page.locator(".pg-message", has=page.locator('[data-action-id="approve_change"]'), has_text=name).last


def test_the_home_tab_lists_what_waits_for_the_approver(page: Page, playground: str) -> None:
    open_form(page, playground, "vpnx-3mv8tqwd")  # each test its own connection: one open change per connection
    page.fill(field(page, "vpnConnName"), "idc-beijing-home")
    page.click("#modal-submit")
    expect(card_of(page, "idc-beijing-home")).to_be_visible(timeout=WAIT_MS)

    as_person(page, APPROVER)
    page.click("#open-home")
    home = page.locator("#home")
    expect(home).to_contain_text("Waiting for your approval", timeout=WAIT_MS)
    waiting = home.locator("a", has_text="idc-beijing-1")
    expect(waiting.first).to_be_visible()
    expect(page.locator(".pg-unknown")).to_have_count(0)
    page.screenshot(path=PICTURES / "playground-home.png")

    waiting.first.click()  # the card's permalink: back in the channel, at the card
    expect(page.locator("#channel-view")).to_be_visible()
    expect(page.locator(".pg-highlight")).to_contain_text("idc-beijing-home")

    as_person(page, REQUESTER)
    page.click("#open-home")
    expect(page.locator("#home")).to_contain_text("Your open requests", timeout=WAIT_MS)
    expect(page.locator("#home")).to_contain_text("Nothing waits for your approval.")


def test_the_tunnel_falls_and_the_peer_panel_brings_it_back(page: Page, playground: str) -> None:
    """Step 9's story on the page: a DH group the peer does not offer takes the tunnel down after the change is
    verified; the thread says so with a Revert button; the Peer panel makes the peer match and the tunnel is up."""
    open_form(page, playground, "vpnx-x9d4hz2e")
    page.select_option(field(page, "IKESet.dhGroupName"), "group14")
    page.click("#modal-submit")
    card = card_of(page, "group14")
    expect(card).to_be_visible(timeout=WAIT_MS)

    ts = card.get_attribute("data-ts")
    as_person(page, APPROVER)
    card.locator('[data-action-id="approve_change"]').click()
    page.click("#confirm-yes")
    page.locator(f'.pg-message[data-ts="{ts}"] .pg-replies').first.click(timeout=WAIT_MS)
    thread = page.locator("#thread")
    expect(thread).to_contain_text(VERIFIED, timeout=WAIT_MS)
    expect(thread).to_contain_text("down since", timeout=WAIT_MS)
    expect(thread.locator('[data-action-id="revert_change"]').last).to_be_visible()

    page.click("#peer-toggle")
    page.select_option("#peer-conn", "vpnx-x9d4hz2e")
    page.click("#peer-mirror")
    expect(page.locator("#peer-state")).to_contain_text("match", timeout=WAIT_MS)
    expect(thread).to_contain_text("up again", timeout=WAIT_MS)
    page.screenshot(path=PICTURES / "playground-tunnel.png")
