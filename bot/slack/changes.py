"""A change request's life after its card is posted: approval, the edit, following its task, verification, rejection,
expiry and recovery after a restart.

Listeners call these functions after ``ack()``. Every state change goes through ``Store.claim`` (atomic, persisted
before its side effect), so any number of clicks lead to at most one ``ModifyVpnConnEx``, and the edit is never
re-sent: a request whose edit has no known outcome is reconciled by reading the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime

from bot.slack import cards
from bot.slack.blocks import slack_date, user
from bot.slack.context import BotContext
from bot.store import ClaimConflictError, StoreError, StoreKeyError
from bot.tencent import ApiError, CloudError, TaskOutcome, TaskResult, TaskState
from bot.vpn.change import ChangeRequest, ChangeState, settings_fingerprint
from bot.vpn.connection import VpnConnection
from bot.vpn.diff import diff, not_live
from bot.vpn.edit import PSK, Proposal, propose
from bot.vpn.params import InvalidParametersError

log = logging.getLogger("bot.slack")
BOT = "vpnbot"
MODIFYING = 2  # vpcConnStatus while a task changes the connection
STATUS_POSTING = ""
"""``progress_ts`` while the status message is being posted. It is saved before the post, so after a crash between
the post and saving the message's ts the restarted bot knows one may exist (where, it cannot know) and posts no
second one; ``None`` means none was ever posted."""
Say = Callable[[str], Awaitable[None]]

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
        await say(f"There is no change request `{request_id}`.")
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
    await submit(ctx, request)


async def submit(ctx: BotContext, request: ChangeRequest) -> None:
    """From ``approved``: re-read the connection, refuse a stale card, send ``ModifyVpnConnEx`` exactly once."""
    try:
        live = await ctx.cloud.client.describe_vpn_conn(request.vpn_conn_id)
    except CloudError as error:
        await _fail(
            ctx, request, ChangeState.APPROVED, f"Could not re-read the connection, so nothing was sent: {error}"
        )
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
    request = await ctx.store.claim(
        request.id, {ChangeState.APPROVED}, ChangeState.SUBMITTING, actor=BOT, at=ctx.clock()
    )
    try:
        task_id = await ctx.cloud.client.modify_vpn_conn(live, proposal)
    except ApiError as error:
        await _fail(
            ctx,
            request,
            ChangeState.SUBMITTING,
            f"Tencent Cloud refused the change: {error.code} {error.code_desc}: {error.message}",
        )
        return
    except CloudError as error:
        request = await ctx.store.claim(
            request.id,
            {ChangeState.SUBMITTING},
            ChangeState.UNKNOWN,
            actor=BOT,
            at=ctx.clock(),
            outcome_message=str(error),
        )
        await cards.update_card(ctx.client, request)
        await cards.thread_post(
            ctx.client,
            request,
            f":grey_question: No answer to ModifyVpnConnEx ({error}). It is not sent again; checking the connection instead.",
        )
        await reconcile(ctx, request)
        return
    now = ctx.clock()
    request = await ctx.store.claim(
        request.id,
        {ChangeState.SUBMITTING},
        ChangeState.RUNNING,
        actor=BOT,
        at=now,
        task_id=task_id,
        task_started_at=now,
    )
    await cards.update_card(ctx.client, request)
    ctx.spawn(follow(ctx, request, proposal), f"follow-{request.id}")


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
    (with the verification) and the card's final state."""
    assert request.task_id is not None
    task_id = request.task_id
    started = request.task_started_at or ctx.clock()
    if request.progress_ts is None:
        # Shielded: a graceful stop between posting and saving would otherwise leave a second status message.
        async with ctx.ack_first.background():
            request = await asyncio.shield(_post_status(ctx, request))
    shown = {"status": "running"}

    async def on_change(state: TaskState, elapsed: float) -> None:
        if state.done or state.status.value == shown["status"] or not request.progress_ts:
            return
        shown["status"] = state.status.value
        await cards.thread_update(
            ctx.client, request, request.progress_ts, _running_text(request, state.status.value, elapsed)
        )

    result = await ctx.cloud.follower.follow(task_id, on_change)
    async with ctx.ack_first.background():  # a thousand tasks ending together must not crowd out the acks
        await _ended(ctx, request, proposal, result, started)


async def _ended(
    ctx: BotContext, request: ChangeRequest, proposal: Proposal | None, result: TaskResult, started: datetime
) -> None:
    """The task's end: verification, the final state, the card, the status message and the final reply."""
    task_id = request.task_id
    elapsed = max(result.elapsed, (ctx.clock() - started).total_seconds())
    if result.outcome is TaskOutcome.SUCCEEDED:
        await _succeeded(ctx, request, proposal, elapsed)
    elif result.outcome is TaskOutcome.FAILED:
        message = f"Task {task_id} failed after {elapsed:.0f} s: {result.message or 'the cloud gave no reason'}"
        await _finish(ctx, request, ChangeState.FAILED, f":red_circle: {message}", message)
    else:
        message = f"Task {task_id} did not finish within {ctx.settings.vpnbot_task_deadline}; last: {result.message or 'running'}"
        await _finish(
            ctx, request, ChangeState.UNKNOWN, f":grey_question: {message}. Checking the connection.", message
        )
        latest = await ctx.store.get(request.id)
        if latest is not None and latest.state is ChangeState.UNKNOWN:
            await reconcile(ctx, latest, announce=False)


