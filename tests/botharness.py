"""The whole bot as a real server on loopback: signed Slack requests in, Web API calls to the Slack stand-in,
cloud calls to the simulator, state in a real SQLite file. Used by the end-to-end Slack tests."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dialect
import httpx

from bot.config import Settings
from bot.playground.slack_api import Call, SlackStandin, block_problems
from bot.playground.slack_payloads import (
    block_action,
    fill_state_from_view,
    post_signed,
    slash_command,
    view_submission,
)
from bot.sim import DEMO_SECRET_ID, DEMO_SECRET_KEY, SimServer, SimState, load_world
from bot.slack.runner import RunningBot, running_bot

SIGNING_SECRET = "test-signing-secret-0b1c2d"
DEFAULT_SEED = 20_261_010
SEED_VARIABLE = "VPNBOT_TEST_SEED"
WAIT = 10.0  # seconds a helper waits for the bot's Web API calls: ample on a busy 2-core machine, free when fast
REQUESTER = "U0REQUEST"
APPROVER = "U0APPROVER"
GROUP_MEMBER = "U0GROUPIE"
STRANGER = "U0STRANGER"
CHANNEL = "C0VPNOPS"
SEED_CONN = "vpnx-ol6bcqp0"


def fuzz_seed() -> int:
    """The seed of the tests' own random generators: ``VPNBOT_TEST_SEED`` if set, else a fixed one, so every run
    sends the same requests (pytest's header prints it; set the variable to replay a run or to explore)."""
    return int(os.environ.get(SEED_VARIABLE) or DEFAULT_SEED)


def bot_settings(slack: SlackStandin, sim: SimServer, state_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "slack_bot_token": slack.bot_token,
        "slack_signing_secret": SIGNING_SECRET,
        "slack_api_url": slack.api_url,
        "vpnbot_cloud_api": dialect.current,
        "vpnbot_cloud_endpoint": dialect.endpoint(sim),
        "tencentcloud_secret_id": DEMO_SECRET_ID,
        "tencentcloud_secret_key": DEMO_SECRET_KEY,
        "vpnbot_approvers": f"{APPROVER},S0NETOPS",
        "vpnbot_state_path": state_path,
        "vpnbot_task_poll_initial": "0.05s",
        "vpnbot_task_poll_max": "0.2s",
        "vpnbot_task_deadline": "30s",
        "vpnbot_cloud_timeout": "5s",
        "vpnbot_watch": "0",  # the tests of the watch (test_tunnel_e2e.py) set their own
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@dataclass
class Harness:
    slack: SlackStandin
    sim: SimServer
    settings: Settings
    bot: RunningBot
    http: httpx.AsyncClient
    stack: AsyncExitStack
    responses: list[httpx.Response] = field(default_factory=list)

    async def restart(self) -> None:
        """Stop the bot (as SIGTERM would) and start it again on the same state file, Slack and cloud."""
        await self.stack.aclose()
        self.stack = AsyncExitStack()
        self.bot = await self.stack.enter_async_context(running_bot(self.settings, sim=False, port=0, host="127.0.0.1"))

    @property
    def url(self) -> str:
        assert self.bot.url is not None
        return self.bot.url

    async def post(self, body: bytes) -> httpx.Response:
        response = await post_signed(self.url, body, SIGNING_SECRET, client=self.http, timeout=WAIT)
        self.responses.append(response)
        self.check_answer(response)
        return response

    def check_answer(self, response: httpx.Response) -> None:
        """Blocks in the bot's HTTP answer (a slash command's acknowledgement) are checked as Slack and the
        playground would check them: problems into ``slack.invalid``, kinds the page cannot show into
        ``slack.unrendered``."""
        try:
            answer = response.json() if response.content.strip() else None
        except ValueError:
            return
        blocks = answer.get("blocks") if isinstance(answer, dict) else None
        if isinstance(blocks, list):
            self.slack.invalid.extend(("ack", p) for p in block_problems(blocks))
            self.slack.check_renderable("ack", blocks)

    async def command(self, text: str, user_id: str = REQUESTER) -> httpx.Response:
        body = slash_command(
            text,
            user_id=user_id,
            channel_id=CHANNEL,
            trigger_id=self.slack.new_trigger_id(),
            response_url=self.slack.new_response_url(),
        )
        return await self.post(body)

    async def open_form(self, conn: str = SEED_CONN, user_id: str = REQUESTER) -> dict[str, Any]:
        """``/vpn edit``: the modal after it was filled (views.open then views.update)."""
        before = len(self.slack.calls("views.update"))
        response = await self.command(f"edit {conn}", user_id)
        assert response.status_code == 200
        updates = await self.slack.wait_for("views.update", count=before + 1, timeout=WAIT)
        view_id = updates[-1].response["view"]["id"]
        return self.slack.view(view_id)

    async def submit(self, view: dict[str, Any], changes: dict[str, Any], user_id: str = REQUESTER) -> httpx.Response:
        values = fill_state_from_view(view, changes, client_validate=False)
        return await self.post(view_submission(view, values, user_id=user_id, trigger_id=self.slack.new_trigger_id()))

    async def submit_and_wait(self, view: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
        """Submit a filled form: the card message as Slack stores it."""
        before = len(self.slack.calls("chat.postMessage"))
        response = await self.submit(view, changes)
        assert response.status_code == 200
        assert response.text in ("", "null"), response.text
        card = await self.next_card(before)
        return self.slack.message(card.response["channel"], card.response["ts"])

    async def propose(self, changes: dict[str, Any], conn: str = SEED_CONN) -> dict[str, Any]:
        """Command, form, submit: the card message as Slack stores it."""
        before = len(self.slack.calls("chat.postMessage"))
        view = await self.open_form(conn)
        response = await self.submit(view, changes)
        assert response.status_code == 200
        assert response.text in ("", "null"), response.text
        card = await self.next_card(before)
        return self.slack.message(card.response["channel"], card.response["ts"])

    async def next_card(self, before: int) -> Call:
        """The first top-level message posted after the first ``before`` posts: a card (a long change's listing
        follows it in its thread, and an earlier change's thread may still be getting replies)."""

        def cards() -> list[Call]:
            return [c for c in self.slack.calls("chat.postMessage")[before:] if not c.args.get("thread_ts")]

        await self.slack.wait_until(lambda: bool(cards()), timeout=WAIT, what="a new card")
        return cards()[0]

    async def click(self, action_id: str, card: dict[str, Any], user_id: str) -> httpx.Response:
        latest = self.slack.message(CHANNEL, card["ts"])
        body = block_action(
            action_id,
            user_id=user_id,
            channel_id=CHANNEL,
            message=latest,
            trigger_id=self.slack.new_trigger_id(),
            response_url=self.slack.new_response_url(),
        )
        return await self.post(body)

    def thread(self, card: dict[str, Any]) -> list[dict[str, Any]]:
        return list(self.slack.thread(CHANNEL, card["ts"]))

    def card_now(self, card: dict[str, Any]) -> dict[str, Any]:
        return dict(self.slack.message(CHANNEL, card["ts"]))

    async def wait_thread_text(self, card: dict[str, Any], needle: str, seconds: float = 10.0) -> str:
        def found() -> bool:
            return any(needle in str(m.get("text", "")) for m in self.thread(card))

        await self.slack.wait_until(found, timeout=seconds, what=f"a thread reply containing {needle!r}")
        return next(str(m["text"]) for m in self.thread(card) if needle in str(m.get("text", "")))

    def ephemerals_text(self) -> str:
        return json.dumps([c.args for c in self.slack.calls("response_url")])

    def connection(self, conn: str = SEED_CONN) -> dict[str, Any]:
        return self.sim.state.connection(conn)


def card_text(message: dict[str, Any]) -> str:
    return json.dumps(message.get("blocks", []), ensure_ascii=False) + str(message.get("text", ""))


def fresh_state_path(directory: Path) -> Path:
    """``directory/state.sqlite``, made sure not to exist yet. A fresh Slack and simulator on a state file another
    bot left would resume its requests against a cloud and cards that no longer exist (one known cause of the
    suite failing about one run in two); ``Harness.restart()`` is the way to start again on the same file."""
    directory.mkdir(parents=True, exist_ok=True)
    state_path = directory / "state.sqlite"
    if state_path.exists():
        raise RuntimeError(f"{state_path} exists: give each harness a directory of its own")
    return state_path


@asynccontextmanager
async def harness(
    tmp_path: Path, *, task_seconds: float = 0.3, usergroups: dict[str, list[str]] | None = None, **overrides: Any
) -> AsyncIterator[Harness]:
    """A bot with its state in ``tmp_path/state.sqlite`` (the directory is made if need be; the file must not
    exist yet), a Slack stand-in and a simulator of its own."""
    state_path = fresh_state_path(tmp_path)
    world = dialect.world(load_world(None), task_seconds=task_seconds)
    groups = usergroups if usergroups is not None else {"S0NETOPS": [GROUP_MEMBER]}
    async with SimServer(SimState(world)) as sim, SlackStandin(usergroups=groups) as slack:
        settings = bot_settings(slack, sim, state_path, **overrides)
        async with AsyncExitStack() as outer, httpx.AsyncClient() as http:
            stack = AsyncExitStack()
            bot = await stack.enter_async_context(running_bot(settings, sim=False, port=0, host="127.0.0.1"))
            h = Harness(slack, sim, settings, bot, http, stack)
            outer.push_async_callback(lambda: h.stack.aclose())  # h.stack: restart() replaces it
            yield h
            await asyncio.sleep(0)
        assert slack.invalid == [], slack.invalid
        assert slack.unrendered == [], f"the playground cannot show {slack.unrendered}"
