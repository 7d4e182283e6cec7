"""``vpnbot serve`` as a real child process that a test can SIGKILL and start again on the same state file.

The Slack stand-in and the simulator stay in the test process, so they outlive the bot the way Slack and Tencent
Cloud outlive a crashed server. ``BotProcess`` starts ``python -m bot.cli -v serve --port 0`` with a clean
environment (nothing inherited from the developer's ``VPNBOT_*``/``SLACK_*``/``TENCENTCLOUD_*``, no ``.env``: the
working directory is the test's tmp dir), reads the ready line for the URL, and keeps the bot's log in a file so a
failing test can show it. ``SlackClient`` drives the bot the way Slack does (signed slash commands, modal
submissions, clicks) and reads what the bot left in the stand-in.

Every ``start`` is awaited with a deadline and ``stop``/``kill`` never leave a child behind; use ``running(...)`` so
the process is killed in ``finally`` whatever the test does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import dialect
import httpx
from aiohttp import web

from bot.playground.slack_api import SlackStandin
from bot.playground.slack_payloads import (
    block_action,
    fill_state_from_view,
    post_signed,
    slash_command,
    view_submission,
)
from bot.sim import DEMO_SECRET_ID, DEMO_SECRET_KEY, SimServer

SIGNING_SECRET = "crash-test-signing-secret"
REQUESTER = "U0REQUEST"
APPROVER = "U0APPROVER"
CHANNEL = "C0VPNOPS"
SEED_CONN = "vpnx-ol6bcqp0"
VPNBOT = (sys.executable, "-m", "bot.cli", "-v", "serve", "--port", "0")
READY = re.compile(r"vpnbot serving in HTTP at (http://127\.0\.0\.1:\d+/slack/events)")
REQUEST_ID = re.compile(r"chg-[a-z2-7]{10}")


def bot_env(slack: SlackStandin, sim: SimServer, state_path: Path, **overrides: str) -> dict[str, str]:
    """The environment of a bot talking to ``slack`` and ``sim`` with its state in ``state_path``: fast task
    polling, a short cloud timeout, and ``overrides`` (variable names as they are, e.g. ``VPNBOT_TASK_DEADLINE``)."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("VPNBOT_", "TENCENTCLOUD_", "SLACK_"))}
    keep.pop("PYTHONDONTWRITEBYTECODE", None)  # each start would compile bot/ again: see conftest.py
    return {
        **keep,
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "VPNBOT_CLOUD_API": dialect.current,
        "VPNBOT_CLOUD_ENDPOINT": dialect.endpoint(sim),
        "TENCENTCLOUD_SECRET_ID": DEMO_SECRET_ID,
        "TENCENTCLOUD_SECRET_KEY": DEMO_SECRET_KEY,
        "VPNBOT_APPROVERS": APPROVER,
        "VPNBOT_STATE_PATH": str(state_path),
        "VPNBOT_TASK_POLL_INITIAL": "0.05s",
        "VPNBOT_TASK_POLL_MAX": "0.2s",
        "VPNBOT_TASK_DEADLINE": "8s",
        "VPNBOT_CLOUD_TIMEOUT": "4s",
        "VPNBOT_SETTLE_WINDOW": "1s",
        **overrides,
    }


