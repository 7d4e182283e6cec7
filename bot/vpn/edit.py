"""A proposed edit: the current settings with a person's changes applied, validated as a whole.

:func:`propose` is the one validation entry point: it reads every ``name=text`` pair, applies the rules of the seed
and returns a :class:`Proposal`, or raises :class:`InvalidParametersError` holding every problem at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import SecretStr

from bot.vpn.connection import VpnSettings
from bot.vpn.params import (
    PARAMS,
    PARAMS_BY_NAME,
    InvalidParametersError,
    Kind,
    Param,
    ParameterError,
    Value,
    ValueSets,
    canonical_name,
    edit_text,
    format_value,
    parse_value,
    read_value,
    rule_problems,
)

PSK = "preSharedKey"


@dataclass(frozen=True)
class Proposal:
    """The whole proposed settings, and the new pre-shared key if one was given (None keeps the current one)."""

    settings: VpnSettings
    pre_shared_key: SecretStr | None = None

    def changed(self, current: VpnSettings) -> tuple[str, ...]:
        """The parameters whose proposed value differs from ``current``, in the seed's order."""
        names: list[str] = []
        for param in PARAMS:
            if param.kind is Kind.SECRET:
                if psk_changed(current, self.pre_shared_key):
                    names.append(PSK)
            elif self.settings[param.name] != current[param.name]:
                names.append(param.name)
        return tuple(names)

    def value(self, name: str) -> Value:
        return self.settings[name]


def psk_changed(current: VpnSettings, key: SecretStr | None) -> bool:
    if key is None:
        return False
    return not current.psk_is(key.get_secret_value())


def propose(current: VpnSettings, edits: Mapping[str, str]) -> Proposal:
    """Apply ``edits`` (seed name, or alias, to text) to ``current``; every problem is reported at once.

    A parameter absent from ``edits`` keeps its current value. So does one whose text is what a form pre-fills for
    the current value (``params.edit_text`` or ``format_value``: recognised without parsing) or which parses to the
    current value; the current key retyped keeps the key. A kept value is accepted as the cloud holds it, and the
    rules between parameters run only where a parameter they involve changes: the list overlap checks run on a
    changed list only, so a connection with thousands of peer CIDRs can be renamed at no cost. Every rule of the
    seed applies to a changed value.
    """
    problems: dict[str, str] = {}
    parsed: dict[str, Value] = {}
    given: set[str] = set()
    key: SecretStr | None = None
    for raw_name, text in edits.items():
        try:
            name = canonical_name(raw_name)
        except ParameterError as error:
            problems[raw_name.strip() or "(empty name)"] = str(error)
            continue
        if name in given:
            problems[name] = "given more than once"
            continue
        given.add(name)
        try:
            if name == PSK:
                key = _new_key(current, text)
            else:
                value = _changed_value(PARAMS_BY_NAME[name], text, current[name], current.value_sets)
                if value is not None:
                    parsed[name] = value
        except ParameterError as error:
            problems[name] = str(error)
    for name, message in _shape_problems(current, parsed).items():
        problems.setdefault(name, message)
    merged = {**current.values, **parsed}
    for name, message in rule_problems(merged, changed=parsed.keys()).items():
        problems.setdefault(name, message)
    cidrs_changed = "userGwCidrBlock" in parsed
    spd_changed = "spdAcl" in parsed
    for name, changed in (("userGwCidrBlock", cidrs_changed), ("spdAcl", spd_changed)):
        if changed and not merged[name]:
            problems.setdefault(name, "cannot be emptied: change the peer networks through userGwCidrBlock or spdAcl")
    if cidrs_changed and spd_changed:
        both = "change userGwCidrBlock or spdAcl, not both: they describe the same peer networks"
        problems.setdefault("userGwCidrBlock", both)
        problems.setdefault("spdAcl", both)
    if problems:
        raise InvalidParametersError(problems)
    return Proposal(current.replace(parsed), key)


def _shape_problems(current: VpnSettings, parsed: Mapping[str, Value]) -> dict[str, str]:
    """What the connection's kind forbids: a parameter its API does not have, peer networks of a route-based
    tunnel, and a ``userGwCidrBlock`` that would widen an SPD whose VPC-side CIDRs reach different networks."""
    problems: dict[str, str] = {}
    for name in parsed:
        if not PARAMS_BY_NAME[name].is_offered(current.value_sets):
            problems[name] = "API 3.0 only: this connection is edited through API 2.0, which does not have it"
    peer = [name for name in ("userGwCidrBlock", "spdAcl") if name in parsed]
    if current.route_based:
        for name in peer:
            problems[name] = (
                f"this tunnel is route-based (RouteType {current.route_type}): it has no SPD, so its peer networks "
                "are routes, not editable here"
            )
    elif "userGwCidrBlock" in peer and not current.spd_uniform:
        problems["userGwCidrBlock"] = (
            "the SPD gives its VPC-side CIDRs different IDC-side networks, and one peer-CIDR list for all of them "
            "would widen it: edit spdAcl instead"
        )
    elif "userGwCidrBlock" in peer and current.value_sets is ValueSets.API3 and not current.spd():
        problems["userGwCidrBlock"] = "the SPD has no VPC-side CIDR to pair the peer CIDRs with: edit spdAcl instead"
    return problems


def _changed_value(param: Param, text: str, current: Value, value_sets: ValueSets) -> Value | None:
    """The value ``text`` gives ``param``, or None when it is the current one (then no rule of the seed applies:
    the cloud holds it). Raises ParameterError for a changed value a rule refuses."""
    if text == edit_text(current) or text == format_value(current):
        return None
    try:
        value = parse_value(param, text, value_sets)
    except ParameterError:
        # The cloud may hold a value its own rules no longer allow (a name with a control character): typed back
        # as it is, it is kept. A list reads the same either way, so it is not parsed twice.
        if param.kind not in (Kind.CIDR_LIST, Kind.SPD) and read_value(param, text) == current:
            return None
        raise
    return None if value == current else value


def _new_key(current: VpnSettings, text: str) -> SecretStr:
    """The key typed, checked by the key's rules unless it is the current key retyped (which the cloud holds)."""
    if current.psk_is(text):
        return SecretStr(text)
    return SecretStr(str(parse_value(PARAMS_BY_NAME[PSK], text)))
