"""Every word the Slack front says about a change: the decisions' answers, the thread's lines, the final reply.
Values are escaped here (:mod:`bot.slack.text`); the service hands over plain text and typed facts only."""

from __future__ import annotations

from datetime import datetime

from bot.changes import Decision, Note, NoteKind, Verdict, Word
from bot.slack.text import clip, esc, esc_visible, slack_date, user, visible_lines
from bot.vpn.change import NO_TASK_ENDS, TASK_ENDS, ChangeRequest, ChangeState, EndKind
from bot.vpn.impact import impact_of

__all__ = [
    "already_decided",
    "decision_words",
    "decision_words_for",
    "end_words",
    "final_reply",
    "note_words",
    "running_text",
    "told",
]

NO_TASK_DONE = "no task: read from the connection"
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
VERIFIED = "Verified: every proposed value is live."
NOT_WATCHED = "Name only: no effect on traffic, so the tunnel is not watched."


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


def decision_words(decision: Decision, request_id: str, *, approving: bool) -> str | None:
    """What the person who clicked is told (None: nothing, the card and thread say it)."""
    return decision_words_for(decision.verdict, decision.request, request_id, approving=approving, error=decision.error)


def decision_words_for(
    verdict: Verdict, request: ChangeRequest | None, request_id: str, *, approving: bool, error: str = ""
) -> str | None:
    """:func:`decision_words` from its parts."""
    if verdict is Verdict.DONE:
        return None
    if verdict is Verdict.NO_SUCH_REQUEST or request is None:
        return f"There is no change request `{esc_visible(request_id)}`."
    if verdict is Verdict.ALREADY_DECIDED:
        return already_decided(request)
    if verdict is Verdict.SELF_APPROVAL:
        return "You asked for this change, so someone else must approve it (VPNBOT_ALLOW_SELF_APPROVAL is off)."
    if not approving and verdict in (Verdict.NOT_AN_APPROVER, Verdict.NOBODY_CONFIGURED):
        return "Only the requester or an approver (VPNBOT_APPROVERS) can reject this change. Nothing was changed."
    if verdict is Verdict.NOBODY_CONFIGURED:
        return (
            "You cannot approve this change: nobody is set as an approver yet (VPNBOT_APPROVERS). Nothing was changed."
        )
    if verdict is Verdict.NOT_AN_APPROVER:
        return (
            "You cannot approve this change: only the people and groups in VPNBOT_APPROVERS can approve. "
            "Nothing was changed."
        )
    if verdict is Verdict.BLOCKED_BY_POLICY:
        return (
            ":lock: This change cannot be approved: VPNBOT_CRYPTO_POLICY is `block`, and "
            f"{esc_visible(error)} Nothing was sent. Reject it, and ask again with stronger values."
        )
    what = "your approval" if approving else "that"
    nothing = "Nothing was sent." if approving else "Nothing was changed."
    return f":warning: vpnbot could not record {what} ({esc_visible(error)}). {nothing}"


def running_text(request: ChangeRequest, status: str, elapsed: float | None) -> str:
    """The status message; ``status`` empty: just sent. Under API 2.0 the id is a task's (a number). Under API 3.0
    it is the edit's RequestId, which may or may not name a task: the words say "task" only once the service showed
    one (``status`` then starts with it), and "running" (the edit) until then."""
    after = f" ({elapsed:.0f} s)" if elapsed is not None else ""
    conn, task_id = esc_visible(request.vpn_conn_id), esc_visible(str(request.task_id))
    if isinstance(request.task_id, str):
        words = status or "running"
        return f":gear: Tencent Cloud accepted the edit of `{conn}` (RequestId `{task_id}`): {esc(words)}{after}."
    words = status.removeprefix("task ") or "running"
    return f":gear: Tencent Cloud accepted the edit of `{conn}`: task `{task_id}` {esc(words)}{after}."


def status_words(status: str) -> str:
    """A task status as the status message says it."""
    return f"task {status}"


