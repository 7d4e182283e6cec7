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
        "ack waits behind whatever else is runnable on the one event loop. The work a listener leaves after its ack "
        "(the modal's store lookup, views.open, DescribeVpnConn and form; the list's reply on the response URL; an "
        "approval's edit and its follow) is a task that first waits for a quiet moment (`bot/slack/quiet.py`: no "
        "Slack request in progress for 15 ms, at most 150 ms for a views.open, 2 s for the rest); started at once "
        "instead, command acks measured p99 132 ms against the bare Bolt app's 20 ms (2026-12-01). Profiled "
        "(cProfile of the bot in `--only ack`, 2026-12-01): most of the bot's CPU is Block Kit rendered through "
        "slack_sdk's model objects (`to_dict`, with `validate_json` on every object), one synchronous piece a "
        "message and nothing kept between requests: `blocks.connection_list` about 22 ms a `/vpn list` reply (44 "
        "sections with buttons), `blocks.edit_form_rendered` about 17 ms a form (profiled times, so inflated); an "
        "ack that arrives meanwhile waits for them, and when the 2 s wait runs out during a burst they run between "
        "acks. Also shipped: `/vpn list` reads a short cache of listings (`bot/cloud.py`, emptied by every change); "
        "response-URL answers go over the bot's shared session. Profile with `python -m bench --only ack --profile "
        "DIR`."
    ),
    "trigger.": (
        "Trigger: the loading modal is opened by the task the `/vpn edit` listener leaves after its ack "
        "(`bot.slack.modals.open_edit_modal`), which waits for a quiet moment, at most 150 ms "
        "(`bot/slack/quiet.py`), then looks up the store for an open change and calls views.open, before "
        "DescribeVpnConn, so the cloud's hold does not delay it; what does is that wait and the other work runnable "
        "on the loop when the 20 commands come together, against the bare Bolt app's views.open right after its ack "
        "in the baseline column. Profile with `python -m bench --only trigger --profile DIR`."
    ),
    "many.": (
        "Many changes: shipped, in-flight cloud calls are capped at 16 of each action (httpcore's pool re-scans every "
        "queued request on each change, quadratic) and task polls are spread by +-20 %; the work after each ack (the "
        "edit, its follow, status posts, the final reply) is a task on the same loop as the acks, started once Slack's "
        "requests leave a quiet moment (at most 2 s later), and garbage collection runs at Python's default "
        "thresholds, whenever they are reached. What is left of lag and of ack p99 under load against idle: the 1,000 "
        "Approve clicks themselves (20 at a time: the trickle waits behind Bolt's work on them, as in the bare Bolt "
        "app of the lag's baseline column), the work after them, and full collections, which scan every object alive "
        "with 1,000 changes followed (115-174 ms the longest in three runs on 2026-12-01; see the garbage collection "
        "figures in the notes)."
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
