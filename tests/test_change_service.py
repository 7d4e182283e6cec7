"""The change service with no front but a recording notifier: what it decides and what it tells a front, as typed
events (no word, no block), over the simulator and a real state file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import dialect
import pytest
from simthread import CANARY_SECRET_ID, CANARY_SECRET_KEY, canary_world

from bot.changes import Background, ChangeService, Note, PeerConfig, Progress, Step, Verdict, WatchEvent, Word
from bot.cloud import open_cloud
from bot.config import Settings
from bot.sim import SimServer, SimState
from bot.store import OpenRequestExistsError, Store
from bot.vpn.change import ChangeRequest, ChangeState, EndKind
from bot.vpn.edit import propose
from bot.vpn.watch import Watch

pytestmark = pytest.mark.usefixtures("cloud_api")
SEED_CONN = "vpnx-ol6bcqp0"


@dataclass
class Recording:
    """A notifier that keeps every event, as (kind, request state, detail)."""

    events: list[tuple[str, str, Any]] = field(default_factory=list)

    async def card_changed(self, request: ChangeRequest, note: Note | None = None) -> None:
        self.events.append(("card", str(request.state), note))

    async def progress(self, request: ChangeRequest, progress: Progress) -> None:
        self.events.append(("progress", str(request.state), progress.step))

    async def note(self, request: ChangeRequest, note: Note) -> None:
        self.events.append(("note", str(request.state), note.kind))

    async def finished(self, request: ChangeRequest) -> None:
        self.events.append(("finished", str(request.state), request.end))

    async def tell(self, person: str, word: Word, request: ChangeRequest) -> None:
        self.events.append(("tell", person, word))

    async def peer_config(self, request: ChangeRequest, configs: tuple[PeerConfig, ...]) -> None:
        self.events.append(("peer_config", str(request.state), tuple(c.vendor for c in configs)))

    async def watch(self, request: ChangeRequest, watch: Watch, event: WatchEvent) -> None:
        self.events.append(("watch", str(request.state), event))

    async def shown(self, request: ChangeRequest) -> bool:
        return True


@dataclass(frozen=True)
class People:
    approvers: frozenset[str] = frozenset({"U0APPROVER"})
    allow_self_approval: bool = False

    @property
    def configured(self) -> bool:
        return bool(self.approvers)

    async def may_approve(self, person: str, *, fresh: bool = True) -> bool:
        return person in self.approvers


@asynccontextmanager
async def service(tmp_path: Path) -> AsyncIterator[tuple[ChangeService, Recording]]:
    async with SimServer(SimState(canary_world(task_seconds=0.2))) as sim:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            vpnbot_cloud_api=dialect.current,
            vpnbot_cloud_endpoint=dialect.endpoint(sim),
            tencentcloud_secret_id=CANARY_SECRET_ID,
            tencentcloud_secret_key=CANARY_SECRET_KEY,
            vpnbot_task_poll_initial="0.05s",
            vpnbot_task_poll_max="0.2s",
            vpnbot_task_deadline="20s",
        )
        async with Store.open(tmp_path / "state.sqlite") as store, open_cloud(settings, sim=False) as cloud:
            notifier, background = Recording(), Background()
            yield ChangeService(settings, cloud, store, notifier, background), notifier
            await background.wait()


async def new_request(changes: ChangeService, name: str, requester: str = "U0REQUEST") -> ChangeRequest:
    connection = await changes.read(SEED_CONN)
    request = changes.request_for(connection, propose(connection.settings, {"vpnConnName": name}), requester, front="t")
    await changes.open(request, None)
    return request


async def test_a_change_approved_by_someone_else_is_sent_followed_and_verified(tmp_path: Path) -> None:
    async with service(tmp_path) as (changes, notifier):
        request = await new_request(changes, "via-service")
        with pytest.raises(OpenRequestExistsError):
            await new_request(changes, "second")  # one open change per connection
        for person, verdict in (("U0REQUEST", Verdict.SELF_APPROVAL), ("U0STRANGER", Verdict.NOT_AN_APPROVER)):
            assert (await changes.approve(request.id, person, People())).verdict is verdict
        nobody = await changes.approve(request.id, "U0APPROVER", People(approvers=frozenset()))
        assert nobody.verdict is Verdict.NOBODY_CONFIGURED
        assert notifier.events == []  # refusals change nothing and show nothing
        assert (await changes.approve(request.id, "U0APPROVER", People())).verdict is Verdict.DONE
        await changes.background.wait()
        late = await changes.approve(request.id, "U0APPROVER", People())
        assert late.verdict is Verdict.ALREADY_DECIDED
        stored = await changes.get(request.id)
    assert stored is not None
    assert stored.state is ChangeState.SUCCEEDED
    expected_end = EndKind.APPLIED_NO_TASK if dialect.behaviour() == "v3" else EndKind.TASK_SUCCEEDED
    assert stored.end is expected_end
    assert stored.not_live == []
    assert stored.verify_note == ""
    kinds = [(kind, state) for kind, state, _ in notifier.events]
    assert kinds[0] == ("card", "running")
    assert kinds[1] == ("progress", "running")
    assert notifier.events[1][2] is Step.SENT
    # the end, then the aftercare: a name-only change has nothing to watch, and no peer configuration
    assert notifier.events[-1] == ("watch", "succeeded", WatchEvent.NOT_NEEDED)
    assert notifier.events[-2] == ("finished", "succeeded", expected_end)
    assert notifier.events[-3][2] is Step.ENDED


async def test_a_withdrawal_and_an_expiry_end_with_their_kind(tmp_path: Path) -> None:
    async with service(tmp_path) as (changes, notifier):
        first = await new_request(changes, "withdrawn")
        decision = await changes.reject(first.id, "U0REQUEST", "  typo  ", People())
        assert decision.verdict is Verdict.DONE
        assert decision.request is not None
        assert (decision.request.state, decision.request.end, decision.request.reason) == (
            ChangeState.CANCELLED,
            EndKind.WITHDRAWN,
            "typo",
        )
        second = await new_request(changes, "expires")
        refused = await changes.reject(second.id, "U0STRANGER", "", People())
        assert refused.verdict is Verdict.NOT_AN_APPROVER
        changes.clock = lambda: second.expires_at + timedelta(seconds=1)
        assert await changes.expire_due() == 1
        expired = await changes.get(second.id)
    assert expired is not None
    assert (expired.state, expired.end) == (ChangeState.EXPIRED, EndKind.EXPIRED)
    assert [e for e in notifier.events if e[0] == "finished"] == [
        ("finished", "cancelled", EndKind.WITHDRAWN),
        ("finished", "expired", EndKind.EXPIRED),
    ]
