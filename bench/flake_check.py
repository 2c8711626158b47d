"""Flake check: run the whole acceptance suite several times in a row and report every scenario
whose outcome was not the same in all runs; ``--load N`` keeps N busy processes beside the suite
(one busy loop each, as a loaded CI machine has), which stop with the check or after two hours.

    .venv/bin/python bench/flake_check.py [--runs 5] [--jobs N] [--load N] [behave arguments…]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "allure-results"
LOAD_LIMIT = 2 * 3600  # seconds: a busy process never outlives this, whatever happens
# A busy loop that ends by itself: when its parent (this check, named by PID so that a parent
# gone before the loop starts counts too) is gone, or at the time limit.
_BUSY = ("import os, time\n"
         "parent, end = {parent}, time.monotonic() + {limit}\n"
         "while os.getppid() == parent and time.monotonic() < end:\n"
         "    sum(range(10000))\n")


@contextmanager
def busy_processes(count: int) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``count`` processes that each keep one core busy while the block runs."""
    code = _BUSY.format(parent=os.getpid(), limit=LOAD_LIMIT)
    processes = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(count)]
    try:
        yield processes
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=10)


def outcomes() -> dict[str, str]:
    """Scenario (full name plus outline parameters) → status, from the last run's results."""
    found = {}
    for path in RESULTS.glob("*-result.json"):
        result = json.loads(path.read_text(encoding="utf-8"))
        params = ",".join(f"{p['name']}={p['value']}" for p in result.get("parameters", []))
        found[f"{result.get('fullName')} [{params}]" if params else result.get("fullName")] = \
            result["status"]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--load", type=int, default=0,
                        help="busy processes beside the suite (default: none)")
    args, behave_args = parser.parse_known_args()
    history: dict[str, list[str]] = defaultdict(list)
    print(f"{args.runs} runs, {args.jobs} workers, {args.load} busy processes beside them")
    with busy_processes(args.load):
        for number in range(1, args.runs + 1):
            started = time.monotonic()
            done = subprocess.run([sys.executable, "-m", "support.acceptance", "--no-report",
                                   "--jobs", str(args.jobs), *behave_args], cwd=ROOT,
                                  capture_output=True, text=True, check=False)
            lines = done.stdout.strip().splitlines()
            counted = lines[-1] if lines else "(no output)"
            print(f"run {number}: {counted} in {time.monotonic() - started:.0f} s"
                  f" (load average {os.getloadavg()[0]:.1f})", flush=True)
            for scenario, status in outcomes().items():
                history[scenario].append(status)
    unstable = {s: runs for s, runs in history.items()
                if len(set(runs)) > 1 or len(runs) != args.runs}
    if not unstable:
        print(f"no flaky scenario: {len(history)} scenarios had the same outcome in "
              f"{args.runs} runs")
        return
    print(f"{len(unstable)} scenario(s) changed outcome:")
    for scenario, runs in sorted(unstable.items()):
        print(f"  {scenario}: {' '.join(runs)}")
    sys.exit(1)


if __name__ == "__main__":
    main()
