"""Why a target is missed: what profiling vpnbot found, written next to a missed figure in ``bench/RESULTS.md``.

These are findings about the code as it was profiled (cProfile of the bot's process: ``python -m bench --profile
DIR``; experiments made by patching the bot's process, not shipped), with the measurements that back them. A text is
printed only while its figure misses its target; once a fix lands, the figure says whether it worked.
"""

from __future__ import annotations

from collections.abc import Sequence

from bench.results import Row

WHY: dict[str, str] = {
    "ack.": (
        "Ack latency: 20 clients that send again as soon as they are answered keep the server always busy, so an "
        "ack waits behind whatever else is runnable on the one event loop. Shipped: acks first "
        "(`bot/slack/ackfirst.py`): the work after an ack waits until no request has arrived for 15 ms (at most "
        "150 ms for views.open, 2 s for the rest), so during a burst the loop answers acks and little else; "
        "connections read once per unchanged DescribeVpnConn item; help, lists and forms rendered once; "
        "response-URL answers over the shared session. What is left above the baseline is vpnbot's own share of "
        "each request (its middleware and listener, on top of Bolt's) and views.open calls whose 150 ms came due "
        "inside a burst. Profile with `python -m bench --only ack --profile DIR`."
    ),
    "many.": (
        "Many changes: shipped, in-flight cloud calls are capped at 16 (httpcore's pool re-scans every queued request "
        "on each change, quadratic), task polls are spread by +-20 % and take a turn in the background lane (4 at a "
        "time, once the loop is quiet), as do status posts and task endings; full garbage collections run at quiet "
        "moments. What is left of ack p99 under load against idle: the 1,000 Approve clicks themselves (20 at a time: "
        "the trickle waits behind Bolt's work on them, as it would in a bare Bolt app) and full collections (~40-60 "
        "ms with 1,000 changes followed) that outlast the quiet moment they started in."
    ),
    "signing.tc3": (
        "TC3: the UTC date of the scope and the derived signing key are cached per day and per (key, date, service)."
    ),
    "signing.v2": (
        "API 2.0: names are sorted as strings (the same order as their UTF-8 bytes), measured 1.25-1.32x the SDK; "
        "what is left is f-string joining and one HMAC, as in the SDK, so a miss is most likely a busy machine."
    ),
}


def why(rows: Sequence[Row]) -> list[str]:
    """The explanations of the missed targets among ``rows``, each once."""
    missed = [r.key for r in rows if r.met is False]
    return [text for prefix, text in WHY.items() if any(key.startswith(prefix) for key in missed)]