@dataclass
class BotProcess:
    """One bot, run as a child process any number of times in a row (one at a time) on the same environment."""

    env: dict[str, str]
    workdir: Path
    process: asyncio.subprocess.Process | None = None
    url: str | None = None
    starts: int = 0
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def log_path(self) -> Path:
        return self.workdir / "vpnbot.log"

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def start(self, timeout: float = 30.0) -> str:  # noqa: ASYNC109 - a deadline for start-up
        """Start the bot and wait for its ready line; its ``/slack/events`` URL. RuntimeError (with the log) when
        it exits or prints something else first."""
        if self.alive:
            raise RuntimeError("the bot is already running")
        self.starts += 1
        if self._log is None:
            self._log = self.log_path.open("ab")
        self._log.write(f"\n===== start {self.starts} =====\n".encode())
        self._log.flush()
        self.process = await asyncio.create_subprocess_exec(
            *VPNBOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=self._log,
            env=self.env,
            cwd=self.workdir,
        )
        assert self.process.stdout is not None
        try:
            line = (await asyncio.wait_for(self.process.stdout.readline(), timeout)).decode()
        except TimeoutError:
            self.kill()
            raise RuntimeError(f"vpnbot did not get ready within {timeout} s:\n{self.log()}") from None
        found = READY.search(line)
        if found is None:
            self.kill()
            raise RuntimeError(f"vpnbot printed {line!r} instead of its ready line:\n{self.log()}")
        self.url = found.group(1)
        return self.url

    def kill(self) -> None:
        """SIGKILL: no handler, no cleanup, no flush; the process dies wherever it is. No-op when not running."""
        if self.alive:
            assert self.process is not None
            self.process.send_signal(signal.SIGKILL)

    async def killed(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """SIGKILL and reap it; AssertionError unless it died of the SIGKILL (not of something before)."""
        assert self.alive, f"the bot is not running (exit {self.process and self.process.returncode}):\n{self.log()}"
        self.kill()
        assert self.process is not None
        code = await asyncio.wait_for(self.process.wait(), timeout)
        assert code == -signal.SIGKILL, code
        self.url = None

    async def restart(self) -> str:
        """Kill (SIGKILL) when alive, then start again on the same environment and state file."""
        if self.alive:
            await self.killed()
        return await self.start()

    async def close(self) -> None:
        """Kill and reap whatever runs; close the log. Safe to call at any time, more than once."""
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGKILL)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.process.wait(), 10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def log(self) -> str:
        """Everything the bot wrote to stderr (its INFO log) over all its runs."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


@contextlib.asynccontextmanager
async def running(env: dict[str, str], workdir: Path) -> AsyncIterator[BotProcess]:
    """A started ``BotProcess``; killed and reaped on the way out, whatever happened inside."""
    bot = BotProcess(env, workdir)
    try:
        await bot.start()
        yield bot
    finally:
        await bot.close()


class HoldingSlackStandin(SlackStandin):
    """The stand-in, able to hold its answer to a Web API method after it has done the work (the message is
    posted, yet the answer with its ``ts`` is slow): a bot killed meanwhile never learns what Slack did.

    A held answer waits at most its ``seconds``, and no longer than until ``release()``, which ``stop()`` calls
    first: a hold outlasting the bot it was meant for ends with the test, instead of keeping the stand-in's
    shutdown waiting for the handler to finish sleeping it out."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._holds: dict[str, list[float]] = {}
        self._released = asyncio.Event()

    def hold(self, method: str, seconds: float, times: int = 1) -> None:
        """Hold the answers to the next ``times`` calls of ``method`` for ``seconds`` each."""
        self._released.clear()
        self._holds.setdefault(method, []).extend([seconds] * times)

    def release(self) -> None:
        """Answer every held call now (its Slack work is done already), and hold none of those still to come."""
        self._holds.clear()
        self._released.set()

    async def stop(self) -> None:
        self.release()
        await super().stop()

    async def _on_api(self, request: web.Request) -> web.StreamResponse:
        answer = await super()._on_api(request)
        holds = self._holds.get(request.match_info["method"])
        if holds:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._released.wait(), holds.pop(0))
        return answer


