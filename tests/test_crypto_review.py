"""The crypto review: every value the API allows against a table written here from the RFCs (independent of
``bot.vpn.crypto.RULES``), and what :func:`review` says of a change."""

from __future__ import annotations

import json
from typing import Any

import pytest
from items import connection

from bot.vpn.crypto import RULES, CryptoReview, Level, review, rule_for
from bot.vpn.params import PARAMS_BY_NAME, Value

# (parameter, value, level, RFC, section), from RFC 8247 §2.1-2.4, RFC 8221 §5-6 and RFC 9395 §1.
IKE_ENC, IKE_AUTH, IKE_DH = "IKESet.propoEncryAlgorithm", "IKESet.propoAuthenAlgorithm", "IKESet.dhGroupName"
MODE, VERSION = "IKESet.exchangeMode", "IKESet.ikeVersion"
ESP_ENC, ESP_INTEG, PFS = "IPsecSet.encryptAlgorithm", "IPsecSet.integrityAlgorith", "IPsecSet.pfsDhGroup"
EXPECTED: tuple[tuple[str, str, Level, str, str], ...] = (
    (IKE_ENC, "des-cbc", Level.MUST_NOT, "RFC 8247", "2.1"),
    (IKE_ENC, "3des-cbc", Level.MAY, "RFC 8247", "2.1"),
    (IKE_ENC, "aes-cbc-128", Level.MUST, "RFC 8247", "2.1"),
    (IKE_ENC, "aes-cbc-192", Level.MAY, "RFC 8247", "2.1"),
    (IKE_ENC, "aes-cbc-256", Level.MUST, "RFC 8247", "2.1"),
    (IKE_ENC, "aes128gcm128", Level.SHOULD, "RFC 8247", "2.1"),
    (IKE_ENC, "aes192gcm128", Level.MAY, "RFC 8247", "2.1"),
    (IKE_ENC, "aes256gcm128", Level.SHOULD, "RFC 8247", "2.1"),
    (IKE_ENC, "sm4", Level.NOT_COVERED, "RFC 8247", "2.1"),
    (IKE_AUTH, "md5", Level.MUST_NOT, "RFC 8247", "2.2 and 2.3"),
    (IKE_AUTH, "sha", Level.MUST_MINUS, "RFC 8247", "2.2 and 2.3"),
    (IKE_AUTH, "sha-256", Level.MUST, "RFC 8247", "2.2 and 2.3"),
    (IKE_AUTH, "sha-512", Level.SHOULD, "RFC 8247", "2.2 and 2.3"),
    (IKE_DH, "group1", Level.MUST_NOT, "RFC 8247", "2.4"),
    (IKE_DH, "group2", Level.SHOULD_NOT, "RFC 8247", "2.4"),
    (IKE_DH, "group5", Level.SHOULD_NOT, "RFC 8247", "2.4"),
    (IKE_DH, "group14", Level.MUST, "RFC 8247", "2.4"),
    (IKE_DH, "group15", Level.MAY, "RFC 8247", "2.4"),
    (IKE_DH, "group16", Level.MAY, "RFC 8247", "2.4"),
    (IKE_DH, "group19", Level.SHOULD, "RFC 8247", "2.4"),
    (IKE_DH, "group20", Level.MAY, "RFC 8247", "2.4"),
    (IKE_DH, "group21", Level.MAY, "RFC 8247", "2.4"),
    (IKE_DH, "group24", Level.SHOULD_NOT, "RFC 8247", "2.4"),
    (MODE, "aggressive", Level.SHOULD_NOT, "RFC 9395", "1"),
    (MODE, "main", Level.DEPRECATED, "RFC 9395", "1"),
    (VERSION, "ikev1", Level.DEPRECATED, "RFC 9395", "1"),
    (VERSION, "ikev2", Level.SHOULD, "RFC 9395", "1"),
    (ESP_ENC, "des-cbc", Level.MUST_NOT, "RFC 8221", "5"),
    (ESP_ENC, "3des-cbc", Level.SHOULD_NOT, "RFC 8221", "5"),
    (ESP_ENC, "aes-cbc-128", Level.MUST, "RFC 8221", "5"),
    (ESP_ENC, "aes-cbc-192", Level.MAY, "RFC 8221", "5"),
    (ESP_ENC, "aes-cbc-256", Level.MUST, "RFC 8221", "5"),
    (ESP_ENC, "aes128gcm128", Level.MUST, "RFC 8221", "5"),
    (ESP_ENC, "aes192gcm128", Level.MAY, "RFC 8221", "5"),
    (ESP_ENC, "aes256gcm128", Level.MUST, "RFC 8221", "5"),
    (ESP_ENC, "sm4", Level.NOT_COVERED, "RFC 8221", "5"),
    (ESP_ENC, "null", Level.NO_CONFIDENTIALITY, "RFC 8221", "5"),
    (ESP_INTEG, "md5", Level.MUST_NOT, "RFC 8221", "6"),
    (ESP_INTEG, "sha", Level.MUST_MINUS, "RFC 8221", "6"),
    (ESP_INTEG, "sha-256", Level.MUST, "RFC 8221", "6"),
    (ESP_INTEG, "sha-384", Level.NOT_COVERED, "RFC 8221", "6"),
    (ESP_INTEG, "sha-512", Level.SHOULD, "RFC 8221", "6"),
    (ESP_INTEG, "sm3", Level.NOT_COVERED, "RFC 8221", "6"),
    (PFS, "null", Level.NO_FORWARD_SECRECY, "RFC 8247", "2.4"),
    (PFS, "dh-group1", Level.MUST_NOT, "RFC 8247", "2.4"),
    (PFS, "dh-group2", Level.SHOULD_NOT, "RFC 8247", "2.4"),
    (PFS, "dh-group5", Level.SHOULD_NOT, "RFC 8247", "2.4"),
    (PFS, "dh-group14", Level.MUST, "RFC 8247", "2.4"),
    (PFS, "dh-group15", Level.MAY, "RFC 8247", "2.4"),
    (PFS, "dh-group16", Level.MAY, "RFC 8247", "2.4"),
    (PFS, "dh-group19", Level.SHOULD, "RFC 8247", "2.4"),
    (PFS, "dh-group20", Level.MAY, "RFC 8247", "2.4"),
    (PFS, "dh-group21", Level.MAY, "RFC 8247", "2.4"),
    (PFS, "dh-group24", Level.SHOULD_NOT, "RFC 8247", "2.4"),
)
CRYPTO = (IKE_ENC, IKE_AUTH, IKE_DH, MODE, VERSION, ESP_ENC, ESP_INTEG, PFS)
GOOD: dict[str, Value] = {
    IKE_ENC: "aes-cbc-256",
    IKE_AUTH: "sha-256",
    IKE_DH: "group14",
    MODE: "main",
    VERSION: "ikev2",
    ESP_ENC: "aes-cbc-128",
    ESP_INTEG: "sha-256",
    PFS: "dh-group14",
    "vpnConnName": "office",
}
HOSTILE = ("x" * 10_000, "<!channel> aes", "")


