"""A change request's life after its card is posted: approval, the edit, following its task, verification, rejection,
expiry and recovery after a restart.

Listeners call these functions after ``ack()``. Every state change goes through ``Store.claim`` (atomic, persisted
before its side effect), so any number of clicks lead to at most one ``ModifyVpnConnEx``, and the edit is never
re-sent: a request whose edit has no known outcome is reconciled by reading the connection.

An API 3.0 edit may have no task (``DescribeVpcTaskResult`` knows no task by its RequestId): then the follow reads
the connection until it is back to normal with every proposed value live (success, said so: "no task"), or until
the task deadline, after which the edit is reconciled from the evidence like one whose answer never came.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from bot.cloud import Settling
from bot.slack import cards
from bot.slack.blocks import slack_date
from bot.slack.context import BotContext
from bot.slack.text import clip, esc, esc_visible, user, visible_lines
from bot.store import ClaimConflictError, StoreError, StoreKeyError, StoreUnavailableError
from bot.tencent import ApiError, CloudError, TaskOutcome, TaskResult, TaskState, TaskStatus
from bot.vpn.change import ChangeRequest, ChangeState, settings_fingerprint
from bot.vpn.connection import CloudDataError, VpnConnection, secret_fingerprint
from bot.vpn.diff import DiffRow, diff, not_live
from bot.vpn.edit import PSK, Proposal, propose
from bot.vpn.params import InvalidParametersError
from bot.vpn.redact import redact

log = logging.getLogger("bot.slack")
BOT = "vpnbot"
MODIFYING = 2  # vpcConnStatus while a task changes the connection
STATUS_POSTING = ""
"""``progress_ts`` while the status message is being posted. It is saved before the post, so after a crash between
the post and saving the message's ts the restarted bot knows one may exist (where, it cannot know) and posts no
second one; ``None`` means none was ever posted."""
Say = Callable[[str], Awaitable[None]]
T = TypeVar("T")
CLOUD_TEXT_MAX = 1500
SETTLED_READS = 2
"""Reads, not modifying and past the settle window, that must agree before an unanswered edit counts as not applied."""
NO_TASK_DONE = "no task: read from the connection"
NO_TASK_PREFIX = "No task by RequestId"
SETTLED_MESSAGE = f"{NO_TASK_PREFIX}: the connection shows the edit applied."
"""The outcome message (for the audit log) of an edit found applied by reading the connection."""
RECONCILED_MESSAGE = "The proposed values are live: the change took effect (read from the connection)."
V3_EDIT = "ModifyVpnConnectionAttribute"

STATE_WORDS = {
    ChangeState.APPROVED: "approved",
    ChangeState.SUBMITTING: "approved and being sent",
    ChangeState.RUNNING: "approved and running",
    ChangeState.SUCCEEDED: "applied",
    ChangeState.FAILED: "failed",
    ChangeState.UNKNOWN: "sent, with its outcome being checked",
    ChangeState.REJECTED: "rejected",
    ChangeState.EXPIRED: "expired",
    ChangeState.CANCELLED: "withdrawn",
    ChangeState.STALE: "stale",
}


def already_decided(request: ChangeRequest) -> str:
    """Why a late click changes nothing: who decided, and when."""
    words = STATE_WORDS.get(request.state, str(request.state))
    who: str | None = request.approver
    when: datetime | None = request.approved_at
    if request.state in (ChangeState.REJECTED, ChangeState.CANCELLED):
        who, when = request.decider, request.decided_at
    if request.state is ChangeState.EXPIRED:
        return (
            f"This change request expired {slack_date(request.expires_at)}; nothing was sent. Ask again with /vpn edit."
        )
    by = f" by {user(who)}" if who else ""
    at = f" at {slack_date(when)}" if when else ""
    return f"This change request was already {words}{by}{at}."


async def approve(ctx: BotContext, request_id: str, approver: str, say: Say) -> None:
    """An Approve click: check who clicked, claim the approval once, re-read, send the edit, follow its task."""
    request = await ctx.store.get(request_id)
    if request is None:
        await say(f"There is no change request `{esc_visible(request_id)}`.")
        return
    now = ctx.clock()
    if request.state is ChangeState.PENDING and request.is_expired(now):
        await expire(ctx, request)
        await say(already_decided((await ctx.store.get(request_id)) or request))
        return
    if request.state is not ChangeState.PENDING:
        await say(already_decided(request))
        return
    if approver == request.requester and not ctx.settings.vpnbot_allow_self_approval:
        await say("You asked for this change, so someone else must approve it (VPNBOT_ALLOW_SELF_APPROVAL is off).")
        return
    if not await ctx.approvers.may_approve(approver):
        who = (
            "nobody is set as an approver yet (VPNBOT_APPROVERS)"
            if not ctx.approvers.configured
            else ("only the people and groups in VPNBOT_APPROVERS can approve")
        )
        await say(f"You cannot approve this change: {who}. Nothing was changed.")
        return
    try:
        request = await ctx.store.claim(
            request_id,
            {ChangeState.PENDING},
            ChangeState.APPROVED,
            actor=approver,
            at=now,
            approver=approver,
            approved_at=now,
        )
    except ClaimConflictError as conflict:
        await say(already_decided(conflict.request))
        return
    except StoreError as error:
        await say(f":warning: vpnbot could not record your approval ({esc_visible(str(error))}). Nothing was sent.")
        return
    await submit(ctx, request)


async def submit(ctx: BotContext, request: ChangeRequest) -> None:
    """From ``approved``: re-read the connection, refuse a stale card, send ``ModifyVpnConnEx`` exactly once."""
    try:
        live = await ctx.cloud.client.describe_vpn_conn(request.vpn_conn_id)
    except (CloudError, CloudDataError) as error:
        why = await _cloud_text(ctx, request, str(error))
        await _fail(ctx, request, ChangeState.APPROVED, f"Could not re-read the connection, so nothing was sent: {why}")
        return
    if request.psk_changed:
        # The key first: with another store key, fingerprints differ too, and "stale" would hide the real cause.
        try:
            await ctx.store.psk(request.id)
        except StoreKeyError as error:
            await _fail(ctx, request, ChangeState.APPROVED, f"The change cannot be sent, so nothing was sent: {error}")
            return
    if settings_fingerprint(live.settings) != request.base_fingerprint:
        await _mark_stale(ctx, request, live)
        return
    try:
        proposal = await _proposal(ctx, request, live)
    except (InvalidParametersError, StoreError) as error:
        await _fail(ctx, request, ChangeState.APPROVED, f"The change cannot be sent: {error}")
        return
    try:
        request = await ctx.store.claim(
            request.id, {ChangeState.APPROVED}, ChangeState.SUBMITTING, actor=BOT, at=ctx.clock()
        )
    except StoreError as error:
        await _not_sent_for_store(ctx, request, error)
        return
    try:
        task_id = await ctx.cloud.client.modify_vpn_conn(live, proposal)
    except ApiError as error:
        words = await _cloud_text(ctx, request, f"{error.code} {error.code_desc}: {error.message}", live)
        await _fail(ctx, request, ChangeState.SUBMITTING, f"Tencent Cloud refused the change: {words}")
        return
    except CloudError as error:
        why = await _cloud_text(ctx, request, str(error), live)
        request = await _claim_durably(
            ctx, request, {ChangeState.SUBMITTING}, ChangeState.UNKNOWN, outcome_message=f"No answer to the edit: {why}"
        )
        await cards.update_card(ctx.client, request)
        await cards.thread_post(
            ctx.client,
            request,
            f":grey_question: No answer to ModifyVpnConnEx ({esc(visible_lines(why))}). It is not sent again; "
            "its outcome is unknown until the connection shows it.",
        )
        await reconcile(ctx, request)
        return
    now = ctx.clock()
    request = await _claim_durably(
        ctx, request, {ChangeState.SUBMITTING}, ChangeState.RUNNING, at=now, task_id=task_id, task_started_at=now
    )
    await cards.update_card(ctx.client, request)
    ctx.spawn(follow(ctx, request, proposal), f"follow-{request.id}")


async def _not_sent_for_store(ctx: BotContext, request: ChangeRequest, error: StoreError) -> None:
    """The move to ``submitting`` could not be saved, so the edit was not sent; once the store can write again
    the request fails saying so (until then it is ``approved`` in the file, which a restart fails the same way)."""
    await cards.thread_post(
        ctx.client,
        request,
        f":warning: vpnbot could not save this approval ({esc_visible(str(error))}), so nothing was sent. "
        f"{user(request.requester)}",
    )
    await ctx.store.wait_writable()
    await _fail(ctx, request, ChangeState.APPROVED, f"vpnbot could not save the approval ({error}); nothing was sent.")


async def _claim_durably(
    ctx: BotContext,
    request: ChangeRequest,
    expected: set[ChangeState],
    to: ChangeState,
    *,
    at: datetime | None = None,
    **changes: Any,
) -> ChangeRequest:
    """``Store.claim`` by the bot, through :func:`_durably`. A retry that finds the request already moved to ``to``
    is the earlier attempt having been committed after all (an fsync error can report a commit that landed)."""
    attempts = 0

    async def write() -> ChangeRequest:
        nonlocal attempts
        attempts += 1
        try:
            return await ctx.store.claim(request.id, expected, to, actor=BOT, at=at or ctx.clock(), **changes)
        except ClaimConflictError as conflict:
            if attempts > 1 and conflict.request.state is to:
                return conflict.request
            raise

    return await _durably(ctx, request, write)


async def _durably(ctx: BotContext, request: ChangeRequest, write: Callable[[], Awaitable[T]]) -> T:
    """A write that records what already happened (the edit was sent, a task ended): while the state file cannot
    be written it is tried again once it can (``/healthz`` says 503 meanwhile), and the thread says so once. If
    vpnbot is stopped meanwhile, its next start reconciles the request from the file."""
    told = False
    while True:
        try:
            return await write()
        except StoreUnavailableError as error:
            if not told:
                told = True
                await cards.thread_post(
                    ctx.client,
                    request,
                    f":warning: vpnbot cannot write its state file ({esc_visible(str(error))}). This change goes on "
                    "as soon as it can; nothing is sent twice.",
                )
            await ctx.store.wait_writable()


async def _cloud_text(ctx: BotContext, request: ChangeRequest, text: str, live: VpnConnection | None = None) -> str:
    """A text from the cloud made fit to show and keep: the pending key and the connection's current key taken
    out, cut (visibly) to a readable length."""
    secrets: list[str] = []
    if request.psk_changed:
        with contextlib.suppress(StoreError):
            key = await ctx.store.psk(request.id)
            if key is not None:
                secrets.append(key.get_secret_value())
    fingerprint = live.settings.psk_fingerprint if live is not None else None
    cleaned = redact(text[: CLOUD_TEXT_MAX * 4], secrets, fingerprint=fingerprint, fingerprint_of=secret_fingerprint)
    return clip(cleaned, CLOUD_TEXT_MAX)


async def _proposal(ctx: BotContext, request: ChangeRequest, live: VpnConnection) -> Proposal:
    """The request's edit re-proposed against the live settings, the stored key included."""
    edits = dict(request.edits)
    if request.psk_changed:
        key = await ctx.store.psk(request.id)
        if key is None:
            raise StoreError("the new pre-shared key is no longer stored")
        edits[PSK] = key.get_secret_value()
    return propose(live.settings, edits)


