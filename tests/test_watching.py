"""The aftercare of a change (``bot.changes.watching``) and the service's part in it, over the simulator on loopback
and a real state file, with a recording notifier and a fake clock whose ``sleep`` moves it: a five-minute watch runs
in milliseconds, and what the simulator's tunnel does is planted at chosen moments of it."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dialect
import pytest
from items import connection
from pydantic import SecretStr
from simthread import CANARY_SECRET_ID, CANARY_SECRET_KEY, canary_world

from bot.changes import Background, ChangeService, Note, PeerConfig, Progress, RevertPlan, Verdict, WatchEvent, Word
from bot.changes.watching import Aftercare, with_addresses
from bot.cloud import Cloud, credentials_from, follower_for
from bot.config import Settings
from bot.sim import SimServer, SimState
from bot.sim.values import ConnStatus
from bot.store import Store
from bot.tencent import make_client
from bot.vpn.change import ChangeRequest, ChangeState, EndKind
from bot.vpn.edit import propose
from bot.vpn.watch import TunnelReading, Watch, WatchState

pytestmark = pytest.mark.usefixtures("cloud_api")
SEED_CONN = "vpnx-ol6bcqp0"
REQUESTER, APPROVER = "U0REQUEST", "U0APPROVER"
NEW_KEY = "watching-Key-5d1e9"
WINDOW, INTERVAL = 300, 15
READINGS = WINDOW // INTERVAL + 1
DESCRIBE = "DescribeVpnConn"  # counted with its API 3.0 equivalent
Action = Callable[[], object]


class FakeTime:
    """The aftercare's clock and ``sleep``: sleeping moves the clock, then runs what was planted for that moment."""

    def __init__(self) -> None:
        self.start = datetime.now(UTC).replace(microsecond=0)
        self.now = self.start
        self.sleeps: list[float] = []
        self.planted: list[tuple[float, Action]] = []

    def __call__(self) -> datetime:
        return self.now

    def at(self, seconds: float, action: Action) -> None:
        """Run ``action`` (sync or async) once the clock has moved ``seconds`` past the start."""
        self.planted = sorted([*self.planted, (seconds, action)], key=lambda item: item[0])

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += timedelta(seconds=seconds)
        while self.planted and self.start + timedelta(seconds=self.planted[0][0]) <= self.now:
            _, action = self.planted.pop(0)
            result = action()
            if inspect.isawaitable(result):
                await result


@dataclass
class Recording:
    """A notifier that keeps every event: ``("peer_config", configs)``, ``("watch", event, watch)`` and the
    service's others by kind."""

    events: list[tuple[Any, ...]] = field(default_factory=list)

    async def card_changed(self, request: ChangeRequest, note: Note | None = None) -> None:
        self.events.append(("card", str(request.state)))

    async def progress(self, request: ChangeRequest, progress: Progress) -> None:
        self.events.append(("progress", progress.step))

    async def note(self, request: ChangeRequest, note: Note) -> None:
        self.events.append(("note", note.kind))

    async def finished(self, request: ChangeRequest) -> None:
        self.events.append(("finished", str(request.state)))

    async def peer_config(self, request: ChangeRequest, configs: tuple[PeerConfig, ...]) -> None:
        self.events.append(("peer_config", configs))

    async def watch(self, request: ChangeRequest, watch: Watch, event: WatchEvent) -> None:
        self.events.append(("watch", event, watch))

    async def tell(self, person: str, word: Word, request: ChangeRequest) -> None:
        self.events.append(("tell", person, word))

    async def shown(self, request: ChangeRequest) -> bool:
        return True

    def told(self) -> list[WatchEvent]:
        return [event[1] for event in self.events if event[0] == "watch"]

    def watch_told(self, wanted: WatchEvent) -> list[Watch]:
        return [event[2] for event in self.events if event[0] == "watch" and event[1] is wanted]

    def configs(self) -> list[tuple[PeerConfig, ...]]:
        return [event[1] for event in self.events if event[0] == "peer_config"]

    def aftercare_kinds(self) -> list[str]:
        return [str(event[1]) if event[0] == "watch" else event[0] for event in self.events if event[0] in AFTER]


AFTER = ("peer_config", "watch")


