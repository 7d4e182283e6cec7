"""What every benchmark stands on: the Slack stand-in and the simulator (in this process), the server under test and
the load generator (child processes), and a driver that takes changes through the real flow (command, modal,
submission, card, click) the way ``tests/botharness.py`` does. The driver's HTTP client is aiohttp's for the reason
given in ``bench.load``: it is not timed, but httpx's cost per request would crowd this process.
"""

from __future__ import annotations

import asyncio
import json
import re
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import dialect
from botharness import APPROVER, CHANNEL, REQUESTER, SIGNING_SECRET, bot_settings
from pydantic import SecretStr

from bench.proto import JSON, Child
from bench.stats import Summary
from bot.config import Settings
from bot.playground.slack_api import Call, SlackStandin
from bot.playground.slack_payloads import block_action, fill_state_from_view, sign, slash_command, view_submission
from bot.sim import SimServer, SimState, World

CONCURRENCY = 20
PROPOSE_ATTEMPTS = 2
LIMIT_WORDS = re.compile(r"RequestLimitExceeded|(?<![-\w])4400(?![-\w])")
"""What a rate-limit error looks like in a Slack message (API 3.0's code, API 2.0's; not a group of an API 3.0
RequestId such as ``...-4400-...``, which a status message quotes)."""
SHOWN = ("chat.postMessage", "chat.update", "chat.postEphemeral", "views.open", "views.update", "response_url")
CARD_TEXT = re.compile(r"^VPN change (chg-[a-z2-7]+) by .* \((vpnx-[a-z0-9]+)\): ")
FINAL_MARKS = (":large_green_circle:", ":red_circle:", ":grey_question:", ":warning:", ":no_entry:")
VERIFIED = "Verified: every proposed value is live"
PRODUCTION_POLLING = {
    "vpnbot_task_poll_initial": "2s",
    "vpnbot_task_poll_max": "30s",
    "vpnbot_task_deadline": "30m",
    "vpnbot_cloud_timeout": "10s",
}
"""The bot's defaults (``bot.config``), not the tests' fast polling: the figures are those of a deployed bot."""


