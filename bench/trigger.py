"""2. Trigger safety: with the cloud holding ``DescribeVpnConn`` (2.5 s, then 10 s), the time from a ``/vpn edit``
command being sent to the bot's ``views.open`` call, which must come within the trigger id's 3 s.

The start is the load generator's send time (an upper bound on when the bot got the command); the end is when the
Slack stand-in answered ``views.open`` (its ``Call.at``). The commands go out at 20 concurrent clients, each with a
trigger id the stand-in issued just before, on distinct connections; a refused ``views.open`` (an expired trigger)
counts as a miss.

The baseline is a bare Bolt app on the same stack whose ``/vpn`` listener acks, then at once calls ``views.open``
(``bench.serve``, kind ``modal-baseline``), sent the same commands the same way just before vpnbot in each hold; it
reads nothing from the cloud, so the hold does not touch it: it is what Bolt and the HTTP stack alone cost.
"""

from __future__ import annotations

import contextlib
import math
from pathlib import Path

from bench.harness import Fixtures, LoadGen, fixtures
from bench.results import Row, Target, compared
from bench.sizes import Sizes
from bench.stats import Summary
from bench.world import bench_world, conn_id

CONNECTIONS = 45
TARGET_MS = 300.0


async def hold(
    fx: Fixtures, load: LoadGen, url: str, seconds: float, count: int, *, settle: bool
) -> tuple[Summary, int, Summary]:
    """Commands while ``DescribeVpnConn`` is held ``seconds``: (command-to-views.open, misses, ack latency). With
    ``settle``, returns once every opened modal was filled (or could not be), so the next hold starts on a quiet bot."""
    fx.sim.state.update_faults({"latency": {"DescribeVpnConn": seconds}})
    batch = [fx.command(f"edit {conn_id(n % CONNECTIONS)}") for n in range(count)]
    samples = await load.fire(url, [("edit", body) for _, body in batch])
    await fx.quiet(0.3, timeout=5)
    views = [] if not settle else [fx.slack.opened_view(trigger) for trigger, _ in batch]
    with contextlib.suppress(TimeoutError):
        for view_id in filter(None, views):
            await fx.slack.seen(("update", view_id), timeout=4 * seconds + 15)
    delays = [
        fx.slack.opened_at[trigger] - sample.sent
        for (trigger, _), sample in zip(batch, samples, strict=True)
        if trigger in fx.slack.opened_at
    ]
    return Summary.of_seconds(delays), count - len(delays), Summary.of_seconds([s.seconds for s in samples])


async def run(
    sizes: Sizes, workdir: Path, load: LoadGen, profile_dir: Path | None = None
) -> tuple[list[Row], list[str]]:
    async with fixtures(bench_world(CONNECTIONS, task_seconds=1.0), workdir / "trigger", profile_dir) as fx:
        baseline = await fx.server("modal-baseline", "trigger-baseline")
        bot = await fx.server("bot", "trigger-bot")
        for server in (baseline, bot):  # first requests: Bolt's auth.test, lazy imports, the first connections
            await load.fire(server.url, [("help", fx.command("help")[1]) for _ in range(5)])
        await fx.quiet(0.3, timeout=5)
        last = len(sizes.trigger_holds) - 1
        results = []
        for n, seconds in enumerate(sizes.trigger_holds):
            theirs = await hold(fx, load, baseline.url, seconds, sizes.trigger_commands, settle=False)
            ours = await hold(fx, load, bot.url, seconds, sizes.trigger_commands, settle=n < last)
            results.append((ours, theirs))
    rows: list[Row] = []
    notes: list[str] = []
    for n, (seconds, (ours, theirs)) in enumerate(zip(sizes.trigger_holds, results, strict=True), 1):
        (opened, misses, acks), (base_opened, base_misses, base_acks) = ours, theirs
        value = opened.p99 if misses == 0 else math.inf
        base = base_opened.p99 if base_misses == 0 else math.inf
        rows.append(
            Row(
                "2 trigger",
                f"trigger.hold{n}.p99",
                f"command to views.open, DescribeVpnConn held {seconds:g} s: p99 (ms)",
                value,
                base,
                compared(value, base),
                goal=Target(below=TARGET_MS, unit=" ms"),
            )
        )
        rows.append(
            Row(
                "2 trigger",
                f"trigger.hold{n}.max",
                f"command to views.open, held {seconds:g} s: max (ms)",
                opened.max,
                base_opened.max,
                compared(opened.max, base_opened.max),
            )
        )
        notes.append(
            f"Trigger, DescribeVpnConn held {seconds:g} s: {sizes.trigger_commands} commands, {misses} views.open "
            f"missed; command to views.open p50 {opened.p50:.1f} ms; the commands' own ack p99 {acks.p99:.1f} ms. "
            f"Baseline (bare Bolt: ack, then views.open at once), the same commands just before: {base_misses} "
            f"missed, p50 {base_opened.p50:.1f} ms, ack p99 {base_acks.p99:.1f} ms."
        )
    return rows, notes
