"""Bad input everywhere: over 2,000 generated slash commands, block actions and view submissions sent through the
real ``/slack/events`` endpoint of one running bot.

How it runs. The bot, the Slack stand-in and the simulator start once per test function (``botharness.harness``)
on pytest-asyncio's loop. Hypothesis runs in a worker thread (``asyncio.to_thread``): each ``@given`` function is
plain synchronous code that draws one input with ``st.data()``, hands the signed POST to the bot's loop with
``asyncio.run_coroutine_threadsafe`` and blocks on the answer. So Hypothesis never touches the event loop (no
reliance on pytest-asyncio's Hypothesis support, no bot restart per example, no function-scoped-fixture health
check), while the loop keeps serving the bot's background work between examples. Shrinking is off: a failing
example may be a request that takes Slack's whole 3 s, and hundreds of those would make a red run take minutes; a
failure names the request instead (``describe_request``: the decoded payload, long strings cut to their start and
length). Every run draws the same examples (the ``vpnbot`` Hypothesis profile in conftest.py derandomizes);
``HYPOTHESIS_PROFILE=explore`` draws new ones, and ``--hypothesis-seed`` replays such a run. A fixed corpus (``Fuzzer.corpus``: ``chg-xxxxxxxxxx``, empty and
5k-character ids, host bits, broken SPD JSON, a JSON nesting bomb, 1,500 CIDRs, out-of-range lifetimes, choices
the form does not offer, unknown view ids) is sent first on every run.

What every request must get (``check_answer``): an answer within Slack's 3 s, never a 5xx, and exactly the one
that is right for it, decided from the request alone (``expected_route`` routes it the way Bolt does):

* 404, when no listener matches (Bolt's answer for an unknown command, action id or callback id);
* 413, when the body is over aiohttp's 1 MiB (Slack never sends that much; aiohttp refuses before Bolt reads it);
* 200 with an empty body: a known action, a reject-reason submission, ``/vpn edit|list|show|status`` (answered
  later), an edit form with a valid change (its card must then be posted; it is withdrawn at once so the next one
  can be), or an edit form the bot has none for that has no input block to show an error beside;
* 200 with an ephemeral message whose blocks Slack would accept: ``/vpn help`` and unknown verbs;
* 200 with ``{"response_action": "errors", "errors": {...}}``: an edit form that cannot be taken. Every key is the
  block id of an input block of the submitted view, every message a non-empty string of at most 2000 characters,
  and a field generated to be invalid (host bits, a prefix over 32, a lifetime out of range, a choice not offered,
  broken or wrongly shaped SPD JSON, a name too long or with control characters, an IPv6 address, a key over 128
  characters) has an error of its own.

And for the whole run: no ``ModifyVpnConnEx`` reached the simulator (nobody in ``VPNBOT_APPROVERS`` ever clicks,
and a real pending request, the target of many clicks, is still pending at the end), no listener or background
job raised (the bot logs those at ERROR), every view and message the bot sent is valid Block Kit
(``SlackStandin.invalid`` is empty), the bot's background work settles, and afterwards the bot still answers
``/vpn help`` and carries a normal edit through approval to exactly one ``ModifyVpnConnEx``, answered ``0``.

Generated inputs: unicode text with emoji, RTL and bidi controls, NUL and other control characters, Slack markup,
strings of 2k to 20k characters; numbers, lists, dicts, booleans and null where strings belong; fields removed and
unknown fields added anywhere (``mutate``). The fields the HTTP front checks before Bolt sees a request (``type``,
``command``, ``actions[0].action_id``, ``view.callback_id``, ``view.type``, the ids of ``user``, ``team``,
``channel`` and ``enterprise``, ``message.user``/``.team``, ``response_url``: ``bot.slack.http.payload_problem``) are
varied in value but never removed or retyped here: Slack always sends them, the front answers 400 without them, and
``test_http_hostile.py`` and ``test_http_front.py`` send exactly that. A form field named ``payload`` or
``ssl_check`` is not generated (it makes another kind of request of the body).
"""

from __future__ import annotations

import asyncio
import copy
import ipaddress
import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import hypothesis.strategies as st
from botharness import APPROVER, CHANNEL, GROUP_MEMBER, REQUESTER, SEED_CONN, SIGNING_SECRET, STRANGER, Harness, harness
from hypothesis import HealthCheck, Phase, assume, given, settings

from bot.playground.slack_api import block_problems
from bot.playground.slack_payloads import (
    block_action_payload,
    fill_state_from_view,
    interactive_body,
    post_signed,
    slash_command_payload,
    view_submission_payload,
)
from bot.slack import approvals
from bot.slack.http import MAX_BODY_BYTES
from bot.vpn.change import ChangeState
from bot.vpn.params import PARAMS, Kind

MODIFY = "ModifyVpnConnEx"
OTHER_CONN = "vpnx-3mv8tqwd"
SLACK_ACK_SECONDS = 3.0
ERROR_MAX = 2000
AIOHTTP_MAX_BODY = MAX_BODY_BYTES  # the front's client_max_size: larger bodies get 413
KNOWN_ACTIONS = frozenset({"approve_change", "reject_change", "edit_connection", "review_again"})
KNOWN_CALLBACKS = frozenset({"vpn_edit", "reject_reason"})
SLASH_LATER = frozenset({"edit", "list", "show", "status"})
PARAM_NAMES = [p.name for p in PARAMS if not p.api3_only]  # the fuzzed form is the seed connection's, under API 2.0
PARAMS_BY_NAME = {p.name: p for p in PARAMS}
# Approving users are never generated, so no fuzzed click can approve a real request.
TRUSTED = frozenset({APPROVER, GROUP_MEMBER})

