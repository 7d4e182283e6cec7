"""The server under test, alone in its process: ``python -m bench.serve`` (started by the benchmarks, not by hand).

The first line on stdin configures it: ``{"kind": "bot" | "baseline" | "modal-baseline", "settings": {...}, "log": path,
"profile": path | null, "client_rate_limits": {action: n} | null}`` (not null: the limits vpnbot's API 3.0 client
keeps instead of Tencent's, ``{}`` for none). ``bot`` is vpnbot itself (``bot.slack.runner.running_bot``, HTTP at ``/slack/events``);
``baseline`` is a bare Bolt ``AsyncApp`` on the same stack (``AsyncApp.web_app()`` on aiohttp ``AppRunner`` /
``TCPSite``, the same signing secret, request verification on, the same app options) whose listeners, for the same
command, action and view ids as vpnbot's, only ``ack()``; ``modal-baseline`` is the same app whose ``/vpn`` listener
acks, then at once calls ``views.open`` with the command's trigger id (a one-section loading modal, as vpnbot's first
view), with Bolt's own client as it comes (no shared session).

It answers ``{"url": ...}`` when it serves, then ``probe`` (the :class:`Probe` figures; ``"reset": true`` starts a new
lag window) and ``stop``. A :class:`Probe` runs on the server's own event loop in both kinds, so both carry the same
small cost.
"""

from __future__ import annotations

import asyncio
import cProfile
import gc
import logging
import os
import resource
import threading
import time
from contextlib import AsyncExitStack
from typing import Any

from aiohttp import web
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bench.proto import JSON, read_message, reply, stdin_lines
from bench.stats import Summary
from bot.config import Settings
from bot.slack import blocks
from bot.slack.app import quiet_libraries
from bot.slack.runner import running_bot

PROBE_INTERVAL = 0.01
THREAD_SAMPLE_EVERY = 10  # probe ticks (0.1 s)
SPIKE = 0.02


def _status_kib(field: str) -> int:
    """A ``kB`` field of /proc/self/status (``VmRSS``, ``VmHWM``) or, for ``Threads``, the count; 0 if absent."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Probe:
    """Samples this process: event-loop lag (a coroutine sleeps 10 ms and records how late it wakes), the OS thread
    count and Python's ``threading.active_count()`` (peaks since start), and memory (``VmRSS`` now, ``VmHWM`` and
    ``ru_maxrss`` peaks)."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self.spikes: list[tuple[float, float]] = []  # (unix time, lag) of every lag over SPIKE
        self.os_threads_peak = 0
        self.py_threads_peak = 0
        self.gc_pauses: list[tuple[int, float]] = []  # (generation, seconds) of every collection
        self._gc_started = 0.0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="bench-probe")
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            self.gc_pauses.append((info["generation"], time.perf_counter() - self._gc_started))

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        ticks = 0
        while True:
            started = loop.time()
            await asyncio.sleep(PROBE_INTERVAL)
            lag = max(0.0, loop.time() - started - PROBE_INTERVAL)
            self.lags.append(lag)
            if lag > SPIKE:
                self.spikes.append((time.time(), lag))
            ticks += 1
            if ticks % THREAD_SAMPLE_EVERY == 0:
                self.sample_threads()

    def sample_threads(self) -> None:
        self.os_threads_peak = max(self.os_threads_peak, _status_kib("Threads"))
        self.py_threads_peak = max(self.py_threads_peak, threading.active_count())

    def figures(self, reset: bool) -> JSON:
        self.sample_threads()
        lag = Summary.of_seconds(self.lags)
        figures: JSON = {
            "lag": lag.to_json(),
            "os_threads_peak": self.os_threads_peak,
            "py_threads_peak": self.py_threads_peak,
            "os_threads_now": _status_kib("Threads"),
            "py_threads_now": threading.active_count(),
            "rss_kib": _status_kib("VmRSS"),
            "hwm_kib": _status_kib("VmHWM"),
            "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            "cpu_s": sum(resource.getrusage(resource.RUSAGE_SELF)[:2]),
            "pid": os.getpid(),
            "spikes": self.spikes,
            "gc": {
                str(generation): {
                    "count": len(pauses),
                    "total_ms": sum(pauses) * 1000,
                    "max_ms": max(pauses, default=0.0) * 1000,
                }
                for generation in (0, 1, 2)
                if (pauses := [p for g, p in self.gc_pauses if g == generation]) or True
            },
        }
        if reset:
            self.lags, self.spikes, self.gc_pauses = [], [], []
        return figures


