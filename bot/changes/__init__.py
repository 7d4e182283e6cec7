"""The change workflow, knowing no front: :class:`ChangeService` and the :class:`Notifier` a front implements.

Fronts (``bot.slack``, the terminal's ``vpnbot edit``) reach the cloud only through the service; the errors a read
can raise, and what a listing is, are re-exported here so that a front need not import the cloud client.
"""

from bot.changes.background import Background
from bot.changes.notifier import Note, NoteKind, Notifier, PeerConfig, Progress, Step, WatchEvent, Word
from bot.changes.service import BOT, Approvers, ChangeService, Decision, RevertPlan, Verdict
from bot.tencent import CloudError, ConnectionListing
from bot.vpn.connection import CloudDataError

__all__ = [
    "BOT",
    "Approvers",
    "Background",
    "ChangeService",
    "CloudDataError",
    "CloudError",
    "ConnectionListing",
    "Decision",
    "Note",
    "NoteKind",
    "Notifier",
    "PeerConfig",
    "Progress",
    "RevertPlan",
    "Step",
    "Verdict",
    "WatchEvent",
    "Word",
]