@dataclass
class Env:
    sim: SimState
    store: Store
    cloud: Cloud
    settings: Settings
    notifier: Recording
    time: FakeTime
    aftercare: Aftercare

    def reads(self) -> int:
        return self.sim.received(DESCRIBE)

    def plant(self, **changes: Any) -> Action:
        return lambda: self.sim.plant(SEED_CONN, **changes)


async def no_secrets(request: ChangeRequest) -> list[str]:
    return []


@asynccontextmanager
async def environment(tmp_path: Path, **overrides: Any) -> AsyncIterator[Env]:
    """The simulator (its tunnel left alone: no peer renegotiates), a store, a cloud client whose failed reads are
    retried at once (an unreadable window costs no real time) and an Aftercare on a fake clock."""
    async with SimServer(SimState(canary_world(task_seconds=0.2))) as sim:
        sim.state.renegotiate_seconds = 3600.0  # an edit the service sends leaves the tunnel's status as it is
        chosen: dict[str, Any] = {
            "vpnbot_cloud_api": dialect.current,
            "vpnbot_cloud_endpoint": dialect.endpoint(sim),
            "tencentcloud_secret_id": CANARY_SECRET_ID,
            "tencentcloud_secret_key": CANARY_SECRET_KEY,
            "vpnbot_task_poll_initial": "0.05s",
            "vpnbot_task_poll_max": "0.2s",
            "vpnbot_task_deadline": "20s",
            "vpnbot_watch": f"{WINDOW}s",
            "vpnbot_watch_interval": f"{INTERVAL}s",
        }
        settings = Settings(_env_file=None, **{**chosen, **overrides})
        client = make_client(
            settings.vpnbot_cloud_api,
            credentials_from(settings),
            endpoint=settings.cloud_endpoint,
            timeout=5.0,
            read_attempts=2,
            retry_base=0.0,
        )
        cloud = Cloud(client, follower_for(client, settings))
        try:
            async with Store.open(tmp_path / "state.sqlite") as store:
                notifier, time = Recording(), FakeTime()
                aftercare = Aftercare(settings, cloud, store, notifier, time, no_secrets, sleep=time.sleep)
                yield Env(sim.state, store, cloud, settings, notifier, time, aftercare)
        finally:
            await client.aclose()


async def stored(env: Env, edits: dict[str, str], **ended: Any) -> ChangeRequest:
    """A request for ``edits`` saved as a verified success (nothing sent: the simulator's connection is as it was)."""
    live = await env.cloud.client.describe_vpn_conn(SEED_CONN)
    request = ChangeRequest.from_proposal(
        live, propose(live.settings, edits), requester=REQUESTER, now=env.time(), ttl=timedelta(hours=1), front="t"
    )
    key = edits.get("preSharedKey")
    await env.store.create(request, SecretStr(key) if key else None)
    now = env.time()
    moves: tuple[tuple[ChangeState, dict[str, Any]], ...] = (
        (ChangeState.APPROVED, {"approver": APPROVER, "approved_at": now}),
        (ChangeState.SUBMITTING, {}),
        (ChangeState.RUNNING, {"task_id": 77, "task_started_at": now}),
        (ChangeState.SUCCEEDED, {"end": EndKind.TASK_SUCCEEDED, "finished_at": now, **ended}),
    )
    for to, changes in moves:
        request = await env.store.claim(request.id, {request.state}, to, actor=APPROVER, at=now, **changes)
    return request


def seconds_after(env: Env, seconds: float) -> datetime:
    return env.time.start + timedelta(seconds=seconds)


# -- the watch ---------------------------------------------------------------------------------------------------


@dialect.no_edit
async def test_a_tunnel_that_stays_up_is_read_once_an_interval_and_its_old_key_erased(tmp_path: Path) -> None:
    async with environment(tmp_path) as env:
        request = await stored(env, {"preSharedKey": NEW_KEY})
        await env.store.keep_old_psk(request.id, SecretStr("the-key-before"), until=env.time() + timedelta(hours=1))
        before = env.reads()
        await env.aftercare.begin(request)
        reads = env.reads() - before
        assert env.notifier.aftercare_kinds() == ["peer_config", "started", "ended"]
        (ended,) = env.notifier.watch_told(WatchEvent.ENDED)
        assert ended.state is WatchState.UP
        assert ended.down_since is None
        assert ended.ends_at == seconds_after(env, WINDOW)
        assert reads == 1 + READINGS  # the peer's configuration, then one reading at once and one an interval
        assert env.time.sleeps == [float(INTERVAL)] * (READINGS - 1)
        assert await env.store.old_psk(request.id, env.time()) is None
        saved = await env.store.watch(request.id)
        assert saved is not None
        assert saved.state is WatchState.UP
        assert not saved.active
        assert await env.store.active_watches() == []
        (configs,) = env.notifier.configs()
        assert [c.vendor for c in configs] == ["strongswan", "cisco"]
        for config in configs:
            assert config.problem == ""
            assert config.text
            assert NEW_KEY not in config.text
            assert "the-key-before" not in config.text


