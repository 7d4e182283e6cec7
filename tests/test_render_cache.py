"""Nothing is kept between requests by the domain or the Block Kit builders: the key's fingerprints are taken by an
immutable fingerprinter the app owns (keyed, so two keys never agree), and every rendered answer is a fresh object.
What is shared on purpose is the one aiohttp session that answers on response URLs."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from items import FINGERPRINTS, SEED_ITEM, item
from pydantic import SecretStr

from bot.slack import blocks, cards
from bot.tencent.listing import ConnectionListing, UnreadableConnection
from bot.vpn.connection import SecretFingerprints, connection_from_describe
from bot.vpn.edit import propose, psk_changed


def test_fingerprints_are_keyed() -> None:
    one, other = SecretFingerprints(secrets.token_bytes(32)), SecretFingerprints(secrets.token_bytes(32))
    assert one.of("current-key-1") == one.of("current-key-1")
    assert one.of("current-key-1") != other.of("current-key-1")
    assert one.of("current-key-1") != one.of("current-key-2")
    same_key = SecretFingerprints(one.key)
    assert same_key.of("current-key-1") == one.of("current-key-1")
    assert len(one.of("x")) == 32
    assert SecretFingerprints.random().of("x") != SecretFingerprints.random().of("x")


def test_a_fingerprint_hides_the_key_and_its_own_key() -> None:
    key = secrets.token_bytes(32)
    fingerprints = SecretFingerprints(key)
    assert "current-key-1" not in fingerprints.of("current-key-1")
    assert key.hex() not in repr(fingerprints)
    assert repr(key) not in repr(fingerprints)
    assert fingerprints.of("\ud800")  # a lone surrogate (JSON's "\ud800") is a str like any other
    with pytest.raises(ValueError, match="32 bytes"):
        SecretFingerprints(b"short")


def test_a_connection_is_fingerprinted_by_the_fingerprinter_it_was_read_with() -> None:
    one, other = SecretFingerprints.random(), SecretFingerprints.random()
    by_one = connection_from_describe(item(), fingerprints=one).settings
    by_other = connection_from_describe(item(), fingerprints=other).settings
    assert by_one.psk_fingerprint == one.of("current-key-1")
    assert by_one.psk_fingerprint != by_other.psk_fingerprint
    # Each recognises the live key by its own fingerprinter, and nothing else as the key.
    for settings in (by_one, by_other):
        assert settings.psk_is("current-key-1")
        assert not settings.psk_is("another-key")
        assert not psk_changed(settings, SecretStr("current-key-1"))
        assert psk_changed(settings, SecretStr("another-key"))
        assert propose(settings, {"preSharedKey": "current-key-1"}).changed(settings) == ()
    assert by_one.replace({"vpnConnName": "renamed"}).psk_is("current-key-1")


def test_settings_without_a_fingerprinter_recognise_no_key() -> None:
    settings = connection_from_describe(item(), fingerprints=FINGERPRINTS).settings
    bare = type(settings)(settings.values, settings.psk_fingerprint, settings.value_sets, settings.route_type)
    assert bare == settings  # equality is the values', not the fingerprinter's
    assert not bare.psk_is("current-key-1")
    assert psk_changed(bare, SecretStr("current-key-1"))  # the safe direction: a key given is a change


def test_reading_an_item_twice_gives_equal_connections() -> None:
    first = connection_from_describe(item(), fingerprints=FINGERPRINTS)
    again = connection_from_describe(item(), fingerprints=FINGERPRINTS)
    assert again == first
    renamed = connection_from_describe(item(vpnConnName="renamed"), fingerprints=FINGERPRINTS)
    assert renamed.name == "renamed"
    typed = connection_from_describe(item(vpcConnStatus=6), fingerprints=FINGERPRINTS)  # a number, same meaning
    assert typed.status == first.status
    rekeyed = connection_from_describe(item(preSharedKey="another-key"), fingerprints=FINGERPRINTS)
    assert rekeyed.settings.psk_fingerprint != first.settings.psk_fingerprint


def test_help_is_a_fresh_object_each_time() -> None:
    first = blocks.help_message()
    assert "/vpn edit" in str(first)
    first[0]["text"]["text"] = "changed by a caller"
    first.append({"type": "divider"})
    second = blocks.help_message()
    assert "/vpn edit" in str(second)
    assert "changed by a caller" not in str(second)
    assert len(second) == 1
    assert second is not blocks.help_message()
    assert str(blocks.help_message("I don't know `/vpn x`.")).count("I don't know") == 1


def test_the_rendered_form_is_the_form_and_fresh() -> None:
    conn = connection_from_describe(item(), fingerprints=FINGERPRINTS)
    rendered = blocks.edit_form_rendered(conn, '{"conn":"x"}')
    assert rendered == blocks.edit_form(conn, '{"conn":"x"}').to_dict()
    rendered["blocks"].clear()
    again = blocks.edit_form_rendered(conn, '{"conn":"x"}')
    assert again["blocks"]
    assert blocks.edit_form_rendered(conn, '{"conn":"y"}')["private_metadata"] == '{"conn":"y"}'
    renamed = connection_from_describe(item(vpnConnName="renamed"), fingerprints=FINGERPRINTS)
    assert "renamed" in str(blocks.edit_form_rendered(renamed, '{"conn":"x"}'))


def test_the_list_is_rendered_afresh() -> None:
    conns = [
        connection_from_describe(item(unVpnConnId=f"vpnx-{n:08d}", vpnConnName=f"c{n}"), fingerprints=FINGERPRINTS)
        for n in range(3)
    ]
    listed = blocks.connection_list(ConnectionListing(tuple(conns)), "in vpc-1")
    assert "*3 VPN connection(s)* in vpc-1" in str(listed)
    listed.clear()
    assert blocks.connection_list(ConnectionListing(tuple(conns)), "in vpc-1")
    modifying = connection_from_describe(
        item(unVpnConnId="vpnx-00000000", vpnConnName="c0", vpcConnStatus="2"), fingerprints=FINGERPRINTS
    )
    assert "modifying" in str(blocks.connection_list(ConnectionListing((modifying, *conns[1:])), "in vpc-1"))
    many = [connection_from_describe(item(unVpnConnId=f"vpnx-{n:08d}"), fingerprints=FINGERPRINTS) for n in range(60)]
    long_list = blocks.connection_list(ConnectionListing(tuple(many)), "")
    assert len(long_list) == 1 + blocks.LIST_SHOWN + 1
    assert "16 more" in str(long_list[-1])


def test_an_unreadable_connection_is_named_and_the_others_listed() -> None:
    conns = (
        connection_from_describe(item(unVpnConnId="vpnx-00000001", vpnConnName="fine"), fingerprints=FINGERPRINTS),
    )
    odd = (UnreadableConnection("vpnx-<!here>", "IKESet.dhGroupName: unknown value"), UnreadableConnection(None, "x"))
    listed = str(blocks.connection_list(ConnectionListing(conns, odd), ""))
    assert "fine" in listed
    assert "2 connection(s) could not be read" in listed
    assert "IKESet.dhGroupName" in listed
    assert "(no id)" in listed
    assert "<!here>" not in listed
    assert "&lt;!here&gt;" in listed


def test_the_seed_item_is_untouched() -> None:
    """Reading an item must not change the caller's data."""
    before = repr(SEED_ITEM)
    connection_from_describe(SEED_ITEM, fingerprints=FINGERPRINTS)
    assert repr(SEED_ITEM) == before


@pytest.fixture
async def response_url_server() -> AsyncIterator[tuple[str, list[tuple[str, int]]]]:
    peers: list[tuple[str, int]] = []

    async def answer(request: web.Request) -> web.Response:
        peers.append(request.transport.get_extra_info("peername") if request.transport else ("", 0))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/actions/T1/1/abc", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}/actions/T1/1/abc", peers
    await runner.cleanup()


async def test_response_url_answers_share_one_connection(
    response_url_server: tuple[str, list[tuple[str, int]]],
) -> None:
    url, peers = response_url_server
    async with aiohttp.ClientSession() as session:
        for n in range(5):
            assert await cards.ephemeral(cards.ResponseUrl(url, session), text=f"answer {n}")
    assert len(peers) == 5
    assert len(set(peers)) == 1, f"{len(set(peers))} connections for 5 answers"


async def test_no_or_a_bad_response_url_is_reported_not_raised() -> None:
    async with aiohttp.ClientSession() as session:
        assert not await cards.ephemeral(cards.ResponseUrl(None, session), text="x")
        assert not await cards.ephemeral(cards.ResponseUrl("not a url", session), text="x")
        assert not await cards.ephemeral(None, text="x")
