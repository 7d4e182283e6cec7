"""Each Bolt listener below the HTTP harness: called as Bolt calls it (arguments by name), with a fake ``ack``, a
client that must not be called, and a BotContext whose background records what was left for after the ack. Every
answer given in the ack is checked against ``slack_sdk.models`` (what Slack would accept); each test takes
milliseconds. The flows themselves are proved over real HTTP (test_slack_e2e.py and the others)."""

from __future__ import annotations

import json
from collections.abc import Coroutine
from typing import Any

import pytest
from items import connection
from slack_sdk.models.blocks import Block

from bot.changes import Background
from bot.config import Settings
from bot.slack import blocks
from bot.slack.context import CONTEXT_KEY, BotContext, Draft, DraftCache
from bot.slack.listeners import actions, commands, views

REQUESTER = "U0REQUEST"
REQUEST_ID = "chg-abcdefgh23"


class Ack:
    """``ack`` as Bolt passes it: records each call's arguments."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    async def __call__(self, **answer: Any) -> None:
        self.calls.append(answer)


class Untouchable:
    """A Web API client or a ``respond``: a listener must leave every call to after its ack."""

    session = None
    response_url = "https://hooks.slack.com/actions/T0/1/x"

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the listener called {name} before returning")


class Recorded(Background):
    """A background that records what was spawned, and runs none of it."""

    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []

    def spawn(self, work: Coroutine[Any, Any, Any], name: str, *, after: Any = None) -> Any:
        self.names.append(name)
        work.close()
        return None


def context() -> tuple[dict[str, Any], Recorded, BotContext]:
    background = Recorded()
    ctx = BotContext(
        settings=Settings(_env_file=None),  # type: ignore[call-arg]
        service=None,  # type: ignore[arg-type]  # a listener never calls it before its ack
        store=None,  # type: ignore[arg-type]
        client=Untouchable(),  # type: ignore[arg-type]
        approvers=None,  # type: ignore[arg-type]
        notifier=None,  # type: ignore[arg-type]
        background=background,
        drafts=DraftCache(),
    )
    return {CONTEXT_KEY: ctx}, background, ctx


def valid_blocks(rendered: list[dict[str, Any]]) -> None:
    for block in rendered:
        parsed = Block.parse(block)
        assert parsed is not None, block
        parsed.validate_json()


async def test_help_is_answered_in_the_ack_itself() -> None:
    ack, (bolt_context, background, _) = Ack(), context()
    await commands.vpn_command(ack, {"text": "help"}, Untouchable(), Untouchable(), bolt_context)  # type: ignore[arg-type]
    (answer,) = ack.calls
    assert answer["response_type"] == "ephemeral"
    valid_blocks(answer["blocks"])
    assert "/vpn edit" in json.dumps(answer["blocks"])
    assert background.names == []


async def test_an_unknown_verb_is_named_escaped_in_the_ack() -> None:
    ack, (bolt_context, background, _) = Ack(), context()
    body = {"text": "<!channel> now"}
    await commands.vpn_command(ack, body, Untouchable(), Untouchable(), bolt_context)  # type: ignore[arg-type]
    (answer,) = ack.calls
    shown = json.dumps(answer["blocks"])
    assert "&lt;!channel&gt;" in shown
    assert "<!channel>" not in shown
    valid_blocks(answer["blocks"])
    assert background.names == []


@pytest.mark.parametrize(
    ("text", "spawned"),
    [
        ("edit vpnx-ol6bcqp0", "open-edit-modal"),
        ("list", "vpn-list"),
        ("show vpnx-1", "vpn-show"),
        ("status x", "vpn-status"),
    ],
)
async def test_work_is_left_to_after_an_empty_ack(text: str, spawned: str) -> None:
    ack, (bolt_context, background, _) = Ack(), context()
    body = {"text": text, "user_id": REQUESTER, "trigger_id": "1.2.3", "channel_id": "C0VPNOPS"}
    await commands.vpn_command(ack, body, Untouchable(), Untouchable(), bolt_context)  # type: ignore[arg-type]
    assert ack.calls == [{}]
    assert background.names == [spawned]


@pytest.mark.parametrize("value", ["", "chg-", "../etc", "chg-ABCDEFGH23", "x" * 5000])
async def test_a_click_with_a_value_that_is_no_request_id_is_acked_and_dropped(value: str) -> None:
    for listener in (actions.approve_clicked, actions.reject_clicked):
        ack, (bolt_context, background, _) = Ack(), context()
        action = {"value": value}
        if listener is actions.approve_clicked:
            await listener(ack, {"user": {"id": "U0X"}}, action, Untouchable(), bolt_context)  # type: ignore[arg-type]
        else:
            await listener(ack, {}, action, Untouchable(), Untouchable(), bolt_context)  # type: ignore[arg-type]
        assert ack.calls == [{}]
        assert background.names == []


async def test_approve_and_reject_clicks_are_acked_then_decided() -> None:
    ack, (bolt_context, background, _) = Ack(), context()
    action = {"value": REQUEST_ID}
    await actions.approve_clicked(ack, {"user": {"id": "U0A"}}, action, Untouchable(), bolt_context)  # type: ignore[arg-type]
    await actions.reject_clicked(ack, {"user": {"id": "U0A"}}, action, Untouchable(), Untouchable(), bolt_context)  # type: ignore[arg-type]
    assert ack.calls == [{}, {}]
    assert background.names == [f"approve-{REQUEST_ID}", "reject-reason"]


async def test_an_edit_button_opens_the_form_after_the_ack() -> None:
    ack, (bolt_context, background, _) = Ack(), context()
    body = {"user": {"id": REQUESTER}, "trigger_id": "1.2.3", "channel": {"id": "C0VPNOPS"}}
    await actions.edit_clicked(ack, body, {"value": "vpnx-ol6bcqp0"}, Untouchable(), Untouchable(), bolt_context)  # type: ignore[arg-type]
    assert ack.calls == [{}]
    assert background.names == ["open-edit-modal"]


def form_view(view_id: str = "V0FORM") -> dict[str, Any]:
    view = blocks.edit_form(connection(), '{"conn":"vpnx-ol6bcqp0"}').to_dict()
    return view | {"id": view_id, "state": {"values": {}}}


def submitted(view: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
    state = {name: {name: {"type": "plain_text_input", "value": text}} for name, text in values.items()}
    return view | {"state": {"values": state}}


async def test_a_form_nobody_opened_is_refused_beside_its_first_field() -> None:
    ack, (bolt_context, background, _) = Ack(), context()
    await views.edit_submitted(ack, {"user": {"id": REQUESTER}}, form_view(), Untouchable(), bolt_context)  # type: ignore[arg-type]
    assert ack.calls == [{"response_action": "errors", "errors": {"vpnConnName": views.EXPIRED_FORM}}]
    assert background.names == []


async def test_a_view_without_inputs_and_no_form_is_just_closed() -> None:
    ack, (bolt_context, _, _) = Ack(), context()
    await views.edit_submitted(
        ack, {"user": {"id": REQUESTER}}, {"id": "V1", "blocks": []}, Untouchable(), bolt_context
    )  # type: ignore[arg-type]
    assert ack.calls == [{}]


async def test_someone_else_submitting_a_form_is_refused() -> None:
    ack, (bolt_context, background, ctx) = Ack(), context()
    view = form_view()
    ctx.drafts.put(view["id"], Draft(connection(), REQUESTER, "C0VPNOPS"))
    await views.edit_submitted(ack, {"user": {"id": "U0OTHER"}}, view, Untouchable(), bolt_context)  # type: ignore[arg-type]
    assert ack.calls[0]["response_action"] == "errors"
    assert background.names == []


async def test_an_invalid_value_is_shown_beside_its_field_and_nothing_is_posted() -> None:
    ack, (bolt_context, background, ctx) = Ack(), context()
    view = form_view()
    ctx.drafts.put(view["id"], Draft(connection(), REQUESTER, "C0VPNOPS"))
    body = {"user": {"id": REQUESTER}}
    await views.edit_submitted(
        ack, body, submitted(view, {"userGwCidrBlock": "10.0.0.0/33"}), Untouchable(), bolt_context
    )  # type: ignore[arg-type]
    (answer,) = ack.calls
    assert answer["response_action"] == "errors"
    assert list(answer["errors"]) == ["userGwCidrBlock"]
    assert background.names == []
    assert ctx.drafts.get(view["id"]) is not None  # the form stays open to be corrected


async def test_nothing_changed_is_said_in_the_form() -> None:
    ack, (bolt_context, background, ctx) = Ack(), context()
    view = form_view()
    ctx.drafts.put(view["id"], Draft(connection(), REQUESTER, "C0VPNOPS"))
    await views.edit_submitted(ack, {"user": {"id": REQUESTER}}, view, Untouchable(), bolt_context)  # type: ignore[arg-type]
    assert ack.calls[0]["errors"] == {
        "vpnConnName": "Nothing to change: every value is what the connection has now. Edit at least one field."
    }
    assert background.names == []


async def test_a_valid_edit_closes_the_form_and_posts_the_card_after_the_ack() -> None:
    ack, (bolt_context, background, ctx) = Ack(), context()
    view = form_view()
    ctx.drafts.put(view["id"], Draft(connection(), REQUESTER, "C0VPNOPS"))
    await views.edit_submitted(
        ack, {"user": {"id": REQUESTER}}, submitted(view, {"vpnConnName": "renamed"}), Untouchable(), bolt_context
    )  # type: ignore[arg-type]
    assert ack.calls == [{}]
    assert background.names == ["post-change"]
    assert ctx.drafts.get(view["id"]) is None


async def test_a_reject_reason_is_acked_and_its_metadata_checked() -> None:
    for metadata, spawned in (("{}", []), ("not json", []), (json.dumps({"request": REQUEST_ID}), ["reject"])):
        ack, (bolt_context, background, _) = Ack(), context()
        view = {"private_metadata": metadata, "state": {"values": {}}}
        await views.reject_submitted(ack, {"user": {"id": "U0A"}}, view, Untouchable(), bolt_context)  # type: ignore[arg-type]
        assert ack.calls == [{}]
        assert background.names == spawned
