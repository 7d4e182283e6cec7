"""Hostile requests at the HTTP front: over 5,000 generated requests, signed and unsigned, into the real
``/slack/events`` (and beside it) of one running bot, and not one 5xx.

The generator is seeded (``botharness.fuzz_seed()``, printed in pytest's header; ``VPNBOT_TEST_SEED=N`` replays or
explores another run) and cheap: the i-th request of a seed is always the same, however the answers interleave.
Every request knows what it is, so its answer is checked exactly, not just "not 5xx":

* ``unsigned``: any body (well-formed or not) without a valid signature: no headers, a timestamp that is not a
  number (words, exponents, 5,000 digits, negative, empty), stale or future, a signature of another secret, of
  another scheme, of the wrong length, repeated headers that disagree -> **401**;
* ``malformed``: correctly signed, but not a request Slack sends: not UTF-8, ``payload=`` that is empty, not JSON
  or not an object, JSON nested 5,000 deep, ``NaN``, 5,000-digit numbers, repeated keys (form or JSON), forms that
  are not form-encoded, a real payload with one of the fields Bolt reads removed or retyped (``actions``,
  ``action_id``, ``view``, ``callback_id``, ``type``, ``user``, ``team``, ``enterprise``, ``channel``,
  ``authorizations``, ``response_url(s)``, ``event``, ``message.user``), unknown payload or event types -> **400**;
* ``well-formed``: correctly signed real shapes (slash commands, clicks, view submissions and closes,
  suggestions, shortcuts, events, url_verification) full of garbage where Slack puts user input -> **200** when
  one of the bot's listeners takes it, else **404** (Bolt's answer when none does);
* ``ssl_check`` (unsigned, as Slack sends it) -> **200**; other methods and paths -> **405/404**; bodies over
  1 MiB, with or without ``Content-Length`` -> **413**; malformed HTTP on a raw socket (bad request line, header,
  chunk, duplicate ``Content-Length``...) -> **400** from aiohttp itself.

And for the whole run: every answer within Slack's 3 s; nothing logged with a traceback and nothing at ERROR
(no listener or background job failed); one ``refused ...`` line per refusal; no ``ModifyVpnConnEx``; the Slack
stand-in saw only valid Block Kit; and afterwards the bot still answers ``/vpn help``.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import aiohttp
import pytest
from botharness import APPROVER, GROUP_MEMBER, SIGNING_SECRET, Harness, fuzz_seed, harness

from bot.playground.slack_payloads import (
    FORM_CONTENT_TYPE,
    block_action_payload,
    sign_bytes,
    slash_command_payload,
    view_closed_payload,
    view_submission_payload,
)

GENERATED = 5000
CONCURRENCY = 6
SLACK_ACK_SECONDS = 3.0
MAX_BODY = 1024**2
KNOWN_ACTIONS = ("approve_change", "reject_change", "edit_connection", "review_again")
KNOWN_CALLBACKS = ("vpn_edit", "reject_reason")
TRUSTED = frozenset({APPROVER, GROUP_MEMBER})
CLIENT_LOGGERS = ("httpx", "httpcore", "aiohttp.client")

# Text a user could type, or an attacker would: controls, bidi, emoji, markup, JSON and form metacharacters.
ODD = [
    "", " ", "\x00", "\x01\x02", "\x7f", "\t", "\n", "\r\n", "\u00a0", "\u200b", "\u202e", "\u2066", "\ufeff",
    "\ufffd", "e\u0301", "🔥", "👩🏽‍💻", "مرحبا", "中文", "𝟏𝟐", "<!channel>", "<@U0APPROVER>", "&amp;", "*b*", "```",
    "%", "%ZZ", "%00", "&", "=", "+", "?", "#", ";", "\\", '"', "'", "{", "}", "[", "]", "null", "NaN", "-1",
    "1e309", "payload", "payload=", "command=/vpn", "%s%n", "chg-aaaaaaaaaa", "vpnx-ol6bcqp0",
]  # fmt: skip
WRONG_TYPES: list[Any] = [None, True, False, 0, -1, 2**63, 1.5, [], [1], ["x"], {}, {"id": 5}, {"a": None}]
BAD_UTF8 = [b"\xff", b"\xfe\xff", b"\xc3\x28", b"\xa0\xa1", b"\xe2\x28\xa1", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80"]


@dataclass
class Probe:
    kind: str
    expected: frozenset[int]
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    method: str = "POST"
    path: str = "/slack/events"
    raw: bytes | None = None  # a whole HTTP request, sent on its own socket
    chunked: bool = False
    refusals: int = 0  # "refused ..." lines it must log: 1 for every 400/401/413 of the front


@dataclass
class Outcome:
    status: int
    seconds: float


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith(CLIENT_LOGGERS):
            self.records.append(record)


# --- what gets sent --------------------------------------------------------------------------------------------


class Generator:
    """The i-th probe of a seed is always the same (everything comes from one ``random.Random``)."""

    def __init__(self, seed: int, new_response_url: Callable[[], str]) -> None:
        self.rng = random.Random(seed)
        self.response_url = new_response_url

    # -- pieces

    def text(self) -> str:
        r = self.rng
        pick = r.random()
        if pick < 0.45:
            return "".join(r.choice(ODD) for _ in range(r.randint(0, 6)))
        if pick < 0.8:
            points = (
                r.choice((r.randint(32, 126), r.randint(0, 0x2FFF), r.randint(0x1F300, 0x1FAFF))) for _ in "x" * 24
            )
            return "".join(map(chr, points))[: r.randint(0, 24)]
        if pick < 0.95:
            return r.choice(["help", "list", "show", "edit", "status"]) + " " + r.choice(ODD)
        unit = r.choice(ODD) or "x"
        return (unit * 20_000)[: r.choice([2001, 3001, 5000, 20_000])]

    def odd_value(self) -> Any:
        return self.rng.choice([self.text(), self.text(), copy.deepcopy(self.rng.choice(WRONG_TYPES))])

    def user_id(self) -> str:
        user = self.rng.choice(["U0REQUEST", "U0STRANGER", "W0ENTERPR1", "", self.text()[:20]])
        return user if user not in TRUSTED else "U0STRANGER"

    def garbage_id(self) -> str:
        return "x-" + "".join(self.rng.choice("abcdefghijklmnopqrstuvwxyz_0123456789") for _ in range(8))

    # -- real shapes, garbage inside

    def slash(self) -> tuple[dict[str, Any], bool]:
        r = self.rng
        fields: dict[str, Any] = slash_command_payload(
            self.text(),
            user_id=self.user_id(),
            channel_name=r.choice(["vpn-ops", "payload-team", self.text()[:30]]),
            trigger_id=f"{r.randint(10**12, 10**13)}.{r.randint(10**11, 10**12)}.{r.getrandbits(128):032x}",
            response_url=self.response_url(),
        )
        fields["command"] = r.choice(["/vpn"] * 6 + ["/VPN", "/vpnbot", "", self.text()[:10]])
        for _ in range(r.randint(0, 2)):
            fields[r.choice(["text", "user_name", "channel_id", "team_domain", "x_" + self.garbage_id()])] = self.text()
        return fields, fields["command"] == "/vpn"

    def action(self) -> tuple[dict[str, Any], bool]:
        r = self.rng
        action_id = r.choice([*KNOWN_ACTIONS, *KNOWN_ACTIONS, self.garbage_id()])
        payload = block_action_payload(
            action_id, r.choice(["chg-aaaaaaaaaa", "vpnx-ol6bcqp0", self.text()]), user_id=self.user_id()
        )
        payload["response_url"] = self.response_url()
        payload["actions"][0]["value"] = self.odd_value()
        if r.random() < 0.3:
            payload["actions"][0]["block_id"] = self.text()
        self.noise(payload, ["trigger_id", "state", "token", "api_app_id", "container"])
        return payload, action_id in KNOWN_ACTIONS

    def view_payload(self, kind: str) -> tuple[dict[str, Any], bool]:
        r = self.rng
        callback = r.choice([*KNOWN_CALLBACKS, *KNOWN_CALLBACKS, self.garbage_id()])
        blocks = r.choice([[], [_reason_block()], [_reason_block(self.text() or "b")]])
        view = {"id": r.choice(["V0000000001", self.text()[:12]]), "type": "modal", "callback_id": callback}
        view |= {"blocks": blocks, "private_metadata": self.odd_value(), "title": {"type": "plain_text", "text": "x"}}
        if kind == "view_closed":
            payload = view_closed_payload(view, user_id=self.user_id())
            payload["view"].update(private_metadata=view["private_metadata"], callback_id=callback)
            return payload, False
        values = {}
        for block in blocks:
            entry = {"type": "plain_text_input", "value": self.odd_value()}
            values[block["block_id"]] = {block["element"]["action_id"]: entry}
        payload = view_submission_payload(view, values, user_id=self.user_id())
        payload["view"]["private_metadata"] = view["private_metadata"]
        self.noise(payload["view"], ["hash", "root_view_id", "team_id", "app_id", "title", "blocks"])
        return payload, callback in KNOWN_CALLBACKS

    def other_interaction(self) -> dict[str, Any]:
        r = self.rng
        kind = r.choice(["block_suggestion", "shortcut", "message_action"])
        payload: dict[str, Any] = {"type": kind, "user": {"id": self.user_id()}, "team": {"id": "T0VPNTEAM"}}
        payload |= (
            {"action_id": self.garbage_id()} if kind == "block_suggestion" else {"callback_id": self.garbage_id()}
        )
        payload["trigger_id"] = "1.2.x"
        return payload

    def event(self) -> tuple[dict[str, Any], int]:
        r = self.rng
        if r.random() < 0.3:
            return {"type": "url_verification", "token": "t", "challenge": self.text()}, 200
        if r.random() < 0.2:
            return {"type": "app_rate_limited", "team_id": "T0VPNTEAM", "minute_rate_limited": 1}, 404
        event = {"type": r.choice(["message", "app_mention", self.garbage_id()]), "text": self.text()}
        event |= {"user": self.user_id(), "channel": "C0VPNOPS", "ts": "1.2"}
        return {"type": "event_callback", "team_id": "T0VPNTEAM", "event": event, "event_id": "Ev1"}, 404

    def noise(self, node: dict[str, Any], keys: list[str]) -> None:
        """Garbage in fields Bolt never reads; never touches one it does."""
        r = self.rng
        for _ in range(r.randint(0, 2)):
            if r.random() < 0.5 and keys:
                key = r.choice(keys)
                if key in node:
                    node[key] = self.odd_value()
            else:
                node["zz_" + self.garbage_id()] = self.odd_value()

    def well_formed(self) -> tuple[bytes, str, int]:
        """(body, content type, expected status)."""
        r = self.rng
        pick = r.random()
        if pick < 0.3:
            fields, routed = self.slash()
            return urlencode(fields).encode(), self.form_type(), 200 if routed else 404
        if pick < 0.8:
            payload, routed = self.action() if pick < 0.55 else self.view_payload("view_submission")
            return _interactive(payload), self.form_type(), 200 if routed else 404
        if pick < 0.87:
            payload, _ = self.view_payload("view_closed")
            return _interactive(payload), self.form_type(), 404
        if pick < 0.93:
            return _interactive(self.other_interaction()), self.form_type(), 404
        document, status = self.event()
        return (
            json.dumps(document).encode(),
            r.choice(["application/json", "application/json; charset=utf-8", ""]),
            status,
        )

    def form_type(self) -> str:
        return self.rng.choice([FORM_CONTENT_TYPE] * 4 + [FORM_CONTENT_TYPE + "; charset=utf-8", "", "text/plain"])

    # -- malformed, each certainly so

    def malformed(self) -> tuple[bytes, str]:
        r = self.rng
        pick = r.randrange(11)
        if pick == 0:  # not UTF-8
            body, content_type, _ = self.well_formed()
            at = r.randint(0, len(body))
            return body[:at] + r.choice(BAD_UTF8) + body[at:], content_type
        if pick == 1:  # payload that is not a JSON object
            value = r.choice(["", self.text(), json.dumps(self.odd_value()), "{", '{"type":', "[" * 10])
            if value.startswith("{") and value.endswith("}"):
                value = "[" + value
            return urlencode({"payload": value}).encode(), self.form_type()
        if pick == 2:  # JSON that Python's parser cannot or must not take
            depth = r.choice([2000, 5000, 20_000])
            nested = ["[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth]
            inner = r.choice([*nested, "NaN", "-Infinity", "1" * r.choice([4301, 5000])])
            document = '{"type": "block_actions", "actions": [{"action_id": "approve_change"}], "x": ' + inner + "}"
            if r.random() < 0.5:
                return urlencode({"payload": document}).encode(), self.form_type()
            return document.encode(), "application/json"
        if pick == 3:  # a repeated key
            payload, _ = self.action()
            text = json.dumps(payload)
            key = r.choice([k for k in payload if k != "type"] or ["type"])
            text = "{" + json.dumps(key) + ": " + json.dumps(self.odd_value()) + ", " + text[1:]
            return urlencode({"payload": text}).encode(), self.form_type()
        if pick == 4:  # a repeated form field
            fields, _ = self.slash()
            items = list(fields.items())
            items.insert(r.randint(0, len(items)), r.choice(items))
            return urlencode(items).encode(), self.form_type()
        if pick == 5:  # not form-encoded, or neither a command nor an interaction
            fields, _ = self.slash()
            encoded = urlencode(fields)
            return r.choice(
                [
                    encoded.replace("&", "&&", 1),
                    encoded + "&novalue",
                    "/vpn " + self.text().replace("=", "") + " and no equals sign",
                    urlencode({k: v for k, v in fields.items() if k != "command"}),
                    encoded + "&text=%FF%FE",
                    "&".join(f"f{i}=x" for i in range(r.randint(101, 400))),
                    "",
                ]
            ).encode(), self.form_type()
        if pick == 6:
            return self.broken_event()
        return _interactive(self.broken_interaction()), self.form_type()

    def broken_interaction(self) -> dict[str, Any]:
        """A real payload, with one field Bolt reads removed or of a type Slack never sends."""
        r = self.rng
        kind = r.choice(["action", "view", "any"])
        payload = self.action()[0] if kind == "action" else self.view_payload("view_submission")[0]
        not_str = r.choice([None, 5, 1.5, True, [], ["x"], {"a": 1}])
        not_obj = r.choice([None, 5, "x", "", [], [{}], True])
        not_id_holder = r.choice([5, 1.5, True, [], ["U0REQUEST"], [{"id": "x"}]])
        breaks: list[Callable[[], None]] = [
            lambda: payload.pop("type"),
            lambda: payload.update(type=not_str if not_str is not None else 5),
            lambda: payload.update(type=self.garbage_id()),
            lambda: payload.update(type=r.choice(["event_callback_", "BLOCK_ACTIONS", "view_submission "])),
            lambda: payload.update({r.choice(["user", "team", "enterprise", "channel"]): not_id_holder}),
            lambda: payload.update({r.choice(["user", "channel"]): r.choice(["U0REQUEST", "C0VPNOPS"])}),
            lambda: payload.update({r.choice(["user", "team", "channel"]): {"id": r.choice([5, 1.5, True, [], {}])}}),
            lambda: payload.update(authorizations=r.choice([5, "x", {}, [5], ["x"], [None]])),
            lambda: payload.update(response_url=r.choice([5, None, [], {}, True])),
        ]
        if kind == "action":
            breaks += [
                lambda: payload.pop("actions"),
                lambda: payload.update(actions=r.choice([[], "approve_change", 5, None, {}, [5], ["x"], [None], [[]]])),
                lambda: payload["actions"][0].pop("action_id"),
                lambda: payload["actions"][0].update(action_id=not_str),
                lambda: payload["message"].update(user=not_id_holder),
            ]
        else:
            breaks += [
                lambda: payload.pop("view"),
                lambda: payload.update(view=not_obj),
                lambda: payload["view"].pop(r.choice(["callback_id", "type"])),
                lambda: payload["view"].update({r.choice(["callback_id", "type"]): not_str}),
                lambda: payload.update(response_urls=r.choice([5, "x", {}, [5], ["x"]])),
            ]
        r.choice(breaks)()
        return payload

    def broken_event(self) -> tuple[bytes, str]:
        r = self.rng
        document: Any = r.choice(
            [
                {"type": "event_callback"},
                {"type": "event_callback", "event": r.choice(["message", 5, None, [], ["type"]])},
                {"type": "event_callback", "event": {"type": r.choice([5, None, [], {}])}},
                {"type": "event_callback", "event": {"type": "message", "user": r.choice([5, [], True])}},
                {"type": r.choice([self.garbage_id(), 5, None, [], ""])},
                {"challenge": "x"},
                [1, 2],
                "url_verification",
                5,
                None,
            ]
        )
        text = json.dumps(document)
        if not isinstance(document, dict):
            return text.encode(), "application/json"
        return text.encode(), r.choice(["application/json", ""])

    # -- headers

    def signed(self, body: bytes, content_type: str) -> list[tuple[str, str]]:
        headers = [(k, v) for k, v in sign_bytes(body, SIGNING_SECRET).items() if k != "Content-Type"]
        if content_type:
            headers.append(("Content-Type", content_type))
        if self.rng.random() < 0.1:
            headers += [("X-Slack-Retry-Num", str(self.rng.randint(1, 3))), ("X-Slack-Retry-Reason", "http_timeout")]
        return headers

    def unsigned(self, body: bytes) -> list[tuple[str, str]]:
        r = self.rng
        now = int(time.time())
        good = sign_bytes(body, SIGNING_SECRET)
        ts, signature = good["X-Slack-Request-Timestamp"], good["X-Slack-Signature"]
        words = ["", "abc", "1.7e9", "-5", "+" + ts, ts + "0", "9" * r.choice([12, 5000]), "0x1", "٣"]
        bad_ts = r.choice([*words, str(now - 301), str(now + 301), str(now - 10**9), self.text()[:20]])
        variants = [
            [],
            [("X-Slack-Request-Timestamp", ts)],
            [("X-Slack-Signature", signature)],
            [("X-Slack-Request-Timestamp", bad_ts), ("X-Slack-Signature", signature)],
            list(sign_bytes(body, SIGNING_SECRET + "x", ts).items()),
            [("X-Slack-Request-Timestamp", ts), ("X-Slack-Signature", signature.replace("v0=", "v1="))],
            [("X-Slack-Request-Timestamp", ts), ("X-Slack-Signature", signature[:-1])],
            [("X-Slack-Request-Timestamp", ts), ("X-Slack-Signature", signature.upper())],
            [("X-Slack-Request-Timestamp", ts), ("X-Slack-Signature", "v0=" + "0" * 64)],
            [("X-Slack-Request-Timestamp", ts), ("X-Slack-Signature", signature + "0")],
            [
                ("X-Slack-Request-Timestamp", ts),
                ("X-Slack-Signature", signature),
                ("X-Slack-Request-Timestamp", bad_ts),
            ],
            [("X-Slack-Request-Timestamp", ts), ("X-Slack-Signature", signature), ("X-Slack-Signature", "v0=1")],
        ]
        headers = [(k, v) for k, v in r.choice(variants) if k != "Content-Type"]
        headers.append(("Content-Type", r.choice([FORM_CONTENT_TYPE, "application/json"])))
        return [(k, "".join(c if 32 <= ord(c) < 127 else "?" for c in v)) for k, v in headers]

    # -- the mix

    def probes(self, count: int) -> Iterator[Probe]:
        r = self.rng
        for _ in range(count):
            pick = r.random()
            if pick < 0.25:
                body = self.well_formed()[0] if r.random() < 0.5 else self.malformed()[0]
                yield _sized(Probe("unsigned", frozenset({401}), body, self.unsigned(body), refusals=1))
            elif pick < 0.62:
                body, content_type = self.malformed()
                yield _sized(Probe("malformed", frozenset({400}), body, self.signed(body, content_type), refusals=1))
            elif pick < 0.93:
                body, content_type, status = self.well_formed()
                yield _sized(Probe(f"well-formed {status}", frozenset({status}), body, self.signed(body, content_type)))
            elif pick < 0.95:
                body = r.choice([b"ssl_check=1&token=vErIfIcAtIoNtOkEnStAnDiN", b"ssl_check=1", b"token=x&ssl_check=1"])
                yield Probe("ssl_check", frozenset({200}), body, [("Content-Type", FORM_CONTENT_TYPE)])
            elif pick < 0.98:
                yield self.elsewhere()
            elif pick < 0.995:
                yield Probe("raw HTTP", frozenset({400}), raw=r.choice(RAW_HTTP))
            else:
                yield self.too_large()

    def elsewhere(self) -> Probe:
        r = self.rng
        if r.random() < 0.5:
            method = r.choice(["GET", "PUT", "DELETE", "PATCH", "OPTIONS"])
            return Probe("other method", frozenset({405}), method=method, headers=[("Content-Type", FORM_CONTENT_TYPE)])
        path = r.choice(["/", "/slack/event", "/slack/events/", "/SLACK/EVENTS", "/slack/events/x", "/api/x"])
        return Probe(
            "other path", frozenset({404}), b"command=%2Fvpn", [("Content-Type", FORM_CONTENT_TYPE)], path=path
        )

    def too_large(self) -> Probe:
        r = self.rng
        body = b"payload=" + b"x" * (MAX_BODY + r.choice([1, 1000, MAX_BODY]))
        signed = self.signed(body, FORM_CONTENT_TYPE) if r.random() < 0.5 else []
        return Probe("too large", frozenset({413}), body, signed, chunked=r.random() < 0.3, refusals=1)


def _sized(probe: Probe) -> Probe:
    """A body over the limit is refused for its size first, whatever else it is."""
    if len(probe.body) > MAX_BODY:
        probe.kind, probe.expected, probe.refusals = "too large", frozenset({413}), 1
    return probe


def _reason_block(block_id: str = "reason") -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": block_id,
        "optional": True,
        "label": {"type": "plain_text", "text": "Reason"},
        "element": {"type": "plain_text_input", "action_id": block_id},
    }


def _interactive(payload: Any) -> bytes:
    return urlencode({"payload": json.dumps(payload, separators=(",", ":"))}).encode()


RAW_HTTP = [
    b"POST /slack/events HTTP/1.1\r\nHost: a\r\nNoColonHere\r\nContent-Length: 0\r\n\r\n",
    b"POST /slack/events HTTP/1.1\r\nHost: a\r\nX-Big: " + b"a" * 9000 + b"\r\nContent-Length: 0\r\n\r\n",
    b"POST /slack/events HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nabc\r\n0\r\n\r\n",
    b"POST /slack/events HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    b"POST /slack/events HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"POST /slack/events HTTP/1.1\r\nHost: a\r\nX-Slack-Signature: a\x00b\r\nContent-Length: 0\r\n\r\n",
    b"POST /slack/events HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
    b"POST /slack/events HTTP/9.9\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
    b"POST /slack/events HTTP/1.1\r\nHost: a\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(200)) + b"\r\n",
    b"POST /slack/%zz?\xff HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
]


# --- sending ---------------------------------------------------------------------------------------------------


async def deliver(session: aiohttp.ClientSession, base: str, probe: Probe) -> Outcome:
    started = time.perf_counter()
    if probe.raw is not None:
        host, port = urlsplit(base).hostname, urlsplit(base).port
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(probe.raw)
            await writer.drain()
            status_line = await asyncio.wait_for(reader.readline(), 10)
        finally:
            writer.close()
        return Outcome(int(status_line.split()[1]) if status_line else 0, time.perf_counter() - started)
    data: Any = probe.body
    if probe.chunked:

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(probe.body), 256 * 1024):
                yield probe.body[start : start + 256 * 1024]

        data = chunks()
    skip = () if any(k.lower() == "content-type" for k, _ in probe.headers) else ("Content-Type",)
    async with session.request(
        probe.method, base + probe.path, data=data, headers=probe.headers, skip_auto_headers=skip
    ) as response:
        await response.read()
        return Outcome(response.status, time.perf_counter() - started)


def judge(probe: Probe, outcome: Outcome) -> str | None:
    """What is wrong with the answer (None: nothing)."""
    if outcome.status >= 500:
        return "a server error"
    if not (200 <= outcome.status < 300 or 400 <= outcome.status < 500):
        return "neither 2xx nor 4xx"
    if outcome.status not in probe.expected:
        return f"expected {sorted(probe.expected)}"
    if outcome.seconds >= SLACK_ACK_SECONDS:
        return "slower than Slack's 3 s"
    return None


async def settle(h: Harness, seconds: float = 20.0) -> None:
    """Until the bot has no work left but its expiry sweeper."""
    deadline = time.monotonic() + seconds
    while [t for t in h.bot.context.background if t.get_name() not in ("expiry-sweeper", "store-watch")]:
        assert time.monotonic() < deadline, h.bot.context.background
        await asyncio.sleep(0.05)


@pytest.fixture
def records() -> Iterator[Records]:
    handler = Records()
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    if previous == logging.NOTSET or previous > logging.INFO:
        root.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


async def test_thousands_of_hostile_requests_get_no_5xx(tmp_path: Path, records: Records) -> None:
    seed = fuzz_seed()
    started = time.perf_counter()
    async with harness(tmp_path) as h:
        base = h.url.removesuffix("/slack/events")
        probes = Generator(seed, h.slack.new_response_url).probes(GENERATED)
        failures: list[str] = []
        sent: Counter[str] = Counter()
        statuses: Counter[int] = Counter()
        refusals = 0
        slowest = 0.0

        async def worker(session: aiohttp.ClientSession) -> None:
            nonlocal refusals, slowest
            for probe in probes:  # one generator shared by the workers: each probe is sent once
                outcome = await deliver(session, base, probe)
                sent[probe.kind] += 1
                statuses[outcome.status] += 1
                refusals += probe.refusals
                slowest = max(slowest, outcome.seconds)
                problem = judge(probe, outcome)
                if problem:
                    failures.append(
                        f"{problem}: {probe.kind} got {outcome.status} in {outcome.seconds:.2f} s: "
                        f"{(probe.raw or probe.body)[:200]!r} {probe.headers[:4]}"
                    )

        connector = aiohttp.TCPConnector(limit=CONCURRENCY)
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=15)) as session:
            await asyncio.gather(*(worker(session) for _ in range(CONCURRENCY)))
        await settle(h)

        total = sum(sent.values())
        elapsed = time.perf_counter() - started
        print(
            f"\nsent {total} hostile requests (seed {seed}) in {elapsed:.1f} s: {dict(sorted(sent.items()))}; "
            f"answers {dict(sorted(statuses.items()))}; slowest {slowest:.3f} s"
        )
        assert total == GENERATED
        assert failures == [], f"{len(failures)} bad answers, the first:\n" + "\n".join(failures[:15])
        assert not any(s >= 500 for s in statuses)

        tracebacks = [f"{r.name}: {r.getMessage()[:200]}" for r in records.records if r.exc_info or r.stack_info]
        assert tracebacks == [], tracebacks[:10]
        errors = [f"{r.name}: {r.getMessage()[:200]}" for r in records.records if r.levelno >= logging.ERROR]
        assert errors == [], errors[:10]
        refused = [r for r in records.records if r.name == "bot.slack.http" and r.getMessage().startswith("refused")]
        assert len(refused) == refusals + sent["raw HTTP"]
        assert h.sim.state.received("ModifyVpnConnEx") == 0

        help_answer = await h.command("help")
        assert help_answer.status_code == 200
        assert "/vpn edit" in help_answer.text
