"""The change workflow, for every front: open a request, approve it (exactly once), send the edit, follow it,
verify it, reconcile an edit of unknown outcome, resume after a restart, expire, reject, withdraw.

Every state change goes through ``ChangeStore.claim`` (atomic, persisted before its side effect), so any number of
clicks lead to at most one edit, and the edit is never re-sent: a request whose edit has no known outcome is
reconciled by reading the connection (:mod:`bot.changes.evidence`). An API 3.0 edit may have no task
(``DescribeVpcTaskResult`` knows no task by its RequestId): then the follow reads the connection until it is back
to normal with every proposed value live, or until the task deadline, after which the edit is reconciled like one
whose answer never came.

The service knows no front: it tells one what happened through a :class:`~bot.changes.notifier.Notifier`, and the
outcome of a decision as a :class:`Decision`. Texts from the cloud are kept as plain text, rid of keys and cut.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol, TypeVar, Unpack

from pydantic import SecretStr

from bot.changes.background import Background
from bot.changes.evidence import Evidence, Found, Reading, gather_evidence
from bot.changes.notifier import Note, NoteKind, Notifier, Progress, Step, Word
from bot.changes.watching import Aftercare
from bot.cloud import Cloud, Settling
from bot.config import Settings
from bot.store.errors import ClaimConflictError, StoreError, StoreKeyError, StoreUnavailableError
from bot.store.interface import ChangeStore
from bot.tencent import (
    ApiError,
    CloudError,
    CloudTimeoutError,
    ConnectionListing,
    TaskOutcome,
    TaskResult,
    TaskState,
    TaskStatus,
)
from bot.vpn.change import OPEN_STATES, ChangeRequest, ChangeState, EndKind, RequestUpdate, settings_fingerprint
from bot.vpn.connection import CloudDataError, VpnConnection, VpnSettings
from bot.vpn.crypto import review
from bot.vpn.diff import DiffRow, diff, not_live
from bot.vpn.edit import PSK, Proposal, propose
from bot.vpn.params import InvalidParametersError
from bot.vpn.redact import clip, redact
from bot.vpn.watch import Watch, tunnel_reading

__all__ = ["BOT", "Approvers", "ChangeService", "Decision", "RevertPlan", "Verdict"]

log = logging.getLogger("bot.changes")
BOT = "vpnbot"
"""The actor of every move the service makes by itself."""
CLOUD_TEXT_MAX = 1500
T = TypeVar("T")

NO_TASK_PREFIX = "No task by RequestId"
SETTLED_MESSAGE = f"{NO_TASK_PREFIX}: the connection shows the edit applied."
RECONCILED_MESSAGE = "The proposed values are live: the change took effect (read from the connection)."


def utc_now() -> datetime:
    return datetime.now(UTC)


class Approvers(Protocol):
    """Who may decide: the front's policy (Slack: ``VPNBOT_APPROVERS``; the terminal: its operator)."""

    @property
    def configured(self) -> bool:
        """Whether anybody at all may approve."""
        ...

    @property
    def allow_self_approval(self) -> bool: ...

    async def may_approve(self, person: str, *, fresh: bool = True) -> bool: ...


class Verdict(enum.StrEnum):
    """What became of a decision (approve, reject, withdraw)."""

    DONE = "done"
    NO_SUCH_REQUEST = "no_such_request"
    ALREADY_DECIDED = "already_decided"
    """``Decision.request`` is the request as stored (decided, expired, ...)."""
    SELF_APPROVAL = "self_approval"
    NOT_AN_APPROVER = "not_an_approver"
    NOBODY_CONFIGURED = "nobody_configured"
    NOT_RECORDED = "not_recorded"
    """The store could not record it (``Decision.error``); nothing was changed."""
    BLOCKED_BY_POLICY = "blocked_by_policy"
    """``VPNBOT_CRYPTO_POLICY=block`` and the change brings in a MUST NOT value or weakens one (``Decision.error``:
    which, by the RFCs)."""


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    request: ChangeRequest | None = None
    error: str = ""


@dataclass(frozen=True)
class RevertPlan:
    """What reverting a change would propose: the connection as it is now, the settings the form starts from (the
    values before the change over the live ones), and whether the key before the change is still kept."""

    original: ChangeRequest
    connection: VpnConnection
    values: VpnSettings
    key_kept: bool


