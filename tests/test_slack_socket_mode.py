"""Socket Mode: the bot connects out through ``apps.connections.open`` to a local websocket stand-in and runs
``/vpn edit`` to a verified change through it, with no HTTP endpoint and no request signatures."""

from __future__ import annotations

from pathlib import Path

import dialect
import pytest
from botharness import APPROVER, CHANNEL, REQUESTER, SEED_CONN, bot_settings

from bot.playground.slack_api import SlackStandin
from bot.playground.slack_payloads import (
    block_action_payload,
    fill_state_from_view,
    slash_command_payload,
    view_submission_payload,
)
from bot.sim import SimServer, SimState, load_world
from bot.slack.runner import running_bot

pytestmark = pytest.mark.usefixtures("cloud_api")


async def test_vpn_edit_through_socket_mode(tmp_path: Path) -> None:
    world = dialect.world(load_world(None), task_seconds=0.2)
    async with SimServer(SimState(world)) as sim, SlackStandin() as slack:
        settings = bot_settings(
            slack, sim, tmp_path / "state.sqlite", slack_app_token=slack.app_token, slack_signing_secret=None
        )
        async with running_bot(settings, sim=False, port=0, host="127.0.0.1") as bot:
            assert bot.url is None
            await slack.wait_for_connection()
            assert slack.calls("apps.connections.open")
            command = slash_command_payload(
                f"edit {SEED_CONN}",
                user_id=REQUESTER,
                channel_id=CHANNEL,
                trigger_id=slack.new_trigger_id(),
                response_url=slack.new_response_url(),
            )
            ack = await slack.send_envelope("slash_commands", command)
            assert ack["envelope_id"]
            (updated,) = await slack.wait_for("views.update")
            view = slack.view(updated.response["view"]["id"])
            values = fill_state_from_view(view, {"IKESet.dhGroupName": "group24"})
            ack = await slack.send_envelope("interactive", view_submission_payload(view, values, user_id=REQUESTER))
            assert "errors" not in str(ack.get("payload", ""))
            (card_call,) = await slack.wait_for("chat.postMessage")
            card = slack.message(CHANNEL, card_call.response["ts"])
            click = block_action_payload(
                "approve_change",
                user_id=APPROVER,
                channel_id=CHANNEL,
                message=card,
                trigger_id=slack.new_trigger_id(),
                response_url=slack.new_response_url(),
            )
            await slack.send_envelope("interactive", click)
            await slack.wait_until(
                lambda: any("Verified" in str(m.get("text")) for m in slack.thread(CHANNEL, card["ts"])),
                timeout=10,
                what="the verified reply",
            )
            ike = sim.state.connection(SEED_CONN).get("IKESet") or sim.state.connection(SEED_CONN)["IKEArr"]
            assert ike["dhGroupName"] == "group24"
        assert slack.invalid == []
        assert slack.unrendered == [], slack.unrendered
