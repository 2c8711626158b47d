"""Benchmark: the whole acceptance suite's wall time, measured three ways in the same run.

    .venv/bin/python bench/suite_wall_time.py [--jobs N]   (default: every core)

The baseline is 1 worker with every scenario starting its own nodes and clusters
(``share_systems=false``); then 1 worker with systems shared across a feature's scenarios (the
default); then N workers with sharing. Each line gives the time and the speed-up over the baseline;
the last line, N workers against 1 worker.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed_run(jobs: int, share: bool) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "support.acceptance", "--no-report",
                           "--jobs", str(jobs), "-D", f"share_systems={str(share).lower()}"],
                          cwd=ROOT, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    counted = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "(no output)"
    if done.returncode != 0:
        raise SystemExit(f"the run with {jobs} worker(s) failed: {counted}\n{done.stderr[-2000:]}")
    return elapsed, counted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    runs = [("1 worker, fresh systems (baseline)", 1, False),
            ("1 worker, shared systems", 1, True),
            (f"{args.jobs} workers, shared systems", args.jobs, True)]
    times = []
    for label, jobs, share in runs:
        seconds, counted = timed_run(jobs, share)
        times.append(seconds)
        print(f"{label:36} {seconds:7.1f} s  speed-up {times[0] / seconds:5.2f}x  ({counted})",
              flush=True)
    print(f"{args.jobs} workers against 1 worker, both sharing: {times[1] / times[2]:.2f}x")


if __name__ == "__main__":
    main()
