"""3. Many changes at once: 1,000 change requests, each taken through the real flow (command, modal, submission,
card), approved together (1,000 clicks at 20 concurrent clients), each task running 30 s in the simulator, followed
with the bot's production polling (2 s growing to 30 s), until every final thread reply is posted.

Sampled in the bot's process (``bench.serve.Probe``): event-loop lag over the load (from the first click to the last
final reply), the peak thread count (OS threads, and ``threading.active_count()``), and memory (peak RSS of the whole
process, ``VmHWM``; the baseline is its RSS with the 1,000 cards posted and idle). A trickle of ``/vpn help`` (one
every 50 ms, from the load generator) gives the ack latency during the load against the same trickle while idle.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from bench.harness import LoadGen, fixtures, summary
from bench.results import Row, Target, compared
from bench.sizes import Sizes
from bench.world import bench_world, conn_id, conn_name

MAX_THREADS = 20
MAX_LAG_MS = 50.0
MAX_ACK_RATIO = 2.0


def gc_text(figures: dict[str, dict[str, float]]) -> str:
    return ", ".join(
        f"generation {generation}: {int(f['count'])} runs, {f['total_ms']:.0f} ms in all, longest {f['max_ms']:.0f} ms"
        for generation, f in sorted(figures.items())
    )


async def run(
    sizes: Sizes, workdir: Path, load: LoadGen, profile_dir: Path | None = None
) -> tuple[list[Row], list[str]]:
    n = sizes.many_changes
    world = bench_world(n, task_seconds=sizes.many_task_seconds)
    async with fixtures(world, workdir / "many", profile_dir) as fx:
        bot = await fx.server("bot", "many-bot")
        await load.fire(bot.url, [("help", fx.command("help")[1]) for _ in range(5)])
        started = await bot.probe(reset=True)
        clock = time.monotonic()
        cards = await fx.propose_all(bot.url, [(conn_id(i), {"vpnConnName": conn_name(i) + "-v2"}) for i in range(n)])
        proposing = time.monotonic() - clock
        await fx.quiet(1.0)
        posted = await bot.probe(reset=True)

        help_body = fx.command("help")[1]
        await load.trickle_start("idle", bot.url, help_body, sizes.trickle_interval)
        await asyncio.sleep(sizes.idle_seconds)
        idle = await load.trickle_stop("idle")
        await fx.quiet(0.5)

        before_clicks = await bot.probe(reset=True)
        await load.trickle_start("load", bot.url, help_body, sizes.trickle_interval)
        clock, clock_wall = time.monotonic(), time.time()
        await fx.post_all(bot.url, [fx.click(card) for card in cards])
        clicking = time.monotonic() - clock
        await fx.slack.wait_finals(n, timeout=sizes.many_task_seconds * 6 + 240)
        finishing = time.monotonic() - clock
        loaded = await bot.probe(reset=True)
        under_load = await load.trickle_stop("load")
        finals, verified = fx.slack.finals, fx.slack.verified
        trace = {
            "clicked": clock_wall,
            "load": [[s.sent, s.seconds, s.status] for s in under_load],
            "spikes": loaded["spikes"],
            "gc": loaded["gc"],
        }
        (fx.workdir / "many-trace.json").write_text(json.dumps(trace))
        polls = fx.sim.state.received("DescribeVpcTaskResult")

    idle_ack, load_ack = summary(idle), summary(under_load)
    lag = loaded["lag"]
    mib = 1024.0
    hwm, idle_rss = loaded["hwm_kib"] / mib, posted["rss_kib"] / mib
    ratio = compared(load_ack.p99, idle_ack.p99)
    rows = [
        Row("3 many", "many.verified", f"changes verified (of {n})", verified, goal=Target(equals=n)),
        Row("3 many", "many.seconds", "first click to last final reply (s)", finishing),
        Row("3 many", "many.peak_rss", "peak RSS of the bot process (MiB)", hwm, idle_rss, compared(hwm, idle_rss)),
        Row(
            "3 many",
            "many.threads",
            "peak threads of the bot process",
            float(loaded["os_threads_peak"]),
            goal=Target(at_most=MAX_THREADS),
        ),
        Row(
            "3 many",
            "many.lag.p99",
            "event-loop lag under load: p99 (ms)",
            lag["p99"],
            before_clicks["lag"]["p99"],
            compared(lag["p99"], before_clicks["lag"]["p99"]),
            goal=Target(below=MAX_LAG_MS, unit=" ms"),
        ),
        Row("3 many", "many.lag.max", "event-loop lag under load: max (ms)", lag["max"]),
        Row(
            "3 many",
            "many.ack.p99",
            "ack p99 under load, against idle (ms)",
            load_ack.p99,
            idle_ack.p99,
            ratio,
            goal=Target(ratio_at_most=MAX_ACK_RATIO),
        ),
    ]
    errors = sum(s.status != 200 for s in [*idle, *under_load])
    notes = [
        f"Many: {n} changes proposed through the real flow in {proposing:.0f} s (20 at a time); {n} Approve clicks "
        f"sent in {clicking:.1f} s; {finals} final replies, {verified} verified, {finishing:.0f} s after the first "
        f"click (tasks of {sizes.many_task_seconds:g} s, polled {polls / max(n, 1):.1f} times each). Event-loop lag "
        f"p50 {lag['p50']:.2f} ms over {lag['count']} samples (idle p99 {before_clicks['lag']['p99']:.2f} ms; while "
        f"proposing p99 {posted['lag']['p99']:.1f} ms, max {posted['lag']['max']:.0f} ms). Threads: "
        f"threading.active_count() peaked at {loaded['py_threads_peak']}, OS threads at {loaded['os_threads_peak']}. "
        f"Memory is the whole bot process (VmHWM, = ru_maxrss), {started['rss_kib'] / mib:.0f} MiB at start. "
        f"Trickle of /vpn help every {sizes.trickle_interval * 1000:.0f} ms: {len(idle)} idle, {len(under_load)} "
        f"under load (p50 {idle_ack.p50:.1f} → {load_ack.p50:.1f} ms, max {idle_ack.max:.0f} → "
        f"{load_ack.max:.0f} ms); answers other than HTTP 200 (or none within 30 s): {errors}. Garbage "
        f"collection in the bot during the load: {gc_text(loaded['gc'])}.",
    ]
    return rows, notes
