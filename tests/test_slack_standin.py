"""The Slack stand-in and the request builders are faithful: slack_sdk's own clients, Bolt and Slack's signature
verifier accept them, and they refuse what Slack refuses.

Everything goes over real HTTP / WebSocket on loopback; nothing here imports the bot.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.async_app import AsyncAck, AsyncRespond
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    NumberInputElement,
    Option,
    PlainTextInputElement,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View
from slack_sdk.signature import SignatureVerifier
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.playground.slack_api import TRIGGER_TTL, SlackStandin, block_problems, view_problems
from bot.playground.slack_payloads import (
    APP_ID,
    BOT_USER_ID,
    DEFAULT_CHANNEL_ID,
    TEAM_ID,
    ClientValidationError,
    block_action,
    block_action_payload,
    decode_body,
    fill_state_from_view,
    sign,
    sign_bad_signature,
    sign_stale,
    slash_command,
    slash_command_payload,
    view_closed,
    view_submission,
)

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
APPROVERS = "S0APPROVE"
CHANNEL = DEFAULT_CHANNEL_ID


@pytest.fixture
async def standin() -> AsyncIterator[SlackStandin]:
    async with SlackStandin(usergroups={APPROVERS: ["U0ALICE", "U0BOB"]}) as s:
        yield s


@pytest.fixture
def client(standin: SlackStandin) -> AsyncWebClient:
    return AsyncWebClient(token=standin.bot_token, base_url=standin.api_url)


def card_blocks(request_id: str = "cr-1") -> list[Block]:
    return [
        HeaderBlock(text="VPN change vpnx-ol6bcqp0"),
        SectionBlock(text=MarkdownTextObject(text="*<@U0REQUEST>* asks to change `vpnConnName`")),
        ActionsBlock(
            block_id="decision",
            elements=[
                ButtonElement(text="Approve", action_id="approve_change", value=request_id, style="primary"),
                ButtonElement(text="Reject", action_id="reject_change", value=request_id, style="danger"),
            ],
        ),
    ]


def edit_view(**overrides: Any) -> View:
    groups = [Option(text=g, value=g) for g in ("GROUP1", "GROUP2", "GROUP5", "GROUP14", "GROUP24")]
    fields: dict[str, Any] = {
        "type": "modal",
        "callback_id": "vpn_edit",
        "private_metadata": json.dumps({"conn": "vpnx-ol6bcqp0"}),
        "title": "Edit VPN connection",
        "submit": "Review",
        "close": "Cancel",
        "blocks": [
            HeaderBlock(text="Connection"),
            InputBlock(
                block_id="vpnConnName",
                label="Name",
                element=PlainTextInputElement(action_id="vpnConnName", initial_value="office-gz", max_length=60),
            ),
            InputBlock(
                block_id="preSharedKey",
                label="Pre-shared key (empty keeps it)",
                optional=True,
                element=PlainTextInputElement(action_id="preSharedKey"),
            ),
            DividerBlock(),
            HeaderBlock(text="IKE"),
            InputBlock(
                block_id="IKESet.dhGroupName",
                label="DH group",
                element=StaticSelectElement(action_id="IKESet.dhGroupName", options=groups, initial_option=groups[1]),
            ),
            InputBlock(
                block_id="IPsecSet.ipsecSaLifetimeSeconds",
                label="IPsec SA lifetime (s)",
                element=NumberInputElement(
                    action_id="IPsecSet.ipsecSaLifetimeSeconds",
                    is_decimal_allowed=False,
                    min_value="180",
                    max_value="604800",
                    initial_value="3600",
                ),
            ),
            ContextBlock(elements=[MarkdownTextObject(text="Fields open with the current values.")]),
        ],
    }
    fields.update(overrides)
    return View(**fields)


# --- Web API -----------------------------------------------------------------------------------------------------


async def test_auth_test_and_tokens(standin: SlackStandin, client: AsyncWebClient) -> None:
    auth = await client.auth_test()
    assert auth["user_id"] == BOT_USER_ID
    assert auth["team_id"] == TEAM_ID
    assert {"bot_id", "url", "team", "user"} <= set(auth.data)

    for token, error in [("xoxb-not-the-token", "invalid_auth"), (standin.app_token, "not_allowed_token_type")]:
        with pytest.raises(SlackApiError) as caught:
            await AsyncWebClient(token=token, base_url=standin.api_url).auth_test()
        assert caught.value.response["error"] == error
    with pytest.raises(SlackApiError) as caught:
        await AsyncWebClient(base_url=standin.api_url).chat_postMessage(channel=CHANNEL, text="x")
    assert caught.value.response["error"] == "not_authed"
    with pytest.raises(SlackApiError) as caught:
        await client.api_call("chat.frobnicate")
    assert caught.value.response["error"] == "unknown_method"
    assert [c.ok for c in standin.calls()] == [True, False, False, False, False]


async def test_post_message_update_round_trip(standin: SlackStandin, client: AsyncWebClient) -> None:
    posted = await client.chat_postMessage(channel=CHANNEL, text="VPN change waiting", blocks=card_blocks())
    ts = posted["ts"]
    assert posted["channel"] == CHANNEL
    assert posted["message"]["bot_id"]
    assert posted["message"]["user"] == BOT_USER_ID
    assert posted["message"]["blocks"][2]["elements"][0]["action_id"] == "approve_change"
    assert all("block_id" in b for b in posted["message"]["blocks"]), "Slack assigns missing block ids"

    reply = await client.chat_postMessage(channel=CHANNEL, thread_ts=ts, text="Submitting...")
    assert float(reply["ts"]) > float(ts)
    assert [m["text"] for m in standin.thread(CHANNEL, ts)] == ["Submitting..."]
    assert standin.message(CHANNEL, ts)["reply_count"] == 1

    decided = [SectionBlock(text="Approved by <@U0ALICE>"), ContextBlock(elements=[MarkdownTextObject(text="x")])]
    updated = await client.chat_update(channel=CHANNEL, ts=ts, text="Approved", blocks=decided)
    assert (updated["channel"], updated["ts"], updated["text"]) == (CHANNEL, ts, "Approved")
    current = standin.message(CHANNEL, ts)
    assert current["text"] == "Approved"
    assert "edited" in current
    assert [b["type"] for b in current["blocks"]] == ["section", "context"]
    assert [m["ts"] for m in standin.messages_in(CHANNEL)] == [ts]

    await client.chat_update(channel=CHANNEL, ts=ts, text="Approved (text only)")
    assert len(standin.message(CHANNEL, ts)["blocks"]) == 2, "blocks left out of chat.update are kept"

    with pytest.raises(SlackApiError) as caught:
        await client.chat_update(channel=CHANNEL, ts="1.000001", text="nope")
    assert caught.value.response["error"] == "message_not_found"

    link = await client.chat_getPermalink(channel=CHANNEL, message_ts=ts)
    assert link["permalink"] == f"https://example.slack.com/archives/{CHANNEL}/p{ts.replace('.', '')}"
    eph = await client.chat_postEphemeral(channel=CHANNEL, user="U0REQUEST", text="only you")
    assert standin.ephemerals[0]["message_ts"] == eph["message_ts"]
    updates = standin.calls("chat.update")
    assert [(c.args["text"], c.ok) for c in updates][1:] == [("Approved (text only)", True), ("nope", False)]
    assert standin.last("chat.update").response["error"] == "message_not_found"
    assert standin.invalid == []


async def test_form_encoded_arguments_are_decoded(standin: SlackStandin, client: AsyncWebClient) -> None:
    blocks = [b.to_dict() for b in card_blocks()]
    await client.api_call("chat.postMessage", data={"channel": CHANNEL, "text": "t", "blocks": json.dumps(blocks)})
    call = standin.last("chat.postMessage")
    assert call.args["blocks"] == blocks
    assert call.token == standin.bot_token
    assert "token" not in call.args


async def test_views_open_needs_a_fresh_unused_trigger(standin: SlackStandin, client: AsyncWebClient) -> None:
    trigger = standin.new_trigger_id()
    opened = (await client.views_open(trigger_id=trigger, view=edit_view()))["view"]
    assert opened["id"].startswith("V")
    assert opened["root_view_id"] == opened["id"]
    assert opened["callback_id"] == "vpn_edit"
    assert opened["state"] == {"values": {}}
    assert opened["hash"]
    assert opened["team_id"] == TEAM_ID
    assert opened["app_id"] == APP_ID
    assert opened["bot_id"]
    assert opened["title"]["text"] == "Edit VPN connection"
    assert opened["submit"]
    assert opened["close"]
    assert json.loads(opened["private_metadata"]) == {"conn": "vpnx-ol6bcqp0"}
    assert standin.view(opened["id"]) == opened

    stale = standin.new_trigger_id()
    standin.age_trigger(stale, TRIGGER_TTL + 0.5)
    for trigger_id, error in [
        (trigger, "exchanged_trigger_id"),
        (stale, "expired_trigger_id"),
        ("1234567890123.123456789012.0123456789abcdef0123456789abcdef", "invalid_trigger_id"),
    ]:
        with pytest.raises(SlackApiError) as caught:
            await client.views_open(trigger_id=trigger_id, view=edit_view())
        assert caught.value.response["error"] == error
    assert len(standin.views) == 1


async def test_views_update_hash_conflict(standin: SlackStandin, client: AsyncWebClient) -> None:
    loading = View(type="modal", callback_id="vpn_edit", title="Edit VPN connection", blocks=[DividerBlock()])
    opened = (await client.views_open(trigger_id=standin.new_trigger_id(), view=loading))["view"]

    filled = (await client.views_update(view_id=opened["id"], hash=opened["hash"], view=edit_view()))["view"]
    assert filled["id"] == opened["id"]
    assert filled["hash"] != opened["hash"]
    assert len(filled["blocks"]) == 8
    assert standin.view(opened["id"])["hash"] == filled["hash"]

    with pytest.raises(SlackApiError) as caught:
        await client.views_update(view_id=opened["id"], hash=opened["hash"], view=edit_view())
    assert caught.value.response["error"] == "hash_conflict"
    with pytest.raises(SlackApiError) as caught:
        await client.views_update(view_id="VNOSUCHVIEW", view=edit_view())
    assert caught.value.response["error"] == "not_found"
    assert standin.view(opened["id"])["hash"] == filled["hash"], "a refused update changes nothing"


async def test_invalid_blocks_are_refused_and_recorded(standin: SlackStandin, client: AsyncWebClient) -> None:
    too_many = [DividerBlock() for _ in range(51)]
    long_text = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]
    button = {"type": "button", "action_id": "a", "text": {"type": "plain_text", "text": "Go"}, "value": "v" * 2001}
    long_value = [{"type": "actions", "elements": [button]}]
    unknown_field = [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}, "colour": "red"}]
    text_as_string = [{"type": "section", "text": "hi"}]
    unknown_type = [{"type": "sparkle"}]
    cases: list[Any] = [too_many, long_text, long_value, unknown_field, text_as_string, unknown_type]
    for blocks in cases:
        with pytest.raises(SlackApiError) as caught:
            await client.chat_postMessage(channel=CHANNEL, text="t", blocks=blocks)
        assert caught.value.response["error"] == "invalid_blocks"
        assert caught.value.response["response_metadata"]["messages"][0].startswith("[ERROR] ")
    assert [m for m, _ in standin.invalid] == ["chat.postMessage"] * len(cases)
    assert "invalid additional property: colour [json-pointer:/blocks/0]" in [r for _, r in standin.invalid]
    assert standin.messages_in(CHANNEL) == []

    with pytest.raises(SlackApiError) as caught:
        await client.views_open(trigger_id=standin.new_trigger_id(), view={**edit_view().to_dict(), "title": {
            "type": "plain_text", "text": "A title longer than 24 chars"}})  # fmt: skip
    assert caught.value.response["error"] == "invalid_arguments"
    hundred = edit_view(blocks=[SectionBlock(block_id=f"b{i}", text=f"row {i}") for i in range(100)])
    assert (await client.views_open(trigger_id=standin.new_trigger_id(), view=hundred))["ok"]
    twice = [SectionBlock(block_id="same", text="a").to_dict(), SectionBlock(block_id="same", text="b").to_dict()]
    assert block_problems(twice) == ["duplicate block_id: same [json-pointer:/blocks/1/block_id]"]
    assert view_problems({**hundred.to_dict(), "blocks": [DividerBlock().to_dict()] * 101})
    no_submit = {k: v for k, v in edit_view().to_dict().items() if k != "submit"}
    assert view_problems(no_submit) == [
        "must provide submit when the view has input blocks [json-pointer:/view/submit]"
    ]
    assert block_problems([b.to_dict() for b in card_blocks()]) == []
    assert standin.invalid[-1][0] == "views.open"


async def test_rate_limit_is_retried_by_slack_sdk(standin: SlackStandin) -> None:
    standin.rate_limit("chat.postMessage", times=1, retry_after=0)
    retrying = AsyncWebClient(
        token=standin.bot_token,
        base_url=standin.api_url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)],
    )
    posted = await retrying.chat_postMessage(channel=CHANNEL, text="after a 429")
    assert posted["ok"]
    assert [(c.method, c.status) for c in standin.rate_limited_calls] == [("chat.postMessage", 429)]
    assert [c.method for c in standin.calls()] == ["chat.postMessage"]

    standin.rate_limit("chat.update", times=1, retry_after=7)
    plain = AsyncWebClient(token=standin.bot_token, base_url=standin.api_url)
    with pytest.raises(SlackApiError) as caught:
        await plain.chat_update(channel=CHANNEL, ts=posted["ts"], text="x")
    assert caught.value.response.status_code == 429
    assert caught.value.response.headers["Retry-After"] == "7"
    assert caught.value.response["error"] == "ratelimited"

    standin.fail("chat.update", "fatal_error")
    with pytest.raises(SlackApiError) as caught:
        await plain.chat_update(channel=CHANNEL, ts=posted["ts"], text="x")
    assert caught.value.response["error"] == "fatal_error"
    assert (await plain.chat_update(channel=CHANNEL, ts=posted["ts"], text="x"))["ok"]


async def test_views_push_stacks_at_most_three(standin: SlackStandin, client: AsyncWebClient) -> None:
    root = (await client.views_open(trigger_id=standin.new_trigger_id(), view=edit_view()))["view"]
    top = root
    for _ in range(2):
        pushed = await client.views_push(trigger_id=standin.new_trigger_id(view_id=top["id"]), view=edit_view())
        assert pushed["view"]["root_view_id"] == root["id"]
        assert pushed["view"]["previous_view_id"] == top["id"]
        top = pushed["view"]
    with pytest.raises(SlackApiError) as caught:
        await client.views_push(trigger_id=standin.new_trigger_id(view_id=top["id"]), view=edit_view())
    assert caught.value.response["error"] == "push_limit_reached"


async def test_usergroups_and_users(client: AsyncWebClient) -> None:
    assert (await client.usergroups_users_list(usergroup=APPROVERS))["users"] == ["U0ALICE", "U0BOB"]
    with pytest.raises(SlackApiError) as caught:
        await client.usergroups_users_list(usergroup="S0NOSUCH")
    assert caught.value.response["error"] == "no_such_subteam"
    user = (await client.users_info(user="U0ALICE"))["user"]
    assert user["id"] == "U0ALICE"
    assert user["tz"]
    assert user["profile"]["display_name"]
    assert not user["is_bot"]
    with pytest.raises(SlackApiError) as caught:
        await client.users_info(user="nobody")
    assert caught.value.response["error"] == "user_not_found"


async def test_response_url_takes_five_posts(standin: SlackStandin) -> None:
    hook = AsyncWebhookClient(standin.new_response_url())
    statuses = [(await hook.send(text=f"post {i}", replace_original=False)).status_code for i in range(6)]
    assert statuses == [200] * 5 + [404]
    assert [c.args["text"] for c in standin.calls("response_url")][:2] == ["post 0", "post 1"]


async def test_wait_for(standin: SlackStandin, client: AsyncWebClient) -> None:
    async def later() -> None:
        await asyncio.sleep(0.05)
        await client.chat_postMessage(channel=CHANNEL, text="one")
        await client.chat_postMessage(channel=CHANNEL, text="two")

    task = asyncio.create_task(later())
    calls = await standin.wait_for("chat.postMessage", predicate=lambda c: c.args.get("text") == "two")
    await task
    assert [c.args["text"] for c in calls] == ["two"]
    with pytest.raises(TimeoutError, match=r"calls so far: \['chat\.postMessage', 'chat\.postMessage'\]"):
        await standin.wait_for("views.open", timeout=0.05)


# --- Socket Mode -------------------------------------------------------------------------------------------------


async def test_socket_mode_client_connects_and_acks(standin: SlackStandin) -> None:
    web = AsyncWebClient(base_url=standin.api_url)
    with pytest.raises(SlackApiError) as caught:
        await web.apps_connections_open(app_token=standin.bot_token)
    assert caught.value.response["error"] == "not_allowed_token_type"

    async def ack(client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
        body = {"text": f"got {req.payload['text']}"} if req.type == "slash_commands" else None
        await client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id, payload=body))

    sm = SocketModeClient(app_token=standin.app_token, web_client=web)
    sm.socket_mode_request_listeners.append(ack)
    await sm.connect()  # type: ignore[no-untyped-call]
    try:
        conn = await standin.wait_for_connection()
        answer = await standin.send_envelope("slash_commands", slash_command_payload("help"))
        assert answer == {"envelope_id": standin.envelopes[0]["envelope_id"], "payload": {"text": "got help"}}
        click = block_action_payload("approve_change", "cr-1", message_ts="1700000000.000100")
        answer = await standin.send_envelope("interactive", click, accepts_response_payload=False)
        assert answer == {"envelope_id": standin.envelopes[1]["envelope_id"]}
        assert [a.connection_id for a in standin.acks] == [conn.id, conn.id]
        assert [c.ok for c in standin.calls("apps.connections.open")] == [False, True]
        assert await sm.is_connected()

        await standin.disconnect("refresh_requested")  # Slack asks the app to move to a new connection
        await standin.wait_until(lambda: [c.id for c in standin.open_connections] == [conn.id + 1], 3)
        answer = await standin.send_envelope("slash_commands", slash_command_payload("again"))
        assert answer["payload"] == {"text": "got again"}
        assert standin.acks[-1].connection_id == conn.id + 1
    finally:
        await sm.close()  # type: ignore[no-untyped-call]
    await standin.wait_for_disconnect()
    with pytest.raises(TimeoutError):
        await standin.send_envelope("interactive", click, timeout=0.05)


async def test_bolt_socket_mode_opens_a_modal(standin: SlackStandin, client: AsyncWebClient) -> None:
    app = AsyncApp(client=client, signing_secret=SECRET)

    @app.command("/vpn")
    async def on_vpn(ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await client.views_open(trigger_id=command["trigger_id"], view=edit_view())

    handler = AsyncSocketModeHandler(app, standin.app_token)
    await handler.connect_async()  # type: ignore[no-untyped-call]
    try:
        payload = slash_command_payload("edit vpnx-ol6bcqp0", trigger_id=standin.new_trigger_id())
        started = time.monotonic()
        answer = await standin.send_envelope("slash_commands", payload, timeout=3)
        assert time.monotonic() - started < 3
        assert answer["envelope_id"] == standin.envelopes[-1]["envelope_id"]
        (opened,) = await standin.wait_for("views.open")
        assert opened.ok
        assert opened.args["view"]["callback_id"] == "vpn_edit"
        assert standin.invalid == []
    finally:
        await handler.close_async()  # type: ignore[no-untyped-call]


# --- signed requests ---------------------------------------------------------------------------------------------


def test_signatures_verify() -> None:
    body = slash_command("help")
    verifier = SignatureVerifier(SECRET)
    assert verifier.is_valid_request(body, sign(body, SECRET))
    assert not verifier.is_valid_request(body, sign_bad_signature(body, SECRET))
    assert not verifier.is_valid_request(body, sign_stale(body, SECRET))
    assert not verifier.is_valid_request(body + b"x", sign(body, SECRET))
    fields = decode_body(body)
    assert fields["command"] == "/vpn"
    assert fields["text"] == "help"
    assert fields["is_enterprise_install"] == "false"
    assert set(fields) == set(slash_command_payload("help"))


async def test_bolt_routes_the_signed_requests(standin: SlackStandin, client: AsyncWebClient) -> None:
    app = AsyncApp(client=client, signing_secret=SECRET, process_before_response=True)
    seen: dict[str, Any] = {}

    @app.command("/vpn")
    async def on_vpn(ack: AsyncAck, command: dict[str, Any]) -> None:
        seen["command"] = command
        await ack()

    @app.action("approve_change")
    async def on_approve(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        seen["action"] = body
        await respond(text="Approving...", replace_original=False)

    @app.view("vpn_edit")
    async def on_submit(ack: AsyncAck, view: dict[str, Any]) -> None:
        seen["view"] = view
        await ack(response_action="errors", errors={"vpnConnName": "Name taken"})

    async def dispatch(body: bytes, headers: dict[str, str] | None = None) -> tuple[int, str]:
        signed: dict[str, str | Sequence[str]] = {**(headers or sign(body, SECRET))}
        request = AsyncBoltRequest(body=body.decode(), headers=signed)
        response = await app.async_dispatch(request)
        return response.status, response.body

    assert (await dispatch(slash_command("show vpnx-ol6bcqp0", user_id="U0ALICE")))[0] == 200
    assert seen["command"]["user_id"] == "U0ALICE"
    assert seen["command"]["text"] == "show vpnx-ol6bcqp0"
    body = slash_command("help")
    assert (await dispatch(body, sign_bad_signature(body, SECRET)))[0] == 401
    assert (await dispatch(body, sign_stale(body, SECRET)))[0] == 401

    posted = await client.chat_postMessage(channel=CHANNEL, text="card", blocks=card_blocks("cr-42"))
    card = standin.message(CHANNEL, posted["ts"])
    click = block_action("approve_change", message=card, user_id="U0BOB", response_url=standin.new_response_url())
    assert (await dispatch(click))[0] == 200
    action = seen["action"]["actions"][0]
    assert (action["value"], action["block_id"], action["type"]) == ("cr-42", "decision", "button")
    assert seen["action"]["container"]["message_ts"] == posted["ts"]
    assert seen["action"]["user"]["id"] == "U0BOB"
    assert standin.last("response_url").args["text"] == "Approving..."
    with pytest.raises(LookupError):
        block_action("cancel_change", message=card)

    opened = (await client.views_open(trigger_id=standin.new_trigger_id(), view=edit_view()))["view"]
    values = fill_state_from_view(opened, {"vpnConnName": "office-sz", "IKESet.dhGroupName": "GROUP14"})
    status, answer = await dispatch(view_submission(standin.view(opened["id"]), values))
    assert status == 200
    assert json.loads(answer) == {
        "response_action": "errors",
        "errors": {"vpnConnName": "Name taken"},
    }
    state = seen["view"]["state"]["values"]
    assert state["vpnConnName"]["vpnConnName"] == {"type": "plain_text_input", "value": "office-sz"}
    assert state["IKESet.dhGroupName"]["IKESet.dhGroupName"]["selected_option"]["value"] == "GROUP14"
    assert state["preSharedKey"]["preSharedKey"]["value"] is None
    assert (seen["view"]["id"], seen["view"]["hash"]) == (opened["id"], opened["hash"])
    assert decode_body(view_closed(opened))["type"] == "view_closed"


def test_fill_state_follows_slacks_client() -> None:
    view = edit_view().to_dict()
    values = fill_state_from_view(view)
    assert values["vpnConnName"]["vpnConnName"]["value"] == "office-gz"
    assert values["IKESet.dhGroupName"]["IKESet.dhGroupName"]["selected_option"]["value"] == "GROUP2"
    assert values["IPsecSet.ipsecSaLifetimeSeconds"]["IPsecSet.ipsecSaLifetimeSeconds"] == {
        "type": "number_input",
        "value": "3600",
    }
    with pytest.raises(LookupError, match="GROUP99"):
        fill_state_from_view(view, {"IKESet.dhGroupName": "GROUP99"})
    with pytest.raises(KeyError):
        fill_state_from_view(view, {"noSuchParam": "x"})
    for overrides in [{"vpnConnName": ""}, {"IPsecSet.ipsecSaLifetimeSeconds": "60"}, {"vpnConnName": "x" * 61}]:
        with pytest.raises(ClientValidationError):
            fill_state_from_view(view, overrides)
    loose = fill_state_from_view(view, {"IPsecSet.ipsecSaLifetimeSeconds": "60"}, client_validate=False)
    assert loose["IPsecSet.ipsecSaLifetimeSeconds"]["IPsecSet.ipsecSaLifetimeSeconds"]["value"] == "60"