async def follow(ctx: BotContext, request: ChangeRequest, proposal: Proposal | None = None) -> None:
    """Follow a running request's task: one status message in the thread, updated in place, then a final reply
    (with the verification) and the card's final state. When the service keeps no task for the edit, the
    connection is read until it shows the edit applied (see the module's docstring)."""
    assert request.task_id is not None
    task_id = request.task_id
    started = request.task_started_at or ctx.clock()
    if request.progress_ts is None:
        # Shielded: a graceful stop between posting and saving would otherwise leave a second status message.
        async with ctx.ack_first.background():
            request = await asyncio.shield(_post_status(ctx, request))
    shown = {"status": "running"}

    async def on_change(state: TaskState, elapsed: float) -> None:
        # No task is still "running" here: one update fewer per change (Slack limits chat.update); the end and the
        # final reply say that there was no task.
        status = "running" if state.status is TaskStatus.NO_TASK else state.status.value
        if state.done or status == shown["status"] or not request.progress_ts:
            return
        shown["status"] = status
        words = f"task {status}"
        await cards.thread_update(ctx.client, request, request.progress_ts, _running_text(ctx, request, words, elapsed))

    async def missing(live: VpnConnection) -> list[str] | None:
        nonlocal proposal
        try:
            if proposal is None:
                proposal = await _proposal(ctx, request, live)
        except (InvalidParametersError, StoreError) as error:  # no evidence either way: the deadline decides
            log.warning("settling %s: the proposal cannot be rebuilt (%s)", request.id, type(error).__name__)
            return None
        return not_live(proposal, tuple(row.name for row in request.diff), live.settings)

    settle = Settling(ctx.cloud, request.vpn_conn_id, missing)
    result = await ctx.cloud.follower.follow(task_id, on_change, settle=settle)
    async with ctx.ack_first.background():  # a thousand tasks ending together must not crowd out the acks
        await _ended(ctx, request, proposal, result, started, settle.applied)


