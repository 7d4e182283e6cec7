"""``vpnbot edit``: the terminal as a front of the change service.

A terminal edit is a change request like a Slack one: opened by ``cli:<local user>`` (so it takes the connection's
lock: a connection with an open change from any front is refused, with a link to its card, and a Slack change
cannot start while this one is open), approved by the operator at the terminal (the confirmation, or ``--yes``),
then sent, followed, verified or reconciled by the same service, and kept in the state file and the audit log.

Output: the diff and progress go to stdout (stderr with ``--json``), problems to stderr, the JSON report to stdout.
Exit status: 0 applied; 1 refused (by the cloud, or by an open change of the connection), failed, timed out or
unknown; 2 bad usage or invalid input, or not confirmed (nothing was sent).
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import json
import os
import socket
import sys
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TextIO

from bot.changes import (
    Background,
    ChangeService,
    CloudDataError,
    CloudError,
    Note,
    NoteKind,
    PeerConfig,
    Progress,
    Step,
    WatchEvent,
    Word,
)
from bot.changes.watching import with_addresses
from bot.cloud import Cloud
from bot.config import Settings
from bot.console import ProgressLine, crypto_marks, diff_json, render_diff, render_tunnel
from bot.store import OpenRequestExistsError, StoreError, TooManyOpenRequestsError
from bot.store.interface import ChangeStore
from bot.vpn.change import ChangeRequest, ChangeState, EndKind
from bot.vpn.connection import VpnConnection, VpnSettings
from bot.vpn.diff import diff
from bot.vpn.edit import propose
from bot.vpn.params import InvalidParametersError
from bot.vpn.peer import PeerConfigError, PeerVendor, peer_config
from bot.vpn.watch import Watch

__all__ = ["EXIT_CLOUD", "EXIT_OK", "EXIT_USAGE", "FRONT", "TerminalOperator", "edit", "operator_name"]

EXIT_OK, EXIT_CLOUD, EXIT_USAGE = 0, 1, 2
FRONT = "cli"
NO_TASK_RUNNING = "applying (no task: reading the connection)"
CLI_TTL = timedelta(minutes=15)
"""How long a terminal request may wait for its operator's answer (then it expires, and the lock with it)."""


