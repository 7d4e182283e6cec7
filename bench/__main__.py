"""``python -m bench [--smoke] [--only ack,trigger,many,economy,signing] [--write] [--json PATH] [--profile DIR]``.

Runs the benchmarks, prints the table, and (full run, or ``--write``) writes ``bench/RESULTS.md``. A full run takes a
few minutes (the economy change's task alone lasts 60 s); ``--smoke`` runs everything at tiny sizes in well under a
minute and writes nothing unless asked. ``--profile DIR`` keeps a cProfile of every vpnbot process there.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import shlex
import sys
import time
import traceback
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from bench import ack, economy, many, signing, trigger
from bench.analysis import why
from bench.harness import LoadGen, load_generator, scratch_dir
from bench.paths import RESULTS
from bench.results import OtherLoad, Row, machine, text_table, unmet, write_json, write_markdown
from bench.sizes import FULL, SMOKE, Sizes

Outcome = tuple[list[Row], list[str]]
Benchmark = Callable[[Sizes, Path, LoadGen, Path | None], Awaitable[Outcome]]
BENCHMARKS: dict[str, Benchmark] = {
    "ack": ack.run,
    "trigger": trigger.run,
    "many": many.run,
    "economy": economy.run,
}
ORDER = ("signing", "ack", "trigger", "many", "economy")


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks the benchmarks work, not the targets")
    parser.add_argument("--only", default=",".join(ORDER), help=f"comma-separated subset of {','.join(ORDER)}")
    parser.add_argument("--write", action="store_true", help="write bench/RESULTS.md (a full run always does)")
    parser.add_argument("--no-write", action="store_true", help="do not write bench/RESULTS.md")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON to this file")
    parser.add_argument(
        "--profile", type=Path, help="keep a cProfile (.pstats) of every vpnbot process in this directory"
    )
    parser.add_argument(
        "--workdir", type=Path, help="keep state files and server logs here (default: a temporary directory)"
    )
    parser.add_argument(
        "--size",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override one of bench.sizes.Sizes (repeatable)",
    )
    args = parser.parse_args(argv)
    unknown = set(args.only.split(",")) - set(ORDER)
    if unknown:
        parser.error(f"--only: unknown benchmark(s) {', '.join(sorted(unknown))}")
    return args


def shown_command(argv: Sequence[str]) -> str:
    """The command that makes these figures: the options that change them (not where files go)."""
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in ("--workdir", "--profile", "--json"):
            skip = True
        elif not arg.startswith(("--workdir=", "--profile=", "--json=", "--write", "--no-write")):
            kept.append(arg)
    return shlex.join(["python", "-m", "bench", *kept])


def resized(sizes: Sizes, overrides: Sequence[str]) -> Sizes:
    changes: dict[str, object] = {}
    for item in overrides:
        name, _, text = item.partition("=")
        current = getattr(sizes, name)
        changes[name] = tuple(float(x) for x in text.split(",")) if isinstance(current, tuple) else type(current)(text)
    return dataclasses.replace(sizes, **changes)  # type: ignore[arg-type]


def closing_notes(rows: Sequence[Row]) -> list[str]:
    missed = unmet(rows)
    if not missed:
        return ["Every target is met."]
    return [f"Target not met: {r.benchmark}, {r.figure}: {r.gap} (target {r.target})." for r in missed]


async def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    sizes = resized(SMOKE if args.smoke else FULL, args.size)
    chosen = [name for name in ORDER if name in args.only.split(",")]
    started, clock = datetime.now(UTC), time.monotonic()
    host = machine()
    others = OtherLoad()
    rows: list[Row] = []
    notes: list[str] = []
    failures: list[str] = []
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    with scratch_dir() as scratch:
        workdir = args.workdir or Path(scratch)
        if "signing" in chosen:  # first, in a quiet process: no servers, no helpers
            print("signing ...", file=sys.stderr, flush=True)
            outcome = signing.run(sizes)
            rows += outcome[0]
            notes += outcome[1]
        servers = [name for name in chosen if name in BENCHMARKS]
        if servers:
            async with load_generator(workdir / "load") as load:
                for name in servers:
                    print(f"{name} ...", file=sys.stderr, flush=True)
                    begun = time.monotonic()
                    quiet = OtherLoad(pids=[load.child.process.pid] if load.child.process else [])
                    try:
                        outcome = await BENCHMARKS[name](sizes, workdir, load, args.profile)
                    except Exception as error:  # one broken benchmark must not hide the others' figures
                        failures.append(f"Benchmark {name} failed, so its figures are missing: {error!r}"[:2000])
                        print(failures[-1], file=sys.stderr, flush=True)
                        continue
                    rows += outcome[0]
                    notes += outcome[1]
                    took = time.monotonic() - begun
                    if (during := quiet.text(took)) is not None:
                        host[f"CPU taken by other processes during {name}"] = during
                    print(f"{name}: {took:.0f} s; CPU taken by other processes: {during}", file=sys.stderr, flush=True)
    seconds = time.monotonic() - clock
    if (other_cpu := others.text(seconds)) is not None:
        host["CPU taken by other processes during the run"] = other_cpu
        print(f"CPU taken by other processes during the run: {other_cpu}", file=sys.stderr, flush=True)
    # The figures first, so nothing after them (the notes) can lose a run's worth of measurements.
    if args.json:
        write_json(args.json, rows, failures + notes, host)
    print(text_table(rows), flush=True)
    try:
        notes = failures + closing_notes(rows) + why(rows) + notes
    except Exception as error:  # the figures are out already; say what went wrong with the notes
        traceback.print_exc()
        failures.append(f"The notes on the figures could not be computed: {error!r}"[:2000])
        notes = failures + notes
    for note in notes:
        print(f"- {note}")
    command = shown_command(sys.argv[1:])
    if args.json:
        write_json(args.json, rows, notes, host)
    full = not args.smoke and not args.size and set(chosen) == set(ORDER)
    if (args.write or full) and not args.no_write:
        write_markdown(RESULTS, rows, command=command, host=host, started=started, seconds=seconds, notes=notes)
        print(f"wrote {RESULTS}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
