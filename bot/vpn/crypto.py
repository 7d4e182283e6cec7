"""The crypto settings of a connection reviewed against the IETF's algorithm guidance.

Sources: RFC 8247 (IKEv2 algorithms: §2.1 encryption, §2.2 PRF, §2.3 integrity, §2.4 Diffie-Hellman groups, also
used for the PFS group), RFC 8221 (ESP: §5 encryption, §6 integrity) and RFC 9395 (IKEv1 deprecated, §1). The RFC
levels say what to implement, not how strong an algorithm is, so a change counts as weakening only when its new
value is one the RFCs discourage (a :class:`Finding` level) and lower than the old one, and as strengthening only
when its old value was discouraged and the new one is higher: group14 (MUST) ->
group19 (SHOULD) is neither. Values the RFCs do not cover (SM4, SM3, HMAC-SHA2-384 for ESP) and values vpnbot does not know
are never weaker or stronger than anything. Texts are plain and quote only values vpnbot knows.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

from bot.vpn.params import Value


class Level(enum.IntEnum):
    """A requirement level, weakest first: ``a < b`` means ``a`` is the weaker. ``NO_CONFIDENTIALITY`` (ESP null
    encryption) and ``NO_FORWARD_SECRECY`` (PFS off) are vpnbot's, not RFC levels."""

    NO_CONFIDENTIALITY = 0
    MUST_NOT = 1
    NO_FORWARD_SECRECY = 2
    SHOULD_NOT = 3
    DEPRECATED = 4
    MUST_MINUS = 5
    NOT_COVERED = 6
    MAY = 7
    SHOULD = 8
    MUST = 9

    @property
    def words(self) -> str:
        return _WORDS[self]

    @property
    def discouraged(self) -> bool:
        """At or below MUST-: a value an engineer should hear about."""
        return self <= Level.MUST_MINUS


_WORDS: Mapping[Level, str] = MappingProxyType(
    {
        Level.NO_CONFIDENTIALITY: "no confidentiality",
        Level.MUST_NOT: "MUST NOT",
        Level.NO_FORWARD_SECRECY: "no forward secrecy",
        Level.SHOULD_NOT: "SHOULD NOT",
        Level.DEPRECATED: "deprecated",
        Level.MUST_MINUS: "MUST-",
        Level.NOT_COVERED: "not covered by the RFCs",
        Level.MAY: "MAY",
        Level.SHOULD: "SHOULD",
        Level.MUST: "MUST",
    }
)
_RULED_OUT = frozenset({Level.NO_CONFIDENTIALITY, Level.MUST_NOT})
"""Levels whose introduction is concerning in itself (``CryptoReview.introduced``)."""


@dataclass(frozen=True)
class Rule:
    """One row of an RFC table for one (parameter, value) the API allows; ``value`` is vpnbot's spelling."""

    param: str
    value: str
    level: Level
    rfc: str
    section: str
    algorithm: str
    note: str = ""


IKE_ENCRYPTION = "IKESet.propoEncryAlgorithm"
IKE_AUTHENTICATION = "IKESet.propoAuthenAlgorithm"
IKE_DH_GROUP = "IKESet.dhGroupName"
IKE_EXCHANGE_MODE = "IKESet.exchangeMode"
IKE_VERSION = "IKESet.ikeVersion"
IPSEC_ENCRYPTION = "IPsecSet.encryptAlgorithm"
IPSEC_INTEGRITY = "IPsecSet.integrityAlgorith"
IPSEC_PFS = "IPsecSet.pfsDhGroup"
CRYPTO_PARAMS = (
    IKE_ENCRYPTION,
    IKE_AUTHENTICATION,
    IKE_DH_GROUP,
    IKE_EXCHANGE_MODE,
    IKE_VERSION,
    IPSEC_ENCRYPTION,
    IPSEC_INTEGRITY,
    IPSEC_PFS,
)