@dialect.no_edit
async def test_a_fall_is_told_once_with_its_time_and_the_return_too(tmp_path: Path) -> None:
    async with environment(tmp_path) as env:
        request = await stored(env, {"IKESet.dhGroupName": "group14"})
        env.time.at(40, env.plant(net_status="unavailable"))
        env.time.at(100, env.plant(net_status="available"))
        await env.aftercare.begin(request)
        assert env.notifier.told() == [WatchEvent.STARTED, WatchEvent.DOWN, WatchEvent.UP_AGAIN, WatchEvent.ENDED]
        (down,) = env.notifier.watch_told(WatchEvent.DOWN)
        assert down.down_since == seconds_after(env, 45)  # the first reading after the fall
        assert "unavailable" in down.last_status
        (up,) = env.notifier.watch_told(WatchEvent.UP_AGAIN)
        assert up.up_again_at == seconds_after(env, 105)
        (ended,) = env.notifier.watch_told(WatchEvent.ENDED)
        assert ended.state is WatchState.UP
        assert (ended.down_since, ended.up_again_at) == (seconds_after(env, 45), seconds_after(env, 105))
        saved = await env.store.watch(request.id)
        assert saved == ended
        assert saved.announced_down


@dialect.no_edit
async def test_a_tunnel_still_down_at_the_end_is_reported_down(tmp_path: Path) -> None:
    async with environment(tmp_path) as env:
        request = await stored(env, {"preSharedKey": NEW_KEY})
        env.time.at(1, env.plant(net_status="unavailable"))
        await env.aftercare.begin(request)
        assert env.notifier.told() == [WatchEvent.STARTED, WatchEvent.DOWN, WatchEvent.ENDED]
        (ended,) = env.notifier.watch_told(WatchEvent.ENDED)
        assert ended.state is WatchState.DOWN
        assert ended.down_since == seconds_after(env, INTERVAL)


@dialect.no_edit
async def test_a_connection_unreadable_for_the_whole_window_claims_nothing(tmp_path: Path) -> None:
    async with environment(tmp_path) as env:
        request = await stored(env, {"preSharedKey": NEW_KEY})
        env.sim.update_faults({"http5xx": {DESCRIBE: 10_000}})
        before = env.reads()
        await env.aftercare.begin(request)
        assert env.reads() - before == 2 * (1 + READINGS)  # every read tried twice (read_attempts), never more
        assert env.notifier.told() == [WatchEvent.STARTED, WatchEvent.ENDED]
        (ended,) = env.notifier.watch_told(WatchEvent.ENDED)
        assert ended.state is WatchState.UNREADABLE
        (configs,) = env.notifier.configs()
        assert all(config.problem and not config.text for config in configs)


@dialect.no_edit
async def test_readings_that_never_say_up_or_down_claim_nothing(tmp_path: Path) -> None:
    """A connection still modifying for the whole window is read, but says nothing of the tunnel: no false up."""
    async with environment(tmp_path) as env:
        request = await stored(env, {"IKESet.dhGroupName": "group14"})
        env.sim.plant(SEED_CONN, status=ConnStatus.MODIFYING)
        await env.aftercare.begin(request)
        assert env.notifier.told() == [WatchEvent.STARTED, WatchEvent.ENDED]
        (ended,) = env.notifier.watch_told(WatchEvent.ENDED)
        assert ended.state is WatchState.UNREADABLE
        assert ended.last_status  # what the cloud said is kept for showing