def settings(**changes: Value) -> dict[str, Value]:
    """Strong settings under IKEv2 with ``changes`` (``IKE_DH="group1"`` style: keys are the constants' names)."""
    names = {"IKE_ENC": IKE_ENC, "IKE_AUTH": IKE_AUTH, "IKE_DH": IKE_DH, "MODE": MODE, "VERSION": VERSION}
    names |= {"ESP_ENC": ESP_ENC, "ESP_INTEG": ESP_INTEG, "PFS": PFS, "NAME": "vpnConnName"}
    return {**GOOD, **{names[key]: value for key, value in changes.items()}}


@pytest.mark.parametrize(("param", "value", "level", "rfc", "section"), EXPECTED, ids=lambda x: str(x))
def test_each_allowed_value_has_its_rfc_row(param: str, value: str, level: Level, rfc: str, section: str) -> None:
    rule = rule_for(param, value)
    assert rule is not None
    assert (rule.param, rule.value, rule.level, rule.rfc, rule.section) == (param, value, level, rfc, section)
    assert rule.algorithm


def test_the_table_here_covers_every_value_the_api_allows() -> None:
    allowed = {(name, value) for name in CRYPTO for value in PARAMS_BY_NAME[name].all_choices}
    assert {(param, value) for param, value, *_ in EXPECTED} == allowed
    assert set(RULES) == allowed
    assert len(EXPECTED) == len(allowed)


