"""The playground's workspace: its people, its channel, and Slack's client side of every interaction.

What a person does on the page (a slash command, a click, a submitted form, the Home tab) becomes the request
Slack would send the app, built by :mod:`bot.playground.slack_payloads`, signed with the app's signing secret and
POSTed to the bot's request URL, exactly as Slack does; the bot answers through the Web API of the stand-in
(:class:`~bot.playground.slack_api.SlackStandin`), which keeps what the page shows. What Slack's client does with
the app's HTTP answers (a slash command's acknowledgement text, ``response_action`` of a submission) is done here.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import httpx

from bot.playground.slack_api import SlackStandin, block_problems
from bot.playground.slack_payloads import (
    app_home_opened_payload,
    block_action,
    event_body,
    interactive_elements,
    post_signed,
    slash_command,
    view_closed,
    view_submission,
)

log = logging.getLogger(__name__)

JSONDict = dict[str, Any]


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    role: str

    @property
    def handle(self) -> str:
        """The ``user_name`` Slack sends with their requests: ``riya`` for Riya Sen."""
        return self.name.split()[0].lower()


REQUESTER: Final = Person("U0REQUEST", "Riya Sen", "requester")
APPROVER: Final = Person("U0APPROVER", "Alex Chen", "approver")
GROUP_MEMBER: Final = Person("U0GROUPIE", "Mei Lin", "approver via group")
OUTSIDER: Final = Person("U0OUTSIDE", "Sam Doe", "outsider")
PEOPLE: Final = (REQUESTER, APPROVER, GROUP_MEMBER, OUTSIDER)
GROUP_ID: Final = "S0NETOPS"
GROUP_HANDLE: Final = "netops-approvers"
CHANNEL_ID: Final = "C0NETOPS"
CHANNEL_NAME: Final = "netops"
APPROVERS: Final = f"{APPROVER.id},{GROUP_ID}"
"""``VPNBOT_APPROVERS`` in the playground: one approver by name, one through the user group."""
SLACK_TIMEOUT: Final = 3.0
"""Slack waits this long for an app to acknowledge, then tells the person the command failed."""
COMMAND: Final = "/vpn"
REFUSALS_SHOWN: Final = 20
"""The last Web API calls Slack would have refused (Block Kit mistakes), shown on the page as they happen."""


class PlaygroundError(ValueError):
    """Something a person did on the page that Slack's client would not send (named in the message)."""


def standin_people() -> dict[str, JSONDict]:
    """``users.info`` fields of the playground's people, for the stand-in."""
    return {p.id: {"real_name": p.name, "name": p.handle, "profile": {"real_name": p.name}} for p in PEOPLE}


def person(user_id: str) -> Person:
    found = next((p for p in PEOPLE if p.id == user_id), None)
    if found is None:
        raise PlaygroundError(f"no such person in the playground: {user_id[:20]!r}")
    return found


