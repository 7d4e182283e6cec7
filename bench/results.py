"""The figures: one :class:`Row` each, printed as a table and written to ``bench/RESULTS.md`` with the machine."""

from __future__ import annotations

import json
import math
import os
import platform
import resource
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path


@dataclass(frozen=True)
class Target:
    """What a figure must be: any of a bound on the value, an exact value, a bound on the ratio to the baseline."""

    below: float | None = None
    at_most: float | None = None
    equals: float | None = None
    ratio_at_most: float | None = None
    ratio_at_least: float | None = None
    unit: str = ""

    def describe(self) -> str:
        parts = []
        if self.ratio_at_most is not None:
            parts.append(f"≤ {self.ratio_at_most:g}×")
        if self.ratio_at_least is not None:
            parts.append(f"ratio ≥ {self.ratio_at_least:g}")
        if self.below is not None:
            parts.append(f"< {self.below:g}{self.unit}")
        if self.at_most is not None:
            parts.append(f"≤ {self.at_most:g}{self.unit}")
        if self.equals is not None:
            parts.append(f"all {self.equals:g}")
        return " and ".join(parts)

    def misses(self, value: float, ratio: float) -> list[str]:
        """How far ``value`` / ``ratio`` are from the target, one phrase a missed bound (empty: met).

        A bound of 0 (or below) has no "n× the bound": the phrase gives the excess instead, never a division by zero.
        """
        out = []
        if self.ratio_at_most is not None and not ratio <= self.ratio_at_most:
            times = _times(ratio, self.ratio_at_most)
            how_far = (
                f"{times} the {self.ratio_at_most:g} allowed" if times else f"over the {self.ratio_at_most:g} allowed"
            )
            out.append(f"ratio {ratio:.2f}, {how_far}")
        if self.ratio_at_least is not None and not ratio >= self.ratio_at_least:
            least = self.ratio_at_least
            short = f"{(1 - ratio / least) * 100:.0f}% short of {least:g}" if least > 0 else f"under {least:g}"
            out.append(f"ratio {ratio:.2f}, {short}")
        for bound, strict in ((self.below, True), (self.at_most, False)):
            if bound is not None and not (value < bound if strict else value <= bound):
                shown = "never (some did not happen at all)" if math.isinf(value) else f"{value:.1f}{self.unit}"
                times = _times(value, bound)
                if times:
                    out.append(f"{shown}, {times} the {bound:g}{self.unit} limit")
                elif math.isfinite(value):
                    out.append(f"{shown}, {value - bound:g}{self.unit} over the {bound:g}{self.unit} limit")
                else:
                    out.append(f"{shown}, over the {bound:g}{self.unit} limit")
        if self.equals is not None and value != self.equals:
            out.append(f"{value:g} of {self.equals:g}")
        return out


def _times(value: float, bound: float) -> str:
    """``value`` as a multiple of a positive finite ``bound`` (``"2.5×"``); empty where that means nothing."""
    if bound > 0 and math.isfinite(bound) and math.isfinite(value):
        return f"{value / bound:.1f}×"
    return ""


@dataclass(frozen=True)
class Row:
    """A figure. ``baseline`` and ``ratio`` are NaN where nothing compares; ``met`` is None without a target.

    ``key`` is stable (``ack.commands.p99``), for machines and the smoke test; ``figure`` is for people.
    """

    benchmark: str
    key: str
    figure: str
    value: float
    baseline: float = math.nan
    ratio: float = math.nan
    goal: Target | None = None

    @property
    def target(self) -> str:
        return self.goal.describe() if self.goal else ""

    @property
    def met(self) -> bool | None:
        return None if self.goal is None else not self.goal.misses(self.value, self.ratio)

    @property
    def gap(self) -> str:
        return "; ".join(self.goal.misses(self.value, self.ratio)) if self.goal else ""

    def to_json(self) -> dict[str, object]:
        data = {k: v for k, v in asdict(self).items() if k != "goal"}
        data.update(target=self.target, met=self.met, gap=self.gap)
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in data.items()}


def compared(value: float, baseline: float) -> float:
    return value / baseline if baseline and not math.isnan(baseline) and not math.isnan(value) else math.nan


