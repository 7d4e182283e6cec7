"""JSON lines between this process and its helpers (``bench.serve``, ``bench.load``): one object a line each way.

The parent side is :class:`Child`: start a helper with a config object, wait for its ``ready`` line, then ask it
things one at a time. The child side is :func:`stdin_lines` and :func:`reply`. A helper's stderr goes to a log file,
so a failure shows what happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from bench.paths import ROOT

JSON = dict[str, Any]
LINE_LIMIT = 1 << 28  # a batch of requests or samples is one (long) line


class ChildError(RuntimeError):
    """A helper died, answered with an error, or did not answer in time; the text holds the tail of its log."""


def child_env() -> dict[str, str]:
    """This environment without the bot's own variables (a helper is configured explicitly, never by accident)."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("VPNBOT_", "SLACK_", "TENCENTCLOUD_"))}
    keep["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), keep.get("PYTHONPATH", "")]))
    return keep


class Child:
    """A helper process (``python -m <module>``) spoken to in JSON lines."""

    def __init__(self, module: str, config: JSON, log_path: Path, cwd: Path) -> None:
        self.module = module
        self.config = config
        self.log_path = log_path
        self.cwd = cwd
        self.process: asyncio.subprocess.Process | None = None
        self.ready: JSON = {}
        self._lock = asyncio.Lock()

    async def start(self, timeout: float = 60.0) -> JSON:  # noqa: ASYNC109 - a deadline for start-up
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                self.module,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
                env=child_env(),
                cwd=self.cwd,
                limit=LINE_LIMIT,
            )
        self.ready = await self._exchange(self.config, timeout)
        return self.ready

    async def ask(self, message: JSON, timeout: float = 600.0) -> JSON:  # noqa: ASYNC109
        async with self._lock:
            return await self._exchange(message, timeout)

    async def _exchange(self, message: JSON, timeout: float) -> JSON:  # noqa: ASYNC109
        process = self.process
        if process is None or process.stdin is None or process.stdout is None:
            raise ChildError(f"{self.module} is not running")
        try:
            process.stdin.write(json.dumps(message).encode() + b"\n")
            await process.stdin.drain()
            line = await asyncio.wait_for(process.stdout.readline(), timeout)
        except (TimeoutError, ConnectionError) as error:
            raise ChildError(
                f"{self.module}: no answer to {message.get('op', 'start')!r} ({error!r})\n{self.log_tail()}"
            ) from None
        if not line:
            raise ChildError(f"{self.module} exited (status {process.returncode})\n{self.log_tail()}")
        answer: JSON = json.loads(line)
        if "error" in answer:
            raise ChildError(f"{self.module}: {answer['error']}\n{self.log_tail()}")
        return answer

    async def stop(self, timeout: float = 30.0) -> JSON:  # noqa: ASYNC109
        """Ask the helper to stop (its last answer, e.g. final figures, is returned); killed if it does not."""
        answer: JSON = {}
        if self.process is None:
            return answer
        try:
            if self.process.returncode is None:
                answer = await self.ask({"op": "stop"}, timeout)
                await asyncio.wait_for(self.process.wait(), timeout)
        except (ChildError, TimeoutError):
            pass
        finally:
            if self.process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
                await self.process.wait()
        return answer

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(text[-lines:])


# --- the child side ----------------------------------------------------------------------------------------------


async def stdin_lines() -> asyncio.StreamReader:
    """This process's stdin as an asyncio stream (long lines allowed)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=LINE_LIMIT)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


async def read_message(reader: asyncio.StreamReader) -> JSON | None:
    """The next message, or None at end of input (the parent went away)."""
    line = await reader.readline()
    if not line:
        return None
    message: JSON = json.loads(line)
    return message


def reply(message: JSON) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()