class IndexedStandin(SlackStandin):
    """The Slack stand-in with an index of what the benchmarks wait for, kept up as calls arrive.

    ``SlackStandin.wait_for`` re-scans every call on every call (fine for a test, quadratic for a thousand flows);
    this keeps, per key, the first value seen: ``("open", trigger_id)`` -> view id, ``("update", view_id)`` ->
    the call, ``("card", vpn_conn_id)`` -> card ts, ``("final", card_ts)`` -> the final reply's text. It hooks the
    stand-in's private ``_notify`` (called after every recorded call) and reads its ``_calls``.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._indexed = 0
        self._seen: dict[tuple[str, str], Any] = {}
        self._waiters: dict[tuple[str, str], list[asyncio.Future[Any]]] = {}
        self.opened_at: dict[str, float] = {}
        self.methods: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()
        self.thread_posts: Counter[str] = Counter()
        self.finals = 0
        self.verified = 0
        self.final_at: dict[str, float] = {}  # card ts -> when its first final reply was posted
        self.limit_errors = 0  # messages shown to people that carry a rate-limit error
        self.expired_opens: list[float] = []  # trigger ages (s) of views.open calls refused as expired
        self._finals_wanted = 0
        self._finals_reached = asyncio.Event()

    @property
    def call_count(self) -> int:
        return self._indexed

    async def _notify(self) -> None:
        calls = self._calls
        for call in calls[self._indexed :]:
            self._index(call)
        self._indexed = len(calls)
        await super()._notify()

    def _index(self, call: Call) -> None:
        self.methods[call.method] += 1
        if not call.ok:
            self.failed[call.method] += 1
            if call.method == "views.open" and call.response.get("error") == "expired_trigger_id":
                trigger = str(call.args.get("trigger_id"))
                issued = self._triggers.get(trigger)
                self.expired_opens.append(call.at - issued.issued_at if issued is not None else float("nan"))
                self._found(("open", trigger), None)  # the proposal is sent again (propose)
            return
        args, response = call.args, call.response
        if call.method in SHOWN and LIMIT_WORDS.search(json.dumps(args, ensure_ascii=False)):
            self.limit_errors += 1
        if call.method == "views.open":
            trigger = str(args.get("trigger_id"))
            self.opened_at[trigger] = call.at
            self._found(("open", trigger), response["view"]["id"])
        elif call.method == "views.update":
            self._found(("update", str(response["view"]["id"])), call)
        elif call.method == "chat.postMessage":
            text = str(args.get("text") or "")
            thread = args.get("thread_ts")
            if thread:
                self.thread_posts[str(thread)] += 1
                if text.startswith(FINAL_MARKS):
                    self.final_at.setdefault(str(thread), call.at)
                    self.finals += 1
                    self.verified += VERIFIED in text
                    if self.finals >= self._finals_wanted:
                        self._finals_reached.set()
                    self._found(("final", str(thread)), text)
            elif (match := CARD_TEXT.match(text)) is not None:
                self._found(("card", match[2]), str(response["ts"]))

    def _found(self, key: tuple[str, str], value: Any) -> None:
        if key in self._seen:
            return
        self._seen[key] = value
        for waiter in self._waiters.pop(key, []):
            if not waiter.done():
                waiter.set_result(value)

    async def wait_finals(self, count: int, timeout: float) -> bool:  # noqa: ASYNC109
        """Wait until ``count`` final replies (success or not) were posted in card threads; False on timeout."""
        self._finals_wanted = count
        self._finals_reached.clear()
        if self.finals >= count:
            return True
        try:
            await asyncio.wait_for(self._finals_reached.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def card_ts(self, vpn_conn_id: str) -> str | None:
        """The ts of the change card posted for ``vpn_conn_id``, if one was."""
        ts = self._seen.get(("card", vpn_conn_id))
        return str(ts) if ts is not None else None

    def opened_view(self, trigger_id: str) -> str | None:
        """The id of the view ``views.open`` opened with ``trigger_id``, if it did."""
        view_id = self._seen.get(("open", trigger_id))
        return str(view_id) if view_id is not None else None

    async def seen(self, key: tuple[str, str], timeout: float = 30.0) -> Any:  # noqa: ASYNC109
        """The value indexed under ``key``, waiting up to ``timeout`` s for it (TimeoutError naming the key)."""
        if key in self._seen:
            return self._seen[key]
        waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(key, []).append(waiter)
        try:
            return await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            raise TimeoutError(f"no {key[0]} for {key[1]} within {timeout} s") from None


def settings_values(settings: Settings) -> dict[str, Any]:
    """``settings`` as plain values a child process can rebuild it from (``Settings(**values)``)."""
    values: dict[str, Any] = {}
    for name, value in settings:
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        elif isinstance(value, timedelta):
            value = f"{value.total_seconds()}s"
        elif isinstance(value, tuple):
            value = ",".join(value)
        elif isinstance(value, Path):
            value = str(value)
        values[name] = value
    return values


@dataclass
class Server:
    """A server under test in its child process (vpnbot or the baseline); its log is ``<name>.log`` in the work
    directory."""

    kind: str
    child: Child
    url: str

    async def probe(self, reset: bool = False) -> JSON:
        return await self.child.ask({"op": "probe", "reset": reset})


@dataclass
class Card:
    """A posted change card: its connection, ts, and the message as Slack stores it (buttons and all)."""

    vpn_conn_id: str
    ts: str
    message: dict[str, Any]


@dataclass
class Fixtures:
    """Slack and the cloud for one benchmark, with a scratch directory for state files and logs."""

    slack: IndexedStandin
    sim: SimServer
    workdir: Path
    http: aiohttp.ClientSession
    stack: AsyncExitStack
    profile_dir: Path | None = None
    servers: list[Server] = field(default_factory=list)

    @property
    def activity(self) -> int:
        """Calls seen so far by Slack and the cloud together (unchanged means nobody is talking)."""
        return self.slack.call_count + sum(self.sim.state.arrivals.values())

    async def quiet(self, seconds: float = 0.3, timeout: float = 60.0) -> None:  # noqa: ASYNC109
        """Wait until neither Slack nor the cloud hears anything for ``seconds`` (or ``timeout`` passes)."""
        deadline = time.monotonic() + timeout
        last, since = self.activity, time.monotonic()
        while time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            now = self.activity
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= seconds:
                return

    def settings(self, name: str, **overrides: Any) -> dict[str, Any]:
        state = self.workdir / f"{name}.sqlite"
        # One requester stands in for a whole team: the per-person cap on open requests would hold its changes.
        merged = {**PRODUCTION_POLLING, "vpnbot_max_open_per_user": 1_000_000, **overrides}
        return settings_values(bot_settings(self.slack, self.sim, state, **merged))

    async def server(
        self, kind: str, name: str, *, client_rate_limits: dict[str, int] | None = None, **overrides: Any
    ) -> Server:
        """Start vpnbot (``kind="bot"``) or the baseline app; stopped with the fixtures. ``client_rate_limits``
        replaces the limits vpnbot's API 3.0 client keeps (``{}``: none, for a baseline)."""
        profile = str(self.profile_dir / f"{name}.pstats") if self.profile_dir and kind == "bot" else None
        config = {
            "kind": kind,
            "settings": self.settings(name, **overrides),
            "log": str(self.workdir / f"{name}.log"),
            "profile": profile,
            "client_rate_limits": client_rate_limits,
        }
        child = Child("bench.serve", config, self.workdir / f"{name}.stderr", self.workdir)
        self.stack.push_async_callback(child.stop, 300.0 if profile else 30.0)
        ready = await child.start()
        server = Server(kind, child, str(ready["url"]))
        self.servers.append(server)
        return server

    # --- driving the real flow -----------------------------------------------------------------------------------

    async def post(self, url: str, body: bytes) -> str:
        """POST ``body`` signed as Slack signs it; the answer's text (RuntimeError unless HTTP 200)."""
        async with self.http.post(url, data=body, headers=sign(body, SIGNING_SECRET)) as response:
            text = await response.text()
            if response.status != 200:
                raise RuntimeError(f"the bot answered HTTP {response.status}: {text[:200]}")
            return text

    def command(self, text: str, user_id: str = REQUESTER) -> tuple[str, bytes]:
        """A signed-to-be ``/vpn`` command body with a fresh trigger id (returned too) and response URL."""
        trigger = self.slack.new_trigger_id()
        body = slash_command(
            text,
            user_id=user_id,
            channel_id=CHANNEL,
            trigger_id=trigger,
            response_url=self.slack.new_response_url(),
        )
        return trigger, body

    def click(self, card: Card, action_id: str = "approve_change", user_id: str = APPROVER) -> bytes:
        """A click on ``card`` as first posted (a late click comes from a client still showing the buttons)."""
        return block_action(
            action_id,
            user_id=user_id,
            channel_id=CHANNEL,
            message=card.message,
            trigger_id=self.slack.new_trigger_id(),
            response_url=self.slack.new_response_url(),
        )

    async def propose(self, url: str, vpn_conn_id: str, changes: dict[str, Any], timeout: float = 120.0) -> Card:  # noqa: ASYNC109
        """``/vpn edit``, the filled modal, a submission with ``changes``: the card posted for it."""
        view_id = None
        for _ in range(PROPOSE_ATTEMPTS):  # a views.open refused as expired is counted, and the command sent again
            trigger, body = self.command(f"edit {vpn_conn_id}")
            await self.post(url, body)
            view_id = await self.slack.seen(("open", trigger), timeout)
            if view_id is not None:
                break
        if view_id is None:
            raise RuntimeError(f"views.open for {vpn_conn_id} came after its trigger expired {PROPOSE_ATTEMPTS} times")
        await self.slack.seen(("update", view_id), timeout)
        view = self.slack.view(view_id)
        values = fill_state_from_view(view, changes, client_validate=False)
        submission = view_submission(view, values, user_id=REQUESTER, trigger_id=self.slack.new_trigger_id())
        answer = await self.post(url, submission)
        if answer not in ("", "null"):
            raise RuntimeError(f"the submission of {vpn_conn_id} was refused: {answer[:300]}")
        ts = await self.slack.seen(("card", vpn_conn_id), timeout)
        return Card(vpn_conn_id, ts, self.slack.message(CHANNEL, ts))

    async def propose_all(
        self, url: str, changes: Sequence[tuple[str, dict[str, Any]]], concurrency: int = CONCURRENCY
    ) -> list[Card]:
        """Many proposals, ``concurrency`` at a time; the cards in the order given."""
        cards: list[Card | None] = [None] * len(changes)
        pending = iter(enumerate(changes))

        async def worker() -> None:
            for index, (conn, edit) in pending:
                cards[index] = await self.propose(url, conn, edit)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return [c for c in cards if c is not None]

    async def post_all(self, url: str, bodies: Iterable[bytes], concurrency: int = CONCURRENCY) -> None:
        pending = iter(bodies)

        async def worker() -> None:
            for body in pending:
                await self.post(url, body)

        await asyncio.gather(*(worker() for _ in range(concurrency)))


