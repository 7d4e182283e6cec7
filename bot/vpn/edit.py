"""A proposed edit: the current settings with a person's changes applied, validated as a whole.

:func:`propose` is the one validation entry point: it reads every ``name=text`` pair, applies the rules of the seed
and returns a :class:`Proposal`, or raises :class:`InvalidParametersError` holding every problem at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import SecretStr

from bot.vpn.connection import VpnSettings, secret_fingerprint
from bot.vpn.params import (
    PARAMS,
    PARAMS_BY_NAME,
    InvalidParametersError,
    Kind,
    ParameterError,
    Value,
    canonical_name,
    parse_value,
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
    return current.psk_fingerprint != secret_fingerprint(key.get_secret_value())


def propose(current: VpnSettings, edits: Mapping[str, str]) -> Proposal:
    """Apply ``edits`` (seed name, or alias, to text) to ``current``; every problem is reported at once."""
    problems: dict[str, str] = {}
    parsed: dict[str, Value] = {}
    key: SecretStr | None = None
    for raw_name, text in edits.items():
        try:
            name = canonical_name(raw_name)
        except ParameterError as error:
            problems[raw_name.strip() or "(empty name)"] = str(error)
            continue
        if name in parsed or (name == PSK and key is not None):
            problems[name] = "given more than once"
            continue
        try:
            value = parse_value(PARAMS_BY_NAME[name], text)
        except ParameterError as error:
            problems[name] = str(error)
            continue
        if name == PSK:
            key = SecretStr(str(value))
        else:
            parsed[name] = value
    merged = {**current.values, **parsed}
    for name, message in rule_problems(merged).items():
        problems.setdefault(name, message)
    cidrs_changed = merged["userGwCidrBlock"] != current["userGwCidrBlock"]
    spd_changed = merged["spdAcl"] != current["spdAcl"]
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
