"""Keeping a connection's current pre-shared key for exactly one purpose: so that a change of the key can be
reverted (the store keeps it, encrypted). Pure, no I/O.

Everywhere else the key is dropped at the edge (``bot.vpn.connection``: only a keyed fingerprint survives a read).
The clients' ``pre_shared_key`` reads the connection as ``describe_vpn_conn`` does, remembering which raw item each
connection came from (:class:`ItemSources`), and takes the key from that very item (:func:`live_key`), checked
against the fingerprint the read gave it, so a caller may rely on the key being the one that connection was
fingerprinted with. The key exists only as a ``SecretStr``: every error here names the field and the fault, never
the value.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr

from bot.tencent.errors import ResponseError
from bot.vpn.connection import SecretFingerprints, VpnConnection
from bot.vpn.params import PRE_SHARED_KEY_MAX

__all__ = ["ItemSources", "live_key"]


@dataclass
class ItemSources:
    """An item reader (``parse``) that remembers the raw item each connection it returned came from, for one
    answer: :meth:`item_of` hands back the item a connection of that answer was read from."""

    parse: Callable[[Mapping[str, Any]], VpnConnection]
    _read: list[tuple[VpnConnection, Mapping[str, Any]]] = field(default_factory=list, init=False, repr=False)

    def __call__(self, item: Mapping[str, Any]) -> VpnConnection:
        connection = self.parse(item)
        self._read.append((connection, item))
        return connection

    def item_of(self, connection: VpnConnection) -> Mapping[str, Any]:
        """The raw item ``connection`` (this very object) was read from; LookupError if it was not read here."""
        for read, item in self._read:
            if read is connection:
                return item
        raise LookupError("the connection was not read from this answer")


def live_key(
    action: str, key_field: str, raw: object, connection: VpnConnection, fingerprints: SecretFingerprints
) -> SecretStr | None:
    """``raw`` (the item's ``key_field``) as the connection's current key; None when the cloud reports none (absent,
    null or empty). ResponseError naming ``key_field`` when it is not text, longer than ``PRE_SHARED_KEY_MAX``
    characters or not valid Unicode, or when its fingerprint by ``fingerprints`` is not the one ``connection``
    was read with."""
    key = None if raw is None or raw == "" else _checked(action, key_field, raw, connection.vpn_conn_id)
    expected = connection.settings.psk_fingerprint
    got = fingerprints.of(key) if key is not None else None
    if (got is None) != (expected is None) or not hmac.compare_digest(got or "", expected or ""):
        raise ResponseError(
            action, f"the {key_field} of {connection.vpn_conn_id} does not match the fingerprint its read gave"
        )
    return SecretStr(key) if key is not None else None


def _checked(action: str, key_field: str, raw: object, vpn_conn_id: str) -> str:
    def unusable(why: str) -> ResponseError:
        return ResponseError(action, f"cannot read connection {vpn_conn_id}: unusable {key_field} ({why})")

    if not isinstance(raw, str):
        raise unusable("not text")
    if len(raw) > PRE_SHARED_KEY_MAX:
        raise unusable(f"longer than {PRE_SHARED_KEY_MAX} characters")
    if any("\ud800" <= ch <= "\udfff" for ch in raw):
        raise unusable("not valid Unicode (a lone surrogate)")
    return raw