EXAMPLES = {"command": 300, "form": 800, "view": 350, "action": 550}
FUZZ_SETTINGS = settings(
    deadline=None,
    database=None,
    print_blob=True,
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=list(HealthCheck),
)

# --- strategies ----------------------------------------------------------------------------------------------------

ODDITIES = [
    "\x00",
    "\x01",
    "\x07",
    "\x1b[31m",
    "\x7f",
    "\t",
    "\n",
    "\r\n",
    " ",
    "\u00a0",
    "\u200b",
    "\u200e",
    "\u200f",
    "\u202e",
    "\u2066",
    "\u2028",
    "\ufeff",
    "\ufffd",
    "e\u0301",
    "🔥",
    "👩🏽‍💻",
    "🇨🇳",
    "مرحبا",
    "שלום",
    "中文字符",
    "𝟏𝟐𝟎",
    "١٢٣",
    "<!channel>",
    "<@U0APPROVER>",
    "<http://x|y>",
    "&amp;",
    "&lt;",
    "*bold*",
    "```",
    "`",
    "%s%n",
    "{}",
    "[]",
    "\\",
    '"',
    "'",
    "null",
    "NaN",
    "-1",
    "1e309",
]
oddity = st.sampled_from(ODDITIES)
short_text = st.one_of(
    st.text(max_size=40),
    st.lists(st.one_of(oddity, st.text(max_size=4)), max_size=12).map("".join),
)
# Long strings are repeated units: Hypothesis draws a few characters, not 20,000.
long_text = st.builds(
    lambda unit, size: (unit * (size // len(unit) + 1))[:size],
    st.one_of(oddity, st.text(min_size=1, max_size=6)),
    st.sampled_from([2001, 3001, 5000, 10_001, 12_000, 20_000]),
)
weird_text = st.one_of(short_text, short_text, short_text, long_text)
wrong_type = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 2**63, 10**100, -(10**100)]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.lists(st.one_of(st.none(), st.integers(), st.text(max_size=4)), max_size=3),
    st.dictionaries(st.text(max_size=4), st.one_of(st.none(), st.integers(), st.text(max_size=4)), max_size=3),
)
odd_value = st.one_of(weird_text, wrong_type)
ids_like = st.one_of(
    st.sampled_from(["", "chg-xxxxxxxxxx", "chg-aaaaaaaaaa", "chg-", "CHG-AAAAAAAAAA", "chg-0000000000", "chg-a"]),
    st.from_regex(r"chg-[a-z2-7]{10}", fullmatch=True),
    st.from_regex(r"(vpnx|vpc|vpngw)-[a-z0-9]{8}", fullmatch=True),
    st.sampled_from([SEED_CONN, "vpnx-3mv8tqwd", "vpc-03vihbk9", "vpngw-kfldykuz", "vpc-8e0ypm3z", "vpnx-notthere"]),
    st.just("chg-" + "x" * 4996),
    weird_text,
)
user_ids = st.one_of(
    st.sampled_from([REQUESTER, STRANGER, "U0NOBODY", "", "W0ENTERPRISE"]),
    st.from_regex(r"[UW][A-Z0-9]{8,10}", fullmatch=True),
    weird_text,
).filter(lambda u: u not in TRUSTED)


octet = st.integers(0, 255)
valid_cidr = st.builds(
    lambda a, b, prefix: str(ipaddress.IPv4Network(f"{a}.{b}.0.0/{prefix}", strict=False)),
    octet,
    octet,
    st.integers(8, 32),
)
host_bits_cidr = st.builds(lambda a, b: f"10.{a}.{b}.1/24", octet, octet)
many_cidrs = st.integers(200, 1500).map(lambda n: "\n".join(f"172.{16 + i // 256}.{i % 256}.0/24" for i in range(n)))
bad_cidr = st.one_of(
    host_bits_cidr,
    st.sampled_from(["10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/", "256.0.0.0/8", "10.0.0/24", "::1/128", "fe80::/10"]),
    st.builds(lambda t: t + "/33", weird_text),
)
separators = st.sampled_from(["\n", ", ", " ", ",", "\r\n", "\t", ";", " , \n"])


@st.composite
def cidr_list(draw: st.DrawFn) -> tuple[str, bool]:
    """(text, must fail): lists of CIDRs, some with a known-bad one (host bits, bad prefix, garbage)."""
    kind = draw(st.sampled_from(["valid", "bad", "many", "garbage"]))
    if kind == "many":
        return draw(many_cidrs), False
    if kind == "garbage":
        return draw(weird_text), False
    items = draw(st.lists(valid_cidr, max_size=6))
    must_fail = kind == "bad"
    if must_fail:
        items.insert(draw(st.integers(0, len(items))), draw(bad_cidr))
    sep = draw(separators)
    return sep.join(items), must_fail