_Row = tuple[str, Level, str] | tuple[str, Level, str, str]
_SM4 = "Chinese national block cipher (GB/T 32907), not in the RFC's table"
_AES192_IKE = "192-bit keys stay at MAY"
_AES192_ESP = "RFC 8221: the level is for 128- and 256-bit keys; 192-bit keys remain at MAY"


def _rows(param: str, rfc: str, section: str, *rows: _Row) -> tuple[Rule, ...]:
    return tuple(Rule(param, row[0], row[1], rfc, section, *row[2:]) for row in rows)


def _weaker_of(param: str, first: Iterable[Rule], second: Iterable[Rule]) -> tuple[Rule, ...]:
    """One rule per value from two tables ruling the same value: the weaker row, or both named on a tie."""
    others = {rule.value: rule for rule in second}
    combined: list[Rule] = []
    for one in first:
        other = others[one.value]
        if one.level == other.level:
            both = f"{one.algorithm} / {other.algorithm}"
            combined.append(replace(one, param=param, section=f"{one.section} and {other.section}", algorithm=both))
        else:
            combined.append(replace(min(one, other, key=lambda rule: rule.level), param=param))
    return tuple(combined)


def _dh_rows(param: str, prefix: str) -> tuple[Rule, ...]:
    """RFC 8247 §2.4 for the IKE group (``group14``) and the PFS group (``dh-group14``) alike."""
    groups: tuple[tuple[int, Level, str, str], ...] = (
        (1, Level.MUST_NOT, "768-bit MODP Group", "broken with modest computing power"),
        (2, Level.SHOULD_NOT, "1024-bit MODP Group", "within reach of well-funded attackers"),
        (5, Level.SHOULD_NOT, "1536-bit MODP Group", "security margin too narrow"),
        (14, Level.MUST, "2048-bit MODP Group", ""),
        (15, Level.MAY, "3072-bit MODP Group", ""),
        (16, Level.MAY, "4096-bit MODP Group", ""),
        (19, Level.SHOULD, "256-bit random ECP group", ""),
        (20, Level.MAY, "384-bit random ECP group", ""),
        (21, Level.MAY, "521-bit random ECP group", ""),
        (24, Level.SHOULD_NOT, "2048-bit MODP Group with 256-bit Prime Order Subgroup", "RFC 5114 group"),
    )
    return tuple(
        Rule(param, f"{prefix}{number}", level, "RFC 8247", "2.4", f"{name} ({number})", note)
        for number, level, name, note in groups
    )


