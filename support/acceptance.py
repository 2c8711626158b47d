"""``python -m support.acceptance [behave arguments]``: one acceptance run, start to finish.

Clears the previous results, runs behave (arguments pass through, e.g. ``-t @critical`` or
``-D codex_binary=…``), prints one counted line from the JUnit XML, builds the single-file Allure
HTML report, and fails a run that executed zero scenarios.

The counted line comes from the Allure results: with ``AllureFormatter.hide_excluded`` they hold
exactly the selected scenarios (outline rows separately), so "skipped" means skipped for a stated
reason, never "not selected by the tag expression".
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

RESULTS = Path("allure-results")
JUNIT = Path("reports/junit")
REPORT = Path("allure-report")
HISTORY = Path("allure-history/history.jsonl")
ALLURE = Path("node_modules/.bin/allure")


@dataclass(frozen=True)
class Counts:
    passed: int = 0
    failed: int = 0
    skipped: int = 0

    @property
    def executed(self) -> int:
        return self.passed + self.failed

    def line(self) -> str:
        return f"scenarios: {self.passed} passed, {self.failed} failed, {self.skipped} skipped"


def count_results(folder: Path) -> Counts:
    """Count the scenario results Allure recorded; broken and unknown statuses count as failed."""
    statuses = [json.loads(path.read_text(encoding="utf-8")).get("status")
                for path in sorted(folder.glob("*-result.json"))]
    passed = statuses.count("passed")
    skipped = statuses.count("skipped")
    return Counts(passed, len(statuses) - passed - skipped, skipped)


READABLE_LABELS = ("epic", "story")


def readable_labels(folder: Path) -> None:
    """Gherkin tags cannot hold spaces, so ``@allure.label.epic:Codex_storage`` is written with
    underscores; the report shows ``Codex storage``."""
    for path in folder.glob("*-result.json"):
        result = json.loads(path.read_text(encoding="utf-8"))
        labels = result.get("labels", [])
        changed = False
        for label in labels:
            if label.get("name") in READABLE_LABELS and "_" in label.get("value", ""):
                label["value"] = label["value"].replace("_", " ")
                changed = True
        if changed:
            path.write_text(json.dumps(result), encoding="utf-8")


def build_report() -> bool:
    """Generate the single-file Allure 3 report; False (with a message) if that is impossible."""
    if not ALLURE.exists():
        print(f"no HTML report: {ALLURE} is missing (run `npm ci`)", file=sys.stderr)
        return False
    HISTORY.parent.mkdir(exist_ok=True)
    done = subprocess.run(
        [str(ALLURE), "awesome", str(RESULTS), "--single-file", "--name", "Acceptance suite",
         "--history-path", str(HISTORY), "-o", str(REPORT)],
        capture_output=True, text=True, check=False,
    )
    if done.returncode != 0:
        print(f"the HTML report failed:\n{done.stdout}{done.stderr}", file=sys.stderr)
        return False
    print(f"HTML report: {REPORT / 'index.html'}")
    return True


def run_behave(args: Sequence[str]) -> int:
    """Run behave in a child process; Ctrl-C reaches it and it cleans up before we go on."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        return subprocess.run([sys.executable, "-m", "behave", *args], check=False).returncode
    finally:
        signal.signal(signal.SIGINT, previous)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, add_help=True)
    parser.add_argument("--no-report", action="store_true", help="skip the HTML report")
    ours, behave_args = parser.parse_known_args(argv)
    for folder in (RESULTS, JUNIT, REPORT):
        shutil.rmtree(folder, ignore_errors=True)
    code = run_behave(behave_args)
    counts = count_results(RESULTS)
    readable_labels(RESULTS)
    report_ok = ours.no_report or build_report()
    if counts.executed == 0:
        print("no scenario was executed: check the tag expression and paths", file=sys.stderr)
        code = code or 1
    print(counts.line())
    return code if report_ok else code or 1


if __name__ == "__main__":
    sys.exit(main())