@dataclass
class ChangeService:
    """The workflow over one cloud and one store, reporting to one notifier (see the module)."""

    settings: Settings
    cloud: Cloud
    store: ChangeStore
    notifier: Notifier
    background: Background
    clock: Callable[[], datetime] = utc_now
    wait_out_unreadable: bool = True
    """Whether judging an edit of unknown outcome goes on reading an unreadable connection until the task deadline
    (a bot, whose thread waits), or gives up at the settle window's end (a terminal, whose operator waits)."""
    watches: bool = True
    """Whether a change verified live is watched (``VPNBOT_WATCH``) and its peer configuration handed over: a bot
    does; a terminal, whose operator leaves when the change is live, does not."""
    aftercare: Aftercare = field(init=False)

    def __post_init__(self) -> None:
        self.aftercare = Aftercare(
            self.settings, self.cloud, self.store, self.notifier, self.clock, self._secrets_and_live_key
        )

    # -- reads for the fronts ----------------------------------------------------------------------------------------

    async def read(self, vpn_conn_id: str) -> VpnConnection:
        """The connection as the cloud has it now (never cached). Raises CloudError, CloudDataError."""
        return await self.cloud.client.describe_vpn_conn(vpn_conn_id)

    async def listing(self, *, vpc_id: str | None = None, vpn_gw_id: str | None = None) -> ConnectionListing:
        """The connections in a scope (see ``Cloud.listing``: briefly cached, emptied by every change)."""
        return await self.cloud.listing(vpc_id=vpc_id, vpn_gw_id=vpn_gw_id)

    async def get(self, request_id: str) -> ChangeRequest | None:
        return await self.store.get(request_id)

    async def open_request_for(self, vpn_conn_id: str) -> ChangeRequest | None:
        return await self.store.open_request_for(vpn_conn_id)

    async def unfinished(self) -> list[ChangeRequest]:
        """Every request not finished yet (pending, approved, submitting, running, and unknown while its outcome is
        judged), oldest first; a pending one whose time is up is left out (the sweeper expires it within seconds).
        One read of the store's index of open requests."""
        now = self.clock()
        return [r for r in await self.store.in_states(OPEN_STATES) if not r.is_expired(now)]

    async def watched(self) -> list[tuple[ChangeRequest, Watch]]:
        """The finished changes whose tunnel is being watched now, with their watch, the oldest watch first (a
        watch whose window is over but not closed yet, as after a restart, is left out)."""
        now = self.clock()
        found: list[tuple[ChangeRequest, Watch]] = []
        for watch in await self.store.active_watches():
            request = await self.store.get(watch.request_id) if watch.ends_at > now else None
            if request is not None:
                found.append((request, watch))
        return found

    async def may_approve(self, request: ChangeRequest, person: str, approvers: Approvers) -> bool:
        """Whether an Approve click of ``person`` on ``request`` would pass :meth:`approve`'s checks of who clicks
        and when (pending and not expired, not their own unless self-approval is allowed, an approver), with group
        memberships up to a minute old: it chooses what to show, and :meth:`approve` asks again."""
        if request.state is not ChangeState.PENDING or request.is_expired(self.clock()):
            return False
        if person == request.requester and not approvers.allow_self_approval:
            return False
        return await approvers.may_approve(person, fresh=False)

    # -- a new request -----------------------------------------------------------------------------------------------

    def request_for(
        self,
        connection: VpnConnection,
        proposal: Proposal,
        requester: str,
        *,
        front: str,
        ttl: timedelta | None = None,
        revert_of: str | None = None,
    ) -> ChangeRequest:
        """A new pending request for ``proposal`` (not stored yet); ValueError when it changes nothing."""
        return ChangeRequest.from_proposal(
            connection,
            proposal,
            requester=requester,
            now=self.clock(),
            ttl=ttl or self.settings.vpnbot_request_ttl,
            front=front,
            revert_of=revert_of,
        )

    async def plan_revert(self, request_id: str) -> RevertPlan | str:
        """What a revert of ``request_id`` starts from, or why there is none (plain text). A revert is a new change
        request like any other: it goes through the same approval."""
        original = await self.store.get(request_id)
        if original is None:
            return f"There is no change request {request_id}."
        if not original.revertible:
            return f"Change {original.id} changed nothing on the connection ({original.state}): nothing to revert."
        if not original.before and not original.psk_changed:
            return f"Change {original.id} was made by an older vpnbot, which kept no values from before it."
        connection = await self.read(original.vpn_conn_id)
        try:
            values = propose(connection.settings, dict(original.before)).settings
        except InvalidParametersError as error:
            return f"The values before change {original.id} cannot be proposed now: {error}"
        key_kept = original.psk_changed and await self.old_key(original.id) is not None
        return RevertPlan(original, connection, values, key_kept)

    async def old_key(self, request_id: str) -> SecretStr | None:
        """The key the connection had before change ``request_id``, while it is kept (the watch window)."""
        try:
            return await self.store.old_psk(request_id, self.clock())
        except StoreError:
            return None

    async def open(
        self, request: ChangeRequest, psk: SecretStr | None, *, front_record: dict[str, object] | None = None
    ) -> None:
        """Store a new request: the connection's lock (one open request per connection, whatever the front) and
        the requester's quota are checked in the same transaction. Raises OpenRequestExistsError,
        TooManyOpenRequestsError, StoreError."""
        await self.store.create(
            request, psk, max_open_per_requester=self.settings.vpnbot_max_open_per_user, front_record=front_record
        )

    # -- decisions ---------------------------------------------------------------------------------------------------

    async def approve(self, request_id: str, approver: str, approvers: Approvers) -> Decision:
        """Check who approves, claim the approval once, then send the edit (and follow it in the background)."""
        request = await self.store.get(request_id)
        if request is None:
            return Decision(Verdict.NO_SUCH_REQUEST)
        now = self.clock()
        if request.is_expired(now):
            await self.expire(request)
            return Decision(Verdict.ALREADY_DECIDED, (await self.store.get(request_id)) or request)
        if request.state is not ChangeState.PENDING:
            return Decision(Verdict.ALREADY_DECIDED, request)
        if approver == request.requester and not approvers.allow_self_approval:
            return Decision(Verdict.SELF_APPROVAL, request)
        if not await approvers.may_approve(approver):
            verdict = Verdict.NOT_AN_APPROVER if approvers.configured else Verdict.NOBODY_CONFIGURED
            return Decision(verdict, request)
        blocked = await self._blocked_at_approval(request)
        if blocked:
            return Decision(Verdict.BLOCKED_BY_POLICY, request, blocked)
        try:
            request = await self.store.claim(
                request_id,
                {ChangeState.PENDING},
                ChangeState.APPROVED,
                actor=approver,
                at=now,
                approver=approver,
                approved_at=now,
            )
        except ClaimConflictError as conflict:
            return Decision(Verdict.ALREADY_DECIDED, conflict.request)
        except StoreError as error:
            return Decision(Verdict.NOT_RECORDED, request, str(error))
        await self.submit(request)
        return Decision(Verdict.DONE, request)

    def blocked_reason(self, request: ChangeRequest) -> str:
        """Why ``VPNBOT_CRYPTO_POLICY=block`` refuses to approve this request (plain text), or "" when it does not."""
        return request.blocked_by(self.settings.vpnbot_crypto_policy)

    async def _blocked_at_approval(self, request: ChangeRequest) -> str:
        """:meth:`blocked_reason`; under ``block``, a request an older vpnbot stored without a crypto review is
        reviewed now, against the connection as it is (what the edit would change), and refused when it cannot
        be: unreviewed, it would pass the policy unseen."""
        if request.crypto is not None or self.settings.vpnbot_crypto_policy != "block":
            return self.blocked_reason(request)
        try:
            live = await self.read(request.vpn_conn_id)
            proposed = propose(live.settings, dict(request.edits)).settings
        except (CloudError, CloudDataError, InvalidParametersError) as error:
            return (
                "this request, made by an older vpnbot, has no crypto review, and it could not be reviewed now "
                f"({type(error).__name__})."
            )
        reviewed = replace(request, crypto=review(live.settings.values, proposed.values))
        return reviewed.blocked_by(self.settings.vpnbot_crypto_policy)

    async def reject(self, request_id: str, decider: str, reason: str, approvers: Approvers) -> Decision:
        """Reject (an approver) or withdraw (the requester) a pending request."""
        request = await self.store.get(request_id)
        if request is None:
            return Decision(Verdict.NO_SUCH_REQUEST)
        withdraw = decider == request.requester
        if not withdraw and not await approvers.may_approve(decider):
            return Decision(Verdict.NOT_AN_APPROVER, request)
        to, end = (ChangeState.CANCELLED, EndKind.WITHDRAWN) if withdraw else (ChangeState.REJECTED, EndKind.REJECTED)
        now = self.clock()
        try:
            request = await self.store.claim(
                request_id,
                {ChangeState.PENDING},
                to,
                actor=decider,
                at=now,
                decider=decider,
                decided_at=now,
                reason=reason.strip(),
                end=end,
            )
        except ClaimConflictError as conflict:
            return Decision(Verdict.ALREADY_DECIDED, conflict.request)
        except StoreError as error:
            return Decision(Verdict.NOT_RECORDED, request, str(error))
        await self.notifier.finished(request)
        return Decision(Verdict.DONE, request)

    async def cancel_unposted(self, request: ChangeRequest) -> None:
        """A request its front could not show: nobody can see it, so nobody may approve it. While the state file
        cannot be written it stays pending, unshown, and the next start cancels it the same way."""
        with contextlib.suppress(ClaimConflictError, StoreError):
            await self.store.claim(
                request.id,
                {ChangeState.PENDING},
                ChangeState.CANCELLED,
                actor=BOT,
                at=self.clock(),
                reason="the request could not be shown",
                end=EndKind.UNPOSTED,
            )

    async def expire(self, request: ChangeRequest) -> None:
        try:
            request = await self.store.claim(
                request.id, {ChangeState.PENDING}, ChangeState.EXPIRED, actor=BOT, at=self.clock(), end=EndKind.EXPIRED
            )
        except ClaimConflictError:
            return
        await self.notifier.finished(request)

    async def expire_due(self) -> int:
        """Expire every pending request past its TTL; how many."""
        due = await self.store.expired(self.clock())
        for request in due:
            await self.expire(request)
        with contextlib.suppress(StoreError):
            await self.store.erase_expired_old_psks(self.clock())
        return len(due)

    # -- sending -----------------------------------------------------------------------------------------------------

    async def submit(self, request: ChangeRequest) -> None:
        """From ``approved``: re-read the connection, refuse a stale request, send the edit exactly once."""
        try:
            live = await self.read(request.vpn_conn_id)
        except (CloudError, CloudDataError) as error:
            why = await self._cloud_text(request, str(error))
            await self._fail(
                request, ChangeState.APPROVED, f"Could not re-read the connection, so nothing was sent: {why}"
            )
            return
        if request.psk_changed:
            # The key first: with another store key, fingerprints differ too, and "stale" would hide the real cause.
            try:
                await self.store.psk(request.id)
            except StoreKeyError as error:
                await self._fail(
                    request, ChangeState.APPROVED, f"The change cannot be sent, so nothing was sent: {error}"
                )
                return
        if settings_fingerprint(live.settings) != request.base_fingerprint:
            await self._mark_stale(request, live)
            return
        try:
            proposal = await self._proposal(request, live)
        except (InvalidParametersError, StoreError) as error:
            await self._fail(request, ChangeState.APPROVED, f"The change cannot be sent: {error}")
            return
        if request.psk_changed:
            await self._keep_old_key(request)
        try:
            up = tunnel_reading(live).up
            request = await self.store.claim(
                request.id,
                {ChangeState.APPROVED},
                ChangeState.SUBMITTING,
                actor=BOT,
                at=self.clock(),
                tunnel_before="" if up is None else ("up" if up else "down"),
            )
        except StoreError as error:
            await self._not_sent_for_store(request, error)
            return
        try:
            task_id = await self.cloud.client.modify_vpn_conn(live, proposal)
        except ApiError as error:
            words = await self._cloud_text(request, f"{error.code} {error.code_desc}: {error.message}", live)
            await self._fail(
                request, ChangeState.SUBMITTING, f"Tencent Cloud refused the change: {words}", EndKind.REFUSED
            )
            return
        except CloudError as error:  # "<action>: <detail>", not "... failed": that is what is not known
            why = await self._cloud_text(request, f"{error.action}: {error.detail}", live)
            request = await self._claim_durably(
                request, {ChangeState.SUBMITTING}, ChangeState.UNKNOWN, outcome_message=f"No answer to the edit: {why}"
            )
            await self.notifier.card_changed(request)
            kind = NoteKind.NO_ANSWER if isinstance(error, CloudTimeoutError) else NoteKind.NO_USABLE_ANSWER
            await self.notifier.note(request, Note(kind, why))
            await self.reconcile(request)
            return
        now = self.clock()
        request = await self._claim_durably(
            request, {ChangeState.SUBMITTING}, ChangeState.RUNNING, at=now, task_id=task_id, task_started_at=now
        )
        await self.notifier.card_changed(request)
        self.background.spawn(self.follow(request, proposal), f"follow-{request.id}")

    async def _keep_old_key(self, request: ChangeRequest) -> None:
        """Keep the key the connection has before this edit (encrypted), so that a revert within the watch can
        restore it; erased at the watch's end. Without a watch it is not kept; if it cannot be read, a revert
        needs the old key typed."""
        if not self.watches or self.settings.vpnbot_watch.total_seconds() <= 0:
            return
        until = self.clock() + self.settings.vpnbot_task_deadline + self._window() + self.settings.vpnbot_watch
        try:
            key = await self.cloud.client.pre_shared_key(request.vpn_conn_id)
            if key is not None:
                await self.store.keep_old_psk(request.id, key, until=until)
        except (CloudError, CloudDataError, StoreError, ValueError) as error:
            log.warning(
                "the key before %s could not be kept (%s): a revert will ask for it", request.id, type(error).__name__
            )

    async def _not_sent_for_store(self, request: ChangeRequest, error: StoreError) -> None:
        """The move to ``submitting`` could not be saved, so the edit was not sent; once the store can write again
        the request fails saying so (until then it is ``approved`` in the file, which a restart fails the same way)."""
        await self.notifier.note(request, Note(NoteKind.APPROVAL_NOT_SAVED, str(error)))
        await self.store.wait_writable()
        await self._fail(
            request, ChangeState.APPROVED, f"vpnbot could not save the approval ({error}); nothing was sent."
        )

    # -- following ---------------------------------------------------------------------------------------------------

    async def follow(self, request: ChangeRequest, proposal: Proposal | None = None) -> None:
        """Follow a running request's task (or, with no task, the connection) to its end, then verify it."""
        assert request.task_id is not None
        task_id = request.task_id
        started = request.task_started_at or self.clock()
        await self.notifier.progress(request, Progress(Step.SENT, "running", 0.0))
        shown = "running"

        async def on_change(state: TaskState, elapsed: float) -> None:
            # No task is still "running" (said once, as no task); the end says that there was no task.
            nonlocal shown
            no_task = state.status is TaskStatus.NO_TASK
            status = "no task" if no_task else state.status.value
            if state.done or status == shown:
                return
            shown = status
            progress = Progress(Step.STATUS, "running" if no_task else status, elapsed, no_task=no_task)
            await self.notifier.progress(request, progress)

        async def missing(live: VpnConnection) -> list[str] | None:
            nonlocal proposal
            try:
                if proposal is None:
                    proposal = await self._proposal(request, live)
            except (InvalidParametersError, StoreError) as error:  # no evidence either way: the deadline decides
                log.warning("settling %s: the proposal cannot be rebuilt (%s)", request.id, type(error).__name__)
                return None
            return not_live(proposal, _changed(request), live.settings)

        settle = Settling(self.cloud, request.vpn_conn_id, missing)
        result = await self.cloud.follower.follow(task_id, on_change, settle=settle)
        await self._ended(request, proposal, result, started, settle.applied)

    async def _ended(
        self,
        request: ChangeRequest,
        proposal: Proposal | None,
        result: TaskResult,
        started: datetime,
        live: VpnConnection | None,
    ) -> None:
        """The task's end: verification, then the end saved and shown. ``live``: the read that ended a follow
        without a task."""
        elapsed = max(result.elapsed, (self.clock() - started).total_seconds())
        if result.outcome is TaskOutcome.SUCCEEDED:
            missing, note = await self._verify(request, proposal, live if result.settled else None)
            await self._finish(
                request,
                ChangeState.SUCCEEDED,
                EndKind.APPLIED_NO_TASK if result.settled else EndKind.TASK_SUCCEEDED,
                SETTLED_MESSAGE if result.settled else "",
                elapsed=elapsed,
                not_live=missing,
                verify_note=note,
            )
        elif result.outcome is TaskOutcome.FAILED:
            live_now = await self._read_quietly(request)
            why = await self._cloud_text(request, result.message or "the cloud gave no reason", live_now)
            message = f"Task {request.task_id} failed after {elapsed:.0f} s: {why}"
            missing = await self._not_live_quietly(request, proposal, live_now)
            await self._finish(
                request, ChangeState.FAILED, EndKind.TASK_FAILED, message, elapsed=elapsed, not_live=missing
            )
        else:
            deadline = self.settings.vpnbot_task_deadline
            if result.settled:
                last = await self._cloud_text(request, result.message or "not every proposed value was live yet")
                message = (
                    f"{NO_TASK_PREFIX} {request.task_id}, and the connection did not show the edit applied within "
                    f"{deadline}; last: {last}"
                )
                end = EndKind.SETTLE_TIMED_OUT
            else:
                last = await self._cloud_text(request, result.message or "running")
                message = f"Task {request.task_id} did not finish within {deadline}; last: {last}"
                end = EndKind.TIMED_OUT
            await self._finish(request, ChangeState.UNKNOWN, end, message, elapsed=elapsed)
            latest = await self.store.get(request.id)
            if latest is not None and latest.state is ChangeState.UNKNOWN:
                await self.reconcile(latest, announce=False)

    async def _verify(
        self, request: ChangeRequest, proposal: Proposal | None, live: VpnConnection | None
    ) -> tuple[list[str], str]:
        """Re-read the connection (unless ``live`` is given): the proposed values not live, and why it could not be
        verified (plain text; empty when it was)."""
        try:
            if live is None:
                live = await self.read(request.vpn_conn_id)
            if proposal is None:
                proposal = await self._proposal(request, live)
        except (CloudError, CloudDataError, InvalidParametersError, StoreError) as error:
            return [], await self._cloud_text(request, str(error))
        return not_live(proposal, _changed(request), live.settings), ""

    async def _not_live_quietly(
        self, request: ChangeRequest, proposal: Proposal | None, live: VpnConnection | None
    ) -> list[str]:
        """After a failed task: the proposed values not live (all live but some: it failed halfway), or [] when
        that cannot be told."""
        if live is None:
            return []
        try:
            return not_live(proposal or await self._proposal(request, live), _changed(request), live.settings)
        except (InvalidParametersError, StoreError):
            return []

    async def _read_quietly(self, request: ChangeRequest) -> VpnConnection | None:
        """The connection, or None when it cannot be read (only to know its key's fingerprint for redaction)."""
        try:
            return await self.read(request.vpn_conn_id)
        except (CloudError, CloudDataError):
            return None

    # -- an edit of unknown outcome ----------------------------------------------------------------------------------

    async def reconcile(self, request: ChangeRequest, *, announce: bool = True) -> Evidence | None:
        """An edit with no known outcome: never re-sent, judged only from evidence (:mod:`bot.changes.evidence`);
        the settle window is ``VPNBOT_SETTLE_WINDOW`` past ``VPNBOT_CLOUD_TIMEOUT``, counted from sending. Still
        undecided, it stays ``unknown``, said so, and is checked again at the next start. The evidence, or None
        when the proposal cannot be rebuilt."""
        if request.state is ChangeState.SUBMITTING:
            request = await self._claim_durably(request, {ChangeState.SUBMITTING}, ChangeState.UNKNOWN)
            if announce:
                await self.notifier.note(request, Note(NoteKind.STOPPED_WHILE_SENDING))
        try:
            evidence = await self._gather_evidence(request)
        except (InvalidParametersError, StoreError) as error:
            why = f"The outcome is still unknown: the proposed values cannot be rebuilt ({error})."
            await self.notifier.note(request, Note(NoteKind.STILL_UNKNOWN, why))
            return None
        if evidence.found is Found.LIVE:
            await self._finish(
                request, ChangeState.SUCCEEDED, EndKind.FOUND_LIVE, RECONCILED_MESSAGE, elapsed=evidence.elapsed
            )
        elif evidence.found is Found.NOT_APPLIED:
            message = (
                f"The proposed values are not live ({', '.join(evidence.missing)}) {_words(self._window())} after "
                "the edit was sent: the change did not take effect."
            )
            await self._finish(
                request,
                ChangeState.FAILED,
                EndKind.FOUND_NOT_LIVE,
                message,
                elapsed=evidence.elapsed,
                not_live=evidence.missing,
            )
        else:
            why = f"The outcome is still unknown: {evidence.why}. vpnbot checks again at its next start."
            await self.notifier.note(request, Note(NoteKind.STILL_UNKNOWN, why))
        return evidence

    def _window(self) -> timedelta:
        return self.settings.vpnbot_cloud_timeout + self.settings.vpnbot_settle_window

    async def _gather_evidence(self, request: ChangeRequest) -> Evidence:
        """Read the connection with the task backoff until it shows the outcome, or the task deadline passes
        (counted from now: a restarted vpnbot reads for as long again). Raises InvalidParametersError or
        StoreError when the proposal cannot be rebuilt against the first read."""
        settings = self.settings
        sent = next((t.at for t in reversed(request.history) if t.to_state is ChangeState.SUBMITTING), None)
        now_wall, now = self.clock(), time.monotonic()
        sent_at = now - max(0.0, (now_wall - (sent or now_wall)).total_seconds())
        changed = _changed(request)
        proposals: list[Proposal] = []

        async def read() -> VpnConnection:
            live = await self.read(request.vpn_conn_id)
            if not proposals:
                proposals.append(await self._proposal(request, live))
            return live

        async def on_read(reading: Reading, elapsed: float) -> None:
            await self.notifier.progress(request, Progress(Step.CHECKING, reading.value, elapsed))

        async def words(error: Exception) -> str:
            return await self._cloud_text(request, str(error))

        return await gather_evidence(
            read,
            lambda live: not_live(proposals[0], changed, live.settings),
            sent_at=sent_at,
            window_ends=sent_at + self._window().total_seconds(),
            give_up_at=now + settings.vpnbot_task_deadline.total_seconds(),
            give_up_unreadable_at=None if self.wait_out_unreadable else sent_at + self._window().total_seconds(),
            initial=settings.vpnbot_task_poll_initial.total_seconds(),
            maximum=settings.vpnbot_task_poll_max.total_seconds(),
            on_read=on_read,
            describe_error=words,
        )

    # -- after a restart ---------------------------------------------------------------------------------------------

    async def resume(self) -> int:
        """After a start: cancel pending requests their front never finished showing (the requester is told), fail
        approvals that were claimed but never sent (nothing was sent for them), follow every running task again and
        reconcile every edit with no known outcome. How many requests it took up."""
        unshown = [r for r in await self.store.in_states({ChangeState.PENDING}) if not await self.notifier.shown(r)]
        for request in unshown:
            await self.cancel_unposted(request)
            await self.notifier.tell(request.requester, Word.CANCELLED_UNSHOWN, request)
        requests = await self.store.in_states(
            {ChangeState.APPROVED, ChangeState.SUBMITTING, ChangeState.RUNNING, ChangeState.UNKNOWN}
        )
        for request in requests:
            if request.state is ChangeState.RUNNING:
                self.background.spawn(self.follow(request), f"follow-{request.id}")
            elif request.state is ChangeState.APPROVED:
                await self._fail(
                    request,
                    ChangeState.APPROVED,
                    "vpnbot stopped before sending this approved change; nothing was sent. Use Review again to ask "
                    "again.",
                )
            else:
                self.background.spawn(self.reconcile(request), f"reconcile-{request.id}")
        watched = await self.aftercare.resume(self.background.spawn) if self.watches else 0
        return len(unshown) + len(requests) + watched

    # -- ends --------------------------------------------------------------------------------------------------------

    async def _fail(
        self, request: ChangeRequest, expected: ChangeState, message: str, end: EndKind = EndKind.NOT_SENT
    ) -> None:
        """End a request whose edit was not sent (or was refused): ``message`` is plain text."""
        try:
            request = await self._claim_durably(
                request, {expected}, ChangeState.FAILED, finished_at=self.clock(), outcome_message=message, end=end
            )
        except ClaimConflictError:
            return
        await self.notifier.finished(request)

    async def _mark_stale(self, request: ChangeRequest, live: VpnConnection) -> None:
        """The connection changed since the request was made: nothing is sent; the end says what changed."""
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
            request = await self._claim_durably(
                request, {ChangeState.APPROVED}, ChangeState.STALE, outcome_message=message, end=EndKind.STALE
            )
        except ClaimConflictError:
            return
        await self.notifier.finished(request)

    async def _finish(
        self,
        request: ChangeRequest,
        to: ChangeState,
        end: EndKind,
        message: str,
        *,
        elapsed: float | None = None,
        not_live: list[str] | None = None,
        verify_note: str = "",
    ) -> None:
        """Save the end of a sent edit (retried while the state file cannot be written), then show it."""
        try:
            request = await self._claim_durably(
                request,
                {ChangeState.RUNNING, ChangeState.UNKNOWN},
                to,
                finished_at=self.clock(),
                outcome_message=message,
                not_live=not_live or [],
                end=end,
                verify_note=verify_note,
                elapsed_seconds=None if elapsed is None else round(elapsed, 3),
            )
        except ClaimConflictError:
            log.info("%s was finished elsewhere", request.id)
            return
        await self.notifier.progress(request, Progress(Step.ENDED, str(to), elapsed))
        await self.notifier.finished(request)
        if to is ChangeState.SUCCEEDED and not request.not_live and self.watches:
            self.background.spawn(self.aftercare.begin(request), f"watch-{request.id}")

    # -- helpers -----------------------------------------------------------------------------------------------------

    async def _claim_durably(
        self,
        request: ChangeRequest,
        expected: set[ChangeState],
        to: ChangeState,
        *,
        at: datetime | None = None,
        **changes: Unpack[RequestUpdate],
    ) -> ChangeRequest:
        """``claim`` by the bot, through :meth:`_durably`. A retry that finds the request already moved to ``to``
        is the earlier attempt having been committed after all (an fsync error can report a commit that landed)."""
        attempts = 0

        async def write() -> ChangeRequest:
            nonlocal attempts
            attempts += 1
            try:
                return await self.store.claim(request.id, expected, to, actor=BOT, at=at or self.clock(), **changes)
            except ClaimConflictError as conflict:
                if attempts > 1 and conflict.request.state is to:
                    return conflict.request
                raise

        return await self._durably(request, write)

    async def _durably(self, request: ChangeRequest, write: Callable[[], Awaitable[T]]) -> T:
        """A write that records what already happened (the edit was sent, a task ended): while the state file
        cannot be written it is tried again once it can, and the front is told so once. If vpnbot is stopped
        meanwhile, its next start reconciles the request from the file."""
        told = False
        while True:
            try:
                return await write()
            except StoreUnavailableError as error:
                if not told:
                    told = True
                    await self.notifier.note(request, Note(NoteKind.STORE_UNWRITABLE, str(error)))
                await self.store.wait_writable()

    async def _cloud_text(self, request: ChangeRequest, text: str, live: VpnConnection | None = None) -> str:
        """A text from the cloud made fit to show and keep: the pending key and the connection's current key taken
        out, cut (visibly) to a readable length."""
        secrets = await self._secrets(request)
        fingerprint = live.settings.psk_fingerprint if live is not None else None
        cleaned = redact(
            text[: CLOUD_TEXT_MAX * 4],
            secrets,
            fingerprint=fingerprint,
            fingerprint_of=self.cloud.client.fingerprints.of,
        )
        return clip(cleaned, CLOUD_TEXT_MAX)

    async def _secrets(self, request: ChangeRequest) -> list[str]:
        """The keys a text about ``request`` must not show: its new key, and the key before it, while kept."""
        secrets: list[str] = []
        if request.psk_changed:
            with contextlib.suppress(StoreError):
                for key in (await self.store.psk(request.id), await self.store.old_psk(request.id, self.clock())):
                    if key is not None:
                        secrets.append(key.get_secret_value())
        return secrets

    async def _secrets_and_live_key(self, request: ChangeRequest) -> list[str]:
        """:meth:`_secrets` and the connection's key now, for Tencent's peer configuration download, which writes
        that key in plain text (its fingerprint alone finds it only as a word of its own). Raises CloudError or
        CloudDataError when the key now cannot be read: the download is then not shown."""
        live = await self.cloud.client.pre_shared_key(request.vpn_conn_id)
        secrets = await self._secrets(request)
        return secrets if live is None else [*secrets, live.get_secret_value()]

    async def _proposal(self, request: ChangeRequest, live: VpnConnection | None) -> Proposal:
        """The request's edit re-proposed against the live settings (read now when not given), the stored key
        included."""
        if live is None:
            live = await self.read(request.vpn_conn_id)
        edits = dict(request.edits)
        if request.psk_changed:
            key = await self.store.psk(request.id)
            if key is None:
                raise StoreError("the new pre-shared key is no longer stored")
            edits[PSK] = key.get_secret_value()
        return propose(live.settings, edits)


def _changed(request: ChangeRequest) -> tuple[str, ...]:
    return tuple(row.name for row in request.diff)


def _words(duration: timedelta) -> str:
    seconds = duration.total_seconds()
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def _stale_value(row: DiffRow) -> str:
    """A row of the diff against the settings now, in words (lists by their counts: Review again shows them)."""
    if row.size_before is not None:
        return f"+{len(row.added)} −{len(row.removed)} entries"
    return row.proposed