_TABLE: tuple[Rule, ...] = (
    *_rows(
        IKE_ENCRYPTION,
        "RFC 8247",
        "2.1",
        ("des-cbc", Level.MUST_NOT, "ENCR_DES", "a 56-bit key, brute-forced with off-the-shelf hardware"),
        ("3des-cbc", Level.MAY, "ENCR_3DES", "64-bit blocks; RFC 8221 puts it at SHOULD NOT for ESP"),
        ("aes-cbc-128", Level.MUST, "ENCR_AES_CBC (128-bit key)"),
        ("aes-cbc-192", Level.MAY, "ENCR_AES_CBC (192-bit key)", _AES192_IKE),
        ("aes-cbc-256", Level.MUST, "ENCR_AES_CBC (256-bit key)"),
        ("aes128gcm128", Level.SHOULD, "ENCR_AES_GCM_16 (128-bit key)"),
        ("aes192gcm128", Level.MAY, "ENCR_AES_GCM_16 (192-bit key)", _AES192_IKE),
        ("aes256gcm128", Level.SHOULD, "ENCR_AES_GCM_16 (256-bit key)"),
        ("sm4", Level.NOT_COVERED, "SM4", _SM4),
    ),
    *_weaker_of(
        IKE_AUTHENTICATION,
        _rows(
            IKE_AUTHENTICATION,
            "RFC 8247",
            "2.2",
            ("md5", Level.MUST_NOT, "PRF_HMAC_MD5", "MD5 is open to collisions"),
            ("sha", Level.MUST_MINUS, "PRF_HMAC_SHA1", "on its way out"),
            ("sha-256", Level.MUST, "PRF_HMAC_SHA2_256"),
            ("sha-512", Level.SHOULD, "PRF_HMAC_SHA2_512"),
        ),
        _rows(
            IKE_AUTHENTICATION,
            "RFC 8247",
            "2.3",
            ("md5", Level.MUST_NOT, "AUTH_HMAC_MD5_96"),
            ("sha", Level.MUST_MINUS, "AUTH_HMAC_SHA1_96"),
            ("sha-256", Level.MUST, "AUTH_HMAC_SHA2_256_128"),
            ("sha-512", Level.SHOULD, "AUTH_HMAC_SHA2_512_256"),
        ),
    ),
    *_dh_rows(IKE_DH_GROUP, "group"),
    *_rows(
        IKE_EXCHANGE_MODE,
        "RFC 9395",
        "1",
        (
            "aggressive",
            Level.SHOULD_NOT,
            "IKEv1 Aggressive Mode",
            "identities in clear and an offline attack on the pre-shared key; RFC 9395 deprecates all of IKEv1",
        ),
        ("main", Level.DEPRECATED, "IKEv1 Main Mode", "protects the identities, unlike Aggressive Mode"),
    ),
    *_rows(
        IKE_VERSION,
        "RFC 9395",
        "1",
        ("ikev1", Level.DEPRECATED, "IKEv1", "moved to Historic; IKEv2 replaces it"),
        ("ikev2", Level.SHOULD, "IKEv2", "the full replacement for IKEv1"),
    ),
    *_rows(
        IPSEC_ENCRYPTION,
        "RFC 8221",
        "5",
        ("des-cbc", Level.MUST_NOT, "ENCR_DES", "a 56-bit key, brute-forced with off-the-shelf hardware"),
        ("3des-cbc", Level.SHOULD_NOT, "ENCR_3DES", "64-bit blocks"),
        ("aes-cbc-128", Level.MUST, "ENCR_AES_CBC (128-bit key)"),
        ("aes-cbc-192", Level.MAY, "ENCR_AES_CBC (192-bit key)", _AES192_ESP),
        ("aes-cbc-256", Level.MUST, "ENCR_AES_CBC (256-bit key)"),
        ("aes128gcm128", Level.MUST, "ENCR_AES_GCM_16 (128-bit key)"),
        ("aes192gcm128", Level.MAY, "ENCR_AES_GCM_16 (192-bit key)", _AES192_ESP),
        ("aes256gcm128", Level.MUST, "ENCR_AES_GCM_16 (256-bit key)"),
        ("sm4", Level.NOT_COVERED, "SM4", _SM4),
        (
            "null",
            Level.NO_CONFIDENTIALITY,
            "ENCR_NULL",
            "no confidentiality at all: traffic crosses in clear (the RFC keeps it for integrity-only ESP)",
        ),
    ),
    *_rows(
        IPSEC_INTEGRITY,
        "RFC 8221",
        "6",
        ("md5", Level.MUST_NOT, "AUTH_HMAC_MD5_96", "MD5 is open to collisions"),
        ("sha", Level.MUST_MINUS, "AUTH_HMAC_SHA1_96", "on its way out"),
        ("sha-256", Level.MUST, "AUTH_HMAC_SHA2_256_128"),
        ("sha-384", Level.NOT_COVERED, "AUTH_HMAC_SHA2_384_192", "a SHA-2 HMAC the RFC's table does not list"),
        ("sha-512", Level.SHOULD, "AUTH_HMAC_SHA2_512_256"),
        ("sm3", Level.NOT_COVERED, "HMAC-SM3", "Chinese national hash (GB/T 32905), not in the RFC's table"),
    ),
    Rule(
        IPSEC_PFS,
        "null",
        Level.NO_FORWARD_SECRECY,
        "RFC 8247",
        "2.4",
        "no PFS group",
        "not an RFC requirement: without PFS one leaked IKE SA key exposes the IPsec SA keys derived from it",
    ),
    *_dh_rows(IPSEC_PFS, "dh-group"),
)
RULES: Mapping[tuple[str, str], Rule] = MappingProxyType({(rule.param, rule.value): rule for rule in _TABLE})


