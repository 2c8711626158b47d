"""``python -m support.acceptance [behave arguments]``: one acceptance run, start to finish.

Clears the previous results, runs behave (arguments pass through, e.g. ``-t @critical`` or
``-D codex_binary=…``), builds the single-file Allure HTML report (``--check-report`` then opens
it in headless Chromium and checks what it shows), prints one counted line and fails a run that
executed zero scenarios.

The counted line comes from the Allure results: with ``AllureFormatter.hide_excluded`` they hold
exactly the selected scenarios (outline rows separately), so "skipped" means skipped for a stated
reason, never "not selected by the tag expression".
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from support import report_browser, reporting, split

RESULTS = Path("allure-results")
JUNIT = Path("reports/junit")
REPORT = Path("allure-report")
WORKER_LOGS = Path("reports/workers")
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
# How Allure groups failures (categories.json): a broken scenario whose error comes from the
# harness (a process that would not start, a port, etcd) is infrastructure, not a product defect.
CATEGORIES = [
    {"name": "Known issues", "matchedStatuses": ["failed", "broken"],
     "messageRegex": ".*KNOWN ISSUE.*"},
    {"name": "Broken infrastructure", "matchedStatuses": ["broken"],
     "messageRegex": ".*(ProcessStartError|PortReservationError|was not ready within|exited with "
                     "code|could not be started|etcd|SettingsError|GoverseBuildError).*"},
    {"name": "Product defects", "matchedStatuses": ["failed"]},
    {"name": "Test defects", "matchedStatuses": ["broken"]},
]


def write_categories(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "categories.json").write_text(json.dumps(CATEGORIES, indent=2), encoding="utf-8")


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


# Allure's page template always adds Google Analytics; a report opened from CI artifacts or a
# laptop should not call out to the network, so the tag is taken out after generation.
_ANALYTICS = re.compile(r'\s*<script async src="https://www\.googletagmanager\.com/[^"]*"></script>'
                        r"\s*<script>\s*window\.dataLayer.*?</script>", re.DOTALL)
# The tree a product owner opens first: epics, then features, then stories.
GROUP_BY = "epic,feature,story"


def strip_analytics(page: Path) -> None:
    """Remove the analytics tag from a generated report page (nothing else changes)."""
    html = page.read_text(encoding="utf-8")
    stripped = _ANALYTICS.sub("", html, count=1)
    if stripped != html:
        page.write_text(stripped, encoding="utf-8")


def build_report() -> bool:
    """Generate the single-file Allure 3 report; False (with a message) if that is impossible."""
    if not ALLURE.exists():
        print(f"no HTML report: {ALLURE} is missing (run `npm ci`)", file=sys.stderr)
        return False
    HISTORY.parent.mkdir(exist_ok=True)
    done = subprocess.run(
        [str(ALLURE), "awesome", str(RESULTS), "--single-file", "--name", "Acceptance suite",
         "--group-by", GROUP_BY, "--history-path", str(HISTORY), "-o", str(REPORT)],
        capture_output=True, text=True, check=False,
    )
    if done.returncode != 0:
        print(f"the HTML report failed:\n{done.stdout}{done.stderr}", file=sys.stderr)
        return False
    strip_analytics(REPORT / "index.html")
    print(f"HTML report: {REPORT / 'index.html'}")
    return True


def run_behave(args: Sequence[str]) -> int:
    """Run behave in a child process; Ctrl-C reaches it and it cleans up before we go on."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        return subprocess.run([sys.executable, "-m", "behave", *args], check=False).returncode
    finally:
        signal.signal(signal.SIGINT, previous)


def run_workers(groups: Sequence[Sequence[Path]], options: Sequence[str]) -> int:
    """Run one behave per non-empty group at once; print each worker's output when it ends.

    Workers share the results folders (Allure files are per scenario, JUnit files per feature)
    and keep apart everything else by themselves (ports, etcd prefixes, artifact folders).
    """
    WORKER_LOGS.mkdir(parents=True, exist_ok=True)
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    workers = []
    try:
        for number, group in enumerate(g for g in groups if g):
            log = WORKER_LOGS / f"worker-{number + 1}.log"
            handle = open(log, "w", encoding="utf-8")  # noqa: SIM115 - closed below
            argv = [sys.executable, "-m", "behave", *options, *map(str, group)]
            workers.append((subprocess.Popen(argv, stdout=handle, stderr=subprocess.STDOUT),
                            handle, log, group))
        code = 0
        for process, handle, log, group in workers:
            code = max(code, process.wait())
            handle.close()
            print(f"--- worker {log.stem} ({', '.join(map(str, group))}) ---")
            print(log.read_text(encoding="utf-8"), end="")
        return code
    finally:
        signal.signal(signal.SIGINT, previous)


def _positional(args: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split behave arguments into feature paths and options (values of options kept)."""
    takes_value = {"-t", "--tags", "-D", "--define", "-n", "--name", "-f", "--format", "-o",
                   "--outfile", "-i", "--include", "-e", "--exclude", "-k"}
    paths, options = [], []
    iterator = iter(args)
    for arg in iterator:
        if arg in takes_value:
            options += [arg, next(iterator, "")]
        elif arg.startswith("-"):
            options.append(arg)
        else:
            paths.append(arg)
    return paths, options


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, add_help=True)
    parser.add_argument("--no-report", action="store_true", help="skip the HTML report")
    parser.add_argument("--jobs", type=int, default=1,
                        help="run the features in this many behave processes at once")
    parser.add_argument("--check-report", action="store_true",
                        help="open the HTML report in headless Chromium and check that it shows "
                             "every epic with the counts the results hold")
    parser.add_argument("--shard", default=None,
                        help="K/N: run only the K-th of N deterministic parts of the features "
                             "(to spread one run over N machines)")
    ours, behave_args = parser.parse_known_args(argv)
    for folder in (RESULTS, JUNIT, REPORT, WORKER_LOGS, reporting.ENVIRONMENT_FACTS):
        shutil.rmtree(folder, ignore_errors=True)
    if ours.jobs > 1 or ours.shard:
        paths, options = _positional(behave_args)
        features = split.feature_files(paths or ["features"])
        if ours.shard:
            try:
                number, total = split.parse_shard(ours.shard)
            except split.ShardError as exc:
                parser.error(str(exc))
            features = split.split(features, total)[number - 1]
        code = run_workers(split.split(features, max(1, ours.jobs)), options)
    else:
        code = run_behave(behave_args)
    reporting.merge_environments(RESULTS)
    counts = count_results(RESULTS)
    readable_labels(RESULTS)
    write_categories(RESULTS)
    report_ok = ours.no_report or build_report()
    if report_ok and ours.check_report and not ours.no_report:
        report_ok = report_browser.main(["--report", str(REPORT / "index.html"),
                                         "--results", str(RESULTS)]) == 0
    if counts.executed == 0:
        print("no scenario was executed: check the tag expression and paths", file=sys.stderr)
        code = code or 1
    print(counts.line())
    return code if report_ok else code or 1


if __name__ == "__main__":
    sys.exit(main())