def operator_name() -> str:
    """``cli:<login>``: who ran ``vpnbot edit``, as the audit log shows it."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = str(os.getuid())
    return f"cli:{name}"


def one_line(text: str) -> str:
    """``text`` on one line: every run of whitespace or line breaks (a cloud's message may hold them) as one space."""
    return " ".join(text.split())


@dataclass(frozen=True)
class TerminalOperator:
    """The approval of an operator at the terminal: they hold the cloud's keys already, so their confirmation is the
    approval (``VPNBOT_APPROVERS`` is Slack's); nobody else approves a terminal request."""

    operator: str
    configured: bool = True
    allow_self_approval: bool = True

    async def may_approve(self, person: str, *, fresh: bool = True) -> bool:
        return person == self.operator


@dataclass
class TerminalNotifier:
    """The service's events as lines on the terminal, and what the JSON report needs of them."""

    out: TextIO
    err: TextIO
    edit_action: str
    reads: int = 0
    no_answer: str = ""
    progress_line: ProgressLine | None = None
    checking: ProgressLine | None = None
    lines: list[str] = field(default_factory=list)

    async def card_changed(self, request: ChangeRequest, note: Note | None = None) -> None:
        return None

    async def progress(self, request: ChangeRequest, progress: Progress) -> None:
        if progress.step is Step.SENT and self.progress_line is None:
            label = _label(request)
            print(f"{self.edit_action} accepted: {label}", file=self.out)
            self.progress_line = await ProgressLine(request.task_id or "", label=label).__aenter__()
        elif progress.step is Step.STATUS and self.progress_line is not None:
            status = NO_TASK_RUNNING if progress.no_task else progress.status
            await self.progress_line.changed(status, progress.elapsed or 0.0)
        elif progress.step is Step.CHECKING:
            self.reads += 1
            if self.checking is None:
                await self.stop_progress()
                label = f"checking {request.vpn_conn_id}"
                self.checking = await ProgressLine(
                    request.vpn_conn_id, label=label, ends=frozenset({"live"})
                ).__aenter__()
            await self.checking.changed(progress.status, progress.elapsed or 0.0)
        elif progress.step is Step.ENDED:
            await self.stop_progress()

    async def note(self, request: ChangeRequest, note: Note) -> None:
        await self.stop_progress()
        if note.kind in (NoteKind.NO_ANSWER, NoteKind.NO_USABLE_ANSWER):
            self.no_answer = one_line(note.detail)
            answer = "no answer" if note.kind is NoteKind.NO_ANSWER else "no usable answer"
            print(f"vpnbot: {self.no_answer}", file=self.err)
            print(f"vpnbot: {answer} to the edit; it is not sent again; checking the connection", file=self.err)
        elif note.kind is NoteKind.STILL_UNKNOWN:
            print(
                f"vpnbot: unknown: {one_line(note.detail)} Whether the edit was applied is not known: check with "
                f"`vpnbot show {request.vpn_conn_id}` before trying again",
                file=self.err,
            )
        elif note.kind is NoteKind.STORE_UNWRITABLE:
            print(f"vpnbot: the state file cannot be written ({one_line(note.detail)}); waiting", file=self.err)
        else:
            print(f"vpnbot: {one_line(note.detail) or note.kind.value}", file=self.err)

    async def finished(self, request: ChangeRequest) -> None:
        await self.stop_progress()
        end, label = request.end, _label(request)
        elapsed = f"{request.elapsed_seconds or 0:.1f}s"
        message = one_line(request.outcome_message)
        if end in (EndKind.TASK_SUCCEEDED, EndKind.APPLIED_NO_TASK):
            if end is EndKind.APPLIED_NO_TASK:
                print(f"{label}: no task; the edit is applied ({elapsed} after sending)", file=self.out)
            else:
                print(f"{label} succeeded in {elapsed}", file=self.out)
            if request.verify_note:
                print(f"vpnbot: could not verify the change: {one_line(request.verify_note)}", file=self.err)
            elif request.not_live:
                print(
                    f"vpnbot: the edit succeeded but these are not live: {', '.join(request.not_live)}", file=self.err
                )
            else:
                print("verified: every proposed value is live", file=self.out)
        elif end is EndKind.FOUND_LIVE:
            print(f"verified: every proposed value is live (read {elapsed} after sending)", file=self.out)
        elif end is EndKind.FOUND_NOT_LIVE:
            print(
                f"vpnbot: not applied: {elapsed} after sending, {request.vpn_conn_id} is not being modified and these "
                f"are not live: {', '.join(request.not_live)}",
                file=self.err,
            )
        elif end is EndKind.TASK_FAILED:
            print(f"vpnbot: {label} failed after {elapsed}: {message}", file=self.err)
        elif end is EndKind.TIMED_OUT:
            print(f"vpnbot: {label} timed_out after {elapsed}: {message}; judging from the connection", file=self.err)
        elif end is EndKind.SETTLE_TIMED_OUT:
            print(
                f"vpnbot: no task by {label}, and {request.vpn_conn_id} did not show the edit applied within "
                f"{elapsed}; judging from the connection",
                file=self.err,
            )
        elif end is not EndKind.WITHDRAWN and message:
            print(f"vpnbot: {message}", file=self.err)

    async def peer_config(self, request: ChangeRequest, configs: tuple[PeerConfig, ...]) -> None:
        return None  # the terminal prints the peer's half before asking (``--peer-config``)

    async def watch(self, request: ChangeRequest, watch: Watch, event: WatchEvent) -> None:
        return None  # a terminal edit is not watched (see ChangeService.watches)

    async def tell(self, person: str, word: Word, request: ChangeRequest) -> None:
        return None

    async def shown(self, request: ChangeRequest) -> bool:
        return True

    async def stop_progress(self) -> None:
        for line in (self.progress_line, self.checking):
            if line is not None:
                await line.__aexit__(None, None, None)
        self.progress_line = self.checking = None


def _label(request: ChangeRequest) -> str:
    """API 3.0 names the edit by its RequestId, which may name no task; API 2.0 by its task."""
    return f"RequestId {request.task_id}" if isinstance(request.task_id, str) else f"task {request.task_id}"


OUTCOMES = {
    EndKind.TASK_SUCCEEDED: "succeeded",
    EndKind.APPLIED_NO_TASK: "succeeded",
    EndKind.FOUND_LIVE: "succeeded",
    EndKind.FOUND_NOT_LIVE: "not_applied",
    EndKind.TASK_FAILED: "failed",
    EndKind.TIMED_OUT: "timed_out",
    EndKind.SETTLE_TIMED_OUT: "timed_out",
    EndKind.REFUSED: "refused",
    EndKind.NOT_SENT: "not_sent",
    EndKind.STALE: "stale",
}


def report_of(request: ChangeRequest, notifier: TerminalNotifier) -> tuple[dict[str, Any], int]:
    """The JSON report of a finished terminal edit, and its exit status."""
    report: dict[str, Any] = {"vpnConnId": request.vpn_conn_id, "diff": diff_json(request.diff)}
    if request.task_id is not None:
        report["taskId"] = request.task_id
    if notifier.no_answer:
        report["noAnswer"] = notifier.no_answer
    end = request.end
    outcome = OUTCOMES.get(end, str(request.state)) if end is not None else str(request.state)
    if request.state is ChangeState.UNKNOWN and end not in (EndKind.TIMED_OUT, EndKind.SETTLE_TIMED_OUT):
        outcome = "unknown"
    report["outcome"] = outcome
    if request.elapsed_seconds is not None:
        report["elapsedSeconds"] = request.elapsed_seconds
    if end in (EndKind.APPLIED_NO_TASK, EndKind.SETTLE_TIMED_OUT):
        report["noTask"] = True
    if notifier.reads:
        report["reads"] = notifier.reads
    verified = request.state is ChangeState.SUCCEEDED and not request.not_live and not request.verify_note
    if request.state is ChangeState.SUCCEEDED or end is EndKind.FOUND_NOT_LIVE or notifier.reads:
        report["verified"] = verified
        report["notLive"] = list(request.not_live)
    if request.verify_note:
        report["error"] = one_line(request.verify_note)
    elif request.outcome_message and request.state is not ChangeState.SUCCEEDED:
        key = "error" if end in (EndKind.REFUSED, EndKind.NOT_SENT, EndKind.STALE) else "message"
        report[key] = one_line(request.outcome_message)
    return report, EXIT_OK if verified else EXIT_CLOUD


async def edit(
    settings: Settings,
    cloud: Cloud,
    store: ChangeStore,
    vpn_conn_id: str,
    edits: dict[str, str],
    *,
    yes: bool,
    as_json: bool,
    confirm: Any,
    peer_vendor: PeerVendor | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """The terminal edit (see the module). ``confirm(question)`` asks the operator (an awaitable of bool);
    ``peer_vendor``: print the peer's half of the change in that vendor's format before asking."""
    out, err = out or sys.stdout, err or sys.stderr
    shown = err if as_json else out
    background = Background()
    notifier = TerminalNotifier(shown, err, cloud.client.edit_action)
    service = ChangeService(settings, cloud, store, notifier, background, wait_out_unreadable=False, watches=False)
    operator = TerminalOperator(operator_name())
    try:
        connection = await service.read(vpn_conn_id)
    except (CloudError, CloudDataError) as error:
        print(f"vpnbot: {one_line(str(error))}", file=err)
        return EXIT_CLOUD
    try:
        proposal = propose(connection.settings, edits)
    except InvalidParametersError as error:
        for name, message in error.problems.items():
            print(f"vpnbot: {name}: {message}", file=err)
        print("vpnbot: nothing was sent", file=err)
        return EXIT_USAGE
    rows = diff(connection.settings, proposal)
    if not rows:
        print(f"vpnbot: no change: every value given is already live on {vpn_conn_id}; nothing was sent", file=err)
        return EXIT_USAGE
    request = service.request_for(connection, proposal, operator.operator, front=FRONT, ttl=CLI_TTL)
    with contextlib.suppress(StoreError):  # a request left waiting past its time (any front's) holds no lock
        await service.expire_due()
    record = {"front": FRONT, "pid": os.getpid(), "host": socket.gethostname()}
    try:
        await service.open(request, proposal.pre_shared_key, front_record=record)
    except OpenRequestExistsError as error:
        print(f"vpnbot: {await _open_elsewhere(store, error.request)}; nothing was sent", file=err)
        return EXIT_CLOUD
    except TooManyOpenRequestsError as error:
        ids = ", ".join(r.id for r in error.requests)
        print(f"vpnbot: {operator.operator} already has open change requests ({ids}); nothing was sent", file=err)
        return EXIT_CLOUD
    except StoreError as error:
        print(f"vpnbot: the state file: {one_line(str(error))}; nothing was sent", file=err)
        return EXIT_CLOUD
    print(
        f"{connection.vpn_conn_id} ({connection.name}) in {connection.vpc_id}, gateway {connection.vpn_gw_id}",
        file=shown,
    )
    print(f"change request {request.id} by {operator.operator}", file=shown)
    print(render_diff(rows, crypto_marks(request.crypto)), file=shown)
    blocked = service.blocked_reason(request)
    print(render_tunnel(request, blocked), file=shown)
    peer_text = _peer_text(peer_vendor, connection, proposal.settings, err) if peer_vendor is not None else None
    if peer_text:
        print(f"peer configuration ({peer_vendor}), to apply on {request.peer or 'the peer'}:", file=shown)
        print(peer_text, file=shown)
    approved = False
    try:
        if blocked:
            print(f"vpnbot: VPNBOT_CRYPTO_POLICY=block refuses this change: {blocked}; nothing was sent", file=err)
            return EXIT_USAGE
        if not yes and not await confirm(f"Apply this change to {connection.vpn_conn_id}? [y/N] "):
            print("vpnbot: not confirmed; nothing was sent (use --yes to skip the question)", file=err)
            return EXIT_USAGE
        approved = True
        await service.approve(request.id, operator.operator, operator)
        await background.wait()
    finally:
        if not approved:  # refused by the policy, not confirmed, or interrupted while asking: the lock is given back
            reason = f"refused by VPNBOT_CRYPTO_POLICY=block: {blocked}" if blocked else "not confirmed at the terminal"
            await asyncio.shield(service.reject(request.id, operator.operator, reason, operator))
        await notifier.stop_progress()
    final = await store.get(request.id) or request
    report, status = report_of(final, notifier)
    if peer_text:
        report["peerConfig"] = {"vendor": str(peer_vendor), "text": peer_text}
    if as_json:
        print(json.dumps(report, indent=2, ensure_ascii=False), file=out)
    return status


def _peer_text(vendor: PeerVendor, connection: VpnConnection, proposed: VpnSettings, err: TextIO) -> str:
    """The peer's half in ``vendor``'s format, or "" (said on stderr) when that format cannot express it."""
    try:
        return peer_config(vendor, with_addresses(connection), proposed)
    except PeerConfigError as error:
        print(f"vpnbot: --peer-config {vendor}: {error}", file=err)
        return ""


async def _open_elsewhere(store: ChangeStore, request: ChangeRequest) -> str:
    """Why a connection cannot be edited now: its open change, and where it is shown."""
    where = f"change request {request.id} ({request.state}, asked by {request.requester})"
    record = await store.front_record(request.id) or {}
    link = record.get("link")
    if request.front == "slack":
        shown = f"its card: {link}" if isinstance(link, str) and link else "its card in Slack"
        return f"{request.vpn_conn_id} already has an open change in Slack, {where}; see {shown}"
    return f"{request.vpn_conn_id} already has an open change, {where}, from `vpnbot edit`"
