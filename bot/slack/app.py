"""The Bolt ``AsyncApp``: every listener registered on one app, over HTTP or Socket Mode."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.slack import listeners
from bot.slack.context import BotContext

log = logging.getLogger("bot.slack")
# Libraries that log whole payloads at DEBUG (a view submission can hold a new pre-shared key) stay at INFO.
CHATTY_LOGGERS = ("slack_bolt", "slack_sdk")


def quiet_libraries() -> logging.Logger:
    """Hold the Slack libraries' loggers at INFO or above; the logger Bolt is given (it would otherwise copy the
    root logger's level onto loggers of its own)."""
    for name in CHATTY_LOGGERS:
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.INFO:
            logger.setLevel(logging.INFO)
    return logging.getLogger("slack_bolt.AsyncApp")


def build_app(ctx: BotContext, *, signing_secret: str | None) -> AsyncApp:
    """The app; ``signing_secret`` None means Socket Mode (no HTTP signatures to check)."""
    app = AsyncApp(
        client=ctx.client,
        logger=quiet_libraries(),
        signing_secret=signing_secret or "socket-mode",
        request_verification_enabled=signing_secret is not None,
        process_before_response=False,
        raise_error_for_unhandled_request=False,
        ignoring_self_events_enabled=True,
    )

    listeners.register(app, ctx)

    async def on_error(error: Exception, body: dict[str, Any]) -> None:
        kind = body.get("type") or ("slash_command" if "command" in body else "request")
        log.error("a %s listener failed: %s", kind, type(error).__name__, exc_info=error)

    app.error(on_error)
    return app