async def _succeeded(ctx: BotContext, request: ChangeRequest, proposal: Proposal | None, elapsed: float) -> None:
    missing, note = await _verify(ctx, request, proposal)
    text = f":large_green_circle: Task {request.task_id} succeeded in {elapsed:.0f} s. {note}"
    await _finish(ctx, request, ChangeState.SUCCEEDED, text, "", not_live=missing)


async def _verify(
    ctx: BotContext, request: ChangeRequest, proposal: Proposal | None, live: VpnConnection | None = None
) -> tuple[list[str], str]:
    """Re-read the connection (unless ``live`` is given): which proposed values are not live, and a sentence."""
    try:
        if live is None:
            live = await ctx.cloud.client.describe_vpn_conn(request.vpn_conn_id)
        if proposal is None:
            proposal = await _proposal(ctx, request, live)
    except (CloudError, InvalidParametersError, StoreError) as error:
        return [], f"Could not verify the result: {error}"
    changed = tuple(row.name for row in request.diff)
    missing = not_live(proposal, changed, live.settings)
    if missing:
        return missing, f":warning: Not live after the task: {', '.join(missing)}."
    return [], "Verified: every proposed value is live."


async def _finish(
    ctx: BotContext,
    request: ChangeRequest,
    to: ChangeState,
    text: str,
    message: str,
    *,
    not_live: list[str] | None = None,
) -> None:
    try:
        request = await ctx.store.claim(
            request.id,
            {ChangeState.RUNNING, ChangeState.UNKNOWN},
            to,
            actor=BOT,
            at=ctx.clock(),
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

    Killed before that, the restarted bot draws it all again (:func:`resume`): the card and the status message are
    updated in place, and the final reply is posted, twice if the kill came between posting it and forgetting it (a
    reply missing would leave the requester, whom it mentions, waiting).
    """
    await cards.update_card(ctx.client, request)
    if request.progress_ts:
        text = _running_text(request, str(request.state), None)
        await cards.thread_update(ctx.client, request, request.progress_ts, text)
    if request.final_reply:
        await cards.thread_post(ctx.client, request, request.final_reply)
        request.final_reply = ""
        await ctx.store.save(request)


async def _post_status(ctx: BotContext, request: ChangeRequest) -> ChangeRequest:
    """Post the status message, marked in the store as being posted first (``STATUS_POSTING``)."""
    request.progress_ts = STATUS_POSTING
    request = await ctx.store.save(request)
    request.progress_ts = await cards.thread_post(ctx.client, request, _running_text(request, "running", 0))
    return await ctx.store.save(request)


def _running_text(request: ChangeRequest, status: str, elapsed: float | None) -> str:
    after = f" ({elapsed:.0f} s)" if elapsed is not None else ""
    return (
        f":gear: Tencent Cloud accepted the edit of `{request.vpn_conn_id}`: task `{request.task_id}` {status}{after}."
    )


async def reconcile(ctx: BotContext, request: ChangeRequest, *, announce: bool = True) -> None:
    """An edit with no known outcome: never re-sent. Once the connection is no longer being modified, its settings
    say whether the proposed values are live (succeeded) or not (failed, with Review again). While the cloud cannot
    be read it stays ``unknown`` and is tried again at the next start."""
    if request.state is ChangeState.SUBMITTING:
        request = await ctx.store.claim(
            request.id, {ChangeState.SUBMITTING}, ChangeState.UNKNOWN, actor=BOT, at=ctx.clock()
        )
        if announce:
            await cards.thread_post(
                ctx.client,
                request,
                ":grey_question: vpnbot stopped while sending this change; checking the connection.",
            )
    await _until_unanswerable(ctx, request)
    live = await _settled(ctx, request)
    if live is None:
        await cards.update_card(
            ctx.client,
            request,
            status_line="Could not read the connection to check the outcome; vpnbot tries again at its next start.",
        )
        return
    missing, note = await _verify(ctx, request, None, live)
    if note.startswith("Could not verify"):
        await cards.update_card(ctx.client, request, status_line=note)
        return
    if missing:
        message = f"The proposed values are not live ({', '.join(missing)}): the change did not take effect."
        await _finish(
            ctx,
            request,
            ChangeState.FAILED,
            f":red_circle: {message} Use Review again to ask again.",
            message,
            not_live=missing,
        )
    else:
        await _finish(
            ctx, request, ChangeState.SUCCEEDED, ":large_green_circle: The proposed values are live. " + note, ""
        )


async def _until_unanswerable(ctx: BotContext, request: ChangeRequest) -> None:
    """Wait until the unanswered ``ModifyVpnConnEx`` is past the client's own timeout (``VPNBOT_CLOUD_TIMEOUT``,
    counted from the move to ``submitting``): before that the cloud may still take the edit after the connection
    was read, and a reconcile would call a change failed that then lands. After a lost answer the client has
    already waited that long; only a restart soon after a crash in ``submitting`` waits here."""
    sent = next((t.at for t in reversed(request.history) if t.to_state is ChangeState.SUBMITTING), None)
    if sent is None:
        return
    timeout = ctx.settings.vpnbot_cloud_timeout
    remaining = (sent + timeout - ctx.clock()).total_seconds()
    if remaining > 0:
        await asyncio.sleep(min(remaining, timeout.total_seconds()))


async def _settled(ctx: BotContext, request: ChangeRequest) -> VpnConnection | None:
    """The connection once it is not being modified (a task of the unknown edit may still run), polled with the
    task backoff until the task deadline; None when it cannot be read or never settles."""
    settings = ctx.settings
    delay, ceiling = settings.vpnbot_task_poll_initial.total_seconds(), settings.vpnbot_task_poll_max.total_seconds()
    deadline = time.monotonic() + settings.vpnbot_task_deadline.total_seconds()
    while True:
        try:
            live: VpnConnection | None = await ctx.cloud.client.describe_vpn_conn(request.vpn_conn_id)
        except CloudError as error:
            log.warning("reconciling %s: %s", request.id, error)
            live = None
        if live is not None and live.status != MODIFYING:
            return live
        if time.monotonic() + delay > deadline:
            return None
        await asyncio.sleep(delay)
        delay = min(delay * 1.5, ceiling)


async def _fail(ctx: BotContext, request: ChangeRequest, expected: ChangeState, message: str) -> None:
    try:
        request = await ctx.store.claim(
            request.id,
            {expected},
            ChangeState.FAILED,
            actor=BOT,
            at=ctx.clock(),
            finished_at=ctx.clock(),
            outcome_message=message,
        )
    except ClaimConflictError:
        return
    await cards.update_card(ctx.client, request)
    await cards.thread_post(ctx.client, request, f":red_circle: {message} {user(request.requester)}")


async def _mark_stale(ctx: BotContext, request: ChangeRequest, live: VpnConnection) -> None:
    """The connection changed since the card was made: nothing is sent; the card shows what changed."""
    try:
        edits = dict(request.edits)
        now_diff = diff(live.settings, propose(live.settings, edits)) if edits else []
        what = ", ".join(f"{row.name} → {row.proposed}" for row in now_diff) or "nothing (it is already live)"
    except InvalidParametersError as error:
        what = f"not valid any more ({error})"
    message = (
        "The connection changed since this card was made, so nothing was sent. "
        f"Against its settings now, this request would change: {what}."
    )
    try:
        request = await ctx.store.claim(
            request.id, {ChangeState.APPROVED}, ChangeState.STALE, actor=BOT, at=ctx.clock(), outcome_message=message
        )
    except ClaimConflictError:
        return
    await cards.update_card(ctx.client, request)
    await cards.thread_post(ctx.client, request, f":warning: {message} {user(request.requester)}")


async def reject(ctx: BotContext, request_id: str, decider: str, reason: str, say: Say) -> None:
    """Reject (an approver) or withdraw (the requester) a pending request; the card and the requester are told."""
    request = await ctx.store.get(request_id)
    if request is None:
        await say(f"There is no change request `{request_id}`.")
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
    await cards.update_card(ctx.client, request)
    why = f" Reason: {reason.strip()}" if reason.strip() else ""
    verb = "withdrew" if withdraw else "rejected"
    await cards.thread_post(
        ctx.client, request, f":no_entry: {user(decider)} {verb} this change.{why} {user(request.requester)}"
    )


async def cancel_unposted(ctx: BotContext, request: ChangeRequest) -> None:
    """A request whose card could not be posted: nobody can see it, so nobody may approve it."""
    with contextlib.suppress(ClaimConflictError):
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
            f"vpnbot stopped while posting the change card for `{request.vpn_conn_id}`, so request `{request.id}` "
            "was cancelled; nothing was sent. Ask again with /vpn edit.",
        )
    requests = await ctx.store.in_states(
        {ChangeState.APPROVED, ChangeState.SUBMITTING, ChangeState.RUNNING, ChangeState.UNKNOWN}
    )
    ended = [r for r in await ctx.store.in_states({ChangeState.SUCCEEDED, ChangeState.FAILED}) if r.final_reply]
    for request in ended:  # vpnbot stopped between saving the end and showing it
        ctx.after_ack(_draw_end(ctx, request), f"draw-end-{request.id}")
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
    return len(cardless) + len(ended) + len(requests)
