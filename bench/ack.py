"""1. Ack latency: signed ``/vpn`` commands and Approve clicks at 20 concurrent clients, vpnbot against a bare Bolt
app on the same stack, measured with the same kinds of request in interleaved rounds (baseline first in odd rounds,
vpnbot first in even ones), with Slack and the cloud quiet again before each batch.

Commands are ``/vpn help`` (answered inline), ``/vpn edit <id>`` (acked, then a modal opened in the background with a
trigger id the stand-in issued just before, filled from ``DescribeVpnConn``) and ``/vpn list`` (acked, the list
posted to the response URL), a third each. Clicks are Approve on real cards: the first click on each card approves it
(the edit is sent and followed), every later one is a late click answered with an ephemeral.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from bench.harness import Card, Fixtures, LoadGen, Sample, Server, fixtures, summary
from bench.results import Row, Target, compared
from bench.sizes import Sizes
from bench.world import bench_world, conn_id, conn_name

CONNECTIONS = 45  # with the demo's five, one page of DescribeVpnConn: ``/vpn list`` reads one page
P99_MS = 100.0  # issue 12: every ack p99 under 100 ms at 20 concurrent clients (the bare Bolt app beside it)
WARM_UP = 30


def commands(fx: Fixtures, count: int, targets: list[str], start: int) -> list[tuple[str, bytes]]:
    batch = []
    for n in range(start, start + count):
        kind = ("help", "edit", "list")[n % 3]
        text = f"edit {targets[(n // 3) % len(targets)]}" if kind == "edit" else kind
        batch.append((kind, fx.command(text)[1]))
    return batch


def clicks(fx: Fixtures, cards: list[Card], count: int, start: int) -> list[tuple[str, bytes]]:
    return [("approve", fx.click(cards[n % len(cards)])) for n in range(start, start + count)]


async def run(
    sizes: Sizes, workdir: Path, load: LoadGen, profile_dir: Path | None = None
) -> tuple[list[Row], list[str]]:
    world = bench_world(CONNECTIONS, task_seconds=1.0)
    async with fixtures(world, workdir / "ack", profile_dir) as fx:
        bot = await fx.server("bot", "ack-bot")
        baseline = await fx.server("baseline", "ack-baseline")
        cards = await fx.propose_all(
            bot.url, [(conn_id(i), {"vpnConnName": conn_name(i) + "-ack"}) for i in range(sizes.ack_cards)]
        )
        targets = [conn_id(i) for i in range(sizes.ack_cards, CONNECTIONS)]
        for server in (baseline, bot):  # first requests: Bolt's auth.test, lazy imports, the first connections
            await load.fire(server.url, [("help", fx.command("help")[1]) for _ in range(WARM_UP)])
            await load.fire(server.url, commands(fx, WARM_UP, targets, 0))
        await fx.quiet()
        opened, open_failed = fx.slack.methods["views.open"], fx.slack.failed["views.open"]
        samples: dict[tuple[str, str], list[Sample]] = defaultdict(list)
        cpu: dict[tuple[str, str], float] = defaultdict(float)  # server CPU seconds, until Slack and cloud are quiet
        rounds = sizes.ack_rounds
        per_round = sizes.ack_commands // rounds, sizes.ack_clicks // rounds
        for r in range(rounds):
            order: tuple[Server, Server] = (baseline, bot) if r % 2 == 0 else (bot, baseline)
            for server in order:
                batch = commands(fx, per_round[0], targets, r * per_round[0])
                before = (await server.probe())["cpu_s"]
                samples[server.kind, "command"] += await load.fire(server.url, batch)
                await fx.quiet()
                cpu[server.kind, "command"] += (await server.probe())["cpu_s"] - before
            for server in order:
                batch = clicks(fx, cards, per_round[1], r * per_round[1])
                before = (await server.probe())["cpu_s"]
                samples[server.kind, "click"] += await load.fire(server.url, batch)
                await fx.quiet()
                cpu[server.kind, "click"] += (await server.probe())["cpu_s"] - before
        opens = fx.slack.methods["views.open"] - opened
        opens_failed = fx.slack.failed["views.open"] - open_failed
        approved = fx.sim.state.received("ModifyVpnConnEx")

    rows: list[Row] = []
    for what, label in (("command", "commands"), ("click", "Approve clicks")):
        ours, theirs = summary(samples["bot", what]), summary(samples["baseline", what])
        for stat in ("p50", "p99", "max"):
            value, base = getattr(ours, stat), getattr(theirs, stat)
            goal = Target(below=P99_MS, unit=" ms") if stat == "p99" else None
            rows.append(
                Row("1 ack", f"ack.{what}s.{stat}", f"{label}: {stat} (ms)", value, base, compared(value, base), goal)
            )
        cpu_mine = cpu["bot", what] / max(len(samples["bot", what]), 1) * 1000
        cpu_theirs = cpu["baseline", what] / max(len(samples["baseline", what]), 1) * 1000
        figure = f"{label}: server CPU a request (ms)"
        rows.append(Row("1 ack", f"ack.{what}s.cpu", figure, cpu_mine, cpu_theirs, compared(cpu_mine, cpu_theirs)))
    by_kind: dict[str, list[Sample]] = defaultdict(list)
    for sample in samples["bot", "command"]:
        by_kind[sample.kind].append(sample)
    errors = sum(s.status != 200 for group in samples.values() for s in group)
    notes = [
        f"Ack: {sizes.ack_commands} commands and {sizes.ack_clicks} clicks to each server in {rounds} interleaved "
        f"rounds at 20 concurrent clients; vpnbot's commands by kind, p99: "
        + ", ".join(f"{kind} {summary(group).p99:.1f} ms" for kind, group in sorted(by_kind.items()))
        + f". The {sizes.ack_clicks} clicks went to {len(cards)} cards: {approved} approved them (edit sent and "
        f"followed), the rest were late clicks answered with an ephemeral. views.open during the run: {opens} "
        f"answered, {opens_failed} refused; answers other than HTTP 200: {errors}. Server CPU a request is the "
        "server process's CPU time over a batch, the work after the ack included (until Slack and the cloud were "
        "quiet), divided by the batch's requests.",
    ]
    return rows, notes