def test_rules_are_immutable_and_level_words_are_the_rfcs() -> None:
    with pytest.raises(TypeError):
        RULES[(IKE_DH, "group1")] = RULES[(IKE_DH, "group14")]  # type: ignore[index]
    assert [level.words for level in (Level.MUST_NOT, Level.SHOULD_NOT, Level.MUST_MINUS, Level.MUST)] == [
        "MUST NOT",
        "SHOULD NOT",
        "MUST-",
        "MUST",
    ]
    assert Level.DEPRECATED.words == "deprecated"
    assert Level.NOT_COVERED.words == "not covered by the RFCs"
    assert Level.NO_CONFIDENTIALITY < Level.MUST_NOT < Level.SHOULD_NOT < Level.MUST_MINUS < Level.MAY < Level.MUST


def test_the_notes_say_what_the_rfcs_do_not() -> None:
    aggressive = rule_for(MODE, "aggressive")
    assert aggressive is not None
    assert "identities in clear" in aggressive.note
    assert "offline" in aggressive.note
    no_pfs = rule_for(PFS, "null")
    assert no_pfs is not None
    assert "not an RFC requirement" in no_pfs.note
    null = rule_for(ESP_ENC, "null")
    assert null is not None
    assert "no confidentiality" in null.note


@pytest.mark.parametrize(
    ("param", "value"), [(IKE_ENC, "des-cbc"), (IKE_AUTH, "md5"), (IKE_DH, "group1"), (ESP_ENC, "null")]
)
def test_bringing_in_a_ruled_out_value_is_concerning(param: str, value: str) -> None:
    result = review(GOOD, {**GOOD, param: value})
    assert result.concerning
    assert [(f.param, f.value) for f in result.introduced] == [(param, value)]
    assert result.changed == (param,)
    assert not result.only_strengthens
    assert (param, value) in {(f.param, f.value) for f in result.proposed}
    assert result.current == ()


def test_a_weaker_group_is_a_weakening() -> None:
    result = review(settings(IKE_DH="group14"), settings(IKE_DH="group2"))
    assert result.concerning
    assert result.introduced == ()
    assert [(w.param, w.before, w.after, w.before_level, w.after_level) for w in result.weakened] == [
        (IKE_DH, "group14", "group2", Level.MUST, Level.SHOULD_NOT)
    ]
    assert result.strengthened == ()


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (settings(IKE_DH="group2"), settings(IKE_DH="group14")),
        (settings(IKE_AUTH="md5"), settings(IKE_AUTH="sha-256")),
        (settings(IKE_AUTH="md5", ESP_INTEG="sha"), settings(IKE_AUTH="sha-256", ESP_INTEG="sha-256")),
        (settings(VERSION="ikev1", MODE="aggressive"), settings(VERSION="ikev1", MODE="main")),
        (settings(PFS="null"), settings(PFS="dh-group14")),
    ],
)
def test_moving_off_a_discouraged_value_only_strengthens(before: dict[str, Value], after: dict[str, Value]) -> None:
    result = review(before, after)
    assert result.only_strengthens
    assert not result.concerning
    assert result.blocked_reason() == ""
    assert {s.param for s in result.strengthened} == set(result.changed)
    assert all(s.after_level > s.before_level for s in result.strengthened)


def test_moves_among_acceptable_values_are_neither() -> None:
    """The RFC levels rank what to implement: group19 (SHOULD) is no weaker than group14 (MUST)."""
    for name, old, new in [(ESP_ENC, "aes-cbc-128", "aes-cbc-256"), (IKE_DH, "group14", "group19")]:
        result = review({**GOOD, name: old}, {**GOOD, name: new})
        assert result.changed == (name,)
        assert (result.weakened, result.strengthened, result.introduced) == ((), (), ())
        assert not result.only_strengthens


