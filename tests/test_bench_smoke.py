"""The benchmarks work: ``python -m bench --smoke`` runs every benchmark at tiny sizes and reports every figure.

Not a timed test: whether the targets are met is the full run's business (``python -m bench``, see
``bench/RESULTS.md``); a loaded CI machine must not fail here because it is slow.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIGURES = {
    "signing.v2_sha256",
    "signing.v2_sha1",
    "signing.tc3",
    "ack.commands.p50",
    "ack.commands.p99",
    "ack.commands.max",
    "ack.commands.cpu",
    "ack.clicks.p50",
    "ack.clicks.p99",
    "ack.clicks.max",
    "ack.clicks.cpu",
    "trigger.hold1.p99",
    "trigger.hold1.max",
    "trigger.hold2.p99",
    "trigger.hold2.max",
    "many.verified",
    "many.seconds",
    "many.peak_rss",
    "many.threads",
    "many.lag.p99",
    "many.lag.max",
    "many.ack.p99",
    "many.limit_errors",
    "many.peak.task",
    "many.peak.describe",
    "many.peak.modify",
    "many.landed_to_reply.p50",
    "many.landed_to_reply.p99",
    "many.task.verified",
    "many.task.seconds",
    "many.task.limit_errors",
    "many.task.peak.task",
    "many.task.peak.describe",
    "many.task.peak.modify",
    "many.task.landed_to_reply.p50",
    "many.task.landed_to_reply.p99",
    "economy.web_api",
    "economy.thread_messages",
    "economy.task_polls",
    "economy.cloud_calls",
}
COMPARED = {
    key
    for key in FIGURES
    if key.startswith(("signing.", "ack.", "many.peak.", "many.landed_to_reply."))
    or key in ("many.peak_rss", "many.ack.p99", "many.seconds")
}
WITH_TARGET = {
    "signing.v2_sha256",
    "signing.v2_sha1",
    "signing.tc3",
    "ack.commands.p99",
    "ack.clicks.p99",
    "trigger.hold1.p99",
    "trigger.hold2.p99",
    "many.verified",
    "many.threads",
    "many.lag.p99",
    "many.ack.p99",
    "many.limit_errors",
    "many.peak.task",
    "many.peak.describe",
    "many.peak.modify",
    "many.task.verified",
    "many.task.limit_errors",
    "many.task.peak.task",
    "many.task.peak.describe",
    "many.task.peak.modify",
    "economy.web_api",
    "economy.thread_messages",
}


def test_the_smoke_run_reports_every_figure(tmp_path: Path) -> None:
    figures = tmp_path / "figures.json"
    results = ROOT / "bench" / "RESULTS.md"
    before = results.stat().st_mtime_ns if results.exists() else None
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--json", str(figures), "--workdir", str(tmp_path / "work")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    rows = {row["key"]: row for row in json.loads(figures.read_text())["rows"]}
    assert set(rows) == FIGURES
    for key, row in rows.items():
        value = row["value"]
        assert isinstance(value, int | float), (key, value)
        assert not math.isnan(value), key
        assert row["figure"] in run.stdout, f"{row['figure']!r} is not in the printed table"
        if key in COMPARED:
            assert isinstance(row["baseline"], int | float), (key, row)
            assert row["baseline"] > 0, (key, row)
            assert isinstance(row["ratio"], int | float), (key, row)
        if key in WITH_TARGET:
            assert row["target"], key
            assert row["met"] in (True, False), (key, row)
    assert rows["economy.web_api"]["value"] > 0  # the change really went through Slack
    assert (results.stat().st_mtime_ns if results.exists() else None) == before, "a smoke run wrote RESULTS.md"