async def _ended(
    ctx: BotContext,
    request: ChangeRequest,
    proposal: Proposal | None,
    result: TaskResult,
    started: datetime,
    live: VpnConnection | None = None,
) -> None:
    """The task's end: verification, the final state, the card, the status message and the final reply. ``live``:
    the read of the connection that ended a follow without a task."""
    task_id = esc_visible(str(request.task_id))
    elapsed = max(result.elapsed, (ctx.clock() - started).total_seconds())
    if result.outcome is TaskOutcome.SUCCEEDED:
        await _succeeded(ctx, request, proposal, elapsed, live if result.settled else None, settled=result.settled)
    elif result.outcome is TaskOutcome.FAILED:
        why = await _cloud_text(
            ctx, request, result.message or "the cloud gave no reason", await _read_quietly(ctx, request)
        )
        message = f"Task {request.task_id} failed after {elapsed:.0f} s: {why}"
        text = f":red_circle: Task {task_id} failed after {elapsed:.0f} s: {esc(visible_lines(why))}"
        await _finish(ctx, request, ChangeState.FAILED, text, message)
    else:
        deadline = ctx.settings.vpnbot_task_deadline
        if result.settled:
            last = await _cloud_text(ctx, request, result.message or "not every proposed value was live yet")
            message = (
                f"{NO_TASK_PREFIX} {request.task_id}, and the connection did not show the edit applied within "
                f"{deadline}; last: {last}"
            )
        else:
            last = await _cloud_text(ctx, request, result.message or "running")
            message = f"Task {request.task_id} did not finish within {deadline}; last: {last}"
        await _finish(
            ctx,
            request,
            ChangeState.UNKNOWN,
            f":grey_question: {esc(visible_lines(message))}. Its outcome is unknown until the connection shows it.",
            message,
        )
        latest = await ctx.store.get(request.id)
        if latest is not None and latest.state is ChangeState.UNKNOWN:
            await reconcile(ctx, latest, announce=False)


