"""Small rules of the tunnel-aware change: what a status reading says, and what the crypto policy lets through."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from items import connection

from bot.vpn.change import ChangeRequest
from bot.vpn.edit import propose
from bot.vpn.watch import tunnel_reading

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("net", "health", "up"),
    [
        ("available", "", True),
        ("available", "available", True),
        ("available", "unavailable", False),
        ("unavailable", "", False),
        ("available", "degraded-9000", None),  # a health status vpnbot does not know says nothing
        ("", "", None),
        ("available-ish", "", None),
    ],
)
def test_what_a_reading_says_of_the_tunnel(net: str, health: str, up: bool | None) -> None:
    conn = replace(connection(), net_status=net, health_check_status=health)
    assert tunnel_reading(conn).up is up


def request(changes: dict[str, str], *, revert_of: str | None = None) -> ChangeRequest:
    conn = connection()
    return ChangeRequest.from_proposal(
        conn,
        propose(conn.settings, changes),
        requester="U0REQUEST",
        now=NOW,
        ttl=timedelta(hours=1),
        revert_of=revert_of,
    )


def test_block_lets_a_revert_put_back_a_weaker_value_but_not_a_must_not_one() -> None:
    start = connection().settings["IKESet.dhGroupName"]
    assert start == "group2"
    stronger_first = request({"IKESet.dhGroupName": "group14"})
    assert stronger_first.blocked_by("block") == ""  # strengthens
    live = replace(connection(), settings=propose(connection().settings, {"IKESet.dhGroupName": "group14"}).settings)
    back = ChangeRequest.from_proposal(
        live,
        propose(live.settings, {"IKESet.dhGroupName": "group2"}),
        requester="U0REQUEST",
        now=NOW,
        ttl=timedelta(hours=1),
        revert_of="chg-aaaaaaaaaa",
    )
    assert back.crypto is not None
    assert back.crypto.weakened
    assert back.blocked_by("block") == ""  # ... that a revert may make: it puts back what was live
    assert replace(back, revert_of=None).blocked_by("block") != ""  # the same change asked afresh is refused
    des = request({"IPsecSet.encryptAlgorithm": "des-cbc"}, revert_of="chg-aaaaaaaaaa")
    assert "MUST NOT" in des.blocked_by("block")  # a revert never brings in a MUST NOT value under block
    assert des.blocked_by("warn") == ""
