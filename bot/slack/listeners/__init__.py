"""Every Bolt listener, by kind (as Slack's starter template lays them out), registered in one place.

Each listener is a module-level function that Bolt calls with its arguments by name; it acks at once (Bolt's own
ack-first: within Slack's 3 s; an event Bolt acks itself, before its listener runs) and leaves the work to a
background task that starts once Slack's requests give the loop a moment (:mod:`bot.slack.quiet`). The app's
middleware hands each one the running bot's :class:`~bot.slack.context.BotContext` (and its
:class:`~bot.slack.listeners.events.HomeTabs`) in Bolt's ``context``, and counts the requests in progress.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext

from bot.slack import blocks, tunnel
from bot.slack.context import CONTEXT_KEY, BotContext
from bot.slack.listeners import actions, commands, events, views

__all__ = ["register"]


def register(app: AsyncApp, ctx: BotContext) -> None:
    """Every listener on ``app``, with ``ctx`` (and the bot's Home tabs) handed to each through Bolt's context."""
    homes = events.HomeTabs(ctx)
    ctx.notifier.card_listeners.append(homes.changed)

    async def inject(context: AsyncBoltContext, next: Callable[[], Awaitable[Any]]) -> Any:  # Bolt passes by name
        context[CONTEXT_KEY] = ctx
        context[events.HOME_KEY] = homes
        with ctx.quiet.request():
            return await next()

    app.use(inject)
    app.command("/vpn")(commands.vpn_command)
    app.view(blocks.EDIT_CALLBACK)(views.edit_submitted)
    app.view(blocks.REJECT_CALLBACK)(views.reject_submitted)
    app.action(blocks.EDIT_BUTTON_ACTION)(actions.edit_clicked)
    app.action(blocks.REVIEW_AGAIN_ACTION)(actions.edit_clicked)
    app.action(blocks.APPROVE_ACTION)(actions.approve_clicked)
    app.action(blocks.REJECT_ACTION)(actions.reject_clicked)
    app.action(tunnel.REVERT_ACTION)(actions.revert_clicked)
    app.event("app_home_opened")(events.home_opened)