@dataclass
class Workspace:
    """Slack's side of the playground: sends the bot what people do, applies its answers to the stand-in."""

    slack: SlackStandin
    bot_url: str
    signing_secret: str
    http: httpx.AsyncClient

    def __post_init__(self) -> None:
        self.modal_errors: dict[str, tuple[str, dict[str, str]]] = {}  # view id -> (its hash, block id -> message)

    async def command(self, user_id: str, line: str) -> JSONDict:
        """``/vpn ...`` typed by ``user_id`` in the channel; what Slack's client would show when it fails."""
        who = person(user_id)
        name, _, text = line.strip().partition(" ")
        if name != COMMAND:
            raise PlaygroundError(f"only {COMMAND} is a command here; try {COMMAND} help")
        body = slash_command(
            text.strip(),
            user_id=who.id,
            user_name=who.handle,
            channel_id=CHANNEL_ID,
            channel_name=CHANNEL_NAME,
            trigger_id=self.slack.new_trigger_id(user_id=who.id),
            response_url=self.slack.new_response_url(channel=CHANNEL_ID, user_id=who.id),
        )
        response = await self._post(body)
        if response is None:
            return await self._failed(who, "operation_timeout")
        if response.status_code != 200:
            return await self._failed(who, "dispatch_failed")
        answer = _json_or_none(response)
        if answer:  # the acknowledgement's text: shown to the person, as Slack does
            await self._show(answer, who.id, None)
        return {"ok": True}

    async def action(self, user_id: str, request: Mapping[str, Any]) -> JSONDict:
        """A click (or a chosen option) on a message, an ephemeral message, a modal or the Home tab."""
        who = person(user_id)
        source = request.get("source")
        action_id, block_id = str(request.get("action_id") or ""), request.get("block_id")
        value = request.get("value")
        selected = request.get("selected_option")
        if value is None and isinstance(selected, Mapping):
            value = selected.get("value")
        common: JSONDict = {
            "user_id": who.id,
            "user_name": who.handle,
            "block_id": str(block_id) if block_id else None,
        }
        try:
            if source in ("message", "ephemeral"):
                ts = str(request.get("ts") or "")
                message = self._message(who.id, ts, ephemeral=source == "ephemeral")
                _own_value(message, action_id, value)
                body = block_action(
                    action_id,
                    None if value is None else str(value),
                    channel_id=CHANNEL_ID,
                    channel_name=CHANNEL_NAME,
                    message=message,
                    trigger_id=self.slack.new_trigger_id(user_id=who.id),
                    response_url=self.slack.new_response_url(channel=CHANNEL_ID, user_id=who.id, message_ts=ts),
                    **common,
                )
            elif source in ("modal", "home"):
                view_id = str(request.get("view_id") or "")
                view = self.slack.view(view_id)
                if source == "modal" and view_id not in {v["id"] for v in self.slack.open_views(who.id)}:
                    raise PlaygroundError(f"view {view_id[:30]!r} is not open for this person")
                if source == "home" and (self.slack.home(who.id) or {}).get("id") != view_id:
                    raise PlaygroundError(f"view {view_id[:30]!r} is not this person's Home tab")
                _own_value(view, action_id, value)
                body = block_action(
                    action_id,
                    None if value is None else str(value),
                    view=view,
                    trigger_id=self.slack.new_trigger_id(user_id=who.id, view_id=view["id"]),
                    **common,
                )
            else:
                raise PlaygroundError("an action comes from a message, an ephemeral message, a modal or the Home tab")
        except (LookupError, ValueError) as error:  # block_action: no such element, or no such option
            raise PlaygroundError(str(error)) from None
        response = await self._post(body)
        if response is None or response.status_code != 200:
            return {"ok": False, "error": "vpnbot did not acknowledge the click (Slack shows a warning sign)"}
        return {"ok": True}

    async def submit(self, user_id: str, view_id: str, values: Mapping[str, Mapping[str, Any]]) -> JSONDict:
        """Submit the modal ``view_id`` with ``values`` (Slack's ``view.state.values``)."""
        who = person(user_id)
        view = self._own_view(who.id, view_id)
        body = view_submission(
            view,
            values,
            user_id=who.id,
            user_name=who.handle,
            trigger_id=self.slack.new_trigger_id(user_id=who.id, view_id=view_id),
        )
        response = await self._post(body)
        if response is None or response.status_code != 200:
            return {"ok": False, "closed": False, "error": "vpnbot did not answer in time: the form stays open"}
        answer = _json_or_none(response) or {}
        if answer.get("response_action") == "errors":
            errors = answer.get("errors")
            self.modal_errors[view_id] = (view["hash"], {str(k): str(v) for k, v in (errors or {}).items()})
        else:
            self.modal_errors.pop(view_id, None)
        problems = self.slack.answer_view(view_id, answer)
        await self.slack.touch()
        if problems:
            return {"ok": False, "closed": False, "error": "Slack refused vpnbot's answer: " + "; ".join(problems)}
        closed = view_id not in {v["id"] for v in self.slack.open_views(who.id)}
        return {"ok": True, "closed": closed, "errors": self._errors_of(view_id)}

    async def close(self, user_id: str, view_id: str) -> JSONDict:
        """The person closed the modal: ``view_closed`` when the view asked for it, and it leaves the screen."""
        who = person(user_id)
        view = self._own_view(who.id, view_id)
        if view.get("notify_on_close"):
            await self._post(view_closed(view, user_id=who.id, user_name=who.handle))
        self.slack.close_view(view_id)
        self.modal_errors.pop(view_id, None)
        await self.slack.touch()
        return {"ok": True}

    async def open_home(self, user_id: str) -> JSONDict:
        """The person opened vpnbot's Home tab: ``app_home_opened``, as the Events API sends it."""
        who = person(user_id)
        payload = app_home_opened_payload(who.id, tab="home", view=self.slack.home(who.id))
        response = await self._post(event_body(payload))
        if response is None or response.status_code != 200:
            return {"ok": False, "error": "vpnbot did not acknowledge app_home_opened"}
        return {"ok": True}

    def state(self, user_id: str) -> JSONDict:
        """What ``user_id`` sees now: the channel with its threads, their ephemerals, modal and Home tab."""
        who = person(user_id)
        messages = []
        for message in self.slack.messages_in(CHANNEL_ID):
            message["replies"] = self.slack.thread(CHANNEL_ID, message["ts"])
            messages.append(message)
        modals = self.slack.open_views(who.id)
        modal = modals[-1] if modals else None
        return {
            "version": self.slack.version,
            "me": who.id,
            "people": [{"id": p.id, "name": p.name, "role": p.role} for p in PEOPLE],
            "groups": [
                {"id": GROUP_ID, "handle": GROUP_HANDLE, "name": "NetOps approvers", "members": [GROUP_MEMBER.id]}
            ],
            "channel": {"id": CHANNEL_ID, "name": CHANNEL_NAME},
            "bot": {"id": self.slack.bot_user_id, "name": self.slack.bot_name},
            "messages": messages,
            "ephemerals": [
                {"message_ts": e["message_ts"], "text": e.get("text"), "blocks": e.get("blocks")}
                for e in self.slack.ephemerals_for(who.id, CHANNEL_ID)
            ],
            "modal": modal,
            "modal_errors": self._errors_of(modal["id"]) if modal else {},
            "home": self.slack.home(who.id),
            "refusals": [{"method": m, "problem": p} for m, p in self.slack.invalid[-REFUSALS_SHOWN:]],
            "refusals_total": len(self.slack.invalid),
        }

    # --- helpers -------------------------------------------------------------------------------------------------

    def _errors_of(self, view_id: str) -> dict[str, str]:
        """The errors the bot last answered for ``view_id``, while the view is the one they were given for."""
        given = self.modal_errors.get(view_id)
        if given is None:
            return {}
        try:
            current = self.slack.view(view_id)  # one view's copy (``views`` copies every view there is)
        except LookupError:
            return {}
        return dict(given[1]) if current["hash"] == given[0] else {}

    async def _post(self, body: bytes) -> httpx.Response | None:
        """POST ``body`` signed to the bot (with the content type Slack sends it with); None when it did not answer
        within Slack's 3 seconds."""
        try:
            return await post_signed(self.bot_url, body, self.signing_secret, client=self.http, timeout=SLACK_TIMEOUT)
        except httpx.TimeoutException:
            return None
        except httpx.HTTPError as error:
            log.warning("the bot could not be reached: %s", type(error).__name__)
            return None

    async def _show(self, answer: Mapping[str, Any], user_id: str, message_ts: str | None) -> None:
        blocks = answer.get("blocks")
        if blocks is not None:
            problems = block_problems(blocks)
            if problems:
                self.slack.invalid.extend(("ack", p) for p in problems)
                await self.slack.touch()
                return
            self.slack.check_renderable("ack", list(blocks))
        self.slack.show_response(answer, channel=CHANNEL_ID, user_id=user_id, message_ts=message_ts)
        await self.slack.touch()

    async def _failed(self, who: Person, error: str) -> JSONDict:
        text = f'{COMMAND} failed with the error "{error}"'
        self.slack.show_response({"text": text}, channel=CHANNEL_ID, user_id=who.id)
        await self.slack.touch()
        return {"ok": False, "error": text}

    def _message(self, user_id: str, ts: str, *, ephemeral: bool) -> JSONDict:
        if not ephemeral:
            return self.slack.message(CHANNEL_ID, ts)
        for shown in self.slack.ephemerals_for(user_id, CHANNEL_ID):
            if shown["message_ts"] == ts:
                return {
                    "type": "message",
                    "ts": ts,
                    "text": shown.get("text") or "",
                    "blocks": shown.get("blocks") or [],
                }
        raise LookupError(f"no ephemeral message {ts[:30]!r} for this person")

    def _own_view(self, user_id: str, view_id: str) -> JSONDict:
        for view in self.slack.open_views(user_id):
            if view["id"] == view_id:
                return view
        raise PlaygroundError("that form is not open for this person")


def _own_value(source: Mapping[str, Any], action_id: str, value: Any) -> None:
    """A button sends its own value; Slack's client cannot send another."""
    for _, element in interactive_elements(source.get("blocks") or []):
        if element.get("action_id") == action_id and element.get("type", "button") == "button":
            if value is not None and str(value) != str(element.get("value")):
                raise PlaygroundError(f"value: the button {action_id!r} sends its own value")
            return


def _json_or_none(response: httpx.Response) -> JSONDict | None:
    if not response.content.strip():
        return None
    try:
        answer = response.json()
    except json.JSONDecodeError:
        return {"text": response.text}
    return answer if isinstance(answer, dict) else None
