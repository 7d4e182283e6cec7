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
        "loop with nothing to put acks first, and costs far more than the ack (the 'server CPU a request' rows: about "
        "15 ms a command against the baseline's 0.6 ms when profiled). Where it goes: `/vpn list` parses every "
        "connection of the page (`connection_from_describe`, ~0.1 ms each) and renders 46 blocks through "
        "`slack_sdk.models` (~3 ms); `/vpn edit` renders the 60-block form (~3 ms); every Web API call and every "
        "response-URL post opens a new aiohttp session and TCP connection (`AsyncWebClient` without `session=`, Bolt's "
        "`respond`); every httpx request re-tries `import sniffio` (not installed) and scans `sys.path` (~0.4 ms). "
        "Patched in the bot's process (sniffio stub, one Slack session, cloud calls capped at 16, task-poll jitter), "
        "command p99 fell from ~2 s to ~350 ms and no trigger expired; with the work after the ack also queued "
        "behind a 2-job semaphore (views.open kept ahead of it), to ~110 ms (clicks ~78 ms): better, still not 1.5×."
    ),
    "many.": (
        "Many changes: with 1,000 approvals at once the cloud client (`httpx.AsyncClient`, 100 connections) queues "
        "~1,000 requests in httpcore's pool, whose `_assign_requests_to_connections` re-scans every queued request "
        "against every connection on each change: quadratic, the loop was blocked for up to 104 s, reads and edits "
        "timed out and the tasks were not followed to their end. Patched in the bot's process (in-flight cloud calls "
        "capped at 16 with 16 keep-alive connections, sniffio stub, one Slack session, ±20 % jitter on task polls), "
        "all 1,000 changes were verified in 55-78 s with loop lag p99 13-38 ms; ack p99 under load stayed 3-10× "
        "idle, the rest being generation-2 garbage collections (5 a run, up to 87 ms each) and the bursts of 1,000 "
        "approvals and then 1,000 finals (card re-rendered through `slack_sdk.models`, ~3.5 ms a card) at once."
    ),
    "signing.tc3": (
        "TC3: `tc3_authorization` computes `tc3_date` (datetime + strftime, ~3.3 µs) three times a signature; computed "
        "once it measured 1.13× the SDK, and with the derived signing key cached per (key, date, service) 3.5×."
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
