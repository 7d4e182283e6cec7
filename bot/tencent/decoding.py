"""Turning a cloud answer's bytes into JSON values, whatever the bytes are. Pure, no I/O.

The cloud's answer is input like any other: it may be cut short, not UTF-8, nested 200,000 deep, or hold numbers
Python will not convert (more than 4300 digits), ``NaN``, or an object naming a field twice. :func:`decode` never
lets such an answer raise anything but :class:`NotJsonError` (not JSON text at all: an error page, a cut-off
answer; worth a retry on a read) or :class:`UnreadableJsonError` (JSON vpnbot will not read: asking again gets the
same answer).

Values Python cannot hold faithfully do not fail the whole answer: each becomes an :class:`Unreadable` marker, so
that only the field (or the connection item) holding it is unreadable. Every type check of the clients and of
``bot.vpn.connection`` refuses a marker, and its text never holds the value.

Neither exception's text holds any of the answer: it may hold a pre-shared key.
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["MAX_ANSWER_BYTES", "MAX_NUMBER_DIGITS", "NotJsonError", "Unreadable", "UnreadableJsonError", "decode"]

MAX_ANSWER_BYTES = 10 * 1024 * 1024
"""The largest answer read (after any ``Content-Encoding``): a page of 100 connections is well under 1 MiB."""
MAX_NUMBER_DIGITS = 40
"""Longer whole numbers are unreadable: every number the API sends (ids, counts, lifetimes) has at most 20."""


class Unreadable:
    """A JSON value Python cannot hold faithfully: a number longer than ``MAX_NUMBER_DIGITS`` digits, ``NaN``, an
    infinity (``Infinity``, ``1e999``), or an object naming a field twice (which of the two would be meant?)."""

    __slots__ = ("what",)

    def __init__(self, what: str) -> None:
        self.what = what

    def __repr__(self) -> str:
        return f"<unreadable {self.what}>"

    __str__ = __repr__


class NotJsonError(ValueError):
    """The bytes are not UTF-8 JSON text (RFC 8259 section 8.1)."""


class UnreadableJsonError(ValueError):
    """JSON that vpnbot will not read (nested deeper than Python's recursion limit); ``str()`` says why."""


def _integer(text: str) -> int | Unreadable:
    if len(text.lstrip("-")) > MAX_NUMBER_DIGITS:
        return Unreadable(f"number of {len(text.lstrip('-'))} digits")
    return int(text)


def _real(text: str) -> float | Unreadable:
    value = float(text)
    return value if math.isfinite(value) else Unreadable("infinite number")


def _constant(name: str) -> Unreadable:
    return Unreadable(f"number ({name})")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any] | Unreadable:
    result = dict(pairs)
    return result if len(result) == len(pairs) else Unreadable("object with a repeated field")


_DECODER = json.JSONDecoder(parse_int=_integer, parse_float=_real, parse_constant=_constant, object_pairs_hook=_object)


def decode(content: bytes) -> object:
    """The JSON value of ``content``; NotJsonError or UnreadableJsonError otherwise (neither chained to the
    decoder's error, whose text quotes the answer)."""
    failure: ValueError
    try:
        return _DECODER.decode(content.decode("utf-8"))
    except UnicodeDecodeError:
        failure = NotJsonError("not UTF-8 text")
    except RecursionError:
        failure = UnreadableJsonError("nested too deeply")
    except ValueError:  # json.JSONDecodeError, and anything a hook lets through
        failure = NotJsonError("malformed")
    raise failure
