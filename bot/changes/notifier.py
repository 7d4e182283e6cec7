"""How the change service tells a front what happened: the interface a front implements, and the events it gets.

The service decides; a front (Slack, the terminal) chooses every word and block. Events carry typed facts and
plain text from the cloud (already rid of keys and cut to a readable length), never markup.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from bot.vpn.change import ChangeRequest
from bot.vpn.watch import Watch

__all__ = ["Note", "NoteKind", "Notifier", "PeerConfig", "Progress", "Step", "WatchEvent", "Word"]


class Step(enum.StrEnum):
    """Where following the edit is."""

    SENT = "sent"
    """The cloud accepted the edit: following begins (a front shows one status line from here on)."""
    STATUS = "status"
    """The task's status changed (``Progress.status``)."""
    CHECKING = "checking"
    """A read of the connection while judging an edit of unknown outcome (``Progress.status``: what it showed)."""
    ENDED = "ended"
    """Following is over; the request holds its end (shown by :meth:`Notifier.finished`)."""


@dataclass(frozen=True)
class Progress:
    """A progress line: ``status`` is the task's (``running``, ...), ``elapsed`` seconds since sending; ``no_task``:
    the service keeps no task for the edit, so the connection is read until it shows it (``status`` running)."""

    step: Step
    status: str = ""
    elapsed: float | None = None
    no_task: bool = False


class NoteKind(enum.StrEnum):
    """A word in the course of a change that is not its end."""

    NO_ANSWER = "no_answer"
    """The edit got no answer in time: it is not sent again; the outcome is judged from the connection
    (``detail``: what happened, as ``<action>: <detail>``)."""
    NO_USABLE_ANSWER = "no_usable_answer"
    """The edit got an answer that says nothing of its outcome (HTTP 5xx, no JSON): as for no answer."""
    STOPPED_WHILE_SENDING = "stopped_while_sending"
    """vpnbot stopped while sending the edit: its outcome is judged from the connection."""
    STORE_UNWRITABLE = "store_unwritable"
    """The state file cannot be written (``detail``); the change goes on once it can."""
    APPROVAL_NOT_SAVED = "approval_not_saved"
    """The move to sending could not be saved (``detail``), so nothing was sent."""
    STILL_UNKNOWN = "still_unknown"
    """The outcome is still unknown (``detail``: why); checked again at the next start."""


@dataclass(frozen=True)
class Note:
    kind: NoteKind
    detail: str = ""


class Word(enum.StrEnum):
    """Something one person is told directly, when there is no card to say it on."""

    CANCELLED_UNSHOWN = "cancelled_unshown"
    """vpnbot stopped before the request could be shown to approvers, so it was cancelled; nothing was sent."""


class WatchEvent(enum.StrEnum):
    """What the health watch after a change has to say (``Notifier.watch``)."""

    STARTED = "started"
    """The change is live: the tunnel is watched until ``Watch.ends_at``."""
    NOT_NEEDED = "not_needed"
    """The change cannot affect traffic (a name only): nothing to watch."""
    DOWN = "down"
    """The tunnel went down (``Watch.down_since``): the requester and the approver are told, and offered a revert."""
    UP_AGAIN = "up_again"
    """The tunnel is connected again (``Watch.up_again_at``)."""
    ENDED = "ended"
    """The window is over: ``Watch.state`` says how the tunnel was at its end."""


@dataclass(frozen=True)
class PeerConfig:
    """The peer's half of a change in one vendor's format: ``text`` is plain (no markup) and never holds a key;
    ``problem`` (plain) says why it could not be made, when it could not (``text`` is then empty)."""

    vendor: str
    title: str
    text: str = ""
    problem: str = ""


class Notifier(Protocol):
    """A front's half of the change workflow. Every method is called after the state it reports is saved; a
    failure to show something is the front's to log, never raised (the state lives in the store)."""

    async def card_changed(self, request: ChangeRequest, note: Note | None = None) -> None:
        """The request moved (``note``: what to say on it meanwhile)."""
        ...

    async def progress(self, request: ChangeRequest, progress: Progress) -> None:
        """A progress line of the edit being followed."""
        ...

    async def note(self, request: ChangeRequest, note: Note) -> None:
        """A word in the course of the change (see :class:`NoteKind`)."""
        ...

    async def finished(self, request: ChangeRequest) -> None:
        """The request reached the end saved in it (``request.end``: also ``timed_out``, which is reconciled next)."""
        ...

    async def peer_config(self, request: ChangeRequest, configs: tuple[PeerConfig, ...]) -> None:
        """The configuration the peer must apply now that the change is live."""
        ...

    async def watch(self, request: ChangeRequest, watch: Watch, event: WatchEvent) -> None:
        """A word of the health watch (see :class:`WatchEvent`); ``watch`` is as saved."""
        ...

    async def tell(self, person: str, word: Word, request: ChangeRequest) -> None:
        """A direct word to ``person`` about ``request``."""
        ...

    async def shown(self, request: ChangeRequest) -> bool:
        """Whether approvers can see this pending request (False: a stop cut its showing short; it is cancelled)."""
        ...
