"""Free text (the connection name, FQDN identities, the key) refuses invisible and reordering characters, naming
each by its code point and never echoing the text; ``visible`` shows such text from the cloud without obeying it."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, seed, settings
from hypothesis import strategies as st
from items import connection

from bot.vpn.diff import psk_state
from bot.vpn.edit import propose
from bot.vpn.params import (
    PARAMS_BY_NAME,
    UNSAFE_CATEGORIES,
    InvalidParametersError,
    ParameterError,
    describe_character,
    parse_value,
    read_value,
    visible,
)

NAME = PARAMS_BY_NAME["vpnConnName"]
KEY = PARAMS_BY_NAME["preSharedKey"]

REFUSED = [
    ("\x00", "Cc", "NULL"),
    ("\t", "Cc", "CHARACTER TABULATION"),
    ("\n", "Cc", "LINE FEED"),
    ("\r", "Cc", "CARRIAGE RETURN"),
    ("\x1b", "Cc", "ESCAPE"),
    ("\x7f", "Cc", "DELETE"),
    ("\x85", "Cc", "NEXT LINE"),
    ("\x9b", "Cc", "a control character"),
    ("\u00ad", "Cf", "SOFT HYPHEN"),
    ("\u061c", "Cf", "ARABIC LETTER MARK"),
    ("\u200b", "Cf", "ZERO WIDTH SPACE"),
    ("\u200d", "Cf", "ZERO WIDTH JOINER"),
    ("\u200e", "Cf", "LEFT-TO-RIGHT MARK"),
    ("\u200f", "Cf", "RIGHT-TO-LEFT MARK"),
    ("\u202a", "Cf", "LEFT-TO-RIGHT EMBEDDING"),
    ("\u202b", "Cf", "RIGHT-TO-LEFT EMBEDDING"),
    ("\u202c", "Cf", "POP DIRECTIONAL FORMATTING"),
    ("\u202d", "Cf", "LEFT-TO-RIGHT OVERRIDE"),
    ("\u202e", "Cf", "RIGHT-TO-LEFT OVERRIDE"),
    ("\u2066", "Cf", "LEFT-TO-RIGHT ISOLATE"),
    ("\u2067", "Cf", "RIGHT-TO-LEFT ISOLATE"),
    ("\u2068", "Cf", "FIRST STRONG ISOLATE"),
    ("\u2069", "Cf", "POP DIRECTIONAL ISOLATE"),
    ("\ufeff", "Cf", "ZERO WIDTH NO-BREAK SPACE"),
    ("\U000e0001", "Cf", "LANGUAGE TAG"),
    ("\u2028", "Zl", "LINE SEPARATOR"),
    ("\u2029", "Zp", "PARAGRAPH SEPARATOR"),
    ("\ue000", "Co", "a private-use character"),
    ("\U000f0000", "Co", "a private-use character"),
    ("\ud800", "Cs", "a surrogate"),
    ("\u0378", "Cn", "an unassigned code point"),
    ("\U0010ffff", "Cn", "an unassigned code point"),
]
ACCEPTED = ["上海办公室", "office shanghai", "Zürich–Genève (DC 2)", "e\u0301te", "🚀 launch", "a\u00a0b", "x" * 60]


def test_the_table_holds_each_category_it_claims() -> None:
    for character, category, _ in REFUSED:
        assert unicodedata.category(character) == category
    assert {category for _, category, _ in REFUSED} == UNSAFE_CATEGORIES


def _ids(value: str) -> str | None:
    return f"U+{ord(value):04X}" if len(value) == 1 else None


@pytest.mark.parametrize(("character", "category", "name"), REFUSED, ids=_ids)
def test_a_name_with_an_unsafe_character_is_refused_by_code_point(character: str, category: str, name: str) -> None:
    with pytest.raises(ParameterError) as caught:
        parse_value(NAME, f"prod{character}secret-name")
    message = str(caught.value)
    assert message == f"must not contain U+{ord(character):04X} ({name}) at character 5; remove it"
    assert "prod" not in message
    assert "secret-name" not in message


def test_the_error_names_vpnConnName_through_propose() -> None:
    with pytest.raises(InvalidParametersError) as caught:
        propose(connection().settings, {"vpnConnName": "invoice\u202etxt.exe"})
    assert caught.value.problems == {
        "vpnConnName": "must not contain U+202E (RIGHT-TO-LEFT OVERRIDE) at character 8; remove it"
    }
    assert str(caught.value).startswith("vpnConnName: must not contain U+202E (RIGHT-TO-LEFT OVERRIDE)")
    assert "invoice" not in str(caught.value)


def test_several_unsafe_characters_are_each_named_once() -> None:
    with pytest.raises(ParameterError) as caught:
        parse_value(NAME, "a\u202eb\u200bc\u202ed")
    assert str(caught.value) == (
        "must not contain U+202E (RIGHT-TO-LEFT OVERRIDE) at character 2, U+200B (ZERO WIDTH SPACE) at character 4; "
        "remove them"
    )
    with pytest.raises(ParameterError, match=r"at character 6 and 2 more; remove them$"):
        parse_value(NAME, "a\u200bb\u200cc\u200dd\u200ee\u200f")


@pytest.mark.parametrize("name", ACCEPTED)
def test_names_people_write_are_accepted(name: str) -> None:
    assert parse_value(NAME, name) == name
    assert parse_value(NAME, f"  {name} ") == name


def test_the_seeds_length_rule_still_holds() -> None:
    assert parse_value(NAME, "上" * 60) == "上" * 60
    with pytest.raises(ParameterError, match="is 61 characters long; at most 60"):
        parse_value(NAME, "上" * 61)


def test_the_cloud_name_is_read_as_the_cloud_holds_it() -> None:
    assert read_value(NAME, " evil\u202eexe.txt ") == "evil\u202eexe.txt"
    assert read_value(NAME, "x" * 70) == "x" * 70
    assert read_value(NAME, "") == ""
    assert read_value(PARAMS_BY_NAME["IKESet.ikeSaLifetimeSeconds"], "86400") == 86400
    with pytest.raises(ParameterError):
        read_value(PARAMS_BY_NAME["IKESet.ikeSaLifetimeSeconds"], "59")


def test_a_cloud_name_with_an_unsafe_character_is_kept_when_left_alone_and_can_be_replaced() -> None:
    current = connection().settings.replace({"vpnConnName": "evil\u202eexe.txt"})
    kept = propose(current, {"vpnConnName": "evil\u202eexe.txt", "IKESet.dhGroupName": "group14"})
    assert kept.changed(current) == ("IKESet.dhGroupName",)
    assert propose(current, {"vpnConnName": " evil\u202eexe.txt "}).changed(current) == ()
    assert propose(current, {"vpnConnName": "clean"}).changed(current) == ("vpnConnName",)
    with pytest.raises(InvalidParametersError, match="U\\+202E"):
        propose(current, {"vpnConnName": "evil\u202eexe2.txt"})


@pytest.mark.parametrize("name", ["IKESet.localFqdnName", "IKESet.remoteFqdnName"])
def test_fqdn_identities_name_the_unsafe_character(name: str) -> None:
    param = PARAMS_BY_NAME[name]
    assert parse_value(param, "vpn.example.com") == "vpn.example.com"
    with pytest.raises(
        ParameterError, match=r"^must not contain U\+200B \(ZERO WIDTH SPACE\) at character 4; remove it$"
    ):
        parse_value(param, "vpn\u200b.example.com")
    with pytest.raises(ParameterError, match="letters, digits"):
        parse_value(param, "vpn.exämple.com")
    with pytest.raises(ParameterError, match=r"U\+000A \(LINE FEED\)"):
        parse_value(param, "vpn\n.example.com")


@pytest.mark.parametrize(("character", "category", "name"), REFUSED, ids=_ids)
def test_a_key_with_an_unsafe_character_is_refused_without_echo(character: str, category: str, name: str) -> None:
    with pytest.raises(ParameterError, match="control or invisible characters") as caught:
        parse_value(KEY, f"secret{character}-xyz-tail")
    message = str(caught.value)
    assert "secret" not in message
    assert "xyz" not in message
    assert f"{ord(character):04X}" not in message  # not even which character: it is part of a key


@pytest.mark.parametrize("key", ["correct horse battery staple", "密钥-ключ-κλειδί", "p@$$w0rd!\"'\\&=%+", "x" * 128])
def test_keys_the_seed_allows_are_accepted(key: str) -> None:
    assert parse_value(KEY, key) == key


def test_the_current_key_retyped_is_kept_even_if_it_breaks_a_rule() -> None:
    current = connection(preSharedKey="old\u200bkey").settings
    proposal = propose(current, {"preSharedKey": "old\u200bkey"})
    assert psk_state(current, proposal) == "unchanged"
    with pytest.raises(InvalidParametersError) as caught:
        propose(current, {"preSharedKey": "new\u200bkey"})
    assert set(caught.value.problems) == {"preSharedKey"}
    assert "new" not in str(caught.value)


def test_describe_character() -> None:
    assert describe_character("\u202e") == "U+202E (RIGHT-TO-LEFT OVERRIDE)"
    assert describe_character("\U000f0000") == "U+F0000 (a private-use character)"
    assert describe_character("a") == "U+0061 (LATIN SMALL LETTER A)"


# --- visible ------------------------------------------------------------------------------------------------------


def test_visible_escapes_what_would_be_interpreted() -> None:
    assert visible("evil\u202eexe.txt") == "evil\\u202eexe.txt"
    assert visible("a\u200bb\u2028c\u2066d") == "a\\u200bb\\u2028c\\u2066d"
    assert visible("\x00\t\n\x7f\x85") == "\\u0000\\u0009\\u000a\\u007f\\u0085"
    assert visible("soft\u00adhyphen\ufeff") == "soft\\u00adhyphen\\ufeff"
    assert visible("private\U000f0001") == "private\\U000f0001"
    assert visible("lone\ud800") == "lone\\ud800"
    assert visible("unassigned\u0378") == "unassigned\\u0378"


@pytest.mark.parametrize("text", [*ACCEPTED, "", "C:\\temp\\u202e is literal", "<&>"])
def test_visible_keeps_visible_text_as_it_is(text: str) -> None:
    assert visible(text) == text


def test_visible_handles_every_refused_character() -> None:
    for character, _, _ in REFUSED:
        shown = visible(f"x{character}y")
        assert shown.startswith("x\\")
        assert shown.endswith("y")
        assert shown.isascii()


@seed(20260614)
@settings(max_examples=300, database=None, deadline=None)
@given(st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=40))
def test_visible_output_holds_nothing_that_is_interpreted(text: str) -> None:
    shown = visible(text)
    assert not any(unicodedata.category(c) in UNSAFE_CATEGORIES for c in shown)
    assert visible(shown) == shown
    unsafe = [c for c in text if unicodedata.category(c) in UNSAFE_CATEGORIES]
    assert len(shown) == len(text) + sum(5 if ord(c) <= 0xFFFF else 9 for c in unsafe)
    if not unsafe:
        assert shown == text
