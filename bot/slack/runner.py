"""``vpnbot serve``: the bot in Socket Mode (when ``SLACK_APP_TOKEN`` is set) or over HTTP at ``/slack/events``
with ``GET /healthz`` (the HTTP front is ``bot.slack.http``); running tasks are resumed at start, pending cards
expire on time, SIGINT/SIGTERM stop it cleanly (followed tasks are picked up again at the next start)."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import aiohttp
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler, async_default_handlers
from slack_sdk.web.async_client import AsyncWebClient

from bot.changes import Background, ChangeService
from bot.cloud import open_cloud
from bot.config import ConfigError, Settings
from bot.slack import http
from bot.slack.app import build_app
from bot.slack.context import ApproverPolicy, BotContext
from bot.slack.notifier import SlackNotifier
from bot.store import Store, StoreError, StoreKeyError
from bot.vpn.connection import SecretFingerprints

log = logging.getLogger("bot.slack")


@dataclass(frozen=True)
class SlackCredentials:
    bot_token: str
    signing_secret: str | None
    app_token: str | None

    @property
    def socket_mode(self) -> bool:
        return self.app_token is not None


def slack_credentials(settings: Settings) -> SlackCredentials:
    """The Slack credentials ``serve`` needs; ConfigError naming the variable when one is missing or wrong."""
    bot = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else ""
    if not bot:
        raise ConfigError("SLACK_BOT_TOKEN is not set: copy the Bot User OAuth Token (xoxb-...) from your Slack app")
    if not bot.startswith("xoxb-"):
        raise ConfigError("SLACK_BOT_TOKEN: must be a bot token starting with xoxb-")
    app = settings.slack_app_token.get_secret_value() if settings.slack_app_token else ""
    if app and not app.startswith("xapp-"):
        raise ConfigError("SLACK_APP_TOKEN: must be an app-level token starting with xapp- (or unset it for HTTP mode)")
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    if not app and not secret:
        raise ConfigError(
            "SLACK_SIGNING_SECRET is not set: copy it from Basic Information, or set SLACK_APP_TOKEN for Socket Mode"
        )
    return SlackCredentials(bot, secret or None, app or None)


def slack_client(settings: Settings, token: str, session: aiohttp.ClientSession | None = None) -> AsyncWebClient:
    """The Web API client: 429s are retried after ``Retry-After``, connection errors once; ``session`` shares one
    aiohttp connection pool across calls (without it every call opens a new session and TCP connection)."""
    handlers = [*async_default_handlers(), AsyncRateLimitErrorRetryHandler(max_retry_count=3)]
    return AsyncWebClient(
        token=token, base_url=settings.slack_api_url, retry_handlers=handlers, timeout=15, session=session
    )


@dataclass
class RunningBot:
    context: BotContext
    url: str | None


@asynccontextmanager
async def running_bot(settings: Settings, *, sim: bool, port: int, host: str = "0.0.0.0") -> AsyncIterator[RunningBot]:
    """The bot, serving, for the life of the block: store open, cloud ready, tasks resumed, sweeper running."""
    credentials = slack_credentials(settings)
    try:
        store = Store.open(settings.vpnbot_state_path, key=_store_key(settings))
    except StoreKeyError as error:  # its words name VPNBOT_STORE_KEY and the key file
        raise ConfigError(str(error)) from None
    except StoreError as error:
        raise ConfigError(f"VPNBOT_STATE_PATH: {error}") from None
    async with AsyncExitStack() as stack:
        stack.push_async_callback(store.aclose)
        cloud = await stack.enter_async_context(
            open_cloud(
                settings,
                sim=sim,
                fingerprints=SecretFingerprints(store.derived_key("settings-fingerprint")),
                poll_jitter=0.2,
            )
        )
        session = await stack.enter_async_context(aiohttp.ClientSession())
        client = slack_client(settings, credentials.bot_token, session)
        approvers = ApproverPolicy(
            settings.vpnbot_approvers, client, allow_self_approval=settings.vpnbot_allow_self_approval
        )
        background = Background()
        notifier = SlackNotifier(client, store, background, settings.vpnbot_crypto_policy)
        service = ChangeService(settings, cloud, store, notifier, background)
        ctx = BotContext(
            settings,
            service,
            store,
            client,
            approvers,
            notifier,
            background,
        )
        app = build_app(ctx, signing_secret=None if credentials.socket_mode else credentials.signing_secret)
        stack.push_async_callback(background.cancel)
        url: str | None = None
        if credentials.socket_mode:
            handler = AsyncSocketModeHandler(app, credentials.app_token)
            await handler.connect_async()  # type: ignore[no-untyped-call]
            stack.push_async_callback(handler.close_async)
        else:
            if not credentials.signing_secret:  # slack_credentials() insists on it in HTTP mode
                raise ConfigError("SLACK_SIGNING_SECRET is not set: copy it from Basic Information")
            front = http.web_app(app, ctx, signing_secret=credentials.signing_secret)
            url = await stack.enter_async_context(http.serving(front, host, port))
        resumed = await service.resume() + await notifier.redraw()
        if resumed:
            log.info("resumed %d change request(s)", resumed)
        background.spawn(_sweep(ctx), "expiry-sweeper")
        background.spawn(_watch_store(ctx), "store-watch")
        yield RunningBot(ctx, url)


def _store_key(settings: Settings) -> str | None:
    return settings.vpnbot_store_key.get_secret_value() if settings.vpnbot_store_key else None


async def _sweep(ctx: BotContext) -> None:
    interval = max(1.0, min(30.0, ctx.settings.vpnbot_request_ttl.total_seconds() / 4))
    while True:
        try:
            await ctx.service.expire_due()
            await ctx.notifier.redraw()
        except StoreError as error:
            log.warning("expiry sweep failed: %s", error)
        await asyncio.sleep(interval)


async def _watch_store(ctx: BotContext, every: float = 1.0) -> None:
    """While the state file cannot be written, probe it until it can, so ``/healthz`` turns 200 again by itself
    (a write fault is otherwise cleared only by the next write, which may never come)."""
    while True:
        await asyncio.sleep(every)
        if ctx.store.fault is not None:
            await ctx.store.wait_writable(poll_seconds=every)


async def run_bot(settings: Settings, *, sim: bool, port: int) -> int:
    """Serve until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with running_bot(settings, sim=sim, port=port) as bot:
        mode = "Socket Mode" if bot.url is None else f"HTTP at {bot.url} (GET /healthz)"
        cloud = "the embedded simulator" if sim else settings.cloud_endpoint
        api = f"API {settings.vpnbot_cloud_api[1]}.0"
        print(f"vpnbot serving in {mode}; cloud: {cloud} ({api}); state: {settings.vpnbot_state_path}", flush=True)
        await stop.wait()
    print("vpnbot stopped", flush=True)
    return 0
