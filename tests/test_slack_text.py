"""Pure pieces of issue 10: escaping and visibility of any text, the diff that is never cut, redaction of keys."""

from __future__ import annotations

import json

import pytest
from slack_sdk.models.blocks import Block

from bot.slack import blocks, diffview
from bot.slack.text import clip, esc_visible, link, user, visible
from bot.vpn.diff import DiffRow
from bot.vpn.redact import REDACTED, redact


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("office\u202eevil", "office\\u202eevil"),
        ("zero\u200bwidth", "zero\\u200bwidth"),
        ("c1\x85next", "c1\\u0085next"),
        ("line\nbreak", "line\\u000abreak"),
        ("上海办公室", "上海办公室"),
        ("plain-name", "plain-name"),
    ],
)
def test_hidden_characters_are_made_visible(text: str, shown: str) -> None:
    assert visible(text) == shown


def test_mrkdwn_control_sequences_are_escaped() -> None:
    assert (
        esc_visible("<!channel> <https://evil|ok> & <@U1>")
        == "&lt;!channel&gt; &lt;https://evil|ok&gt; &amp; &lt;@U1&gt;"
    )


def test_only_slack_shaped_ids_become_mentions() -> None:
    assert user("U0ABC123") == "<@U0ABC123>"
    assert "<" not in user("<!channel>")
    assert "&lt;!channel&gt;" in user("<!channel>")


def test_links_only_for_urls_slack_gave() -> None:
    assert link("https://slack.example/archives/C1/p1", "the card") == "<https://slack.example/archives/C1/p1|the card>"
    assert link("https://evil|x>", "the card") == "the card"
    assert link(None, "<b>") == "&lt;b&gt;"


def test_a_clipped_text_says_how_much_is_missing() -> None:
    cut = clip("x" * 5000, 500)
    assert len(cut) <= 500
    assert "more characters" in cut
    assert "4540" in cut


def _list_row(added: int, removed: int) -> DiffRow:
    plus = tuple(f"10.1.{n}.0/24" for n in range(added))
    minus = tuple(f"10.2.{n}.0/24" for n in range(removed))
    return DiffRow("userGwCidrBlock", "Peer CIDRs", "…", "…", plus, minus, removed + 3, added + 3)


def test_a_list_row_that_fits_shows_every_entry_in_its_cells() -> None:
    cell = diffview.cells(_list_row(2, 1))
    assert "+ 10.1.0.0/24" in cell.proposed
    assert "+ 10.1.1.0/24" in cell.proposed
    assert "− 10.2.0.0/24" in cell.current
    assert not diffview.overflows([_list_row(2, 1)])


def test_a_list_row_too_large_for_the_card_is_counted_and_listed_whole() -> None:
    row = _list_row(300, 40)
    assert diffview.overflows([row])
    cell = diffview.cells(row)
    assert "300 added" in cell.proposed
    assert "40 removed" in cell.current
    messages = diffview.full_listing("chg-abc", [row])
    text = "\n".join(section for message in messages for section in message)
    for entry in (*row.added, *row.removed):
        assert entry in text
    for message in messages:
        assert len(message) <= 45
        assert all(len(section) <= 3000 for section in message)


def test_the_confirm_text_names_the_counts_within_slacks_limit() -> None:
    rows = [_list_row(300, 40), DiffRow("IKESet.dhGroupName", "DH group", "group2", "group24")]
    text = diffview.confirm_summary("vpnx-1", "name" * 40, rows, listed_in_thread=True)
    assert len(text) <= 300
    assert "+300 −40" in text or "300 list entries added" in text


def test_a_huge_list_change_card_is_valid_block_kit() -> None:
    from datetime import UTC, datetime, timedelta

    from bot.vpn.change import ChangeRequest

    now = datetime.now(UTC)
    request = ChangeRequest(
        id="chg-abcdefghij",
        vpn_conn_id="vpnx-1",
        vpc_id="vpc-1",
        vpn_gw_id="vpngw-1",
        conn_name="evil\u202e<!channel>",
        requester="U0REQ",
        edits={},
        psk_changed=False,
        diff=[_list_row(1000, 1000)],
        base_fingerprint="f",
        created_at=now,
        expires_at=now + timedelta(hours=1),
        updated_at=now,
    )
    card: list[Block] = blocks.change_card(request)
    rendered = json.dumps(blocks.dump(card))
    assert "\u202e" not in rendered
    assert "<!channel>" not in rendered
    assert "every entry is listed in this card's thread" in rendered
    assert len(rendered) < 20_000


def test_redaction_takes_out_the_pending_key_and_a_key_known_by_fingerprint() -> None:
    def fingerprint_of(text: str) -> str:
        return "fp:" + text

    text = 'failed: preSharedKey="old key 1" new=pending-Key-9, again pending-Key-9'
    cleaned = redact(text, ["pending-Key-9"], fingerprint="fp:old key 1", fingerprint_of=fingerprint_of)
    assert "pending-Key-9" not in cleaned
    assert "old key 1" not in cleaned
    assert cleaned.count(REDACTED) == 3