def number(value: float) -> str:
    if math.isnan(value):
        return "–"
    if math.isinf(value):
        return "∞"
    if abs(value) >= 10_000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def cells(row: Row) -> list[str]:
    ratio = "–" if math.isnan(row.ratio) else f"{row.ratio:.2f}×"
    met = "–" if row.met is None else ("yes" if row.met else "**NO**")
    return [row.benchmark, row.figure, number(row.value), number(row.baseline), ratio, row.target or "–", met]


HEADER = ["benchmark", "figure", "value", "baseline", "ratio", "target", "met"]


def text_table(rows: Sequence[Row]) -> str:
    table = [HEADER, *(cells(r) for r in rows)]
    table = [[c.replace("**", "") for c in line] for line in table]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADER))]
    out = []
    for n, line in enumerate(table):
        out.append(
            "  ".join(
                c.ljust(w) if i < 2 or i >= 5 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths, strict=True))
            )
        )
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def markdown_table(rows: Sequence[Row]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "|".join(["---", "---", "--:", "--:", "--:", "---", "---"]) + "|"]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in cells(r)) + " |" for r in rows]
    return "\n".join(lines)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict[str, str]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (math.nan,) * 3
    return {
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cores": str(os.cpu_count()),
        "python": f"{platform.python_implementation()} {sys.version.split()[0]}",
        "load average at start": " ".join(f"{x:.2f}" for x in load),
    }


def _busy_seconds() -> float | None:
    """CPU time all processes have used since boot (``/proc/stat``: every state but idle and iowait), or None."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = [int(x) for x in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    busy = sum(fields) - fields[3] - (fields[4] if len(fields) > 4 else 0)
    return busy / os.sysconf("SC_CLK_TCK")


def _own_seconds() -> float:
    """CPU time of this process and its children that have ended (the servers and the load generator)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _process_seconds(pid: int) -> float:
    """CPU time of a live process (``/proc/PID/stat``: utime + stime), 0 if it cannot be read."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class OtherLoad:
    """How much CPU processes other than the benchmarks' took during the run: is the machine quiet enough?

    ``pids`` are the benchmarks' own children that stay alive over the span measured (the load generator): their CPU
    is the benchmarks', though it is not yet in ``RUSAGE_CHILDREN``."""

    def __init__(self, pids: Sequence[int] = ()) -> None:
        self._pids = tuple(pids)
        self._busy, self._own = _busy_seconds(), self._own_now()

    def _own_now(self) -> float:
        return _own_seconds() + sum(_process_seconds(pid) for pid in self._pids)

    def text(self, seconds: float) -> str | None:
        busy = _busy_seconds()
        if busy is None or self._busy is None:
            return None
        others = max(0.0, (busy - self._busy) - (self._own_now() - self._own))
        share = others / max(seconds, 1e-9) * 100
        return f"{others:.0f} s, {share:.0f}% of one core on average (the benchmarks' own processes excluded)"


def unmet(rows: Sequence[Row]) -> list[Row]:
    return [r for r in rows if r.met is False]


def write_markdown(
    path: Path,
    rows: Sequence[Row],
    *,
    command: str,
    host: dict[str, str],
    started: datetime,
    seconds: float,
    notes: Sequence[str],
) -> None:
    lines = [
        "# vpnbot benchmarks",
        "",
        f"Written by `{command}` on {started.astimezone(UTC):%Y-%m-%d %H:%M} UTC ({seconds:.0f} s). "
        "Every ratio is against a baseline measured in the same run; see `bench/__init__.py` for the method.",
        "",
        "## Machine",
        "",
        *(f"- {name}: {value}" for name, value in host.items()),
        f"- load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        "",
        "## Figures",
        "",
        markdown_table(rows),
        "",
        "## Notes",
        "",
        *(f"- {note}" for note in notes),
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")


def write_json(path: Path, rows: Sequence[Row], notes: Sequence[str], host: dict[str, str] | None = None) -> None:
    data: dict[str, object] = {"rows": [r.to_json() for r in rows], "notes": list(notes)}
    if host is not None:
        data["machine"] = host
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
