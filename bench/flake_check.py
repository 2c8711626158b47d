"""Flake check: run the whole acceptance suite several times in a row and report every scenario
whose outcome was not the same in all runs.

    .venv/bin/python bench/flake_check.py [--runs 5] [--jobs N] [behave arguments…]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "allure-results"


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
    parser.add_argument("--jobs", type=int, default=1)
    args, behave_args = parser.parse_known_args()
    history: dict[str, list[str]] = defaultdict(list)
    for number in range(1, args.runs + 1):
        done = subprocess.run([sys.executable, "-m", "support.acceptance", "--no-report",
                               "--jobs", str(args.jobs), *behave_args], cwd=ROOT,
                              capture_output=True, text=True, check=False)
        counted = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "(no output)"
        print(f"run {number}: {counted}")
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