def loading_modal(command: dict[str, Any]) -> dict[str, Any]:
    """What the modal baseline opens: a modal of one section, about the size of vpnbot's loading view."""
    words = str(command.get("text") or "").split()
    target = words[-1][:100] if words else ""
    return {
        "type": "modal",
        "callback_id": blocks.EDIT_CALLBACK,
        "title": {"type": "plain_text", "text": "Edit VPN connection"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f":hourglass: Reading `{target}` from Tencent Cloud…"},
            }
        ],
    }


async def baseline_app(stack: AsyncExitStack, values: dict[str, Any], *, open_modal: bool = False) -> str:
    """The bare Bolt app, serving; its ``/slack/events`` URL. With ``open_modal``, its ``/vpn`` listener acks then
    calls ``views.open`` at once."""
    client = AsyncWebClient(token=values["slack_bot_token"], base_url=values["slack_api_url"])
    app = AsyncApp(
        client=client,
        logger=quiet_libraries(),
        signing_secret=values["slack_signing_secret"],
        request_verification_enabled=True,
        process_before_response=False,
        raise_error_for_unhandled_request=False,
        ignoring_self_events_enabled=True,
    )

    async def just_ack(ack: AsyncAck) -> None:
        await ack()

    async def ack_then_open(ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await client.views_open(trigger_id=command["trigger_id"], view=loading_modal(command))

    app.command("/vpn")(ack_then_open if open_modal else just_ack)
    for action_id in (
        blocks.APPROVE_ACTION,
        blocks.REJECT_ACTION,
        blocks.EDIT_BUTTON_ACTION,
        blocks.REVIEW_AGAIN_ACTION,
    ):
        app.action(action_id)(just_ack)
    for callback_id in (blocks.EDIT_CALLBACK, blocks.REJECT_CALLBACK):
        app.view(callback_id)(just_ack)

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    web_app = app.web_app(path="/slack/events", port=0)
    web_app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return f"http://127.0.0.1:{port}/slack/events"


async def main() -> None:
    reader = await stdin_lines()
    config = await read_message(reader)
    if config is None:
        return
    logging.basicConfig(
        filename=config["log"], level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    profiler = cProfile.Profile() if config.get("profile") else None
    probe = Probe()
    probe.start()
    values: dict[str, Any] = config["settings"]
    if config.get("client_rate_limits") is not None:  # a baseline: the API 3.0 client without its own limits
        import bot.tencent.interface

        bot.tencent.interface.TENCENT_RATE_LIMITS = config["client_rate_limits"]
    try:
        async with AsyncExitStack() as stack:
            if config["kind"] == "bot":
                bot = await stack.enter_async_context(
                    running_bot(Settings(_env_file=None, **values), sim=False, port=0, host="127.0.0.1")
                )
                assert bot.url is not None
                url = bot.url
            else:
                url = await baseline_app(stack, values, open_modal=config["kind"] == "modal-baseline")
            if profiler is not None:
                profiler.enable()
            reply({"url": url, "pid": os.getpid()})
            while True:
                message = await read_message(reader)
                if message is None or message.get("op") == "stop":
                    break
                if message.get("op") == "probe":
                    reply(probe.figures(bool(message.get("reset"))))
                else:
                    reply({"error": f"unknown op {message.get('op')!r}"})
            if profiler is not None:
                profiler.disable()
                profiler.dump_stats(config["profile"])
            final = probe.figures(False)
    except Exception as error:
        logging.getLogger("bench.serve").exception("the server failed")
        reply({"error": f"{type(error).__name__}: {error}"})
        return
    reply({"stopped": True, **final})


if __name__ == "__main__":
    asyncio.run(main())
