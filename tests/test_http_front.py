"""The HTTP front (``bot.slack.http``) over real HTTP: what Bolt's own aiohttp adapter answered with a 500 and a
traceback now gets a 400 or 401 and one log line; ``/healthz`` reports the store's write fault.

Every case runs against a real bot (``botharness.harness``: the Slack stand-in, the simulator, a state file). A
case's log is every record the bot's process wrote while answering it, but the test's own HTTP client's
(``httpx``/``httpcore``): exactly one line, on ``bot.slack.http``, without a traceback, and nothing from aiohttp.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
import pytest_asyncio
from botharness import REQUESTER, SIGNING_SECRET, Harness, harness

from bot.playground.slack_payloads import (
    FORM_CONTENT_TYPE,
    block_action_payload,
    interactive_body,
    sign,
    sign_bytes,
    slash_command,
    view_submission_payload,
)
from bot.slack.http import MAX_BODY_BYTES
from bot.store import Store

SLACK_ACK_SECONDS = 3.0
CLIENT_LOGGERS = ("httpx", "httpcore")


@dataclass
class Answer:
    status: int
    body: bytes
    seconds: float
    records: list[logging.LogRecord]

    def json(self) -> Any:
        return json.loads(self.body)


class Recorder(logging.Handler):
    """Every record of every logger (the root's level lowered to DEBUG while it is installed)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith(CLIENT_LOGGERS):
            self.records.append(record)

    def take(self, level: int = logging.INFO) -> list[logging.LogRecord]:
        taken = [r for r in self.records if r.levelno >= level]
        self.records.clear()
        return taken


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    handler = Recorder()
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


# One bot for the module (a refused request leaves nothing behind; the rest settle before they end).
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared_bot(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Harness]:
    async with harness(tmp_path_factory.mktemp("front")) as h:
        yield h


@pytest.fixture
def bot(shared_bot: Harness, recorder: Recorder) -> Harness:
    recorder.take()
    return shared_bot


def slack_calls(h: Harness) -> int:
    return len(h.slack.calls())


async def send(
    h: Harness,
    recorder: Recorder,
    body: bytes,
    headers: dict[str, str] | list[tuple[str, str | bytes]] | None = None,
) -> Answer:
    """POST ``body`` (signed now unless ``headers`` are given); the answer and what was logged meanwhile."""
    recorder.take()
    now = str(int(time.time()))
    if headers is None:
        sent: Any = sign_bytes(body, SIGNING_SECRET)
    elif isinstance(headers, list):
        sent = [(k, now if v == NOW else v) for k, v in headers]
    else:
        sent = headers
    started = time.perf_counter()
    response = await h.http.post(h.url, content=body, headers=sent, timeout=10.0)
    return Answer(response.status_code, response.content, time.perf_counter() - started, recorder.take())


def assert_refused(answer: Answer, status: int) -> None:
    """The status, and one log line about it: no traceback, nothing from aiohttp or a listener."""
    assert answer.status == status, (answer.status, answer.body)
    assert answer.seconds < SLACK_ACK_SECONDS
    lines = [f"{r.name} {r.levelname}: {r.getMessage()}" for r in answer.records]
    assert len(answer.records) == 1, lines
    (record,) = answer.records
    assert record.name == "bot.slack.http", lines
    assert record.exc_info is None, lines
    assert record.stack_info is None, lines
    assert str(status) in record.getMessage()


def payload_body(payload: Any) -> bytes:
    """An interaction body whose payload is any JSON value (``interactive_body`` takes only dicts)."""
    return urlencode({"payload": json.dumps(payload)}).encode()


def view_payload(**view: Any) -> dict[str, Any]:
    base = {"id": "V0000000001", "type": "modal", "callback_id": "reject_reason", "blocks": []}
    payload = view_submission_payload(base, {}, user_id=REQUESTER)
    payload["view"].update(view)
    return payload


def action_payload(**overrides: Any) -> dict[str, Any]:
    payload = block_action_payload("approve_change", value="chg-aaaaaaaaaa")
    payload.update(overrides)
    return payload


NOW = "{now}"  # the time of sending, filled in by send()
HELP = slash_command("help")

UNSIGNED: dict[str, list[tuple[str, str | bytes]]] = {
    "no signature headers": [("Content-Type", FORM_CONTENT_TYPE)],
    "a timestamp that is not a number": [("X-Slack-Request-Timestamp", "abc"), ("X-Slack-Signature", "v0=00")],
    "an empty timestamp": [("X-Slack-Request-Timestamp", ""), ("X-Slack-Signature", "v0=00")],
    "a timestamp in exponent notation": [("X-Slack-Request-Timestamp", "1.7e9"), ("X-Slack-Signature", "v0=00")],
    "a negative timestamp": [("X-Slack-Request-Timestamp", "-5"), ("X-Slack-Signature", "v0=00")],
    "a timestamp of 5,000 digits": [("X-Slack-Request-Timestamp", "9" * 5000), ("X-Slack-Signature", "v0=00")],
    "a timestamp in Arabic-Indic digits": [
        ("X-Slack-Request-Timestamp", "١٧٠٠٠٠٠٠٠٠".encode()),
        ("X-Slack-Signature", "v0=00"),
    ],
    "a signature that is not v0": [("X-Slack-Request-Timestamp", NOW), ("X-Slack-Signature", "v1=" + "0" * 64)],
    "a non-ASCII signature": [
        ("X-Slack-Request-Timestamp", NOW),
        ("X-Slack-Signature", ("v0=" + "é" * 64).encode()),
    ],
}


@pytest.mark.parametrize("case", sorted(UNSIGNED))
async def test_an_unsigned_request_gets_401_and_one_line(bot: Harness, recorder: Recorder, case: str) -> None:
    before = slack_calls(bot)
    answer = await send(bot, recorder, HELP, UNSIGNED[case])
    assert_refused(answer, 401)
    assert answer.json() == {"error": "invalid request"}
    assert slack_calls(bot) == before


async def test_badly_signed_stale_and_repeated_headers_get_401(bot: Harness, recorder: Recorder) -> None:
    before = slack_calls(bot)
    wrong = sign_bytes(HELP, SIGNING_SECRET + "-not-it")
    now = int(time.time())
    stale = sign_bytes(HELP, SIGNING_SECRET, now - 301)
    future = sign_bytes(HELP, SIGNING_SECRET, now + 301)
    good = sign_bytes(HELP, SIGNING_SECRET)
    repeated = [*good.items(), ("X-Slack-Request-Timestamp", "not-a-number")]
    for headers in (wrong, stale, future, repeated):
        assert_refused(await send(bot, recorder, HELP, headers), 401)  # type: ignore[arg-type]
    assert_refused(await send(bot, recorder, b"\xff\xfe not UTF-8", {"Content-Type": FORM_CONTENT_TYPE}), 401)
    assert slack_calls(bot) == before


DEEP = 100_000
SIGNED_MALFORMED: dict[str, bytes] = {
    "a body that is not UTF-8": b"command=%2Fvpn&text=\xff\xfe",
    "an empty body": b"",
    "payload= empty": b"payload=",
    "payload that is not JSON": b"payload=not-json",
    "payload JSON null": payload_body(None),
    "payload JSON []": payload_body([]),
    "payload JSON number": payload_body(5),
    "payload JSON string": payload_body("block_actions"),
    "payload JSON true": payload_body(True),
    "payload with NaN": urlencode({"payload": '{"type": "block_actions", "n": NaN}'}).encode(),
    "payload with a 5,000-digit number": urlencode(
        {"payload": '{"type": "block_actions", "n": ' + "1" * 5000 + "}"}
    ).encode(),
    "payload nested 100,000 deep": urlencode({"payload": '{"type":' + "[" * DEEP + "]" * DEEP + "}"}).encode(),
    "payload with a repeated key": urlencode(
        {"payload": '{"type": "block_actions", "type": "view_submission", "actions": []}'}
    ).encode(),
    "block_actions without actions": payload_body({k: v for k, v in action_payload().items() if k != "actions"}),
    "block_actions with actions []": payload_body(action_payload(actions=[])),
    "block_actions with actions a string": payload_body(action_payload(actions="approve_change")),
    "block_actions with an action a number": payload_body(action_payload(actions=[5])),
    "block_actions with an action without action_id": payload_body(action_payload(actions=[{"value": "x"}])),
    "block_actions with a numeric action_id": payload_body(action_payload(actions=[{"action_id": 5}])),
    "an unknown payload type": payload_body(action_payload(type="frobnicate")),
    "a payload without type": payload_body({k: v for k, v in action_payload().items() if k != "type"}),
    "a payload type that is a number": payload_body(action_payload(type=5)),
    "view_submission without view": payload_body({k: v for k, v in view_payload().items() if k != "view"}),
    "view_submission with view a string": payload_body({**view_payload(), "view": "reject_reason"}),
    "view_submission with view null": payload_body({**view_payload(), "view": None}),
    "view without callback_id": payload_body(
        {**view_payload(), "view": {k: v for k, v in view_payload()["view"].items() if k != "callback_id"}}
    ),
    "view with a numeric callback_id": payload_body(view_payload(callback_id=5)),
    "view without type": payload_body(
        {**view_payload(), "view": {k: v for k, v in view_payload()["view"].items() if k != "type"}}
    ),
    "user a number": payload_body(action_payload(user=5)),
    "user a list": payload_body(action_payload(user=["U0REQUEST"])),
    "user.id a number": payload_body(action_payload(user={"id": 5})),
    "user a string in an interaction": payload_body(action_payload(user="U0REQUEST")),
    "channel a string in an interaction": payload_body(action_payload(channel="C0VPNOPS")),
    "team a number": payload_body(action_payload(team=5)),
    "enterprise a list": payload_body(action_payload(enterprise=[1])),
    "channel a number": payload_body(action_payload(channel=5)),
    "authorizations a number": payload_body(action_payload(authorizations=5)),
    "authorizations of numbers": payload_body(action_payload(authorizations=[5])),
    "response_url a number": payload_body(action_payload(response_url=5)),
    "response_urls a string": payload_body({**view_payload(), "response_urls": "x"}),
    "message.user a number": payload_body(action_payload(message={"user": 5})),
    "messages nested 40 deep": payload_body(action_payload(message=json.loads('{"message":' * 40 + "{}" + "}" * 40))),
    "a slash command body that is not form-encoded": b"/vpn help please",
    "a slash command body with an empty field": b"command=%2Fvpn&&text=help",
    "a form with invalid percent-encoded UTF-8": b"command=%2Fvpn&text=%FF%FE",
    "a form that is neither a command nor an interaction": b"text=help&user_id=U0REQUEST",
    "a form with a repeated field": b"command=%2Fvpn&command=%2Fother&text=help",
    "a form with 1,000 fields": "&".join(f"f{i}=x" for i in range(1000)).encode() + b"&command=%2Fvpn",
    "a JSON body that is not JSON": b"{not json",
    "a JSON body with a repeated key": b'{"type": "url_verification", "type": "event_callback", "challenge": "c"}',
    "an Events API body without event": b'{"type": "event_callback"}',
    "an Events API body whose event is a string": b'{"type": "event_callback", "event": "message"}',
    "an Events API body of an unknown type": b'{"type": "frobnicate"}',
}


@pytest.mark.parametrize("case", sorted(SIGNED_MALFORMED))
async def test_a_signed_malformed_request_gets_400_and_one_line(bot: Harness, recorder: Recorder, case: str) -> None:
    before = slack_calls(bot)
    answer = await send(bot, recorder, SIGNED_MALFORMED[case])
    assert_refused(answer, 400)
    document = answer.json()
    assert document["error"] == "invalid_request"
    assert document["reason"]
    assert slack_calls(bot) == before


async def test_a_json_content_type_on_an_array_or_a_form_gets_400(bot: Harness, recorder: Recorder) -> None:
    for body in (b"[1, 2]", b"null", HELP):
        headers = {**sign_bytes(body, SIGNING_SECRET), "Content-Type": "application/json; charset=utf-8"}
        assert_refused(await send(bot, recorder, body, headers), 400)


async def test_bodies_over_a_mebibyte_get_413_without_being_read(bot: Harness, recorder: Recorder) -> None:
    assert MAX_BODY_BYTES == 1024**2
    huge = b"x" * (16 * 1024**2)  # refused on its Content-Length: its time is the client's upload, kept short
    answer = await send(bot, recorder, huge, {"Content-Type": FORM_CONTENT_TYPE})
    assert_refused(answer, 413)
    just_over = b"payload=" + b"x" * MAX_BODY_BYTES
    assert_refused(await send(bot, recorder, just_over), 413)

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: refused once the limit is crossed
        for _ in range(4):
            yield b"x" * (1024**2)

    recorder.take()
    response = await bot.http.post(bot.url, content=chunks(), headers=sign(b"", SIGNING_SECRET), timeout=10.0)
    assert response.status_code == 413
    assert len(recorder.take()) == 1
    # And the server is none the worse for it.
    assert (await send(bot, recorder, HELP)).status == 200


async def test_ssl_check_is_answered_unsigned_as_bolt_does(bot: Harness, recorder: Recorder) -> None:
    before = slack_calls(bot)
    body = b"ssl_check=1&token=vErIfIcAtIoNtOkEnStAnDiN"
    answer = await send(bot, recorder, body, {"Content-Type": FORM_CONTENT_TYPE})
    assert (answer.status, answer.body) == (200, b"")
    assert answer.records == []
    smuggled = b"ssl_check=1&command=%2Fvpn&text=edit+vpnx-ol6bcqp0"
    answer = await send(bot, recorder, smuggled, {"Content-Type": FORM_CONTENT_TYPE})
    assert (answer.status, answer.body) == (200, b"")
    assert_refused(await send(bot, recorder, b"ssl_check=0", {"Content-Type": FORM_CONTENT_TYPE}), 401)
    assert slack_calls(bot) == before


async def test_url_verification_and_retries_reach_bolt(bot: Harness, recorder: Recorder) -> None:
    body = b'{"token": "t", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "type": "url_verification"}'
    headers = {**sign_bytes(body, SIGNING_SECRET), "Content-Type": "application/json"}
    answer = await send(bot, recorder, body, headers)
    assert answer.status == 200
    assert answer.json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}
    retried = {**sign_bytes(HELP, SIGNING_SECRET), "X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    answer = await send(bot, recorder, HELP, retried)
    assert answer.status == 200
    assert "/vpn edit" in answer.json()["text"] + json.dumps(answer.json()["blocks"])


async def test_a_slash_command_from_a_channel_named_payload_is_answered(bot: Harness, recorder: Recorder) -> None:
    """Bolt's own parser reads any form body containing the text "payload" as an interaction (it tests the raw
    body, not its keys) and routes the command nowhere: 404. The front parses the body itself."""
    for body in (slash_command("help", channel_name="payload-team"), slash_command("help payload")):
        answer = await send(bot, recorder, body)
        assert answer.status == 200, answer.body
        assert "/vpn edit" in json.dumps(answer.json())


async def test_healthz_says_ok_while_the_store_can_be_written(bot: Harness) -> None:
    response = await bot.http.get(bot.url.replace("/slack/events", "/healthz"))
    assert response.status_code == 200
    assert response.json() == {"ok": True}


async def test_healthz_answers_503_with_the_reason_while_the_store_has_a_write_fault(
    bot: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    reason = "the state file cannot be written: disk full"
    monkeypatch.setattr(Store, "fault", property(lambda store: reason))
    response = await bot.http.get(bot.url.replace("/slack/events", "/healthz"))
    assert response.status_code == 503
    assert response.json() == {"ok": False, "reason": reason}
    monkeypatch.undo()
    assert (await bot.http.get(bot.url.replace("/slack/events", "/healthz"))).status_code == 200


async def test_other_paths_and_methods_are_4xx(bot: Harness) -> None:
    base = bot.url.removesuffix("/slack/events")
    assert (await bot.http.get(bot.url)).status_code == 405
    assert (await bot.http.post(f"{base}/healthz", content=b"x")).status_code == 405
    assert (await bot.http.post(f"{base}/slack/events/../x", content=b"x")).status_code == 404
    assert (await bot.http.post(f"{base}/nothing", content=b"x")).status_code == 404


# --- a listener given what Slack never sends (issue 10, point 12) ------------------------------------------------


async def settle(h: Harness, seconds: float = 10.0) -> None:
    """Until the bot has no work left but its expiry sweeper."""
    deadline = time.monotonic() + seconds
    while [t for t in h.bot.context.background if t.get_name() not in ("expiry-sweeper", "store-watch")]:
        assert time.monotonic() < deadline, h.bot.context.background
        await asyncio.sleep(0.02)


ODD_METADATA: list[Any] = [5, 1.5, {"request": "chg-aaaaaaaaaa"}, ["chg-aaaaaaaaaa"], True, None, "5", "null", "[]"]
ODD_METADATA += ['{"request": 5}', "[" * 2000]  # the last: within Slack's 3,000 characters, deeper than json.loads goes


@pytest.mark.parametrize("metadata", ODD_METADATA, ids=lambda metadata: repr(metadata)[:40])
async def test_a_reject_reason_with_odd_private_metadata_is_acknowledged(
    bot: Harness, recorder: Recorder, metadata: Any
) -> None:
    values = {"reason": {"reason": {"type": "plain_text_input", "value": "no"}}}
    payload = view_submission_payload(
        {"id": "V0REJECT01", "type": "modal", "callback_id": "reject_reason", "blocks": []}, values, user_id=REQUESTER
    )
    payload["view"]["private_metadata"] = metadata
    answer = await send(bot, recorder, interactive_body(payload))
    assert answer.status == 200, answer.body
    assert answer.body in (b"", b"null")
    assert answer.seconds < SLACK_ACK_SECONDS
    await settle(bot)
    problems = [f"{r.name} {r.levelname}: {r.getMessage()}" for r in recorder.take(logging.WARNING)]
    assert problems == []