@dataclass
class SlackClient:
    """What Slack would send the bot at ``bot.url`` (the current run's), and what the bot left in the stand-in."""

    slack: SlackStandin
    bot: BotProcess
    http: httpx.AsyncClient

    async def post(self, body: bytes) -> httpx.Response:
        assert self.bot.url is not None, "the bot is not running"
        return await post_signed(self.bot.url, body, SIGNING_SECRET, client=self.http, timeout=10)

    async def command(self, text: str, user_id: str = REQUESTER) -> httpx.Response:
        return await self.post(
            slash_command(
                text,
                user_id=user_id,
                channel_id=CHANNEL,
                trigger_id=self.slack.new_trigger_id(),
                response_url=self.slack.new_response_url(),
            )
        )

    async def propose(self, changes: dict[str, Any], conn: str = SEED_CONN) -> tuple[str, dict[str, Any]]:
        """``/vpn edit``, the modal, a submission: the new request's id and its card as Slack stores it."""
        updates, posts = len(self.slack.calls("views.update")), len(self.slack.calls("chat.postMessage"))
        response = await self.command(f"edit {conn}")
        assert response.status_code == 200, response.text
        updated = await self.slack.wait_for("views.update", count=updates + 1, timeout=10)
        view = self.slack.view(updated[-1].response["view"]["id"])
        values = fill_state_from_view(view, changes, client_validate=False)
        body = view_submission(view, values, user_id=REQUESTER, trigger_id=self.slack.new_trigger_id())
        submitted = await self.post(body)
        assert submitted.status_code == 200, submitted.text
        assert submitted.text in ("", "null"), submitted.text
        posted = await self.slack.wait_for("chat.postMessage", count=posts + 1, timeout=10)
        card = self.slack.message(posted[-1].response["channel"], posted[-1].response["ts"])
        found = REQUEST_ID.search(json.dumps(card["blocks"]))
        assert found, card
        return found.group(0), card

    async def status(self, request_id: str) -> str:
        """``/vpn status ID``: the ephemeral answer, as JSON text."""
        answers = len(self.slack.calls("response_url"))
        await self.command(f"status {request_id}")
        replies = await self.slack.wait_for("response_url", count=answers + 1, timeout=10)
        return json.dumps(replies[-1].args)

    async def card_saved(self, request_id: str, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until the bot has stored where the request's card is: ``/vpn status`` links to it only then."""
        deadline = asyncio.get_running_loop().time() + timeout
        while "/archives/" not in await self.status(request_id):
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"the card of {request_id} was not recorded within {timeout} s")
            await asyncio.sleep(0.05)

    async def click(self, action_id: str, card: dict[str, Any], user_id: str = APPROVER) -> httpx.Response:
        """A click on the card as it is shown now."""
        body = block_action(
            action_id,
            user_id=user_id,
            channel_id=CHANNEL,
            message=self.slack.message(CHANNEL, card["ts"]),
            trigger_id=self.slack.new_trigger_id(),
            response_url=self.slack.new_response_url(),
        )
        response = await self.post(body)
        assert response.status_code == 200, response.text
        return response

    def card_now(self, card: dict[str, Any]) -> dict[str, Any]:
        return dict(self.slack.message(CHANNEL, card["ts"]))

    def buttons(self, card: dict[str, Any]) -> list[str]:
        """The action ids of the card's buttons now."""
        return [
            str(element["action_id"])
            for block in self.card_now(card).get("blocks", [])
            if block.get("type") == "actions"
            for element in block.get("elements", [])
        ]

    def thread(self, card: dict[str, Any]) -> list[str]:
        """The texts of the card's thread replies, oldest first."""
        return [str(m.get("text", "")) for m in self.slack.thread(CHANNEL, card["ts"])]

    async def wait_thread(
        self,
        card: dict[str, Any],
        needle: str | tuple[str, ...],
        timeout: float = 12.0,  # noqa: ASYNC109 - a deadline for the whole wait
    ) -> str:
        """The first thread reply containing ``needle`` (or any of several), once there is one; TimeoutError naming
        the thread and the bot's log otherwise."""
        needles = (needle,) if isinstance(needle, str) else needle

        def found() -> str | None:
            return next((text for text in self.thread(card) if any(n in text for n in needles)), None)

        try:
            await self.slack.wait_until(lambda: found() is not None, timeout=timeout, what=f"reply with {needles!r}")
        except TimeoutError as error:
            raise TimeoutError(f"{error}\nthread: {self.thread(card)}\nbot log:\n{self.bot.log()[-4000:]}") from None
        text = found()
        assert text is not None
        return text
