"""Benchmark: the whole acceptance suite's wall time, with its baseline measured in the same run.

    .venv/bin/python bench/suite_wall_time.py [--jobs N] [--runs K] [--only-parallel] [behave args]

The baseline is 1 worker with every scenario starting its own nodes and clusters
(``share_systems=false``); then 1 worker with systems shared across a feature's scenarios (the
default); then K runs with N workers (default: every core) with sharing. Each line gives the time
and the speed-up over the baseline; then the N-worker runs' min/median/max, and the median against
1 worker. ``--only-parallel`` skips the two 1-worker runs (no speed-ups then).

Every run must pass: the bench stops at the first run with a failed scenario. After each N-worker
run it prints each worker's wall time against what the last run's timings predicted (the split
balances by them, see ``support.split``), and at the end the longest features and the runner's
own phases, from ``reports/timings.json``. Extra arguments (feature paths, ``-t``) go to every run.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from support import timings

ROOT = Path(__file__).resolve().parent.parent

LONGEST = 8
_COUNTED = re.compile(r"scenarios: (\d+) passed, (\d+) failed, (\d+) skipped")


def timed_run(jobs: int, share: bool, extra: Sequence[str]) -> tuple[float, str]:
    """One runner run's wall time and counted line; exits when any scenario failed."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "support.acceptance", "--no-report",
                           "--jobs", str(jobs), "-D", f"share_systems={str(share).lower()}",
                           *extra], cwd=ROOT, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    counted = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "(no output)"
    found = _COUNTED.fullmatch(counted)
    if done.returncode != 0 or found is None or found.group(2) != "0":
        raise SystemExit(f"the run with {jobs} worker(s) failed after {elapsed:.1f} s: "
                         f"{counted}\n{done.stderr[-2000:]}")
    return elapsed, counted


def print_workers() -> None:
    """Each worker's wall time in the last run, against what the split expected."""
    workers = timings.last_run(ROOT / timings.TIMINGS).get("workers", [])
    for number, worker in enumerate(workers if isinstance(workers, list) else [], start=1):
        around = "".join(f", {label} {worker[name]:.1f} s" for name, label in
                         (("start_up", "start-up"), ("wind_down", "after the last feature"))
                         if name in worker)
        guess = f"expected {worker['expected']:.1f} s, " if "expected" in worker else ""
        print(f"    worker {number}: {worker.get('seconds', 0):6.1f} s "
              f"({guess}{len(worker.get('features', []))} features{around})")


def print_last_run() -> None:
    """The longest features and the runner's phases, from the timings file."""
    path = ROOT / timings.TIMINGS
    known = sorted(timings.load(path).items(), key=lambda item: -item[1].seconds)
    print(f"longest features (no worker can end before its longest; from {timings.TIMINGS}):")
    for name, timing in known[:LONGEST]:
        print(f"    {timing.seconds:6.1f} s  {name} ({timing.scenarios} scenarios; steps "
              f"{timing.steps:.1f} s, hooks and clean-ups {timing.seconds - timing.steps:.1f} s)")
    phases = timings.last_run(path).get("phases", {})
    if isinstance(phases, dict) and phases:
        print("runner phases of the last run: "
              + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in phases.items()))


def summary(seconds: Sequence[float]) -> str:
    return (f"min {min(seconds):.1f} s, median {statistics.median(seconds):.1f} s, "
            f"max {max(seconds):.1f} s over {len(seconds)} run(s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--runs", type=int, default=1,
                        help="how many times to run with --jobs workers (default 1)")
    parser.add_argument("--only-parallel", action="store_true",
                        help="skip the two 1-worker runs (the baseline and shared)")
    args, extra = parser.parse_known_args()
    if args.runs < 1:
        parser.error("--runs takes a count of at least 1")
    baseline = one_worker = None
    if not args.only_parallel:
        for label, share in [("1 worker, fresh systems (baseline)", False),
                             ("1 worker, shared systems", True)]:
            seconds, counted = timed_run(1, share, extra)
            baseline = baseline or seconds
            one_worker = seconds
            print(f"{label:40} {seconds:7.1f} s  speed-up {baseline / seconds:5.2f}x  "
                  f"({counted})", flush=True)
    parallel = []
    for run in range(1, args.runs + 1):
        seconds, counted = timed_run(args.jobs, True, extra)
        parallel.append(seconds)
        label = f"{args.jobs} workers, shared systems, run {run}/{args.runs}"
        speed_up = f"  speed-up {baseline / seconds:5.2f}x" if baseline else ""
        print(f"{label:40} {seconds:7.1f} s{speed_up}  ({counted})", flush=True)
        print_workers()
    print(f"{args.jobs} workers, shared systems: {summary(parallel)}")
    if one_worker:
        print(f"{args.jobs} workers against 1 worker, both sharing (median): "
              f"{one_worker / statistics.median(parallel):.2f}x")
    print_last_run()


if __name__ == "__main__":
    main()
