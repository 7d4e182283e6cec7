"""The seed's parameters: value sets, ranges, CIDR syntax, SPD forms, and the rules between parameters."""

from __future__ import annotations

import ipaddress

import pytest

from bot.vpn.params import (
    PARAMS,
    PARAMS_BY_NAME,
    ParameterError,
    SpdPolicy,
    canonical_name,
    format_value,
    parse_spd,
    parse_value,
    rule_problems,
)


def net(text: str) -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network(text)


def test_every_parameter_of_the_seed_is_known() -> None:
    names = {p.name for p in PARAMS if not p.api3_only}
    assert {p.name for p in PARAMS if p.api3_only} == {"IKESet.ikeVersion"}
    assert names == {
        "vpnConnName",
        "preSharedKey",
        "userGwCidrBlock",
        "spdAcl",
        "IKESet.propoEncryAlgorithm",
        "IKESet.propoAuthenAlgorithm",
        "IKESet.exchangeMode",
        "IKESet.localIdentity",
        "IKESet.remoteIdentity",
        "IKESet.localAddress",
        "IKESet.remoteAddress",
        "IKESet.localFqdnName",
        "IKESet.remoteFqdnName",
        "IKESet.dhGroupName",
        "IKESet.ikeSaLifetimeSeconds",
        "IPsecSet.encryptAlgorithm",
        "IPsecSet.integrityAlgorith",
        "IPsecSet.ipsecSaLifetimeSeconds",
        "IPsecSet.ipsecSaLifetimeTraffic",
        "IPsecSet.pfsDhGroup",
    }


@pytest.mark.parametrize(
    ("name", "choices"),
    [
        ("IKESet.propoEncryAlgorithm", ("3des-cbc", "aes-cbc-128", "aes-cbc-192", "aes-cbc-256", "des-cbc")),
        ("IKESet.propoAuthenAlgorithm", ("md5", "sha")),
        ("IKESet.exchangeMode", ("aggressive", "main")),
        ("IKESet.localIdentity", ("address", "fqdn")),
        ("IKESet.remoteIdentity", ("address", "fqdn")),
        ("IKESet.dhGroupName", ("group1", "group2", "group5", "group14", "group24")),
        ("IPsecSet.encryptAlgorithm", ("3des-cbc", "aes-cbc-128", "aes-cbc-192", "aes-cbc-256", "des-cbc", "null")),
        ("IPsecSet.integrityAlgorith", ("md5", "sha")),
        ("IPsecSet.pfsDhGroup", ("null", "dh-group1", "dh-group2", "dh-group5", "dh-group14", "dh-group24")),
    ],
)
def test_enums_are_the_seeds(name: str, choices: tuple[str, ...]) -> None:
    param = PARAMS_BY_NAME[name]
    assert param.choices == choices
    for choice in choices:
        assert parse_value(param, choice.upper()) == choice
    with pytest.raises(ParameterError, match="is not one of"):
        parse_value(param, "aes-gcm-999")


def test_sha1_reads_as_sha() -> None:
    assert parse_value(PARAMS_BY_NAME["IKESet.propoAuthenAlgorithm"], "sha1") == "sha"
    assert parse_value(PARAMS_BY_NAME["IPsecSet.integrityAlgorith"], "SHA1") == "sha"


@pytest.mark.parametrize(
    ("name", "low", "high"),
    [
        ("IKESet.ikeSaLifetimeSeconds", 60, 604800),
        ("IPsecSet.ipsecSaLifetimeSeconds", 180, 604800),
    ],
)
def test_lifetime_ranges(name: str, low: int, high: int) -> None:
    param = PARAMS_BY_NAME[name]
    assert parse_value(param, str(low)) == low
    assert parse_value(param, f" {high} ") == high
    for bad in (low - 1, high + 1):
        with pytest.raises(ParameterError, match=f"{low} to {high}"):
            parse_value(param, str(bad))
    with pytest.raises(ParameterError, match="whole number"):
        parse_value(param, "1h")


def test_traffic_lifetime_enforces_the_seeds_minimum_and_api_3s_maximum() -> None:
    """The seed's 604800 KB maximum is below the service's own default (1843200): API 3.0 documents 4294967295."""
    param = PARAMS_BY_NAME["IPsecSet.ipsecSaLifetimeTraffic"]
    assert parse_value(param, "2560") == 2560
    assert parse_value(param, "1843200") == 1843200
    assert parse_value(param, "4294967295") == 4294967295
    for refused in ("2559", "4294967296"):
        with pytest.raises(ParameterError, match="2560 to 4294967295 KB"):
            parse_value(param, refused)


def test_connection_name_at_most_60_characters() -> None:
    param = PARAMS_BY_NAME["vpnConnName"]
    assert parse_value(param, "x" * 60) == "x" * 60
    assert parse_value(param, "上海办公室") == "上海办公室"
    with pytest.raises(ParameterError, match="61 characters"):
        parse_value(param, "x" * 61)
    with pytest.raises(ParameterError, match="empty"):
        parse_value(param, "  ")


