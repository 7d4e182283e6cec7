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
        "ack waits behind whatever else is runnable on the one event loop. vpnbot's work after the ack runs on that "
        "loop with nothing to put acks first, and costs far more than the ack (the 'server CPU a request' rows). "
        "Where it goes: `/vpn list` parses every connection of the page (`connection_from_describe`, ~0.1 ms each) "
        "and renders 46 blocks through `slack_sdk.models` (~3 ms); `/vpn edit` renders the 60-block form (~3 ms); "
        "Bolt's `respond` opens a new aiohttp session per response-URL post. Shipped: one Slack session for the Web "
        "API, sniffio installed, cloud calls capped at 16 in flight. Not yet tried in the shipped code: queueing the "
        "work after the ack behind a small semaphore with views.open kept ahead of it (patched in the bot's process "
        "it brought command p99 to ~110 ms, clicks ~78 ms: better, still not 1.5x)."
    ),
    "many.": (
        "Many changes: shipped, in-flight cloud calls are capped at 16 (httpcore's pool re-scans every queued request "
        "on each change, quadratic: before the cap the loop was blocked for up to 104 s and no task was followed to "
        "its end) and task polls are spread by +-20 %. What is left of ack p99 under load against idle comes from "
        "generation-2 garbage collections (up to ~110 ms each) and the bursts of 1,000 approvals and then 1,000 "
        "finals (each card re-rendered through `slack_sdk.models`, ~3.5 ms a card) at once."
    ),
    "signing.tc3": (
        "TC3: the UTC date of the scope and the derived signing key are cached per day and per (key, date, service)."
    ),
    "signing.v2": (
        "API 2.0: `string_to_sign` sorts with `key=lambda k: k.encode('utf-8')`; sorting the names themselves gives "
        "the same order (UTF-8 keeps code-point order) and measured 1.27× the SDK."
    ),
}


def why(rows: Sequence[Row]) -> list[str]:
    """The explanations of the missed targets among ``rows``, each once."""
    missed = [r.key for r in rows if r.met is False]
    return [text for prefix, text in WHY.items() if any(key.startswith(prefix) for key in missed)]