async def _read_quietly(ctx: BotContext, request: ChangeRequest) -> VpnConnection | None:
    """The connection, or None when it cannot be read (only to know its key's fingerprint for redaction)."""
    try:
        return await ctx.cloud.client.describe_vpn_conn(request.vpn_conn_id)
    except (CloudError, CloudDataError):
        return None


async def _succeeded(
    ctx: BotContext,
    request: ChangeRequest,
    proposal: Proposal | None,
    elapsed: float,
    live: VpnConnection | None = None,
    *,
    settled: bool = False,
) -> None:
    check = await _verify(ctx, request, proposal, live)
    if settled:
        text = (
            f":large_green_circle: The edit succeeded in {elapsed:.0f} s ({NO_TASK_DONE}, back to normal). "
            f"{check.words}"
        )
    else:
        text = (
            f":large_green_circle: Task {esc_visible(str(request.task_id))} succeeded in {elapsed:.0f} s. {check.words}"
        )
    message = SETTLED_MESSAGE if settled else ""
    await _finish(ctx, request, ChangeState.SUCCEEDED, text, message, not_live=check.missing)


@dataclass(frozen=True)
class Verification:
    """What a read after the edit showed: the changed parameters not live (empty when all are), or, when the
    connection could not be read, why (``read`` False)."""

    read: bool
    missing: list[str]
    words: str
    live: VpnConnection | None = None


