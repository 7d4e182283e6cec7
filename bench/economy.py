"""4. Economy: what one approved change costs in Slack Web API calls and thread messages, and in cloud calls,
with a 60 s task followed at the bot's production polling (2 s growing by 1.5× to 30 s).

Counted from the first ``/vpn edit`` to the last final reply, divided by the number of changes (a few, approved
together). Bolt's ``auth.test`` (once per process, at the first request) is not counted; posts to response URLs are
not Web API calls and are counted apart.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from bench.harness import LoadGen, fixtures
from bench.results import Row, Target
from bench.sizes import Sizes
from bench.world import bench_world, conn_id, conn_name

MAX_WEB_API = 8
MAX_THREAD_MESSAGES = 4
NOT_COUNTED = ("auth.test", "response_url")


async def run(
    sizes: Sizes, workdir: Path, load: LoadGen, profile_dir: Path | None = None
) -> tuple[list[Row], list[str]]:
    n = sizes.economy_changes
    async with fixtures(
        bench_world(n, task_seconds=sizes.economy_task_seconds), workdir / "economy", profile_dir
    ) as fx:
        bot = await fx.server("bot", "economy-bot")
        await load.fire(bot.url, [("help", fx.command("help")[1])])  # Bolt's auth.test happens here
        await fx.quiet()
        before = Counter(fx.slack.methods)
        cards = await fx.propose_all(bot.url, [(conn_id(i), {"vpnConnName": conn_name(i) + "-econ"}) for i in range(n)])
        await fx.post_all(bot.url, [fx.click(card) for card in cards])
        await fx.slack.wait_finals(n, timeout=sizes.economy_task_seconds * 3 + 120)
        await fx.quiet(0.5)
        calls = Counter(fx.slack.methods)
        calls.subtract(before)
        threads = [fx.slack.thread_posts[card.ts] for card in cards]
        cloud = {
            action: fx.sim.state.received(action)
            for action in ("DescribeVpnConn", "ModifyVpnConnEx", "DescribeVpcTaskResult")
        }
        finals = fx.slack.finals

    web_api = sum(count for method, count in calls.items() if method not in NOT_COUNTED) / n
    thread_messages = sum(threads) / n
    polls = cloud["DescribeVpcTaskResult"] / n
    rows = [
        Row(
            "4 economy",
            "economy.web_api",
            "Slack Web API calls per change",
            web_api,
            goal=Target(at_most=MAX_WEB_API),
        ),
        Row(
            "4 economy",
            "economy.thread_messages",
            "thread messages per change",
            thread_messages,
            goal=Target(at_most=MAX_THREAD_MESSAGES),
        ),
        Row(
            "4 economy",
            "economy.task_polls",
            f"DescribeVpcTaskResult per task ({sizes.economy_task_seconds:g} s)",
            polls,
        ),
        Row("4 economy", "economy.cloud_calls", "cloud calls per change", sum(cloud.values()) / n),
    ]
    per_method = ", ".join(f"{method} {count / n:g}" for method, count in sorted(calls.items()) if count)
    notes = [
        f"Economy: {n} change(s) with a {sizes.economy_task_seconds:g} s task, {finals} final replies; per change: "
        f"{per_method} (auth.test and response_url not counted as Web API calls); cloud: "
        + ", ".join(f"{action} {count / n:g}" for action, count in cloud.items())
        + ".",
    ]
    return rows, notes