def test_secret_errors_never_echo_the_key() -> None:
    param = PARAMS_BY_NAME["preSharedKey"]
    for bad in (" padded-secret-xyz", "x" * 129 + "secret-xyz", "line\nbreak-secret-xyz"):
        with pytest.raises(ParameterError) as caught:
            parse_value(param, bad)
        assert "secret-xyz" not in str(caught.value)


def test_cidr_with_host_bits_suggests_the_network() -> None:
    with pytest.raises(ParameterError, match=r"10\.0\.0\.1/24 has host bits set; did you mean 10\.0\.0\.0/24\?"):
        parse_value(PARAMS_BY_NAME["userGwCidrBlock"], "10.0.0.1/24")


@pytest.mark.parametrize("bad", ["10.0.0.0/33", "10.0.0/24x", "fe80::/64", "hello"])
def test_bad_cidrs_are_refused(bad: str) -> None:
    with pytest.raises(ParameterError):
        parse_value(PARAMS_BY_NAME["userGwCidrBlock"], bad)


def test_cidr_lists_are_sets() -> None:
    param = PARAMS_BY_NAME["userGwCidrBlock"]
    a = parse_value(param, "10.1.0.0/24, 10.0.0.0/24\n10.1.0.0/24")
    b = parse_value(param, "10.0.0.0/24 10.1.0.0/24")
    assert a == b == frozenset({net("10.0.0.0/24"), net("10.1.0.0/24")})
    assert format_value(a) == "10.0.0.0/24, 10.1.0.0/24"


def test_spd_json_and_line_forms_agree() -> None:
    from_json = parse_spd('{"10.0.0.0/24": ["192.168.2.0/24", "192.168.1.0/24"], "10.0.1.0/24": ["192.168.3.0/24"]}')
    from_list = parse_spd('[{"10.0.1.0/24": ["192.168.3.0/24"]}, {"10.0.0.0/24": ["192.168.1.0/24","192.168.2.0/24"]}]')
    from_lines = parse_spd("10.0.1.0/24 -> 192.168.3.0/24\n10.0.0.0/24: 192.168.1.0/24, 192.168.2.0/24\n")
    assert from_json == from_list == from_lines
    assert from_json.as_json_objects() == [
        {"10.0.0.0/24": ["192.168.1.0/24", "192.168.2.0/24"]},
        {"10.0.1.0/24": ["192.168.3.0/24"]},
    ]
    assert parse_spd(str(from_json)) == from_json


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"10.0.0.0/24": []}', "at least one IDC-side CIDR"),
        ('{"10.0.0.1/24": ["192.168.1.0/24"]}', "host bits"),
        ('{"10.0.0.0/24": [1]}', "list of CIDR strings"),
        ("[1, 2]", "must map each VPC-side CIDR"),
        ("{oops", "not valid JSON"),
        ("10.0.0.0/24 192.168.1.0/24", "line 1"),
    ],
)
def test_bad_spd_is_refused(text: str, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        parse_spd(text)


def test_aliases_and_fixed_names() -> None:
    assert canonical_name("IKESet.encryptAlgorithm") == "IPsecSet.encryptAlgorithm"
    with pytest.raises(ParameterError, match="identifies the connection"):
        canonical_name("vpnConnId")
    with pytest.raises(ParameterError, match=r"unknown parameter 'IKESet\.bogus'"):
        canonical_name("IKESet.bogus")


def test_identity_rules_on_both_sides() -> None:
    values = {
        "IKESet.localIdentity": "address",
        "IKESet.localAddress": "",
        "IKESet.remoteIdentity": "fqdn",
        "IKESet.remoteFqdnName": "",
    }
    problems = rule_problems(values)
    assert problems == {
        "IKESet.localAddress": "required when IKESet.localIdentity is address",
        "IKESet.remoteFqdnName": "required when IKESet.remoteIdentity is fqdn",
    }
    values.update({"IKESet.localAddress": "203.0.113.1", "IKESet.remoteFqdnName": "peer.example.com"})
    assert rule_problems(values) == {}


def test_cidrs_or_spd_required_and_overlaps() -> None:
    assert "userGwCidrBlock" in rule_problems({"userGwCidrBlock": frozenset(), "spdAcl": SpdPolicy()})
    overlapping = frozenset({net("10.0.0.0/16"), net("10.0.1.0/24")})
    assert "overlaps" in rule_problems({"userGwCidrBlock": overlapping, "spdAcl": SpdPolicy()})["userGwCidrBlock"]
    spd = parse_spd("10.0.0.0/16: 192.168.1.0/24\n10.0.5.0/24: 192.168.1.0/24")
    assert "pairs overlap" in rule_problems({"spdAcl": spd})["spdAcl"]


def test_deeply_nested_spd_json_is_refused_not_crashed() -> None:
    with pytest.raises(ParameterError, match="nested too deeply"):
        parse_spd("[" * 5000)