async def _verify(
    ctx: BotContext, request: ChangeRequest, proposal: Proposal | None, live: VpnConnection | None = None
) -> Verification:
    """Re-read the connection (unless ``live`` is given): which proposed values are not live, in mrkdwn words."""
    try:
        if live is None:
            live = await ctx.cloud.client.describe_vpn_conn(request.vpn_conn_id)
        if proposal is None:
            proposal = await _proposal(ctx, request, live)
    except (CloudError, CloudDataError, InvalidParametersError, StoreError) as error:
        why = await _cloud_text(ctx, request, str(error))
        return Verification(False, [], f"Could not verify the result: {esc(visible_lines(why))}")
    changed = tuple(row.name for row in request.diff)
    missing = not_live(proposal, changed, live.settings)
    if missing:
        return Verification(True, missing, f":warning: Not live after the task: {esc(', '.join(missing))}.", live)
    return Verification(True, [], "Verified: every proposed value is live.", live)


async def _finish(
    ctx: BotContext,
    request: ChangeRequest,
    to: ChangeState,
    text: str,
    message: str,
    *,
    not_live: list[str] | None = None,
) -> None:
    """Save the end (retried while the state file cannot be written), then show it. ``text`` is mrkdwn whose
    values are escaped; ``message`` is plain text for the card and the audit log."""
    try:
        request = await _claim_durably(
            ctx,
            request,
            {ChangeState.RUNNING, ChangeState.UNKNOWN},
            to,
            finished_at=ctx.clock(),
            outcome_message=message,
            not_live=not_live or [],
            final_reply=f"{text} {user(request.requester)}",
        )
    except ClaimConflictError:
        log.info("%s was finished elsewhere", request.id)
        return
    await _draw_end(ctx, request)


async def _draw_end(ctx: BotContext, request: ChangeRequest) -> None:
    """Show an end that is saved: the card, the status message, then the final reply, which is then forgotten.

    A final reply that Slack did not take stays saved, and is posted again by the sweeper (:func:`redraw_ends`);
    so is all of it at the next start when vpnbot is killed before: the card and the status message are updated in place, and the final
    reply is posted, twice if the kill came between posting it and forgetting it (a reply missing would leave the
    requester, whom it mentions, waiting).
    """
    if request.id in ctx.drawing:
        return
    ctx.drawing.add(request.id)
    try:
        await cards.update_card(ctx.client, request)
        if request.progress_ts:
            text = _running_text(ctx, request, _end_words(request), None)
            await cards.thread_update(ctx.client, request, request.progress_ts, text)
        if request.final_reply and await cards.thread_post(ctx.client, request, request.final_reply) is not None:
            request.final_reply = ""
            with contextlib.suppress(StoreError):  # not forgotten: posted once more by the next redraw
                await ctx.store.save(request)
    finally:
        ctx.drawing.discard(request.id)


async def _post_status(ctx: BotContext, request: ChangeRequest) -> ChangeRequest:
    """Post the status message, marked in the store as being posted first (``STATUS_POSTING``)."""
    request.progress_ts = STATUS_POSTING
    request = await _durably(ctx, request, lambda: ctx.store.save(request))
    request.progress_ts = await cards.thread_post(ctx.client, request, _running_text(ctx, request, "", 0))
    return await _durably(ctx, request, lambda: ctx.store.save(request))


