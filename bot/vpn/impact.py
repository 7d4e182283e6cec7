"""What a change does to the tunnel, from its diff: per row, and the worst of them, with who must act on the peer.

The cloud API edits one end of the tunnel only; the customer's device keeps its own settings. So a new key or
proposal takes the tunnel down (at its next authentication or renegotiation) until the peer is changed too, and new
traffic selectors need the same on a policy-based peer (reference/ipsec.md). Texts are plain and never quote a
pre-shared key (its diff row holds none). ``gained``/``lost`` always hold every network; a row's text names them
when there are at most :data:`LISTED_IN_TEXT`, and counts them otherwise.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from bot.vpn.diff import DiffRow
from bot.vpn.params import PARAMS_BY_NAME


class Impact(enum.IntEnum):
    """How much a change can hurt traffic, least first."""

    NONE = 0
    TIMING = 1
    SELECTORS = 2
    PROPOSAL = 3
    KEY = 4


_IKE_PROPOSAL = (
    "IKESet.propoEncryAlgorithm",
    "IKESet.propoAuthenAlgorithm",
    "IKESet.exchangeMode",
    "IKESet.dhGroupName",
    "IKESet.ikeVersion",
)
_IPSEC_PROPOSAL = ("IPsecSet.encryptAlgorithm", "IPsecSet.integrityAlgorith", "IPsecSet.pfsDhGroup")
_LOCAL_IDENTITY = ("IKESet.localIdentity", "IKESet.localAddress", "IKESet.localFqdnName")
_REMOTE_IDENTITY = ("IKESet.remoteIdentity", "IKESet.remoteAddress", "IKESet.remoteFqdnName")
_TIMING = ("IKESet.ikeSaLifetimeSeconds", "IPsecSet.ipsecSaLifetimeSeconds", "IPsecSet.ipsecSaLifetimeTraffic")
_SELECTORS = ("userGwCidrBlock", "spdAcl")
_PSK = "preSharedKey"

IMPACT_OF: Mapping[str, Impact] = MappingProxyType(
    {
        "vpnConnName": Impact.NONE,
        _PSK: Impact.KEY,
        **dict.fromkeys(_SELECTORS, Impact.SELECTORS),
        **dict.fromkeys(_IKE_PROPOSAL + _IPSEC_PROPOSAL, Impact.PROPOSAL),
        **dict.fromkeys(_LOCAL_IDENTITY + _REMOTE_IDENTITY, Impact.PROPOSAL),
        **dict.fromkeys(_TIMING, Impact.TIMING),
    }
)
"""Every parameter's impact. A name not here (none today) counts as PROPOSAL: the safe guess."""

LISTED_IN_TEXT = 5
"""The most networks a row's text names one by one."""

HEADLINES: Mapping[Impact, str] = MappingProxyType(
    {
        Impact.KEY: "The tunnel goes down at its next authentication until the peer has the new key.",
        Impact.PROPOSAL: "The tunnel renegotiates and stays down until the peer offers the new proposal.",
        Impact.SELECTORS: "Networks gain or lose the tunnel; a policy-based peer must list the same selectors.",
        Impact.TIMING: "Only renegotiation timing changes; the tunnel stays up.",
        Impact.NONE: "Name only: no effect on traffic.",
    }
)
NOTHING_CHANGES = "Nothing changes: no effect on traffic."


@dataclass(frozen=True)
class RowImpact:
    """One diff row's effect: plain one-line ``text``; for selectors, every network that gains or loses the tunnel
    (CIDRs, or ``VPC -> IDC`` pairs for the SPD)."""

    name: str
    impact: Impact
    text: str
    gained: tuple[str, ...] = ()
    lost: tuple[str, ...] = ()