def rule_for(param: str, value: str) -> Rule | None:
    """The RFC row for ``value`` of ``param``; None for a value vpnbot does not know (or any other text)."""
    return RULES.get((param, value)) if isinstance(value, str) else None


@dataclass(frozen=True)
class Finding:
    """A value the RFCs discourage (:attr:`Level.discouraged`); ``text`` is one plain line naming it all."""

    param: str
    value: str
    level: Level
    rfc: str
    section: str
    text: str

    @classmethod
    def of(cls, rule: Rule) -> Finding:
        text = f"{rule.param} {rule.value}: {rule.level.words} ({rule.rfc} §{rule.section}, {rule.algorithm})"
        if rule.note:
            text += f"; {rule.note}"
        return cls(rule.param, rule.value, rule.level, rule.rfc, rule.section, text)


@dataclass(frozen=True)
class Weakening:
    """A changed parameter whose level moved (see the module for when that counts)."""

    param: str
    before: str
    after: str
    before_level: Level
    after_level: Level


@dataclass(frozen=True)
class CryptoReview:
    """What a change does to the crypto. ``changed`` lists the crypto parameters whose value changes."""

    proposed: tuple[Finding, ...]
    current: tuple[Finding, ...]
    introduced: tuple[Finding, ...]
    weakened: tuple[Weakening, ...]
    strengthened: tuple[Weakening, ...]
    changed: tuple[str, ...] = ()

    @property
    def concerning(self) -> bool:
        return bool(self.introduced or self.weakened)

    @property
    def only_strengthens(self) -> bool:
        """Some crypto value changes, every change strengthens, and nothing ruled out comes in."""
        strengthened = {s.param for s in self.strengthened}
        return bool(self.changed) and not self.concerning and strengthened == set(self.changed)

    def blocked_reason(self) -> str:
        """Each value brought in and each weakening, with its level and RFC; "" when nothing is concerning."""
        reasons = [f"brings in {finding.text}" for finding in self.introduced]
        for weakening in self.weakened:
            reason = (
                f"weakens {weakening.param} {weakening.before} -> {weakening.after} "
                f"({weakening.before_level.words} -> {weakening.after_level.words}"
            )
            rule = rule_for(weakening.param, weakening.after)
            reasons.append(reason + (f"; {rule.rfc} §{rule.section}, {rule.algorithm})" if rule else ")"))
        text = "; ".join(reasons)
        return text[:1].upper() + text[1:]

    def to_json(self) -> dict[str, Any]:
        return {
            "proposed": [_finding_json(f) for f in self.proposed],
            "current": [_finding_json(f) for f in self.current],
            "introduced": [_finding_json(f) for f in self.introduced],
            "weakened": [_weakening_json(w) for w in self.weakened],
            "strengthened": [_weakening_json(w) for w in self.strengthened],
            "changed": list(self.changed),
        }

    @classmethod
    def from_json(cls, data: Any) -> CryptoReview:
        """The review :meth:`to_json` gave; ValueError naming what is missing or malformed."""
        record = _record(data, "crypto review")
        changed = _list(record, "changed")
        if not all(isinstance(name, str) for name in changed):
            raise ValueError("crypto review: changed must list parameter names")
        return cls(
            proposed=tuple(_finding(item) for item in _list(record, "proposed")),
            current=tuple(_finding(item) for item in _list(record, "current")),
            introduced=tuple(_finding(item) for item in _list(record, "introduced")),
            weakened=tuple(_weakening(item) for item in _list(record, "weakened")),
            strengthened=tuple(_weakening(item) for item in _list(record, "strengthened")),
            changed=tuple(changed),
        )