@dialect.no_edit
async def test_a_tunnel_seen_up_then_unreadable_claims_nothing_of_the_end(tmp_path: Path) -> None:
    """Up at the first reading, unreadable ever after: the end is not known, and it says when it was last seen."""
    async with environment(tmp_path) as env:
        request = await stored(env, {"IKESet.dhGroupName": "group14"})
        env.time.at(1, lambda: env.sim.update_faults({"http5xx": {DESCRIBE: 10_000}}))
        await env.aftercare.begin(request)
        (ended,) = env.notifier.watch_told(WatchEvent.ENDED)
        assert ended.state is WatchState.UNREADABLE
        assert ended.last_read_at == env.time.start
        assert not ended.is_down


# -- after a restart ---------------------------------------------------------------------------------------------


@dialect.no_edit
async def test_a_resumed_watch_goes_on_without_telling_its_start_or_its_fall_again(tmp_path: Path) -> None:
    async with environment(tmp_path) as env:
        request = await stored(env, {"preSharedKey": NEW_KEY})
        fell = env.time() - timedelta(seconds=30)
        saved = Watch(
            request.id,
            SEED_CONN,
            started_at=env.time() - timedelta(seconds=60),
            ends_at=env.time() + timedelta(seconds=240),
            down_since=fell,
            announced_down=True,
            last_status="net status unavailable",
            last_read_at=fell,
            peer_config_shown=True,
        )
        await env.store.save_watch(saved)
        ended_before = await stored_ended_watch(env)
        env.sim.plant(SEED_CONN, net_status="unavailable")
        env.time.at(50, env.plant(net_status="available"))
        spawned: list[tuple[Coroutine[Any, Any, None], str]] = []
        before = env.reads()
        assert await env.aftercare.resume(lambda work, name: spawned.append((work, name))) == 1
        assert [name for _, name in spawned] == [f"watch-{request.id}"]  # the ended watch is left alone
        await spawned[0][0]
        assert env.notifier.told() == [WatchEvent.UP_AGAIN, WatchEvent.ENDED]
        assert env.notifier.configs() == []
        assert env.reads() - before == 240 // INTERVAL + 1
        (ended,) = env.notifier.watch_told(WatchEvent.ENDED)
        assert (ended.state, ended.down_since, ended.up_again_at) == (WatchState.UP, fell, seconds_after(env, 60))
        assert await env.store.watch(ended_before.request_id) == ended_before


async def stored_ended_watch(env: Env) -> Watch:
    """Another request, whose watch ended before the stop (it must not be resumed)."""
    other = await stored(env, {"IKESet.dhGroupName": "group14"})
    moment = env.time() - timedelta(minutes=5)
    watch = Watch(other.id, SEED_CONN, moment - timedelta(minutes=5), moment, WatchState.UP, last_read_at=moment)
    await env.store.save_watch(watch)
    return watch


@dialect.no_edit
async def test_a_watch_whose_window_ended_while_stopped_reads_once_and_ends(tmp_path: Path) -> None:
    async with environment(tmp_path) as env:
        request = await stored(env, {"preSharedKey": NEW_KEY})
        await env.store.keep_old_psk(request.id, SecretStr("the-key-before"), until=env.time() + timedelta(hours=1))
        saved = Watch(
            request.id,
            SEED_CONN,
            started_at=env.time() - timedelta(minutes=10),
            ends_at=env.time() - timedelta(minutes=5),
            peer_config_shown=True,
        )
        await env.store.save_watch(saved)
        spawned: list[Coroutine[Any, Any, None]] = []
        before = env.reads()
        assert await env.aftercare.resume(lambda work, name: spawned.append(work)) == 1
        await spawned[0]
        assert env.reads() - before == 1
        assert env.time.sleeps == []
        assert env.notifier.told() == [WatchEvent.ENDED]
        assert env.notifier.watch_told(WatchEvent.ENDED)[0].state is WatchState.UP
        assert await env.store.old_psk(request.id, env.time()) is None
        assert await env.store.active_watches() == []


@dialect.no_edit
async def test_a_watch_stopped_before_its_start_was_told_tells_it(tmp_path: Path) -> None:
    async with environment(tmp_path) as env:
        request = await stored(env, {"preSharedKey": NEW_KEY})
        await env.store.save_watch(Watch(request.id, SEED_CONN, env.time(), env.time() + timedelta(seconds=WINDOW)))
        spawned: list[Coroutine[Any, Any, None]] = []
        await env.aftercare.resume(lambda work, name: spawned.append(work))
        await spawned[0]
        assert env.notifier.aftercare_kinds() == ["peer_config", "started", "ended"]