@asynccontextmanager
async def fixtures(
    world: World, workdir: Path, profile_dir: Path | None = None, *, behaviour: dialect.Behaviour = "v2"
) -> AsyncIterator[Fixtures]:
    """Slack (the stand-in) and the cloud (the simulator with ``world``) on loopback, for one benchmark.

    ``behaviour`` is the API the bot speaks (``tests/dialect.py``): ``v2`` (the seed's), ``v3`` (API 3.0, the edit
    leaving no task) or ``v3-task`` (API 3.0, ``DescribeVpcTaskResult`` knowing the edit's RequestId); the world's
    ``modifyTask`` is set to match."""
    dialect.use(behaviour)
    world = dialect.world(world)
    workdir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - set-up, before anything is timed
    async with AsyncExitStack() as stack:
        sim = await stack.enter_async_context(SimServer(SimState(world)))
        slack = await stack.enter_async_context(IndexedStandin(usergroups={"S0NETOPS": []}))
        timeout = aiohttp.ClientTimeout(total=60)
        http = await stack.enter_async_context(
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100), timeout=timeout)
        )
        yield Fixtures(slack, sim, workdir, http, stack, profile_dir)


@dataclass
class LoadGen:
    """The load generator child (``bench.load``)."""

    child: Child

    async def fire(
        self, url: str, requests: Sequence[tuple[str, bytes]], concurrency: int = CONCURRENCY
    ) -> list[Sample]:
        answer = await self.child.ask(
            {
                "op": "fire",
                "url": url,
                "secret": SIGNING_SECRET,
                "concurrency": concurrency,
                "requests": [[kind, body.decode()] for kind, body in requests],
            }
        )
        return [Sample(*s) for s in answer["samples"]]

    async def trickle_start(self, name: str, url: str, body: bytes, interval: float) -> None:
        await self.child.ask(
            {
                "op": "trickle_start",
                "name": name,
                "url": url,
                "secret": SIGNING_SECRET,
                "kind": name,
                "body": body.decode(),
                "interval": interval,
            }
        )

    async def trickle_stop(self, name: str) -> list[Sample]:
        answer = await self.child.ask({"op": "trickle_stop", "name": name})
        return [Sample(*s) for s in answer["samples"]]


@dataclass(frozen=True)
class Sample:
    """One timed request: its kind, when it was sent (unix time), how long until the whole answer, HTTP status."""

    kind: str
    sent: float
    seconds: float
    status: int


def summary(samples: Iterable[Sample]) -> Summary:
    return Summary.of_seconds([s.seconds for s in samples])


@asynccontextmanager
async def load_generator(workdir: Path) -> AsyncIterator[LoadGen]:
    workdir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - set-up, before anything is timed
    child = Child("bench.load", {"connections": 64}, workdir / "load.stderr", workdir)
    try:
        await child.start()
        yield LoadGen(child)
    finally:
        await child.stop()


def scratch_dir() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="vpnbot-bench-")