def review(
    before: Mapping[str, Value], after: Mapping[str, Value], *, ike_version_default: str = "ikev1"
) -> CryptoReview:
    """Review the settings ``after`` a change against those ``before`` (seed names to values).

    An empty ``IKESet.ikeVersion`` (API 2.0 does not report it) counts as ``ike_version_default``. Under IKEv2 the
    exchange mode is not reviewed: IKEv2 has no main or aggressive mode.
    """
    old, new = _crypto_values(before, ike_version_default), _crypto_values(after, ike_version_default)
    changed = tuple(name for name in CRYPTO_PARAMS if old.get(name) != new.get(name))
    old_rules, new_rules = _reviewed(old), _reviewed(new)
    weakened: list[Weakening] = []
    strengthened: list[Weakening] = []
    for name in changed:
        was, now = old_rules.get(name), new_rules.get(name)
        if was is None or now is None or Level.NOT_COVERED in (was.level, now.level):
            continue
        move = Weakening(name, was.value, now.value, was.level, now.level)
        if now.level < was.level and now.level.discouraged:
            weakened.append(move)
        elif now.level > was.level and was.level.discouraged:
            strengthened.append(move)
    introduced = tuple(
        Finding.of(rule) for name, rule in new_rules.items() if name in changed and rule.level in _RULED_OUT
    )
    return CryptoReview(
        proposed=_findings(new_rules),
        current=_findings(old_rules),
        introduced=introduced,
        weakened=tuple(weakened),
        strengthened=tuple(strengthened),
        changed=changed,
    )


def _crypto_values(settings: Mapping[str, Value], ike_version_default: str) -> dict[str, str]:
    values = {name: value for name in CRYPTO_PARAMS if isinstance(value := settings.get(name), str)}
    if not values.get(IKE_VERSION):
        values[IKE_VERSION] = ike_version_default
    return values


def _reviewed(values: Mapping[str, str]) -> dict[str, Rule]:
    """The rule of each value vpnbot knows, in the order of :data:`CRYPTO_PARAMS`."""
    rules = {name: rule for name, value in values.items() if (rule := rule_for(name, value)) is not None}
    if values.get(IKE_VERSION) == "ikev2":
        rules.pop(IKE_EXCHANGE_MODE, None)
    return {name: rules[name] for name in CRYPTO_PARAMS if name in rules}


def _findings(rules: Mapping[str, Rule]) -> tuple[Finding, ...]:
    return tuple(Finding.of(rule) for rule in rules.values() if rule.level.discouraged)


def _finding_json(finding: Finding) -> dict[str, str]:
    return {
        "param": finding.param,
        "value": finding.value,
        "level": finding.level.name,
        "rfc": finding.rfc,
        "section": finding.section,
        "text": finding.text,
    }


def _weakening_json(weakening: Weakening) -> dict[str, str]:
    return {
        "param": weakening.param,
        "before": weakening.before,
        "after": weakening.after,
        "before_level": weakening.before_level.name,
        "after_level": weakening.after_level.name,
    }


def _record(data: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise ValueError(f"{what} must be an object")
    return data


def _list(record: Mapping[str, Any], key: str) -> list[Any]:
    items = record.get(key)
    if not isinstance(items, list):
        raise ValueError(f"crypto review: {key} must be a list")
    return items


def _text(record: Mapping[str, Any], key: str) -> str:
    value = record.get(key)
    if not isinstance(value, str):
        raise ValueError(f"crypto review: {key} must be text")
    return value


def _level(record: Mapping[str, Any], key: str) -> Level:
    name = _text(record, key)
    if name not in Level.__members__:
        raise ValueError(f"crypto review: {key} is not a level")
    return Level[name]


def _finding(data: Any) -> Finding:
    record = _record(data, "a crypto finding")
    param, value, rfc, section, text = (_text(record, key) for key in ("param", "value", "rfc", "section", "text"))
    return Finding(param, value, _level(record, "level"), rfc, section, text)


def _weakening(data: Any) -> Weakening:
    record = _record(data, "a crypto weakening")
    param, before, after = (_text(record, key) for key in ("param", "before", "after"))
    return Weakening(param, before, after, _level(record, "before_level"), _level(record, "after_level"))
