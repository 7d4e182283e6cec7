"""After a change is live: the peer's half of it, handed to the front, and the health watch of the tunnel.

The watch reads the connection every ``VPNBOT_WATCH_INTERVAL`` for ``VPNBOT_WATCH`` (0: no watch), saving a
:class:`~bot.vpn.watch.Watch` whenever what it knows changes, so a restarted vpnbot goes on where it stopped
(:meth:`Aftercare.resume`). The front hears of the start, of a fall (once, with ``down_since``), of a recovery and
of the end. At the end the key the connection had before the change (kept for a revert) is erased.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from bot.changes.notifier import Notifier, PeerConfig, WatchEvent
from bot.cloud import Cloud
from bot.config import Settings
from bot.store.errors import StoreError, StoreUnavailableError
from bot.store.interface import ChangeStore
from bot.tencent import CloudError, UnsupportedActionError, parse_vendor
from bot.vpn.change import ChangeRequest
from bot.vpn.connection import CloudDataError, VpnConnection
from bot.vpn.impact import impact_of
from bot.vpn.peer import PeerConfigError, PeerVendor, peer_config
from bot.vpn.redact import redact
from bot.vpn.watch import Watch, WatchState, tunnel_reading

__all__ = ["Aftercare", "with_addresses"]

log = logging.getLogger("bot.changes")
VENDOR_TITLES: Mapping[PeerVendor, str] = MappingProxyType(
    {PeerVendor.STRONGSWAN: "strongSwan (swanctl.conf)", PeerVendor.CISCO: "Cisco IOS"}
)
Secrets = Callable[[ChangeRequest], Awaitable[list[str]]]


def with_addresses(connection: VpnConnection) -> VpnConnection:
    """``connection`` with its two public addresses known where the cloud's answer lacks them (API 3.0's
    ``DescribeVpnConnections`` names neither gateway's address): the IKE address identities, which are those
    addresses unless an operator chose otherwise."""
    settings = connection.settings
    local, remote = str(settings["IKESet.localAddress"]), str(settings["IKESet.remoteAddress"])
    return replace(
        connection,
        vpn_gw_address=connection.vpn_gw_address or local,
        user_gw_address=connection.user_gw_address or remote,
    )


@dataclass
class Aftercare:
    """The peer's configuration and the watch, for one cloud, store and front (see the module).

    ``secrets`` gives the keys to take out of a text from the cloud for a request (its new key, the key before it,
    the connection's key now; it raises CloudError or CloudDataError when the key now cannot be read); ``sleep`` is
    ``asyncio.sleep`` (tests may pass another)."""

    settings: Settings
    cloud: Cloud
    store: ChangeStore
    notifier: Notifier
    clock: Callable[[], datetime]
    secrets: Secrets
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    @property
    def window(self) -> timedelta:
        return self.settings.vpnbot_watch

    async def begin(self, request: ChangeRequest) -> None:
        """A change verified live: hand over the peer's half (when the peer must act), then watch the tunnel (when
        the change can affect it)."""
        impact = impact_of(request.diff)
        now = self.clock()
        if not impact.needs_watch:
            watch = Watch(request.id, request.vpn_conn_id, now, now, WatchState.NOT_NEEDED)
            await self._save(watch)
            await self.notifier.watch(request, watch, WatchEvent.NOT_NEEDED)
            return
        if self.window.total_seconds() <= 0:
            if impact.peer_must_act:
                await self.notifier.peer_config(request, await self.peer_configs(request))
            await self._forget_old_key(request)
            return
        watch = Watch(
            request.id, request.vpn_conn_id, now, now + self.window, down_before=request.tunnel_before == "down"
        )
        await self._save(watch)
        await self.run(request, watch)

    async def run(self, request: ChangeRequest, watch: Watch) -> None:
        """Watch until the window ends (a watch saved before a restart goes on from where it was)."""
        if not watch.peer_config_shown:
            if impact_of(request.diff).peer_must_act:
                await self.notifier.peer_config(request, await self.peer_configs(request))
            watch = replace(watch, peer_config_shown=True)
            await self._save(watch)
            await self.notifier.watch(request, watch, WatchEvent.STARTED)
        interval = self.settings.vpnbot_watch_interval.total_seconds()
        while True:  # a reading at once, one every interval, and one at the window's end
            watch = await self._read(request, watch)
            remaining = (watch.ends_at - self.clock()).total_seconds()
            if remaining <= 0:
                break
            await self.sleep(min(interval, remaining))
        watch = watch.ended()
        await self._save(watch, wait=True)
        await self._audit(request, f"watch: tunnel {watch.state}", watch)
        await self._forget_old_key(request)
        await self.notifier.watch(request, watch, WatchEvent.ENDED)

    async def resume(self, spawn: Callable[[Coroutine[Any, Any, None], str], object]) -> int:
        """Go on with every watch a stop interrupted; how many."""
        watches = await self.store.active_watches()
        for watch in watches:
            request = await self.store.get(watch.request_id)
            if request is not None:
                spawn(self.run(request, watch), f"watch-{request.id}")
        return len(watches)

    async def _read(self, request: ChangeRequest, watch: Watch) -> Watch:
        """One reading; the front is told of a fall (once) and of a recovery."""
        try:
            connection = await self.cloud.client.describe_vpn_conn(request.vpn_conn_id)
        except (CloudError, CloudDataError) as error:
            log.info("watching %s: the connection could not be read (%s)", request.id, type(error).__name__)
            unread = watch.unread(f"the connection could not be read ({type(error).__name__})")
            if unread.last_status != watch.last_status:
                await self._save(unread)
            return unread
        seen = watch.seen(tunnel_reading(connection), self.clock())
        if seen.is_down and not seen.announced_down:
            # Told before it is saved as told: a stop in between tells it twice rather than never.
            await self._audit(request, "watch: tunnel down", seen)
            await self.notifier.watch(request, seen, WatchEvent.DOWN)
            seen = replace(seen, announced_down=True)
            await self._save(seen)
        elif watch.is_down and not seen.is_down:
            await self._save(seen)
            await self._audit(request, "watch: tunnel up again", seen)
            await self.notifier.watch(request, seen, WatchEvent.UP_AGAIN)
        elif seen.last_status != watch.last_status or (watch.last_read_at is None and seen.last_read_at is not None):
            await self._save(seen)
        return seen

    async def peer_configs(self, request: ChangeRequest) -> tuple[PeerConfig, ...]:
        """The peer's configuration from the connection as it is now: strongSwan and Cisco IOS, generated here,
        and under API 3.0 with ``VPNBOT_PEER_VENDOR`` Tencent's own download (its keys taken out)."""
        try:
            connection = await self.cloud.client.describe_vpn_conn(request.vpn_conn_id)
        except (CloudError, CloudDataError) as error:
            why = f"the connection could not be read ({type(error).__name__})"
            return tuple(PeerConfig(str(v), VENDOR_TITLES[v], problem=why) for v in PeerVendor)
        configs = [self._generated(vendor, with_addresses(connection)) for vendor in PeerVendor]
        if self.settings.vpnbot_peer_vendor:
            configs.append(await self._downloaded(request, connection, self.settings.vpnbot_peer_vendor))
        return tuple(configs)

    def _generated(self, vendor: PeerVendor, connection: VpnConnection) -> PeerConfig:
        try:
            text = peer_config(vendor, connection, connection.settings)
        except PeerConfigError as error:
            return PeerConfig(str(vendor), VENDOR_TITLES[vendor], problem=str(error))
        return PeerConfig(str(vendor), VENDOR_TITLES[vendor], text)

    async def _downloaded(self, request: ChangeRequest, connection: VpnConnection, wanted: str) -> PeerConfig:
        title = f"Tencent Cloud's configuration for {wanted}"
        client = self.cloud.client
        try:
            vendor = parse_vendor(wanted, await client.customer_gateway_vendors())
            text = await client.customer_gateway_configuration(connection, vendor, self.settings.vpnbot_peer_interface)
        except UnsupportedActionError:
            return PeerConfig("tencent", title, problem="VPNBOT_PEER_VENDOR needs API 3.0 (VPNBOT_CLOUD_API=v3)")
        except ValueError as error:
            return PeerConfig("tencent", title, problem=f"VPNBOT_PEER_VENDOR: {error}")
        except CloudError as error:
            return PeerConfig("tencent", title, problem=f"Tencent Cloud answered: {type(error).__name__}")
        try:
            secrets = await self.secrets(request)
        except (CloudError, CloudDataError):  # the live key could not be read: the text is not shown
            why = "the connection's key could not be read to take it out of Tencent's text, so it is not shown"
            return PeerConfig("tencent", title, problem=why)
        cleaned = await asyncio.to_thread(  # up to 256 KiB to fingerprint: off the event loop
            redact,
            text,
            secrets,
            fingerprint=connection.settings.psk_fingerprint,
            fingerprint_of=client.fingerprints.of,
        )
        return PeerConfig("tencent", title, cleaned)

    async def _forget_old_key(self, request: ChangeRequest) -> None:
        if request.psk_changed:
            with contextlib.suppress(StoreError):
                await self.store.erase_old_psk(request.id)

    async def _audit(self, request: ChangeRequest, action: str, watch: Watch) -> None:
        detail = {
            "down_since": None if watch.down_since is None else watch.down_since.isoformat(),
            "up_again_at": None if watch.up_again_at is None else watch.up_again_at.isoformat(),
            "last_status": watch.last_status,
        }
        try:
            await self.store.audit_event(request.id, actor="vpnbot", at=self.clock(), action=action, detail=detail)
        except StoreError as error:
            log.warning("auditing %s of %s failed: %s", action, request.id, error)

    async def _save(self, watch: Watch, *, wait: bool = False) -> None:
        """Save the watch. While the state file cannot be written the watch goes on reading and telling (it holds
        what it saw; the next save writes it all); only its end (``wait``) waits until it can be written."""
        while True:
            try:
                await self.store.save_watch(watch)
                return
            except StoreUnavailableError as error:
                if not wait:
                    log.warning("watching %s: the state file cannot be written (%s)", watch.request_id, error)
                    return
                await self.store.wait_writable()
