"""The client side of ``/_sim/peers/{vpnConnId}``: what ``vpnbot sim --peer ...`` uses to play the device admin
who updates (or forgets to update) the other end of a tunnel.

``parse_peer_setting`` reads one ``KEY=VALUE`` item of the command line; the keys are the world file's
(``bot.sim.peerfile``), the blocks' fields dotted: ``preSharedKey``, ``IKESet.ikeVersion``,
``IKESet.exchangeMode``, ``IKESet.propoEncryAlgorithm``, ``IKESet.propoAuthenAlgorithm``, ``IKESet.dhGroupName``,
``IKESet.localIdentity`` / ``localAddress`` / ``localFqdnName``, ``IKESet.remoteIdentity`` / ``remoteAddress`` /
``remoteFqdnName``, ``IPsecSet.encryptAlgorithm``, ``IPsecSet.integrityAlgorith``, ``IPsecSet.pfsDhGroup`` and
``spdAcl`` (JSON: ``{"10.0.1.0/24": ["10.100.1.0/24"]}`` or the world file's list of such objects). An empty
value (``KEY=``) removes the key (for the optional identity keys). The simulator checks the values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final

import httpx

from bot.sim.peerfile import SETTING_KEYS

__all__ = ["TIMEOUT_SECONDS", "parse_peer_setting", "peer_url", "read_peer", "update_peer"]

TIMEOUT_SECONDS: Final = 10.0
_KEY_LIKE: Final = re.compile(r"[A-Za-z][A-Za-z.]{0,40}")  # quoted in errors; anything else may be a value


def parse_peer_setting(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` as ``(key, value)``: a string, None for an empty value, a list of ``{local: [remotes]}``
    objects for ``spdAcl``. ValueError (naming the key, never quoting the value) for a missing ``=``, an unknown
    key or ``spdAcl`` that is not such JSON."""
    key, equals, value = text.partition("=")
    key = key.strip()
    if not equals or not key:
        raise ValueError("a peer setting is KEY=VALUE, e.g. preSharedKey=NEWKEY or IKESet.dhGroupName=group14")
    if key not in SETTING_KEYS:
        named = repr(key) if _KEY_LIKE.fullmatch(key) else "that key"
        raise ValueError(f"{named} is not a peer setting; known: {', '.join(SETTING_KEYS)}")
    if value == "":
        return key, None
    if key != "spdAcl":
        return key, value
    try:
        rules = json.loads(value)
    except ValueError:
        raise ValueError('spdAcl: not JSON; write {"10.0.1.0/24": ["10.100.1.0/24"]}') from None
    if isinstance(rules, dict):
        rules = [{local: remotes} for local, remotes in rules.items()]
    if not isinstance(rules, list) or not all(isinstance(rule, dict) for rule in rules):
        raise ValueError('spdAcl: write {"VPC-side CIDR": ["IDC-side CIDR", ...], ...}')
    return key, rules


def peer_url(base_url: str, vpn_conn_id: str) -> str:
    return f"{base_url.rstrip('/')}/_sim/peers/{vpn_conn_id}"


def _answer(response: httpx.Response) -> dict[str, Any]:
    if response.is_client_error:
        try:
            body = response.json()
        except ValueError:
            body = None
        said = body.get("error") if isinstance(body, dict) else None
        raise ValueError(said or f"the simulator answered HTTP {response.status_code}")
    response.raise_for_status()
    answer: dict[str, Any] = response.json()
    return answer


async def read_peer(base_url: str, vpn_conn_id: str) -> dict[str, Any]:
    """``GET /_sim/peers/{vpn_conn_id}`` of the simulator at ``base_url`` (``http://HOST:PORT``): the peer (key
    masked), ``netStatus``, ``match``, ``mismatches`` and ``renegotiatesAt`` when pending. ValueError with the
    simulator's error text on a 4xx; httpx errors for transport failures and 5xx."""
    async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as client:
        return _answer(await client.get(peer_url(base_url, vpn_conn_id)))


async def update_peer(base_url: str, vpn_conn_id: str, patch: Mapping[str, Any]) -> dict[str, Any]:
    """``POST /_sim/peers/{vpn_conn_id}`` with ``patch`` (peer keys, nested or dotted, and/or ``"mirror": true``);
    answers like :func:`read_peer`. ValueError with the simulator's error text on a 4xx (a bad field or value,
    an unknown connection); httpx errors for transport failures and 5xx."""
    async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as client:
        return _answer(await client.post(peer_url(base_url, vpn_conn_id), json=dict(patch)))