@st.composite
def spd_text(draw: st.DrawFn) -> tuple[str, bool]:
    kind = draw(st.sampled_from(["json", "lines", "bad_json", "nesting", "wrong_json", "many", "garbage"]))
    if kind == "json":
        mapping = draw(st.dictionaries(valid_cidr, st.lists(valid_cidr, min_size=1, max_size=3), max_size=3))
        return json.dumps(mapping), False
    if kind == "lines":
        rules = draw(st.lists(st.tuples(valid_cidr, st.lists(valid_cidr, min_size=1, max_size=3)), max_size=3))
        return "\n".join(f"{local}: {', '.join(remotes)}" for local, remotes in rules), False
    if kind == "bad_json":
        broken = draw(st.sampled_from(['{"10.0.0.0/24": ["192.168.1.0/24"', "{", "[", '{"a": }', "{'x': 1}", "[1,]"]))
        return broken, True
    if kind == "nesting":
        depth = draw(st.sampled_from([100, 1000, 10_000, 100_000]))
        return draw(
            st.sampled_from(["[" * depth, "[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth])
        ), True
    if kind == "wrong_json":
        document = draw(
            st.one_of(
                st.lists(st.one_of(st.integers(), st.none(), st.text(max_size=5)), max_size=3),
                st.dictionaries(valid_cidr, st.one_of(st.integers(), st.none(), st.dictionaries(st.text(), st.text()))),
                st.just({"10.0.0.0/24": []}),
                st.just([{"10.0.0.1/24": ["192.168.0.0/24"]}]),
            )
        )
        return json.dumps(document), bool(document)
    if kind == "many":
        remotes = draw(many_cidrs).replace("\n", ", ")
        return "10.0.0.0/16: " + remotes, False
    return draw(weird_text), False


@st.composite
def integer_text(draw: st.DrawFn, name: str) -> tuple[str, bool]:
    param = PARAMS_BY_NAME[name]
    low, high = param.minimum or 0, param.maximum
    out_of_range = [low - 1, 0, -1, -(10**9)] + ([high + 1, 10**11] if high is not None else [])
    kind = draw(st.sampled_from(["in", "out", "garbage", "huge"]))
    if kind == "in":
        return str(draw(st.integers(low, high if high is not None else 10**9))), False
    if kind == "out":
        return str(draw(st.sampled_from(out_of_range))), True
    if kind == "huge":
        return draw(st.sampled_from(["9" * 13, "1" * 5000, "1e5", "60.5", "0x3c", "+-1", "NaN", "6 0"])), True
    return draw(st.one_of(weird_text, st.just("١٢٠٠"), st.just(" 600 "))), False


@st.composite
def choice_entry(draw: st.DrawFn, name: str) -> tuple[dict[str, Any], bool]:
    """The state of a static_select: an offered option, one the form does not offer, or a malformed entry."""
    param = PARAMS_BY_NAME[name]
    kind = draw(st.sampled_from(["offered", "not_offered", "none", "malformed"]))
    if kind == "offered":
        value = draw(st.sampled_from(param.choices))
        return _selected(value), False
    if kind == "not_offered":
        value = draw(
            st.one_of(
                st.sampled_from(["group3", "aes-cbc-512", "rot13", "sha256", "dh-group99", "main-mode", "", " "]),
                weird_text,
            ).filter(lambda v: v.strip().lower() not in param.choices and v.strip().lower() != "sha1")
        )
        return _selected(value), True
    if kind == "none":
        return {"type": "static_select", "selected_option": None}, True
    return {"type": "static_select", "selected_option": draw(odd_value), "value": draw(odd_value)}, False


def _selected(value: str) -> dict[str, Any]:
    return {"type": "static_select", "selected_option": {"text": {"type": "plain_text", "text": value}, "value": value}}


@st.composite
def name_text(draw: st.DrawFn) -> tuple[str, bool]:
    kind = draw(st.sampled_from(["plain", "too_long", "control", "garbage"]))
    if kind == "plain":
        return draw(st.text(st.characters(min_codepoint=0x20, blacklist_categories=["Cs"]), max_size=40)), False
    if kind == "too_long":
        return "n" * draw(st.integers(61, 12_000)), True
    if kind == "control":
        return "name" + draw(st.sampled_from(["\x00", "\n", "\x1b", "\x7f", "\t"])) + "x", True
    return draw(weird_text), False


@st.composite
def field_entry(draw: st.DrawFn, name: str) -> tuple[dict[str, Any], bool]:
    """A generated state entry for one edit-form field, and whether it is certainly invalid."""
    kind = PARAMS_BY_NAME[name].kind
    if kind is Kind.CHOICE:
        return draw(choice_entry(name))
    element = "number_input" if kind is Kind.INTEGER else "plain_text_input"
    if draw(st.integers(0, 9)) == 0:
        return {"type": element, "value": draw(wrong_type)}, False
    if kind is Kind.INTEGER:
        text, must_fail = draw(integer_text(name))
    elif kind is Kind.CIDR_LIST:
        text, must_fail = draw(cidr_list())
    elif kind is Kind.SPD:
        text, must_fail = draw(spd_text())
    elif kind is Kind.NAME:
        text, must_fail = draw(name_text())
    elif kind is Kind.SECRET:
        text, must_fail = draw(
            st.one_of(
                st.tuples(st.one_of(weird_text, st.from_regex(r"[A-Za-z0-9]{8,40}", fullmatch=True)), st.just(False)),
                st.tuples(st.text(min_size=129, max_size=300), st.just(True)),
            )
        )
    elif kind is Kind.ADDRESS:
        text = draw(st.one_of(st.ip_addresses(v=4).map(str), st.ip_addresses(v=6).map(str), weird_text))
        must_fail = ":" in text
    else:
        text = draw(st.one_of(st.from_regex(r"[a-z]{1,10}(\.[a-z]{2,5}){1,3}", fullmatch=True), weird_text))
        must_fail = False
    return {"type": element, "value": text or None}, must_fail


# --- mutations: missing, extra and wrongly typed fields ---------------------------------------------------------

JsonPath = tuple[str | int, ...]


def walk(node: Any, path: JsonPath = ()) -> Iterator[tuple[JsonPath, Any]]:
    if path:
        yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, (*path, index))


def at(root: Any, path: JsonPath) -> Any:
    for key in path:
        root = root[key]
    return root


def mutate(data: st.DataObject, payload: dict[str, Any], protected: Callable[[JsonPath], bool], most: int = 3) -> None:
    """Up to ``most`` random edits: delete a field, give a leaf another type or text, or add an unknown field."""
    for _ in range(data.draw(st.integers(0, most), label="mutations")):
        nodes = [(p, v) for p, v in walk(payload) if not protected(p)]
        if not nodes:
            return
        path, node = data.draw(st.sampled_from(nodes), label="mutated path")
        parent = at(payload, path[:-1])
        op = data.draw(st.sampled_from(["delete", "replace", "extra"]), label="mutation")
        if op == "delete":
            del parent[path[-1]]
        elif op == "replace" and not isinstance(node, (dict, list)):
            parent[path[-1]] = data.draw(odd_value, label="new value")
        elif op == "extra":
            target = node if isinstance(node, dict) else parent if isinstance(parent, dict) else None
            if target is not None:
                target[data.draw(st.one_of(st.text(max_size=20), oddity), label="extra key")] = data.draw(odd_value)


# What the HTTP front checks (what Bolt indexes or type-checks before any listener runs); Slack always sends these,
# with these types, and without them the front answers 400 (test_http_hostile.py sends those).
BOLT_FIELDS = {("type",), ("command",), ("view",), ("view", "callback_id"), ("view", "type"), ("enterprise",)}
BOLT_FIELDS |= {("message", "user"), ("message", "team")}  # Bolt reads the actor from it when ``user`` is missing
BOLT_FIELDS |= {("actions",), ("actions", 0), ("actions", 0, "action_id")}
BOLT_FIELDS |= {("user", "id"), ("team", "id"), ("channel", "id"), ("enterprise", "id"), ("response_url",)}


def bolt_fields(path: JsonPath) -> bool:
    return path in BOLT_FIELDS


# --- routing and answers ---------------------------------------------------------------------------------------


def expected_route(payload: Mapping[str, Any]) -> str | None:
    """Which of the bot's listeners Bolt gives this request to, or None (Bolt answers 404)."""
    if "command" in payload:
        return "command" if payload.get("command") == "/vpn" else None
    kind = payload.get("type")
    if kind == "block_actions":
        action = payload["actions"][0]
        return "action" if action.get("action_id") in KNOWN_ACTIONS else None
    if kind == "view_submission":
        callback = payload["view"].get("callback_id")
        return str(callback) if callback in KNOWN_CALLBACKS else None
    return None


def slash_answered_later(text: Any) -> bool:
    """Whether ``/vpn text`` is acknowledged empty (its answer comes later) rather than with an ephemeral."""
    words = str(text or "").split()
    verb = words[0].lower() if words else "help"
    return verb in SLASH_LATER and (len(words) > 1 or verb == "list")


def input_block_ids(view: Any) -> set[str]:
    """Where ``response_action: errors`` can show a message: the input blocks that have a block id."""
    blocks = view.get("blocks") if isinstance(view, Mapping) else None
    if not isinstance(blocks, list):
        return set()
    return {
        b["block_id"]
        for b in blocks
        if isinstance(b, Mapping) and b.get("type") == "input" and isinstance(b.get("block_id"), str) and b["block_id"]
    }


@dataclass
class Answer:
    status: int
    body: bytes
    seconds: float
    sent_bytes: int

    def json(self) -> Any:
        return json.loads(self.body)

    def describe(self) -> str:
        return f"HTTP {self.status} in {self.seconds:.3f} s: {self.body[:300]!r}"


def check_answer(answer: Answer, expected: str, view: Any = None, must_fail: frozenset[str] = frozenset()) -> str:
    """Assert the answer is the expected kind (``unhandled``, ``empty``, ``ephemeral``, ``errors``, or
    ``empty-or-errors``); the kind it was."""
    what = answer.describe()
    assert answer.seconds < SLACK_ACK_SECONDS, f"answered after Slack's 3 s: {what}"
    assert answer.status < 500, f"a server error: {what}"
    if answer.sent_bytes > AIOHTTP_MAX_BODY:
        assert answer.status == 413, f"a body over aiohttp's limit must get 413: {what}"
        return "too large"
    if expected == "unhandled":
        assert answer.status == 404, f"expected 404 (no listener): {what}"
        return "unhandled"
    assert answer.status == 200, f"expected 200: {what}"
    if not answer.body:
        assert expected in ("empty", "empty-or-errors"), f"expected {expected}, got an empty 200"
        assert not must_fail, f"fields {sorted(must_fail)} are invalid, yet the submission was taken"
        return "empty"
    try:
        document = answer.json()
    except ValueError:
        raise AssertionError(f"a 200 that is neither empty nor JSON: {what}") from None
    assert isinstance(document, dict), what
    if expected == "ephemeral":
        assert document.get("response_type") == "ephemeral", what
        assert isinstance(document.get("text"), str), what
        assert document["text"], what
        assert block_problems(document.get("blocks", [])) == [], what
        return "ephemeral"
    assert expected in ("errors", "empty-or-errors"), f"expected {expected}: {what}"
    assert set(document) == {"response_action", "errors"}, what
    assert document["response_action"] == "errors", what
    errors = document["errors"]
    assert isinstance(errors, dict), what
    assert errors, what
    blocks = input_block_ids(view)
    for block_id, message in errors.items():
        assert block_id in blocks, f"error on {block_id!r}, which is not an input block of the view: {what}"
        assert isinstance(message, str), f"bad message for {block_id}: {what}"
        assert 0 < len(message) <= ERROR_MAX, f"bad message for {block_id}: {what}"
    missing = must_fail - set(errors)
    assert not missing, f"no error for the invalid field(s) {sorted(missing)}: {what}"
    return "errors"


def describe_request(body: bytes, limit: int = 3000) -> str:
    """A failing request, readable: the decoded fields or payload, long strings cut to their start and length."""

    def short(node: Any) -> Any:
        if isinstance(node, str) and len(node) > 120:
            return f"{node[:60]}...({len(node)} characters)"
        if isinstance(node, dict):
            return {k: short(v) for k, v in node.items() if k != "blocks"} | (
                {"blocks": "..."} if "blocks" in node else {}
            )
        if isinstance(node, list):
            return [short(v) for v in node]
        return node

    fields = dict(parse_qsl(body.decode(), keep_blank_values=True))
    document = json.loads(fields["payload"]) if set(fields) == {"payload"} else fields
    return json.dumps(short(document), ensure_ascii=False)[:limit]


# --- the running bot, driven from Hypothesis's thread -----------------------------------------------------------


class ListenerErrors(logging.Handler):
    """ERROR records of the bot's logger: a listener or a background job raised."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def summary(self) -> list[str]:
        seen: Counter[str] = Counter()
        for record in self.records:
            error = record.exc_info[1] if record.exc_info else None
            where = ""
            if error is not None and error.__traceback__ is not None:
                tb = error.__traceback__
                while tb.tb_next is not None:
                    tb = tb.tb_next
                where = f" at {tb.tb_frame.f_code.co_filename.rsplit('/', 2)[-1]}:{tb.tb_lineno}"
            seen[f"{record.getMessage()}: {error!r}"[:300] + where] += 1
        return [f"{n} x {text}" for text, n in seen.most_common()]


@dataclass
class Fuzzer:
    h: Harness
    loop: asyncio.AbstractEventLoop
    form: dict[str, Any]
    draft: Any
    sent: Counter[str] = field(default_factory=Counter)
    answers: Counter[str] = field(default_factory=Counter)
    slowest: float = 0.0
    accepted: int = 0
    invalid_fields_checked: int = 0
    last_body: bytes = b""
    fixed: Counter[str] = field(default_factory=Counter)  # how many of ``sent`` were the corpus's
    real_request: str | None = None

    def run(self, work: Any, timeout: float = 30.0) -> Any:
        """Run a coroutine on the bot's loop and wait for its result (from Hypothesis's thread)."""
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout)

    def send(self, kind: str, build: Callable[[], bytes]) -> Answer:
        """POST one request; ``build`` runs on the loop, where the stand-in issues trigger ids and response URLs."""
        answer: Answer = self.run(self._send(kind, build))
        return answer

    def check(self, answer: Answer, expected: str, view: Any = None, must_fail: frozenset[str] = frozenset()) -> str:
        """``check_answer``, with the request that failed in the message."""
        try:
            return check_answer(answer, expected, view, must_fail)
        except AssertionError as error:
            raise AssertionError(f"{error}\nthe request: {describe_request(self.last_body)}") from None

    async def _send(self, kind: str, build: Callable[[], bytes]) -> Answer:
        body = build()
        self.last_body = body
        started = time.perf_counter()
        response = await post_signed(self.h.url, body, SIGNING_SECRET, client=self.h.http, timeout=10.0)
        seconds = time.perf_counter() - started
        self.sent[kind] += 1
        self.slowest = max(self.slowest, seconds)
        return Answer(response.status_code, response.content, seconds, len(body))

    # -- slash commands -----------------------------------------------------------------------------------------

    def command(self, fields: dict[str, Any], fresh_trigger: bool) -> None:
        """``fields`` as Slack would form-encode them; ``trigger_id``/``response_url`` equal to "" get fresh ones."""
        encoded = {k: v if isinstance(v, str) else json.dumps(v) for k, v in fields.items()}

        def build() -> bytes:
            sent = dict(encoded)
            if sent.get("trigger_id") == "":
                sent["trigger_id"] = self.h.slack.new_trigger_id() if fresh_trigger else "1.2.unknown"
            if sent.get("response_url") == "":
                sent["response_url"] = self.h.slack.new_response_url()
            return urlencode(sent).encode()

        answer = self.send("slash command", build)
        if expected_route(encoded) is None:
            expected = "unhandled"
        else:
            expected = "empty" if slash_answered_later(encoded.get("text")) else "ephemeral"
        self.answers[self.check(answer, expected)] += 1

    def draw_command(self, data: st.DataObject) -> None:
        verb = data.draw(
            st.one_of(
                st.sampled_from(["help", "list", "show", "edit", "status", "HELP", "Edit", "ＥＤＩＴ", "ﬁx", "", "  "]),
                weird_text,
            ),
            label="verb",
        )
        argument = data.draw(st.one_of(st.just(""), ids_like), label="argument")
        rest = data.draw(st.one_of(st.just(""), weird_text), label="rest")
        spaced = data.draw(st.booleans(), label="spaced")
        text = " ".join(p for p in (verb, argument, rest) if p) if spaced else verb + argument + rest
        fields: dict[str, Any] = slash_command_payload(text)
        fields["user_id"] = data.draw(user_ids, label="user")
        fields["command"] = data.draw(st.sampled_from(["/vpn"] * 8 + ["/VPN", "/vpnbot", "/ vpn", ""]), label="command")
        fields["trigger_id"] = fields["response_url"] = ""
        mutate(data, fields, bolt_fields, most=2)
        assume(not {"payload", "ssl_check"} & set(fields))
        self.command(fields, fresh_trigger=data.draw(st.booleans(), label="fresh trigger"))

    # -- block actions ------------------------------------------------------------------------------------------

    def action(self, payload: dict[str, Any], fresh_trigger: bool) -> None:
        def build() -> bytes:
            body = copy.deepcopy(payload)
            if body.get("trigger_id") == "":
                body["trigger_id"] = self.h.slack.new_trigger_id() if fresh_trigger else "1.2.unknown"
            if body.get("response_url") == "":
                body["response_url"] = self.h.slack.new_response_url()
            return interactive_body(body)

        answer = self.send("block action", build)
        expected = "empty" if expected_route(payload) else "unhandled"
        self.answers[self.check(answer, expected)] += 1

    def click_payload(self, action_id: Any, value: Any, user: Any, channel: str = CHANNEL, block: str = "x") -> Any:
        payload = block_action_payload("placeholder", user_id=REQUESTER, channel_id=channel, block_id=block)
        payload["actions"][0]["action_id"] = action_id
        payload["actions"][0]["value"] = value
        payload["user"]["id"] = user
        payload["trigger_id"] = payload["response_url"] = ""
        return payload

    def draw_action(self, data: st.DataObject) -> None:
        action_id = data.draw(
            st.one_of(
                st.sampled_from(sorted(KNOWN_ACTIONS)),
                st.sampled_from(sorted(KNOWN_ACTIONS)),
                st.sampled_from(sorted(KNOWN_ACTIONS)),
                st.sampled_from(["approve", "APPROVE_CHANGE", "approve_change ", "edit", ""]),
                weird_text,
            ),
            label="action_id",
        )
        value = data.draw(
            st.one_of(ids_like, wrong_type, st.just(self.real_request or "chg-aaaaaaaaaa")), label="value"
        )
        payload = self.click_payload(
            action_id,
            value,
            data.draw(user_ids, label="user"),
            data.draw(st.sampled_from([CHANNEL, "C0ELSEWHERE", "D0DIRECT"]), label="channel"),
            data.draw(st.one_of(st.sampled_from(["decision", "again", "x"]), weird_text), label="block_id"),
        )
        mutate(data, payload, bolt_fields)
        self.action(payload, fresh_trigger=data.draw(st.integers(0, 3), label="fresh trigger") == 0)

    # -- the real edit form -------------------------------------------------------------------------------------

    def form_values(self, entries: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
        values = fill_state_from_view(self.form, client_validate=False)
        for name, entry in entries.items():
            values[name] = {name: entry}
        return values

    def submit_form(self, payload: dict[str, Any], generated: Mapping[str, Any], must_fail: set[str]) -> None:
        """Submit the (possibly mutated) real form; a field generated invalid and still there must get an error."""
        view = payload["view"]
        state = view.get("state") if isinstance(view.get("state"), dict) else {}
        current = state.get("values") if isinstance(state.get("values"), dict) else {}
        user = payload["user"].get("id") if isinstance(payload.get("user"), dict) else None
        own_form = view.get("id") == self.form["id"] and user == REQUESTER
        still_bad = (
            frozenset(n for n in must_fail if (current.get(n) or {}).get(n) == generated[n]) if own_form else None
        )
        expected = "unhandled" if expected_route(payload) is None else "empty-or-errors" if own_form else "errors"
        posted: int = self.run(self._keep_draft())
        answer = self.send("edit form", lambda: interactive_body(payload))
        outcome = self.check(answer, expected, view, still_bad or frozenset())
        self.answers[outcome] += 1
        self.invalid_fields_checked += len(still_bad or ())
        if outcome == "empty":
            self.accepted += 1
            self.run(self._withdraw_taken(posted))

    def draw_form(self, data: st.DataObject) -> None:
        chosen = data.draw(st.lists(st.sampled_from(PARAM_NAMES), min_size=1, max_size=6, unique=True), label="fields")
        generated: dict[str, dict[str, Any]] = {}
        must_fail: set[str] = set()
        for name in chosen:
            generated[name], bad = data.draw(field_entry(name), label=name)
            if bad:
                must_fail.add(name)
        user = REQUESTER if data.draw(st.integers(0, 9), label="someone else") else data.draw(user_ids, label="user")
        payload = view_submission_payload(self.form, self.form_values(generated), user_id=user)
        mutate(data, payload, lambda p: p in BOLT_FIELDS or p[:2] == ("view", "blocks"), most=2)
        self.submit_form(payload, generated, must_fail)

    async def _keep_draft(self) -> int:
        """A taken submission uses up its form; put it back so every example edits the same open form. How many
        messages were posted so far."""
        drafts = self.h.bot.context.drafts
        if drafts.get(self.form["id"]) is None:
            drafts.put(self.form["id"], self.draft)
        return len(self.h.slack.calls("chat.postMessage"))

    async def _withdraw_taken(self, posted_before: int) -> None:
        """A taken submission must post its card; withdraw it (as its requester) so the next one can post too."""
        ctx = self.h.bot.context
        await self.h.slack.wait_for("chat.postMessage", count=posted_before + 1, timeout=10)
        deadline = time.monotonic() + 10
        while True:
            request = await ctx.store.open_request_for(SEED_CONN)
            if request is not None and (await ctx.notifier.record(request)).has_card:
                break
            assert time.monotonic() < deadline, "a taken submission left no card"
            await asyncio.sleep(0.005)

        async def say(text: str) -> None:
            raise AssertionError(text)

        await approvals.reject(ctx, request.id, REQUESTER, "", say)

    # -- other views --------------------------------------------------------------------------------------------

    def other_view(self, payload: dict[str, Any]) -> None:
        """A view the bot has no open form for: an edit form is refused beside one of its inputs (a view without
        any is closed), a reject reason is taken (its metadata is checked afterwards)."""
        route = expected_route(payload)
        if route == "vpn_edit":
            expected = "errors" if input_block_ids(payload["view"]) else "empty"
        else:
            expected = "unhandled" if route is None else "empty"
        answer = self.send("other view", lambda: interactive_body(payload))
        self.answers[self.check(answer, expected, payload["view"])] += 1

    def view_payload(self, view_id: Any, callback: Any, blocks: list[Any], metadata: Any, user: Any) -> Any:
        view = {
            "id": view_id,
            "type": "modal",
            "callback_id": callback,
            "private_metadata": metadata,
            "blocks": blocks,
            "title": {"type": "plain_text", "text": "x"},
        }
        return view_submission_payload(view, fill_state_from_view(view, client_validate=False), user_id=user)

    def draw_view(self, data: st.DataObject) -> None:
        """Views the bot has no form for: garbage ids, other callbacks, reject reasons with garbage metadata."""
        callback = data.draw(
            st.one_of(
                st.sampled_from(sorted(KNOWN_CALLBACKS)),
                st.sampled_from(sorted(KNOWN_CALLBACKS)),
                st.sampled_from(sorted(KNOWN_CALLBACKS)),
                st.sampled_from(["VPN_EDIT", "vpn_edit ", "reject", ""]),
                weird_text,
            ),
            label="callback_id",
        )
        view_id = data.draw(
            st.one_of(st.sampled_from(["", "V0000000000", "VGARBAGE"]), st.from_regex(r"V[A-Z0-9]{10}"), odd_value),
            label="view id",
        )
        form_blocks = self.form["blocks"]
        blocks_kind = data.draw(st.sampled_from(["form", "form", "subset", "none", "reason"]), label="blocks")
        if blocks_kind == "form":
            blocks = copy.deepcopy(form_blocks)
        elif blocks_kind == "subset":
            picked = data.draw(st.lists(st.sampled_from(range(len(form_blocks))), unique=True, max_size=8))
            blocks = [copy.deepcopy(form_blocks[i]) for i in sorted(picked)]
        else:
            blocks = [REASON_BLOCK] if blocks_kind == "reason" else []
        metadata = data.draw(
            st.one_of(
                st.builds(lambda r: json.dumps({"request": r}), st.one_of(ids_like, wrong_type)),
                st.builds(lambda r: json.dumps({"conn": r, "channel": CHANNEL}), ids_like),
                weird_text,
                st.just(""),
            ),
            label="private_metadata",
        )
        payload = self.view_payload(view_id, callback, blocks, metadata, data.draw(user_ids, label="user"))
        entries = [next(iter(entry.values())) for entry in payload["view"]["state"]["values"].values()]
        if entries:
            for index in data.draw(st.lists(st.sampled_from(range(len(entries))), max_size=3, unique=True)):
                entries[index]["value"] = data.draw(weird_text, label="typed")
        mutate(data, payload, bolt_fields)
        self.other_view(payload)

    # -- always sent ----------------------------------------------------------------------------------------------

    def corpus(self) -> None:
        """The inputs the brief names, sent every run before the generated ones."""
        huge_id = "chg-" + "x" * 4996
        for text in ["", "help", "edit", "status chg-xxxxxxxxxx", f"status {huge_id}", f"show {huge_id}", "list 🔥"]:
            self.command(dict(slash_command_payload(text), trigger_id="", response_url=""), fresh_trigger=True)
        for text in [f"edit {'x' * 10_001}", "edit vpnx-\x00\u202e🔥", f"list {'[' * 10_000}"]:
            self.command(dict(slash_command_payload(text), trigger_id="", response_url=""), fresh_trigger=True)
        for action_id in ("approve_change", "reject_change"):
            for value in ["chg-xxxxxxxxxx", "", huge_id, None, 12, ["chg-aaaaaaaaaa"], {"id": "chg-aaaaaaaaaa"}]:
                for user in (REQUESTER, STRANGER):
                    self.action(self.click_payload(action_id, value, user), fresh_trigger=True)
        for action_id in ("edit_connection", "review_again", "no_such_action", ""):
            for value in [SEED_CONN, "vpnx-notthere", "x" * 10_001, None]:
                self.action(self.click_payload(action_id, value, REQUESTER), fresh_trigger=True)

        interval = {"IKESet.ikeSaLifetimeSeconds": ("59", "604801", "0", "-1", "1" * 5000)}
        interval["IPsecSet.ipsecSaLifetimeSeconds"] = ("179", "604801", "99999999999")
        interval["IPsecSet.ipsecSaLifetimeTraffic"] = ("2559", "0")
        fields: list[tuple[str, dict[str, Any]]] = [
            ("userGwCidrBlock", _text("10.100.2.1/24")),
            ("userGwCidrBlock", _text("10.100.2.0/24\n192.168.1.5/16")),
            ("userGwCidrBlock", _text("10.0.0.0/33")),
            ("spdAcl", _text('{"10.0.0.0/16": ["192.168.1.0/24"')),
            ("spdAcl", _text('{"10.0.0.1/16": ["192.168.1.0/24"]}')),
            ("spdAcl", _text('{"10.0.0.0/16": "not a list", "x": 1}')),
            ("vpnConnName", _text("x" * 61)),
            ("vpnConnName", _text("a\x00b")),
            ("IKESet.dhGroupName", _selected("group3")),
            ("IPsecSet.pfsDhGroup", _selected("dh-group99")),
            ("IKESet.exchangeMode", _selected("")),
            ("IKESet.localAddress", _text("::1")),
            ("spdAcl", _text("[" * 100_000)),
            ("spdAcl", _text('{"a":' * 10_000 + "1" + "}" * 10_000)),
            ("vpnConnName", _text("🔥" * 10_001)),
            ("preSharedKey", _text("k" * 20_000)),
        ]
        fields += [(name, _text(text, "number_input")) for name, texts in interval.items() for text in texts]
        for name, entry in fields:
            payload = view_submission_payload(self.form, self.form_values({name: entry}), user_id=REQUESTER)
            self.submit_form(payload, {name: entry}, {name})
        many = [f"172.{16 + i // 256}.{i % 256}.0/24" for i in range(1500)]
        for name, text in [("userGwCidrBlock", "\n".join(many)), ("spdAcl", "10.0.0.0/16: " + ", ".join(many))]:
            entry = _text(text)
            payload = view_submission_payload(self.form, self.form_values({name: entry}), user_id=REQUESTER)
            self.submit_form(payload, {name: entry}, set())
        for view_id in ["", "V0000000000", "x" * 5000, None]:
            self.other_view(self.view_payload(view_id, "vpn_edit", copy.deepcopy(self.form["blocks"]), "", REQUESTER))
        for metadata in ["", "{", "[]", '{"request": 5}', '{"request": "chg-xxxxxxxxxx"}', "x" * 5000]:
            self.other_view(self.view_payload("V0000000001", "reject_reason", [REASON_BLOCK], metadata, REQUESTER))


REASON_BLOCK = {
    "type": "input",
    "block_id": "reason",
    "optional": True,
    "label": {"type": "plain_text", "text": "Reason (optional)"},
    "element": {"type": "plain_text_input", "action_id": "reason", "multiline": True},
}


def _text(text: str, element: str = "plain_text_input") -> dict[str, Any]:
    return {"type": element, "value": text}


async def settle(h: Harness, seconds: float = 15.0) -> None:
    """Wait until the bot's background work is done: no spawned task but the sweeper, and Slack quiet a while."""
    deadline = time.monotonic() + seconds
    count, quiet_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        now = len(h.slack.calls())
        if now != count:
            count, quiet_since = now, time.monotonic()
        busy = [t for t in h.bot.context.background if t.get_name() not in ("expiry-sweeper", "store-watch")]
        if not busy and time.monotonic() - quiet_since > 0.5:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"background work still running after {seconds} s: {h.bot.context.background}")