@pytest.mark.parametrize(
    ("param", "old", "new"),
    [
        (IKE_ENC, "aes-cbc-256", "sm4"),
        (IKE_ENC, "sm4", "aes-cbc-256"),
        (ESP_ENC, "3des-cbc", "sm4"),
        (ESP_ENC, "sm4", "3des-cbc"),
        (ESP_INTEG, "md5", "sm3"),
        (ESP_INTEG, "sm3", "sha"),
    ],
)
def test_national_algorithms_are_neither_weaker_nor_stronger(param: str, old: str, new: str) -> None:
    result = review({**GOOD, param: old}, {**GOOD, param: new})
    assert result.changed == (param,)
    assert (result.weakened, result.strengthened, result.introduced) == ((), (), ())
    assert not result.concerning
    assert not result.only_strengthens


def test_moving_from_sm4_to_des_still_brings_des_in() -> None:
    result = review(settings(ESP_ENC="sm4"), settings(ESP_ENC="des-cbc"))
    assert [f.value for f in result.introduced] == ["des-cbc"]
    assert result.weakened == ()


def test_a_name_only_change_changes_no_crypto() -> None:
    result = review(settings(IKE_DH="group1"), settings(IKE_DH="group1", NAME="renamed"))
    assert result.changed == ()
    assert not result.concerning
    assert not result.only_strengthens
    assert (result.introduced, result.weakened, result.strengthened) == ((), (), ())


def test_current_findings_are_listed_even_when_unchanged() -> None:
    weak = settings(IKE_DH="group1", ESP_ENC="3des-cbc")
    result = review(weak, {**weak, "vpnConnName": "renamed"})
    expected = [(IKE_DH, "group1", Level.MUST_NOT), (ESP_ENC, "3des-cbc", Level.SHOULD_NOT)]
    assert [(f.param, f.value, f.level) for f in result.current] == expected
    assert [(f.param, f.value, f.level) for f in result.proposed] == expected
    assert result.introduced == ()


def test_a_finding_text_names_param_value_level_rfc_and_algorithm() -> None:
    (finding,) = review(GOOD, settings(IKE_DH="group1")).proposed
    assert finding.text.startswith("IKESet.dhGroupName group1: MUST NOT (RFC 8247 §2.4, 768-bit MODP Group (1))")
    assert (finding.rfc, finding.section, finding.level) == ("RFC 8247", "2.4", Level.MUST_NOT)


def test_the_seed_connection_findings() -> None:
    """API 2.0 does not report the IKE version: it counts as the default, IKEv1."""
    values = connection().settings.values
    found = {(f.param, f.value, f.level) for f in review(values, values).current}
    assert found == {
        (IKE_AUTH, "sha", Level.MUST_MINUS),
        (IKE_DH, "group2", Level.SHOULD_NOT),
        (MODE, "main", Level.DEPRECATED),
        (VERSION, "ikev1", Level.DEPRECATED),
        (ESP_INTEG, "sha", Level.MUST_MINUS),
        (PFS, "null", Level.NO_FORWARD_SECRECY),
    }
    later = review(values, values, ike_version_default="ikev2").current
    assert {f.param for f in later} == {IKE_AUTH, IKE_DH, ESP_INTEG, PFS}


def test_aggressive_mode_is_reviewed_under_ikev1_only() -> None:
    ikev1 = review(settings(VERSION="ikev1"), settings(VERSION="ikev1", MODE="aggressive"))
    assert [(w.param, w.after_level) for w in ikev1.weakened] == [(MODE, Level.SHOULD_NOT)]
    aggressive = next(f for f in ikev1.proposed if f.param == MODE)
    assert aggressive.rfc == "RFC 9395"
    assert "identities in clear" in aggressive.text
    ikev2 = review(settings(), settings(MODE="aggressive"))
    assert ikev2.changed == (MODE,)
    assert (ikev2.proposed, ikev2.weakened) == ((), ())


