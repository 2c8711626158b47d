"""Benchmark: the whole acceptance suite's wall time with 1 worker and with N, in the same run.

    .venv/bin/python bench/suite_wall_time.py [--jobs N]   (default: every core)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed_run(jobs: int) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "support.acceptance", "--no-report",
                           "--jobs", str(jobs)], cwd=ROOT, capture_output=True, text=True,
                          check=False)
    elapsed = time.perf_counter() - started
    counted = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "(no output)"
    if done.returncode != 0:
        raise SystemExit(f"the run with {jobs} worker(s) failed: {counted}\n{done.stderr[-2000:]}")
    return elapsed, counted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    one, counted_one = timed_run(1)
    many, counted_many = timed_run(args.jobs)
    print(f"1 worker:  {one:7.1f} s  ({counted_one})")
    print(f"{args.jobs} workers: {many:7.1f} s  ({counted_many})")
    print(f"speed-up:  {one / many:7.2f}x")


if __name__ == "__main__":
    main()