# --- the test --------------------------------------------------------------------------------------------------


def fuzz(f: Fuzzer) -> None:
    """Hypothesis's part, in a worker thread: the corpus, then one ``@given`` per kind of request."""
    f.corpus()
    f.fixed = Counter(f.sent)

    @settings(FUZZ_SETTINGS, max_examples=EXAMPLES["command"])
    @given(st.data())
    def commands(data: st.DataObject) -> None:
        f.draw_command(data)

    @settings(FUZZ_SETTINGS, max_examples=EXAMPLES["form"])
    @given(st.data())
    def forms(data: st.DataObject) -> None:
        f.draw_form(data)

    @settings(FUZZ_SETTINGS, max_examples=EXAMPLES["view"])
    @given(st.data())
    def views(data: st.DataObject) -> None:
        f.draw_view(data)

    @settings(FUZZ_SETTINGS, max_examples=EXAMPLES["action"])
    @given(st.data())
    def actions(data: st.DataObject) -> None:
        f.draw_action(data)

    commands()
    forms()
    views()
    # A real pending request (on another connection) for the clicks to aim at; nobody who may approve clicks.
    card = f.run(f.h.propose({"vpnConnName": "fuzz-target"}, conn=OTHER_CONN))
    f.real_request = f.run(f.h.bot.context.store.open_request_for(OTHER_CONN)).id
    assert card["ts"]
    actions()