# -- no watch ----------------------------------------------------------------------------------------------------


@dialect.no_edit
async def test_a_name_only_change_is_not_watched_and_hands_nothing_to_the_peer(tmp_path: Path) -> None:
    async with environment(tmp_path) as env:
        request = await stored(env, {"vpnConnName": "renamed-office"})
        before = env.reads()
        await env.aftercare.begin(request)
        assert env.reads() == before
        assert env.notifier.aftercare_kinds() == ["not_needed"]
        saved = await env.store.watch(request.id)
        assert saved is not None
        assert saved.state is WatchState.NOT_NEEDED
        assert env.time.sleeps == []


@dialect.no_edit
@pytest.mark.parametrize(
    ("edits", "peer_acts"), [({"preSharedKey": NEW_KEY}, True), ({"IKESet.ikeSaLifetimeSeconds": "3600"}, False)]
)
async def test_with_the_watch_off_the_peer_still_gets_its_half(
    tmp_path: Path, edits: dict[str, str], peer_acts: bool
) -> None:
    async with environment(tmp_path, vpnbot_watch="0") as env:
        request = await stored(env, edits)
        if request.psk_changed:
            await env.store.keep_old_psk(request.id, SecretStr("the-key-before"), until=env.time() + timedelta(hours=1))
        await env.aftercare.begin(request)
        assert env.notifier.aftercare_kinds() == (["peer_config"] if peer_acts else [])
        assert await env.store.watch(request.id) is None
        assert await env.store.old_psk(request.id, env.time()) is None
        assert env.time.sleeps == []


def test_with_addresses_fills_what_the_answer_lacks_from_the_ike_identities() -> None:
    bare = connection(vpnGwAddress="", userGwAddress="")
    assert (bare.vpn_gw_address, bare.user_gw_address) == ("", "")
    filled = with_addresses(bare)
    assert (filled.vpn_gw_address, filled.user_gw_address) == ("203.0.113.10", "198.51.100.20")
    assert filled.settings == bare.settings
    given = connection(vpnGwAddress="203.0.113.99", userGwAddress="198.51.100.99")
    kept = with_addresses(given)
    assert (kept.vpn_gw_address, kept.user_gw_address) == ("203.0.113.99", "198.51.100.99")
    one = with_addresses(connection(userGwAddress=""))
    assert (one.vpn_gw_address, one.user_gw_address) == ("203.0.113.10", "198.51.100.20")


# -- the service -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class People:
    approvers: frozenset[str] = frozenset({APPROVER})
    allow_self_approval: bool = False

    @property
    def configured(self) -> bool:
        return True

    async def may_approve(self, person: str, *, fresh: bool = True) -> bool:
        return person in self.approvers


@asynccontextmanager
async def service(tmp_path: Path, **overrides: Any) -> AsyncIterator[tuple[ChangeService, Env]]:
    """A ChangeService on the environment's cloud and store, its aftercare on the fake clock."""
    async with environment(tmp_path, **overrides) as env:
        changes = ChangeService(env.settings, env.cloud, env.store, env.notifier, Background())
        changes.aftercare.clock = env.time
        changes.aftercare.sleep = env.time.sleep
        try:
            yield changes, env
        finally:
            await changes.background.wait()


async def opened(changes: ChangeService, edits: dict[str, str]) -> ChangeRequest:
    live = await changes.read(SEED_CONN)
    request = changes.request_for(live, propose(live.settings, edits), REQUESTER, front="t")
    key = edits.get("preSharedKey")
    await changes.open(request, SecretStr(key) if key else None)
    return request


@dialect.local_only
async def test_block_refuses_to_approve_a_must_not_value_and_sends_nothing(tmp_path: Path) -> None:
    async with service(tmp_path, vpnbot_crypto_policy="block") as (changes, env):
        request = await opened(changes, {"IPsecSet.encryptAlgorithm": "des-cbc"})
        assert "MUST NOT" in changes.blocked_reason(request)
        decision = await changes.approve(request.id, APPROVER, People())
        assert decision.verdict is Verdict.BLOCKED_BY_POLICY
        assert "MUST NOT" in decision.error
        assert "RFC 8221" in decision.error
        stored_request = await changes.get(request.id)
        assert stored_request is not None
        assert stored_request.state is ChangeState.PENDING
        assert env.sim.received("ModifyVpnConnEx") == 0
        assert env.notifier.events == []
        harmless = await opened_elsewhere(changes, env)
        assert changes.blocked_reason(harmless) == ""


