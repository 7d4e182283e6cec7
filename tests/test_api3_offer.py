"""What the form, the CLI and `vpnbot show` offer and show for a connection read through API 3.0 (today's value
sets, IKEv2, values nobody knows, route-based tunnels) against one read through API 2.0 (the seed's set). Every
view is checked by ``slack_sdk``'s own models (``View.validate_json``) and by Slack's option limits."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from items import FINGERPRINTS
from slack_sdk.models.views import View

from bot.console import connection_json, param_kinds_help, render_connection
from bot.slack import blocks
from bot.slack.modals import submitted_edits
from bot.tencent.wire_v3 import item_to_v2, read_connection
from bot.vpn.connection import VpnConnection, connection_from_describe
from bot.vpn.edit import propose
from bot.vpn.params import PARAMS_BY_NAME, ValueSets

ITEM: dict[str, Any] = {
    "VpnConnectionId": "vpnx-ol6bcqp0",
    "VpnConnectionName": "office-gz",
    "VpcId": "vpc-03vihbk9",
    "VpnGatewayId": "vpngw-kfldykuz",
    "PreShareKey": "k-1",
    "RouteType": "STATIC",
    "State": "AVAILABLE",
    "SecurityPolicyDatabaseSet": [
        {"LocalCidrBlock": "10.0.0.0/24", "RemoteCidrBlock": ["192.168.1.0/24"]},
        {"LocalCidrBlock": "10.1.0.0/24", "RemoteCidrBlock": ["192.168.2.0/24"]},
    ],
    "IKEOptionsSpecification": {
        "PropoEncryAlgorithm": "AES256GCM128",
        "PropoAuthenAlgorithm": "SHA-512",
        "ExchangeMode": "MAIN",
        "LocalIdentity": "ADDRESS",
        "RemoteIdentity": "ADDRESS",
        "LocalAddress": "203.0.113.10",
        "RemoteAddress": "198.51.100.20",
        "DhGroupName": "GROUP20",
        "IKESaLifetimeSeconds": 86400,
        "IKEVersion": "IKEV2",
    },
    "IPSECOptionsSpecification": {
        "EncryptAlgorithm": "AES256GCM128",
        "IntegrityAlgorith": "SHA-384",
        "IPSECSaLifetimeSeconds": 3600,
        "PfsDhGroup": "DH-GROUP20",
        "IPSECSaLifetimeTraffic": 4096000000,
    },
}


def v3(**changes: Any) -> VpnConnection:
    raw = copy.deepcopy(ITEM)
    for key, value in changes.items():
        if isinstance(value, dict):
            raw[key] = {**raw[key], **value}
        else:
            raw[key] = value
    return read_connection(raw, fingerprints=FINGERPRINTS)


def form(connection: VpnConnection) -> dict[str, Any]:
    rendered = blocks.edit_form(connection, "{}").to_dict()
    View(**rendered).validate_json()
    return rendered


def inputs(rendered: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {b["block_id"]: b for b in rendered["blocks"] if b["type"] == "input"}


def options(block: dict[str, Any]) -> list[str]:
    return [o["value"] for o in block["element"]["options"]]


def test_the_form_of_an_api_3_connection_offers_todays_values_preselected() -> None:
    fields = inputs(form(v3()))
    for name, current in (
        ("IKESet.propoEncryAlgorithm", "aes256gcm128"),
        ("IKESet.propoAuthenAlgorithm", "sha-512"),
        ("IKESet.dhGroupName", "group20"),
        ("IKESet.ikeVersion", "ikev2"),
        ("IPsecSet.encryptAlgorithm", "aes256gcm128"),
        ("IPsecSet.integrityAlgorith", "sha-384"),
        ("IPsecSet.pfsDhGroup", "dh-group20"),
    ):
        assert options(fields[name]) == list(PARAMS_BY_NAME[name].offered(ValueSets.API3)), name
        assert fields[name]["element"]["initial_option"]["value"] == current


def test_the_form_of_an_api_2_connection_offers_the_seeds_values_and_no_ike_version() -> None:
    # the same tunnel, read as API 2.0 reads
    connection = connection_from_describe(item_to_v2(ITEM), fingerprints=FINGERPRINTS)
    fields = inputs(form(connection))
    assert "IKESet.ikeVersion" not in fields
    dh = fields["IKESet.dhGroupName"]
    assert options(dh) == [*PARAMS_BY_NAME["IKESet.dhGroupName"].choices, "group20"]
    assert dh["element"]["initial_option"]["text"]["text"] == "group20 (current: keep)"


def test_a_value_nobody_knows_is_offered_to_keep_and_kept_when_submitted() -> None:
    connection = v3(IKEOptionsSpecification={"PropoEncryAlgorithm": "CHACHA20POLY1305"})
    rendered = form(connection)
    field = inputs(rendered)["IKESet.propoEncryAlgorithm"]
    assert field["element"]["initial_option"] == {
        "text": {"type": "plain_text", "text": "CHACHA20POLY1305 (unknown: keep)", "emoji": True},
        "value": "CHACHA20POLY1305",
    }
    state = {
        name: {name: {"selected_option": b["element"]["initial_option"]}}
        for name, b in inputs(rendered).items()
        if b["element"]["type"] == "static_select"
    }
    state["IKESet.dhGroupName"] = {"IKESet.dhGroupName": {"selected_option": {"value": "group21"}}}
    proposal = propose(connection.settings, submitted_edits(state))
    assert proposal.changed(connection.settings) == ("IKESet.dhGroupName",)
    assert proposal.value("IKESet.propoEncryAlgorithm") == "CHACHA20POLY1305"


def test_an_enum_not_reported_is_left_unselected_and_kept() -> None:
    connection = v3(IPSECOptionsSpecification={"IntegrityAlgorith": None})
    field = inputs(form(connection))["IPsecSet.integrityAlgorith"]
    assert "initial_option" not in field["element"]
    assert field["optional"] is True
    assert "(not reported)" in field["hint"]["text"]


def test_a_route_based_tunnel_has_no_peer_fields() -> None:
    rendered = form(v3(RouteType="StaticRoute"))
    assert not {"userGwCidrBlock", "spdAcl"} & set(inputs(rendered))
    (note,) = [b for b in rendered["blocks"] if b.get("block_id") == "peers_route_based"]
    assert "route-based" in note["text"]["text"]
    assert "StaticRoute" in note["text"]["text"]


def test_show_names_todays_values_the_route_type_and_unknown_ones() -> None:
    text = render_connection(v3(IPSECOptionsSpecification={"PfsDhGroup": "DH-GROUP99"}))
    assert "aes256gcm128" in text
    assert "ikev2" in text
    assert "DH-GROUP99 (unknown to vpnbot: kept as it is)" in text
    assert "route type STATIC (policy-based)" in text
    routed = render_connection(v3(RouteType="Bgp"))
    assert "(route-based tunnel: no SPD)" in routed
    document = connection_json(v3())
    assert document["routeType"] == "STATIC"
    assert document["settings"]["spdAcl"] == {"10.0.0.0/24": ["192.168.1.0/24"], "10.1.0.0/24": ["192.168.2.0/24"]}
    assert json.dumps(document)  # serialisable
    as_v2 = connection_from_describe(item_to_v2(ITEM), fingerprints=FINGERPRINTS)
    assert "IKESet.ikeVersion" not in connection_json(as_v2)["settings"]


def test_the_cli_help_names_both_value_sets() -> None:
    help_text = param_kinds_help()
    assert "group24 (API 3.0 also: group15 | group16 | group19 | group20 | group21)" in help_text
    assert "API 3.0 only: ikev1 | ikev2" in help_text


@pytest.mark.parametrize("name", ["IKESet.propoEncryAlgorithm", "IPsecSet.integrityAlgorith"])
def test_an_overlong_unknown_value_cannot_be_an_option_and_is_kept_unselected(name: str) -> None:
    block, field = ("IKEOptionsSpecification", "PropoEncryAlgorithm")
    if name.startswith("IPsec"):
        block, field = ("IPSECOptionsSpecification", "IntegrityAlgorith")
    connection = v3(**{block: {field: "X" * 200}})
    element = inputs(form(connection))[name]["element"]
    assert "initial_option" not in element
    assert all(len(o["value"]) <= 150 for o in element["options"])


def test_an_unknown_value_with_control_characters_is_shown_escaped_everywhere() -> None:
    hostile = "AES\x1b[31m\u202eX"
    connection = v3(IKEOptionsSpecification={"PropoEncryAlgorithm": hostile})
    assert connection.settings["IKESet.propoEncryAlgorithm"] == hostile  # carried as the cloud holds it
    shown = render_connection(connection)
    assert "\x1b" not in shown
    assert "\u202e" not in shown
    assert "AES\\u001b[31m\\u202eX (unknown to vpnbot: kept as it is)" in shown
    option = inputs(form(connection))["IKESet.propoEncryAlgorithm"]["element"]["initial_option"]
    assert option["value"] == hostile
    assert "\x1b" not in option["text"]["text"]