async def test_bad_input_everywhere(tmp_path: Path) -> None:
    errors = ListenerErrors()
    bot_log = logging.getLogger("bot.slack")
    bot_log.addHandler(errors)
    started = time.perf_counter()
    try:
        async with harness(tmp_path) as h:
            form = await h.open_form()
            f = Fuzzer(h, asyncio.get_running_loop(), form, h.bot.context.drafts.get(form["id"]))
            assert f.draft is not None
            await asyncio.to_thread(fuzz, f)
            await settle(h)

            total = sum(f.sent.values())
            generated = f.sent - f.fixed
            print(
                f"\nsent {total} requests in {time.perf_counter() - started:.1f} s: {generated.total()} generated ("
                + ", ".join(f"{kind} {n}" for kind, n in sorted(generated.items()))
                + f") and {f.fixed.total()} fixed ("
                + ", ".join(f"{kind} {n}" for kind, n in sorted(f.fixed.items()))
                + f"); answers: {dict(f.answers)}; edit forms taken: {f.accepted}; "
                + f"fields generated invalid and refused: {f.invalid_fields_checked}; slowest answer {f.slowest:.3f} s"
            )
            assert total >= 2000
            assert errors.summary() == [], "\n".join(errors.summary())
            assert h.slack.invalid == [], h.slack.invalid[:10]
            assert h.sim.state.received(MODIFY) == 0
            assert [a for a in h.sim.state.journal if a[0] == MODIFY] == []
            target = await h.bot.context.store.get(f.real_request or "")
            assert target is not None
            assert target.state is ChangeState.PENDING, "a fuzzed click decided the real request"

            # The bot still works: help, then a normal edit through approval to exactly one good ModifyVpnConnEx.
            help_answer = await h.command("help")
            assert help_answer.status_code == 200
            assert "/vpn edit" in help_answer.text
            card = await h.propose({"vpnConnName": "after-the-fuzz"})
            await h.click("approve_change", card, APPROVER)
            await h.wait_thread_text(card, "Verified: every proposed value is live")
            assert [a for a in h.sim.state.journal if a[0] == MODIFY] == [(MODIFY, "0")]
            assert h.connection()["vpnConnName"] == "after-the-fuzz"
            assert errors.summary() == [], "\n".join(errors.summary())
    finally:
        bot_log.removeHandler(errors)


async def test_a_slash_command_mentioning_payload_is_answered(tmp_path: Path) -> None:
    """bolt-python 1.30's parse_body() reads any form body containing the text "payload" as an interaction (it tests
    the raw body, not its keys) and routes the slash command nowhere (404); the HTTP front parses the body itself."""
    async with harness(tmp_path) as h:
        response = await h.command("help payload")
        assert response.status_code == 200
        assert "/vpn edit" in response.text
