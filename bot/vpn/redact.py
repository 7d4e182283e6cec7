"""Pre-shared keys taken out of texts that came from the cloud (error messages, task failure texts, Tencent's peer
configuration download).

A cloud text may echo the key it was sent, or the connection's current one. A key known by value is replaced
wherever it occurs (a key shorter than :data:`SHORT_KEY` only where it stands as a word of its own, so that the
marks do not spell it out inside other words). A key known only by its keyed fingerprint (``DescribeVpnConn``'s
plain key is dropped at the edge) is looked for among the text's words: each run of non-space characters, and each
piece of it that starts after, or at, one of the delimiters (quotes, ``=:,;.``, brackets) and ends before or at
one, up to the longest key the API allows, is fingerprinted and replaced when it matches: ``preSharedKey="..."``,
``key: ...``, ``(key)`` and a key that ends a sentence are found, and a key holding spaces between quotes or as the
rest of a line after ``:`` or ``=``; a key glued inside a longer word is not (no service writes one so). The work is bounded: at most :data:`CUTS` starts and ends a word.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from bot.vpn.params import PRE_SHARED_KEY_MAX

REDACTED = "(redacted)"
_DELIMITERS = frozenset("\"'`=:,;.()[]{}<>")
SHORT_KEY = 8
"""A key shorter than this is replaced by value only where it stands as a word of its own."""
CUTS = 6
"""How many starts (from a word's beginning) and ends (from its end) a word is cut at, at most."""
_WORD = re.compile(r"\S+")
_QUOTED = re.compile(rf"""(["'`])([^"'`\r\n]{{1,{PRE_SHARED_KEY_MAX}}})\1""")
_AFTER_SIGN = re.compile(rf"[:=][ \t]*([^\r\n]{{1,{PRE_SHARED_KEY_MAX}}}?)[ \t]*\.?[ \t]*$", re.MULTILINE)


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with a visible mark; only for texts nobody decides on (errors,
    reasons): values of a change are never cut."""
    if len(text) <= limit:
        return text
    kept = max(0, limit - 40)
    return f"{text[:kept]}… ({len(text) - kept} more characters)"


def redact(
    text: str,
    secrets: Iterable[str] = (),
    *,
    fingerprint: str | None = None,
    fingerprint_of: Callable[[str], str] | None = None,
) -> str:
    """``text`` with every ``secrets`` value and every delimited substring whose ``fingerprint_of`` is
    ``fingerprint`` replaced by ``(redacted)``."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        if len(secret) < SHORT_KEY:
            text = re.sub(rf"(?<![\w]){re.escape(secret)}(?![\w])", REDACTED, text)
        else:
            text = text.replace(secret, REDACTED)
    if fingerprint and fingerprint_of is not None:
        text = _redact_by_fingerprint(text, fingerprint, fingerprint_of)
    return text


def _redact_by_fingerprint(text: str, fingerprint: str, fingerprint_of: Callable[[str], str]) -> str:
    found: list[tuple[int, int]] = []
    for word in _WORD.finditer(text):
        if word.end() - word.start() > PRE_SHARED_KEY_MAX + 2 * CUTS:
            continue
        found.extend(_match_in(text, word.start(), word.end(), fingerprint, fingerprint_of))
    # A key holding spaces: between quotes, or the rest of a line after ``:`` or ``=``.
    for match in (*_QUOTED.finditer(text), *_AFTER_SIGN.finditer(text)):
        start, end = match.span(match.lastindex or 0)
        if fingerprint_of(text[start:end]) == fingerprint:
            found.append((start, end))
    if not found:
        return text
    pieces: list[str] = []
    last = 0
    for start, end in sorted(found):
        if start < last:
            continue
        pieces.append(text[last:start])
        pieces.append(REDACTED)
        last = end
    pieces.append(text[last:])
    return "".join(pieces)


def _match_in(
    text: str, begin: int, finish: int, fingerprint: str, fingerprint_of: Callable[[str], str]
) -> list[tuple[int, int]]:
    """The pieces of the word ``text[begin:finish]`` whose fingerprint is ``fingerprint`` (at most one)."""
    cuts = [i for i in range(begin, finish) if text[i] in _DELIMITERS]
    starts = list(dict.fromkeys([begin, *(c for i in cuts for c in (i, i + 1) if c < finish)]))[:CUTS]
    ends = list(dict.fromkeys([finish, *(c for i in reversed(cuts) for c in (i + 1, i) if c > begin)]))[:CUTS]
    for start in starts:
        for end in ends:
            if 0 < end - start <= PRE_SHARED_KEY_MAX and fingerprint_of(text[start:end]) == fingerprint:
                return [(start, end)]
    return []
