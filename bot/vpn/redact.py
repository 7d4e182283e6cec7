"""Pre-shared keys taken out of texts that came from the cloud (error messages, task failure texts).

A cloud text may echo the key it was sent, or the connection's current one. The pending key is known, so every
occurrence is replaced. The current key is known only by its keyed fingerprint (``DescribeVpnConn``'s plain key is
dropped at the edge), so every substring that starts and ends at a word boundary (whitespace, quotes, ``=:,;`` and
brackets), up to the longest key the API allows, is fingerprinted and replaced when it matches: an echo such as
``preSharedKey="..."`` or ``key: ...`` is found; a key glued inside a longer word is not (no service writes one so).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from bot.vpn.params import PRE_SHARED_KEY_MAX

REDACTED = "(redacted)"
_BOUNDARY = frozenset(" \t\r\n\"'`=:,;()[]{}<>")


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
        text = text.replace(secret, REDACTED)
    if fingerprint and fingerprint_of is not None:
        text = _redact_by_fingerprint(text, fingerprint, fingerprint_of)
    return text


def _redact_by_fingerprint(text: str, fingerprint: str, fingerprint_of: Callable[[str], str]) -> str:
    starts = [i for i in range(len(text)) if (i == 0 or text[i - 1] in _BOUNDARY) and text[i] not in _BOUNDARY]
    ends = [j for j in range(1, len(text) + 1) if (j == len(text) or text[j] in _BOUNDARY)]
    found: list[tuple[int, int]] = []
    end_index = 0
    for start in starts:
        while end_index < len(ends) and ends[end_index] <= start:
            end_index += 1
        for end in ends[end_index:]:
            if end - start > PRE_SHARED_KEY_MAX:
                break
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
