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
from browser import browser, chromium_or_skip, page  # noqa: F401 - fixtures
from playwright.sync_api import Page, expect

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
    env.update({"VPNBOT_SIM_TASK_SECONDS": "1", "VPNBOT_TASK_POLL_INITIAL": "0.2s", "VPNBOT_TASK_POLL_MAX": "0.5s"})
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
    page.screenshot(path=PICTURES / "playground-form.png")
    page.click("#modal-submit")
    expect(page.locator("#modal")).to_be_hidden(timeout=WAIT_MS)

    card = page.locator(".pg-message", has=page.locator('[data-action-id="approve_change"]')).last
    expect(card).to_contain_text("office-shanghai-2", timeout=WAIT_MS)
    expect(card.locator("table")).to_contain_text("IKESet.ikeSaLifetimeSeconds")
    expect(card.locator("table")).to_contain_text("28800")
    page.screenshot(path=PICTURES / "playground-card.png")

    as_person(page, APPROVER)
    card = page.locator(".pg-message", has=page.locator('[data-action-id="approve_change"]')).last
    card.locator('[data-action-id="approve_change"]').click()
    expect(page.locator("#confirm")).to_be_visible()
    page.click("#confirm-yes")
    expect(page.locator("#confirm")).to_be_hidden()

    ts = card.get_attribute("data-ts")
    parent = page.locator(f'.pg-message[data-ts="{ts}"]').first
    parent.locator(".pg-replies").click(timeout=WAIT_MS)
    expect(page.locator("#thread")).to_contain_text(VERIFIED, timeout=WAIT_MS)
    expect(page.locator(".pg-unknown")).to_have_count(0)
    page.screenshot(path=PICTURES / "playground-thread.png")


def test_an_invalid_form_shows_the_errors_inline(page: Page, playground: str) -> None:
    open_form(page, playground, "vpnx-ol6bcqp0")
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
