"""A real browser for the tests of the playground's page: Debian's Chromium driven by Playwright's sync API.

Playwright cannot download its own browsers on these machines (nothing outside the package registries is
reachable), so the system's ``chromium`` is launched. Without it a test is skipped with the command that installs
it, except where ``CI`` is set: CI must run the browser tests, so there it fails.

Use in a test module (sync tests only: Playwright's sync API refuses to run inside an asyncio loop)::

    from browser import browser, page, serve_static  # noqa: F401  (pytest fixtures)

``browser`` is one Chromium per module (per xdist worker); ``page`` a fresh 1280x860 page per test (UTC, en-US)
that fails its test on any uncaught page error or console error. ``serve_static`` and ``serve_app`` put a directory
or an aiohttp application on a loopback port in a background thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import http.server
import os
import shutil
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pytest

if TYPE_CHECKING:
    from aiohttp import web
    from playwright.sync_api import Browser, ConsoleMessage, Page, Request

__all__ = [
    "CHROMIUM",
    "LAUNCH_ARGS",
    "VIEWPORT",
    "WatchedPage",
    "browser",
    "chromium_or_skip",
    "launched",
    "page",
    "serve_app",
    "serve_static",
    "watched_page",
]

CHROMIUM: Final[str | None] = shutil.which("chromium") or (
    "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None
)
LAUNCH_ARGS: Final = ("--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage")
VIEWPORT: Final = {"width": 1280, "height": 860}
_INSTALL: Final = "install Debian's chromium: apt-get install chromium (and pip install playwright)"


def _missing(what: str) -> None:
    message = f"the browser tests need {what}; {_INSTALL}"
    if os.environ.get("CI"):
        pytest.fail(f"{message} -- CI must run the browser tests", pytrace=False)
    pytest.skip(message)


def chromium_or_skip() -> str:
    """The Chromium to launch; skips the test without one (fails it when ``CI`` is set)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _missing("the playwright package")
    if CHROMIUM is None or not os.access(CHROMIUM, os.X_OK):
        _missing("Chromium")
    assert CHROMIUM is not None
    return CHROMIUM


@contextlib.contextmanager
def launched() -> Iterator[Browser]:
    """A headless Chromium, closed on exit."""
    path = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=path, args=list(LAUNCH_ARGS))
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class WatchedPage:
    """A page and what went wrong in it: uncaught errors and console errors, and every URL it requested."""

    page: Page
    problems: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def check(self) -> None:
        """Fail the test if the page had an uncaught error or logged a console error (then forget them)."""
        problems, self.problems[:] = list(self.problems), []
        if problems:
            pytest.fail("the page reported:\n" + "\n".join(problems), pytrace=False)


@contextlib.contextmanager
def watched_page(chromium: Browser) -> Iterator[WatchedPage]:
    """A new context and page (1280x860, scale 1, UTC, en-US) with its errors and requests recorded."""
    context = chromium.new_context(
        viewport={"width": VIEWPORT["width"], "height": VIEWPORT["height"]},
        device_scale_factor=1,
        timezone_id="UTC",
        locale="en-US",
    )
    try:
        opened = context.new_page()
        watched = WatchedPage(opened)

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                watched.problems.append(f"console error: {message.text} ({message.location.get('url', '')})")

        def on_request(request: Request) -> None:
            watched.requests.append(request.url)

        opened.on("pageerror", lambda error: watched.problems.append(f"page error: {error}"))
        opened.on("console", on_console)
        opened.on("request", on_request)
        yield watched
    finally:
        context.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium for the module's tests."""
    with launched() as chromium:
        yield chromium


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page that fails its test on any page error or console error (checked at teardown)."""
    with watched_page(browser) as watched:
        yield watched.page
        watched.check()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()


@contextlib.contextmanager
def serve_static(path: str | Path) -> Iterator[str]:
    """``path``'s files on ``http://127.0.0.1:PORT`` (a free port) from a background thread; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="serve_static", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextlib.contextmanager
def serve_app(app: web.Application) -> Iterator[str]:
    """An aiohttp application on a free loopback port, run by its own event loop in a background thread (so a sync
    Playwright test can use it); yields the base URL and cleans the application up on exit (a handler still
    running, such as an event stream, gets 2 seconds: end it from the app's ``on_shutdown``)."""
    from aiohttp import web

    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=2.0)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])

    async def start() -> None:
        await runner.setup()
        await web.SockSite(runner, sock).start()

    thread = threading.Thread(target=loop.run_forever, name="serve_app", daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=10)
        yield f"http://127.0.0.1:{port}"
    finally:
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()
        sock.close()