def _running_text(ctx: BotContext, request: ChangeRequest, status: str, elapsed: float | None) -> str:
    """The status message; ``status`` empty: just sent. Under API 2.0 the id is a task's. Under API 3.0 it is the
    edit's RequestId, which may or may not name a task: the words say "task" only once the service showed one
    (``status`` then starts with it), and "running" (the edit) until then."""
    after = f" ({elapsed:.0f} s)" if elapsed is not None else ""
    conn, task_id = esc_visible(request.vpn_conn_id), esc_visible(str(request.task_id))
    if ctx.cloud.client.edit_action == V3_EDIT:
        words = status or "running"
        return f":gear: Tencent Cloud accepted the edit of `{conn}` (RequestId `{task_id}`): {esc(words)}{after}."
    words = status.removeprefix("task ") or "running"
    return f":gear: Tencent Cloud accepted the edit of `{conn}`: task `{task_id}` {esc(words)}{after}."


def _end_words(request: ChangeRequest) -> str:
    """The end in the status message's words, from what was saved (so a redraw after a restart says the same):
    with no task, said so; after a task, the task's end; after a reconciliation, the change's end alone."""
    state, message = str(request.state), request.outcome_message
    if message == SETTLED_MESSAGE or message.startswith(NO_TASK_PREFIX):
        return f"{state} ({NO_TASK_DONE})"
    if (request.state is ChangeState.SUCCEEDED and not message) or message.startswith("Task "):
        return f"task {state}"
    return state


@dataclass(frozen=True)
class Evidence:
    """What repeated reads showed of an edit whose answer never came: ``live`` (succeeded), ``missing`` values
    after the settle window (not applied), or neither (still unknown, ``why``)."""

    live: bool
    missing: list[str]
    why: str = ""


async def reconcile(ctx: BotContext, request: ChangeRequest, *, announce: bool = True) -> None:
    """An edit with no known outcome: never re-sent, and judged only from evidence. It succeeded as soon as the
    connection, no longer being modified, shows every proposed value; it failed only when reads over the settle
    window (``VPNBOT_SETTLE_WINDOW`` past ``VPNBOT_CLOUD_TIMEOUT``, counted from sending) agree that the values are
    not live; otherwise it stays ``unknown``, said so, and is checked again at the next start."""
    if request.state is ChangeState.SUBMITTING:
        request = await _claim_durably(ctx, request, {ChangeState.SUBMITTING}, ChangeState.UNKNOWN)
        if announce:
            await cards.thread_post(
                ctx.client,
                request,
                ":grey_question: vpnbot stopped while sending this change; its outcome is unknown until the "
                "connection shows it.",
            )
    evidence = await _gather_evidence(ctx, request)
    if evidence.live:
        await _finish(
            ctx,
            request,
            ChangeState.SUCCEEDED,
            ":large_green_circle: The proposed values are live: the change took effect. Verified: every proposed value "
            "is live.",
            RECONCILED_MESSAGE,
        )
    elif evidence.missing:
        window = _window(ctx)
        message = (
            f"The proposed values are not live ({', '.join(evidence.missing)}) {_words(window)} after the edit was "
            "sent: the change did not take effect."
        )
        await _finish(
            ctx,
            request,
            ChangeState.FAILED,
            f":red_circle: {esc(message)} Use Review again to ask again.",
            message,
            not_live=evidence.missing,
        )
    else:
        note = f"The outcome is still unknown: {evidence.why}. vpnbot checks again at its next start."
        await cards.update_card(ctx.client, request, status_line=esc(visible_lines(note)))
        await cards.thread_post(ctx.client, request, f":grey_question: {esc(visible_lines(note))}")


def _window(ctx: BotContext) -> timedelta:
    return ctx.settings.vpnbot_cloud_timeout + ctx.settings.vpnbot_settle_window


def _words(duration: timedelta) -> str:
    seconds = duration.total_seconds()
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


