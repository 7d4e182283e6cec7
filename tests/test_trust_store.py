"""Issue 10, point 4, through the running bot: a state file that cannot be written (SQLite's own errors, injected
at COMMIT through a real connection) is an error to the person who caused it, sends nothing, turns ``/healthz``
to 503 with the reason, and the bot carries on by itself once the file can be written again."""

from __future__ import annotations

import asyncio
import functools
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from botharness import APPROVER, Harness, harness

from bot.vpn.change import ChangeState

pytestmark = pytest.mark.usefixtures("cloud_api")
DISK_FULL = "database or disk is full"


class SickDisk(sqlite3.Connection):
    """A real SQLite connection whose COMMIT fails while ``failing`` is set, as a full disk makes it fail."""

    failing: ClassVar[bool] = False

    def commit(self) -> None:
        if SickDisk.failing:
            raise sqlite3.OperationalError(DISK_FULL)
        super().commit()

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if SickDisk.failing and sql.strip().upper().startswith("COMMIT"):
            raise sqlite3.OperationalError(DISK_FULL)
        return super().execute(sql, *args)


@pytest.fixture
def sick_disk(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[SickDisk]]:
    monkeypatch.setattr(sqlite3, "connect", functools.partial(sqlite3.connect, factory=SickDisk))
    SickDisk.failing = False
    yield SickDisk
    SickDisk.failing = False


async def _card_saved(h: Harness) -> None:
    """Until the pending request holds its card's ts (saved just after the card is posted)."""
    for _ in range(100):
        pending = await h.bot.context.store.in_states({ChangeState.PENDING})
        if pending and (await h.bot.context.notifier.record(pending[0])).has_card:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the card's ts was never saved")


async def _health(url: str) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.get(url.replace("/slack/events", "/healthz"))


async def test_a_full_disk_is_an_error_to_the_user_a_503_and_recovers(
    tmp_path: Path, sick_disk: type[SickDisk]
) -> None:
    async with harness(tmp_path) as h:
        card = await h.propose({"vpnConnName": "disk-full-approve"})
        await _card_saved(h)
        sick_disk.failing = True
        await h.click("approve_change", card, APPROVER)
        await h.slack.wait_until(lambda: "could not record your approval" in h.ephemerals_text(), what="the error")
        assert DISK_FULL in h.ephemerals_text()
        assert h.sim.state.received("ModifyVpnConnEx") + h.sim.state.received("ModifyVpnConnectionAttribute") == 0
        health = await _health(h.url)
        assert health.status_code == 503
        assert DISK_FULL in health.json()["reason"]
        request = (await h.bot.context.store.in_states({ChangeState.PENDING}))[0]
        assert request.state is ChangeState.PENDING  # nothing half done
        sick_disk.failing = False
        for _ in range(100):  # the bot probes the file every second
            if (await _health(h.url)).status_code == 200:
                break
            await asyncio.sleep(0.1)
        assert (await _health(h.url)).status_code == 200
        await h.click("approve_change", h.card_now(card), APPROVER)
        await h.wait_thread_text(card, "Verified", seconds=15)


async def test_an_edit_sent_before_the_disk_filled_is_followed_once_it_has_room(
    tmp_path: Path, sick_disk: type[SickDisk]
) -> None:
    """The edit is accepted, then the move to ``running`` cannot be saved: the thread says so, and once the file
    can be written the task is followed to its end (the card never stays pending with an applied edit)."""
    async with harness(tmp_path, task_seconds=0.5) as h:
        card = await h.propose({"vpnConnName": "disk-full-running"})
        await _card_saved(h)
        original = h.bot.context.service.cloud.client.modify_vpn_conn

        async def modify_then_fill_the_disk(*args: Any, **kwargs: Any) -> Any:
            answer = await original(*args, **kwargs)
            sick_disk.failing = True
            return answer

        h.bot.context.service.cloud.client.modify_vpn_conn = modify_then_fill_the_disk  # type: ignore[method-assign]
        await h.click("approve_change", card, APPROVER)
        await h.wait_thread_text(card, "cannot write its state file")
        assert (await _health(h.url)).status_code == 503
        sick_disk.failing = False
        await h.wait_thread_text(card, "Verified", seconds=20)
        assert "succeeded" in json.dumps(h.card_now(card)["blocks"])
        assert len(await h.bot.context.store.in_states({ChangeState.SUCCEEDED})) == 1
