"""Current vs proposed: the parameters an edit changes, shown so that a reviewer can judge them.

CIDR lists are sets (reordering is no change) and say what is added and removed; the pre-shared key is shown only
as changed, never as a value. :func:`not_live` compares a proposal with what the cloud reports afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.vpn.connection import VpnSettings
from bot.vpn.edit import PSK, Proposal
from bot.vpn.params import PARAMS_BY_NAME, SpdPolicy, Value, ValueSets, shown_value

HIDDEN = "(hidden)"
CHANGED = "changed"
UNCHANGED = "unchanged"


@dataclass(frozen=True)
class DiffRow:
    """One changed parameter. For set-valued parameters (CIDR lists, SPD pairs) ``added``/``removed`` list the
    entries and ``size_before``/``size_after`` count them; both sizes are None for a scalar."""

    name: str
    label: str
    current: str
    proposed: str
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    size_before: int | None = None
    size_after: int | None = None


def diff(current: VpnSettings, proposal: Proposal) -> list[DiffRow]:
    """Exactly the parameters ``proposal`` changes, in the seed's order; empty when it changes nothing."""
    rows: list[DiffRow] = []
    for name in proposal.changed(current):
        param = PARAMS_BY_NAME[name]
        label = param.label
        if name == PSK:
            rows.append(DiffRow(name, label, HIDDEN, CHANGED))
            continue
        before, after = current[name], proposal.value(name)
        added, removed = _set_change(before, after)
        shown = _show(param.name, before), _show(param.name, after)
        rows.append(DiffRow(name, label, *shown, added, removed, _size(before), _size(after)))
    return rows


def psk_state(current: VpnSettings, proposal: Proposal) -> str:
    """``changed`` or ``unchanged``: all that is ever said about the key."""
    return CHANGED if PSK in proposal.changed(current) else UNCHANGED


def not_live(proposal: Proposal, changed: tuple[str, ...], live: VpnSettings) -> list[str]:
    """The changed parameters whose proposed value the cloud does not report now.

    The SPD is compared the way the API reports it: as pairs under API 3.0; under API 2.0, whose
    ``DescribeVpnConn`` shows only its VPC-side and IDC-side CIDRs, as those.
    """
    missing: list[str] = []
    for name in changed:
        if name == PSK:
            key = proposal.pre_shared_key
            if key is None or not live.psk_is(key.get_secret_value()):
                missing.append(name)
            continue
        wanted, now = proposal.value(name), live[name]
        if isinstance(wanted, SpdPolicy) and isinstance(now, SpdPolicy) and live.value_sets is ValueSets.SEED:
            same = set(wanted.local_cidrs()) == set(now.local_cidrs()) and wanted.remote_cidrs() == now.remote_cidrs()
        else:
            same = wanted == now
        if not same:
            missing.append(name)
    return missing


def _show(name: str, value: Value) -> str:
    text = shown_value(PARAMS_BY_NAME[name], value)
    return text if text else "(empty)"


def _size(value: Value) -> int | None:
    if isinstance(value, frozenset):
        return len(value)
    if isinstance(value, SpdPolicy):
        return len(value.pairs())
    return None


def _set_change(before: Value, after: Value) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if isinstance(before, frozenset) and isinstance(after, frozenset):
        return tuple(str(c) for c in sorted(after - before)), tuple(str(c) for c in sorted(before - after))
    if isinstance(before, SpdPolicy) and isinstance(after, SpdPolicy):
        old, new = before.pairs(), after.pairs()
        return (
            tuple(f"{a} -> {b}" for a, b in sorted(new - old)),
            tuple(f"{a} -> {b}" for a, b in sorted(old - new)),
        )
    return (), ()