async def _gather_evidence(ctx: BotContext, request: ChangeRequest) -> Evidence:
    """Read the connection with the task backoff until it shows the outcome, or the task deadline passes."""
    settings = ctx.settings
    sent = next((t.at for t in reversed(request.history) if t.to_state is ChangeState.SUBMITTING), None)
    judge_after = (sent or ctx.clock()) + _window(ctx)
    delay, ceiling = settings.vpnbot_task_poll_initial.total_seconds(), settings.vpnbot_task_poll_max.total_seconds()
    deadline = time.monotonic() + settings.vpnbot_task_deadline.total_seconds()
    settled = 0
    why = "the connection could not be read"
    proposal: Proposal | None = None
    while True:
        try:
            live = await ctx.cloud.client.describe_vpn_conn(request.vpn_conn_id)
            if proposal is None:
                proposal = await _proposal(ctx, request, live)
        except (CloudError, CloudDataError) as error:
            log.warning("reconciling %s: %s", request.id, type(error).__name__)
            why = f"the connection could not be read ({await _cloud_text(ctx, request, str(error))})"
            settled = 0
        except (InvalidParametersError, StoreError) as error:
            return Evidence(False, [], f"the proposed values cannot be rebuilt ({error})")
        else:
            missing = not_live(proposal, tuple(row.name for row in request.diff), live.settings)
            if live.status == MODIFYING:
                settled = 0
                why = "the connection was still being modified"
            elif not missing:
                return Evidence(True, [])
            elif ctx.clock() >= judge_after:
                settled += 1
                if settled >= SETTLED_READS:
                    return Evidence(False, missing)
            else:
                why = "the proposed values were not live yet"
        if time.monotonic() + delay > deadline:
            return Evidence(False, [], why)
        await asyncio.sleep(delay)
        delay = min(delay * 1.5, ceiling)


async def _fail(ctx: BotContext, request: ChangeRequest, expected: ChangeState, message: str) -> None:
    """End a request that sent nothing (or whose edit was refused): ``message`` is plain text."""
    try:
        request = await _claim_durably(
            ctx, request, {expected}, ChangeState.FAILED, finished_at=ctx.clock(), outcome_message=message
        )
    except ClaimConflictError:
        return
    await cards.update_card(ctx.client, request)
    await cards.thread_post(
        ctx.client, request, f":red_circle: {esc(visible_lines(message))} {user(request.requester)}"
    )


async def _mark_stale(ctx: BotContext, request: ChangeRequest, live: VpnConnection) -> None:
    """The connection changed since the card was made: nothing is sent; the card shows what changed."""
    try:
        edits = dict(request.edits)
        now_diff = diff(live.settings, propose(live.settings, edits)) if edits else []
        what = ", ".join(f"{row.name} → {_stale_value(row)}" for row in now_diff) or "nothing (it is already live)"
    except InvalidParametersError as error:
        what = f"not valid any more ({error})"
    message = (
        "The connection changed since this card was made, so nothing was sent. "
        f"Against its settings now, this request would change: {what}."
    )
    try:
        request = await _claim_durably(ctx, request, {ChangeState.APPROVED}, ChangeState.STALE, outcome_message=message)
    except ClaimConflictError:
        return
    await cards.update_card(ctx.client, request)
    await cards.thread_post(ctx.client, request, f":warning: {esc(visible_lines(message))} {user(request.requester)}")


def _stale_value(row: DiffRow) -> str:
    """A row of the diff against the settings now, in words (lists by their counts: Review again shows them)."""
    if row.size_before is not None:
        return f"+{len(row.added)} −{len(row.removed)} entries"
    return row.proposed


async def reject(ctx: BotContext, request_id: str, decider: str, reason: str, say: Say) -> None:
    """Reject (an approver) or withdraw (the requester) a pending request; the card and the requester are told."""
    request = await ctx.store.get(request_id)
    if request is None:
        await say(f"There is no change request `{esc_visible(request_id)}`.")
        return
    withdraw = decider == request.requester
    if not withdraw and not await ctx.approvers.may_approve(decider):
        await say("Only the requester or an approver (VPNBOT_APPROVERS) can reject this change. Nothing was changed.")
        return
    to = ChangeState.CANCELLED if withdraw else ChangeState.REJECTED
    now = ctx.clock()
    try:
        request = await ctx.store.claim(
            request_id,
            {ChangeState.PENDING},
            to,
            actor=decider,
            at=now,
            decider=decider,
            decided_at=now,
            reason=reason.strip(),
        )
    except ClaimConflictError as conflict:
        await say(already_decided(conflict.request))
        return
    except StoreError as error:
        await say(f":warning: vpnbot could not record that ({esc_visible(str(error))}). Nothing was changed.")
        return
    await cards.update_card(ctx.client, request)
    why = f" Reason: {esc(visible_lines(clip(reason.strip(), 500)))}" if reason.strip() else ""
    verb = "withdrew" if withdraw else "rejected"
    await cards.thread_post(
        ctx.client, request, f":no_entry: {user(decider)} {verb} this change.{why} {user(request.requester)}"
    )