def test_going_back_to_ikev1_is_a_weakening() -> None:
    result = review(settings(), settings(VERSION="ikev1"))
    assert [(w.param, w.before, w.after) for w in result.weakened] == [(VERSION, "ikev2", "ikev1")]
    assert result.concerning


def test_turning_pfs_off_is_a_weakening_with_its_reason() -> None:
    result = review(settings(), settings(PFS="null"))
    assert [(w.param, w.after_level) for w in result.weakened] == [(PFS, Level.NO_FORWARD_SECRECY)]
    assert "not an RFC requirement" in result.proposed[0].text


def test_blocked_reason_names_param_value_level_and_rfc() -> None:
    result = review(settings(), settings(IKE_AUTH="md5", ESP_ENC="null", PFS="dh-group2"))
    reason = result.blocked_reason()
    for text in ("IKESet.propoAuthenAlgorithm md5", "MUST NOT", "RFC 8247", "IPsecSet.encryptAlgorithm null"):
        assert text in reason
    assert "no confidentiality" in reason
    assert "RFC 8221 §5" in reason
    assert "IPsecSet.pfsDhGroup dh-group14 -> dh-group2 (MUST -> SHOULD NOT; RFC 8247 §2.4" in reason
    assert reason[0].isupper()


def test_json_round_trips() -> None:
    result = review(settings(VERSION="ikev1", PFS="null"), settings(IKE_DH="group1", ESP_INTEG="sha-512"))
    assert result.introduced
    assert result.weakened
    assert result.strengthened
    data = json.loads(json.dumps(result.to_json()))
    assert CryptoReview.from_json(data) == result
    assert CryptoReview.from_json(data).blocked_reason() == result.blocked_reason()


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: "not a review",
        lambda d: {**d, "proposed": None},
        lambda d: {k: v for k, v in d.items() if k != "changed"},
        lambda d: {**d, "changed": [1]},
        lambda d: {**d, "introduced": [{**d["introduced"][0], "level": "VERY_BAD"}]},
        lambda d: {**d, "introduced": [{**d["introduced"][0], "text": None}]},
        lambda d: {**d, "introduced": ["group1"]},
        lambda d: {**d, "weakened": [{**d["weakened"][0], "after_level": 3}]},
    ],
)
def test_malformed_json_is_a_value_error(mutate: Any) -> None:
    data = review(settings(IKE_DH="group14"), settings(IKE_DH="group1", PFS="dh-group2")).to_json()
    with pytest.raises(ValueError, match="crypto"):
        CryptoReview.from_json(mutate(data))


@pytest.mark.parametrize("value", HOSTILE, ids=["10000-characters", "channel-mention", "empty"])
def test_hostile_or_unknown_values_give_no_rule_and_no_finding(value: str) -> None:
    for name in CRYPTO:
        assert rule_for(name, value) is None
    assert rule_for(IKE_DH, "GROUP14") is None
    assert rule_for("vpnConnName", "group1") is None
    for name in CRYPTO:
        result = review(settings(), {**GOOD, name: value}, ike_version_default="ikev2")
        back = review({**GOOD, name: value}, settings(), ike_version_default="ikev2")
        assert (result.weakened, result.strengthened, result.introduced) == ((), (), ())
        assert (back.weakened, back.strengthened, back.introduced) == ((), (), ())
        # An unknown IKE version is not IKEv2: the exchange mode (main) is then reviewed, and nothing else.
        assert {f.param for f in result.proposed} <= {MODE}
        assert {f.param for f in back.current} <= {MODE}
        for text in [f.text for f in result.proposed + back.current] + [result.blocked_reason()]:
            assert not value or value not in text


def test_values_that_are_not_text_are_ignored() -> None:
    result = review({**GOOD, IKE_DH: 14}, {**GOOD, IKE_DH: frozenset()})
    assert (result.proposed, result.current, result.weakened) == ((), (), ())