async def opened_elsewhere(changes: ChangeService, env: Env) -> ChangeRequest:
    """A request that only strengthens (not stored: the connection already has one open)."""
    live = await changes.read(SEED_CONN)
    return changes.request_for(live, propose(live.settings, {"IKESet.dhGroupName": "group14"}), REQUESTER, front="t")


async def test_warn_lets_the_same_change_be_approved_and_watched(tmp_path: Path) -> None:
    async with service(tmp_path) as (changes, env):
        request = await opened(changes, {"IPsecSet.encryptAlgorithm": "des-cbc"})
        assert changes.blocked_reason(request) == ""
        decision = await changes.approve(request.id, APPROVER, People())
        assert decision.verdict is Verdict.DONE
        await changes.background.wait()
        done = await changes.get(request.id)
        assert done is not None
        assert done.state is ChangeState.SUCCEEDED
        assert env.sim.received("ModifyVpnConnEx") == 1
        assert env.notifier.aftercare_kinds() == ["peer_config", "started", "ended"]


async def test_a_key_change_keeps_the_old_key_for_the_watch_and_erases_it_after(tmp_path: Path) -> None:
    async with service(tmp_path) as (changes, env):
        old = env.sim.connection(SEED_CONN)["preSharedKey"]
        request = await opened(changes, {"preSharedKey": NEW_KEY})
        assert await env.store.old_psk(request.id, env.time()) is None
        plans: list[RevertPlan | str] = []

        async def plan_mid_watch() -> None:
            plans.append(await changes.plan_revert(request.id))

        env.time.at(1, plan_mid_watch)
        assert (await changes.approve(request.id, APPROVER, People())).verdict is Verdict.DONE
        kept = await env.store.old_psk(request.id, env.time())  # kept before the edit was sent
        assert kept is not None
        assert kept.get_secret_value() == old
        await changes.background.wait()
        assert env.sim.connection(SEED_CONN)["preSharedKey"] == NEW_KEY
        (plan,) = plans
        assert isinstance(plan, RevertPlan)
        assert plan.key_kept
        assert await env.store.old_psk(request.id, env.time()) is None  # the watch ended
        after = await changes.plan_revert(request.id)
        assert isinstance(after, RevertPlan)
        assert not after.key_kept


@pytest.mark.parametrize("cloud_api", ["v2", "v3-task"], indirect=True)  # with no task, a failure is a long settle
async def test_a_failed_task_that_changed_nothing_is_not_revertible(tmp_path: Path) -> None:
    async with service(tmp_path) as (changes, env):
        env.sim.update_faults({"taskOutcome": "failed"})
        request = await opened(changes, {"IKESet.dhGroupName": "group14"})
        assert (await changes.approve(request.id, APPROVER, People())).verdict is Verdict.DONE
        await changes.background.wait()
        failed = await changes.get(request.id)
        assert failed is not None
        assert (failed.state, failed.end) == (ChangeState.FAILED, EndKind.TASK_FAILED)
        assert failed.not_live == ["IKESet.dhGroupName"]
        assert not failed.revertible
        plan = await changes.plan_revert(request.id)
        assert isinstance(plan, str)
        assert "changed nothing" in plan
        assert env.notifier.aftercare_kinds() == []  # nothing to watch either


def test_a_tunnel_down_before_the_change_is_no_fall_to_tell_of() -> None:
    start = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    down, up = TunnelReading(False, "net status unavailable"), TunnelReading(True, "net status available")
    watch = Watch("chg-aaaaaaaaaa", "vpnx-ol6bcqp0", start, start + timedelta(minutes=5), down_before=True)
    first = watch.seen(down, start)
    assert first.is_down
    assert first.announced_down
    assert first.seen(up, start + timedelta(seconds=15)).up_again_at is not None
    fresh = Watch("chg-aaaaaaaaaa", "vpnx-ol6bcqp0", start, start + timedelta(minutes=5))
    assert not fresh.seen(down, start).announced_down  # a tunnel that was up: its fall is told
    later = watch.seen(up, start).seen(down, start + timedelta(seconds=15))
    assert not later.announced_down  # up at the first reading, then down: a fall, whatever came before
    assert Watch.from_json(first.to_json()) == first