async def cancel_unposted(ctx: BotContext, request: ChangeRequest) -> None:
    """A request whose card could not be posted: nobody can see it, so nobody may approve it. While the state file
    cannot be written it stays pending without a card, which the next start cancels the same way."""
    with contextlib.suppress(ClaimConflictError, StoreError):
        await ctx.store.claim(
            request.id,
            {ChangeState.PENDING},
            ChangeState.CANCELLED,
            actor=BOT,
            at=ctx.clock(),
            reason="the card could not be posted",
        )


async def expire(ctx: BotContext, request: ChangeRequest) -> None:
    try:
        request = await ctx.store.claim(
            request.id, {ChangeState.PENDING}, ChangeState.EXPIRED, actor=BOT, at=ctx.clock()
        )
    except ClaimConflictError:
        return
    await cards.update_card(ctx.client, request)


async def sweep(ctx: BotContext) -> None:
    """The sweeper's round: expire pending requests past their TTL; show ends whose final reply Slack did not take."""
    await expire_due(ctx)
    await redraw_ends(ctx)


async def expire_due(ctx: BotContext) -> int:
    """Expire every pending request past its TTL; how many."""
    due = await ctx.store.expired(ctx.clock())
    for request in due:
        await expire(ctx, request)
    return len(due)


async def resume(ctx: BotContext) -> int:
    """After a start: follow every running task again, reconcile every edit with no known outcome, fail
    approvals that were claimed but never sent (nothing was sent for them), and cancel pending requests whose card's
    ``ts`` was never saved (vpnbot stopped while posting it: the card may be in Slack, but its updates and thread
    could not be, so it must not be approved; the requester is told to ask again); and show the ends that were saved
    but not yet shown (card, status message, final reply)."""
    cardless = [r for r in await ctx.store.in_states({ChangeState.PENDING}) if r.card_ts is None]
    for request in cardless:
        await cancel_unposted(ctx, request)
        await cards.direct_message(
            ctx.client,
            request.requester,
            f"vpnbot stopped while posting the change card for `{esc_visible(request.vpn_conn_id)}`, so request "
            f"`{esc_visible(request.id)}` was cancelled; nothing was sent. Ask again with /vpn edit.",
        )
    requests = await ctx.store.in_states(
        {ChangeState.APPROVED, ChangeState.SUBMITTING, ChangeState.RUNNING, ChangeState.UNKNOWN}
    )
    ended = await redraw_ends(ctx)
    for request in requests:
        if request.state is ChangeState.RUNNING:
            ctx.spawn(follow(ctx, request), f"follow-{request.id}")
        elif request.state is ChangeState.APPROVED:
            await _fail(
                ctx,
                request,
                ChangeState.APPROVED,
                "vpnbot stopped before sending this approved change; nothing was sent. Use Review again to ask again.",
            )
        else:
            ctx.spawn(reconcile(ctx, request), f"reconcile-{request.id}")
    return len(cardless) + ended + len(requests)


async def redraw_ends(ctx: BotContext) -> int:
    """Show again the ends that were saved but whose final reply Slack never took (vpnbot stopped between saving
    and showing, or Slack failed); run at start and by the sweeper. How many."""
    ended = [r for r in await ctx.store.in_states({ChangeState.SUCCEEDED, ChangeState.FAILED}) if r.final_reply]
    due = [r for r in ended if r.id not in ctx.drawing]
    for request in due:
        ctx.after_ack(_draw_end(ctx, request), f"draw-end-{request.id}")
    return len(due)