@dataclass(frozen=True)
class ChangeImpact:
    """The rows' effects in the diff's order, and the worst of them (NONE for no rows)."""

    rows: tuple[RowImpact, ...]
    worst: Impact

    @property
    def peer_must_act(self) -> bool:
        return self.worst >= Impact.SELECTORS

    @property
    def needs_watch(self) -> bool:
        return self.worst > Impact.NONE

    def headline(self) -> str:
        """One plain line for the card's lead, by the worst impact."""
        return HEADLINES[self.worst] if self.rows else NOTHING_CHANGES

    def peer_action(self, peer: str) -> str:
        """What must be done on the peer (``peer`` describes it), plain text; "" when nothing must."""
        names = {row.name for row in self.rows if row.impact >= Impact.SELECTORS}
        to_set = [
            what
            for what, among in (
                ("the new pre-shared key", (_PSK,)),
                ("the new IKE proposal", _IKE_PROPOSAL),
                ("the new IPsec proposal", _IPSEC_PROPOSAL),
                ("the new identities", _LOCAL_IDENTITY + _REMOTE_IDENTITY),
            )
            if names.intersection(among)
        ]
        to_set += sorted(f"the matching {name}" for name in names if name not in IMPACT_OF)
        actions = [f"set {_join(to_set)}"] if to_set else []
        if names.intersection(_SELECTORS):
            actions.append("list the new traffic selectors if it is policy-based")
        return f"On the peer ({peer}): {'; '.join(actions)}." if actions else ""

    def to_json(self) -> dict[str, Any]:
        return {
            "rows": [
                {
                    "name": row.name,
                    "impact": row.impact.name,
                    "text": row.text,
                    "gained": list(row.gained),
                    "lost": list(row.lost),
                }
                for row in self.rows
            ],
            "worst": self.worst.name,
        }

    @classmethod
    def from_json(cls, data: Any) -> ChangeImpact:
        """The impact :meth:`to_json` gave; ValueError naming what is missing or malformed."""
        if not isinstance(data, Mapping) or not isinstance(data.get("rows"), list):
            raise ValueError("change impact: rows must be a list")
        return cls(tuple(_row(item) for item in data["rows"]), _impact(data.get("worst")))


def impact_of(rows: Sequence[DiffRow]) -> ChangeImpact:
    """The impact of the change whose diff is ``rows``, row by row in their order."""
    impacts = tuple(_row_impact(row) for row in rows)
    return ChangeImpact(impacts, max((row.impact for row in impacts), default=Impact.NONE))


def _row_impact(row: DiffRow) -> RowImpact:
    impact = IMPACT_OF.get(row.name, Impact.PROPOSAL)
    param = PARAMS_BY_NAME.get(row.name)
    label = _phrase(param.label) if param else row.name
    if impact is Impact.NONE:
        text = "name only: no effect on traffic"
    elif impact is Impact.KEY:
        text = "next authentication fails until the peer has the new key"
    elif impact is Impact.SELECTORS:
        return RowImpact(row.name, impact, _selectors_text(row), row.added, row.removed)
    elif impact is Impact.TIMING:
        unit = f" {param.unit}" if param and param.unit else ""
        text = f"renegotiation timing changes: {label} {row.current} -> {row.proposed}{unit}; the tunnel stays up"
    elif row.name in _LOCAL_IDENTITY:
        text = f"renegotiates: down until the peer expects this side's identity ({label} {row.proposed})"
    elif row.name in _REMOTE_IDENTITY:
        text = f"renegotiates: down until the peer presents the identity expected of it ({label} {row.proposed})"
    else:
        text = f"renegotiates: down until the peer offers {label} {row.proposed}"
    return RowImpact(row.name, impact, text)


def _selectors_text(row: DiffRow) -> str:
    kind = "SPD pairs" if row.name == "spdAcl" else "networks"
    parts: list[str] = []
    if row.added:
        parts.append(f"{_entries(row.added, kind, 'gains', 'gain')} the tunnel")
    if row.removed:
        parts.append(f"{_entries(row.removed, kind, 'loses', 'lose')} {'it' if parts else 'the tunnel'}")
    return "; ".join(parts) or "the traffic selectors change; a policy-based peer must list the same"


def _entries(entries: Sequence[str], kind: str, verb_one: str, verb_many: str) -> str:
    if len(entries) > LISTED_IN_TEXT:
        return f"{len(entries)} {kind} {verb_many}"
    return f"{_join(entries)} {verb_one if len(entries) == 1 else verb_many}"


def _join(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _phrase(label: str) -> str:
    """A label inside a sentence: ``Exchange mode`` -> ``exchange mode``; ``IKE encryption`` stays."""
    return label if label[1:2].isupper() else label[:1].lower() + label[1:]


def _impact(name: Any) -> Impact:
    if not isinstance(name, str) or name not in Impact.__members__:
        raise ValueError("change impact: not an impact level")
    return Impact[name]


def _row(data: Any) -> RowImpact:
    if not isinstance(data, Mapping):
        raise ValueError("change impact: a row must be an object")
    name, text = data.get("name"), data.get("text")
    if not isinstance(name, str) or not isinstance(text, str):
        raise ValueError("change impact: a row needs a name and a text")
    return RowImpact(
        name, _impact(data.get("impact")), text, _networks(data.get("gained")), _networks(data.get("lost"))
    )


def _networks(entries: Any) -> tuple[str, ...]:
    if not isinstance(entries, list) or not all(isinstance(entry, str) for entry in entries):
        raise ValueError("change impact: gained and lost must list networks")
    return tuple(entries)