def end_words(request: ChangeRequest) -> str:
    """The end in the status message's words: with no task, said so; after a task, the task's end; after a
    reconciliation, the change's end alone."""
    state = str(request.state)
    if request.end in NO_TASK_ENDS:
        return f"{state} ({NO_TASK_DONE})"
    if request.end in TASK_ENDS:
        return f"task {state}"
    return state


def _verification(request: ChangeRequest) -> str:
    if request.verify_note:
        return f"Could not verify the result: {esc(visible_lines(request.verify_note))}"
    if request.not_live:
        return f":warning: Not live after the task: {esc(', '.join(request.not_live))}."
    return VERIFIED


def final_reply(request: ChangeRequest) -> str | None:
    """The thread's reply at the request's end (mentioning the requester), or None for an end shown on the card
    alone (expired, or never shown)."""
    end = request.end
    elapsed = f"{request.elapsed_seconds or 0:.0f} s"
    message = esc(visible_lines(request.outcome_message))
    mention = user(request.requester)
    if end is EndKind.TASK_SUCCEEDED:
        text = f":large_green_circle: Task {esc_visible(str(request.task_id))} succeeded in {elapsed}. {_verification(request)}"
    elif end is EndKind.APPLIED_NO_TASK:
        text = (
            f":large_green_circle: The edit succeeded in {elapsed} ({NO_TASK_DONE}, back to normal). "
            f"{_verification(request)}"
        )
    elif end is EndKind.FOUND_LIVE:
        text = f":large_green_circle: The proposed values are live: the change took effect. {VERIFIED}"
    elif end is EndKind.FOUND_NOT_LIVE:
        text = f":red_circle: {message} Use Review again to ask again."
    elif end in (EndKind.TASK_FAILED, EndKind.REFUSED, EndKind.NOT_SENT):
        text = f":red_circle: {message}"
    elif end in (EndKind.TIMED_OUT, EndKind.SETTLE_TIMED_OUT):
        text = f":grey_question: {message}. Its outcome is unknown until the connection shows it."
    elif end is EndKind.STALE:
        text = f":warning: {message}"
    elif end in (EndKind.REJECTED, EndKind.WITHDRAWN):
        reason = request.reason.strip()
        why = f" Reason: {esc(visible_lines(clip(reason, 500)))}" if reason else ""
        verb = "withdrew" if end is EndKind.WITHDRAWN else "rejected"
        text = f":no_entry: {user(request.decider or '')} {verb} this change.{why}"
    else:
        return None
    if request.state is ChangeState.SUCCEEDED and not impact_of(request.diff).needs_watch:
        text += f" {NOT_WATCHED}"
    return f"{text} {mention}"


def note_words(note: Note) -> tuple[str, str | None]:
    """A note as (the thread's line, the card's status line or None)."""
    detail = esc(visible_lines(note.detail))
    if note.kind in (NoteKind.NO_ANSWER, NoteKind.NO_USABLE_ANSWER):
        text = (
            f":grey_question: No answer to ModifyVpnConnEx ({detail}). It is not sent again; its outcome is unknown "
            "until the connection shows it."
        )
        return text, None
    if note.kind is NoteKind.STOPPED_WHILE_SENDING:
        return (
            ":grey_question: vpnbot stopped while sending this change; its outcome is unknown until the connection "
            "shows it.",
            None,
        )
    if note.kind is NoteKind.STORE_UNWRITABLE:
        return (
            f":warning: vpnbot cannot write its state file ({esc_visible(note.detail)}). This change goes on as soon "
            "as it can; nothing is sent twice.",
            None,
        )
    if note.kind is NoteKind.APPROVAL_NOT_SAVED:
        return f":warning: vpnbot could not save this approval ({esc_visible(note.detail)}), so nothing was sent.", None
    return f":grey_question: {detail}", detail


def told(word: Word, request: ChangeRequest) -> str:
    """A direct message's words."""
    if word is Word.CANCELLED_UNSHOWN:
        return (
            f"vpnbot stopped while posting the change card for `{esc_visible(request.vpn_conn_id)}`, so request "
            f"`{esc_visible(request.id)}` was cancelled; nothing was sent. Ask again with /vpn edit."
        )
    return esc_visible(str(word))
