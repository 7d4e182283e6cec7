"""What is kept between requests so that an unchanged answer costs no work: connections read from DescribeVpnConn,
rendered forms, lists and help, and the one aiohttp session that answers on response URLs. Each kept answer must
be exactly what a fresh one would be, and a changed input must never be answered from what was kept."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from items import SEED_ITEM, item

from bot.slack import blocks, cards
from bot.tencent.listing import ConnectionListing, UnreadableConnection
from bot.vpn import connection as connection_module
from bot.vpn.connection import connection_from_describe, use_fingerprint_key


def test_an_unchanged_item_is_read_once() -> None:
    first = connection_from_describe(item())
    assert connection_from_describe(item()) is first


def test_any_changed_field_is_read_again() -> None:
    first = connection_from_describe(item())
    renamed = connection_from_describe(item(vpnConnName="renamed"))
    assert renamed is not first
    assert renamed.name == "renamed"
    moved = connection_from_describe(item(vpcConnStatus="2"))
    assert moved.status == 2
    typed = connection_from_describe(item(vpcConnStatus=6))  # a number where the API sent a string: same meaning
    assert typed.status == first.status


def test_a_new_key_is_seen_although_nothing_else_changed() -> None:
    first = connection_from_describe(item())
    rekeyed = connection_from_describe(item(preSharedKey="another-key"))
    assert rekeyed.settings.psk_fingerprint != first.settings.psk_fingerprint


def test_a_new_fingerprint_key_forgets_what_was_read() -> None:
    first = connection_from_describe(item())
    use_fingerprint_key(secrets.token_bytes(32))
    again = connection_from_describe(item())
    assert again is not first
    assert again.settings.psk_fingerprint != first.settings.psk_fingerprint


def test_what_is_kept_holds_no_key_in_plain_text() -> None:
    connection_from_describe(item(preSharedKey="kept-nowhere-9f3a"))
    kept = b"".join(connection_module._READ)  # the digests: keyed, so not even a guessable hash of the key
    assert b"kept-nowhere-9f3a" not in kept
    assert all(len(digest) == 20 for digest in connection_module._READ)


def test_what_is_kept_is_bounded() -> None:
    for n in range(connection_module.READ_KEPT + 50):
        connection_from_describe(item(vpnConnName=f"conn-{n}"))
    assert len(connection_module._READ) == connection_module.READ_KEPT


def test_a_kept_form_is_the_form(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = connection_from_describe(item())
    rendered = blocks.edit_form_rendered(conn, '{"conn":"x"}')
    assert rendered == blocks.edit_form(conn, '{"conn":"x"}').to_dict()
    renders = []
    monkeypatch.setattr(blocks, "edit_form", lambda *args: renders.append(args))
    again = blocks.edit_form_rendered(conn, '{"conn":"x"}')
    assert again == rendered
    assert again is not rendered  # a fresh copy: changing one answer cannot change the next
    assert renders == []
    monkeypatch.undo()
    other_metadata = blocks.edit_form_rendered(conn, '{"conn":"y"}')
    assert other_metadata["private_metadata"] == '{"conn":"y"}'
    renamed = blocks.edit_form_rendered(connection_from_describe(item(vpnConnName="renamed")), '{"conn":"x"}')
    assert "renamed" in str(renamed)
    assert renamed != rendered


def test_a_kept_list_is_the_list() -> None:
    conns = [connection_from_describe(item(unVpnConnId=f"vpnx-{n:08d}", vpnConnName=f"c{n}")) for n in range(3)]
    listed = blocks.connection_list(ConnectionListing(tuple(conns)), "in vpc-1")
    assert blocks.connection_list(ConnectionListing(tuple(conns)), "in vpc-1") == listed
    assert "*3 VPN connection(s)* in vpc-1" in str(listed)
    modifying = [connection_from_describe(item(unVpnConnId="vpnx-00000000", vpnConnName="c0", vpcConnStatus="2"))]
    assert "modifying" in str(blocks.connection_list(ConnectionListing((*modifying, *conns[1:])), "in vpc-1"))
    many = [connection_from_describe(item(unVpnConnId=f"vpnx-{n:08d}")) for n in range(60)]
    long_list = blocks.connection_list(ConnectionListing(tuple(many)), "")
    assert len(long_list) == 1 + blocks.LIST_SHOWN + 1
    assert "16 more" in str(long_list[-1])


def test_an_unreadable_connection_is_named_and_the_others_listed() -> None:
    conns = (connection_from_describe(item(unVpnConnId="vpnx-00000001", vpnConnName="fine")),)
    odd = (UnreadableConnection("vpnx-<!here>", "IKESet.dhGroupName: unknown value"),)
    listed = str(blocks.connection_list(ConnectionListing(conns, odd), ""))
    assert "fine" in listed
    assert "could not be read" in listed
    assert "IKESet.dhGroupName" in listed
    assert "<!here>" not in listed
    assert "&lt;!here&gt;" in listed


def test_kept_help_is_the_help() -> None:
    assert blocks.help_message() == blocks.help_message()
    assert "/vpn edit" in str(blocks.help_message())
    assert str(blocks.help_message("I don't know `/vpn x`.")).count("I don't know") == 1


def test_the_seed_item_is_untouched() -> None:
    """Reading (and keeping) an item must not change the caller's data."""
    before = repr(SEED_ITEM)
    connection_from_describe(SEED_ITEM)
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
