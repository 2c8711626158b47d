"""``python -m support.report_build``: the single-file Allure 3 HTML report of ``allure-results/``.

``make acceptance`` builds it after its run; ``make report`` (this module alone) builds it from a
results folder that already exists, for example the results of several CI shards: shard folders
inside it (``allure-results/shard-1/``, …, as a CI artifact download leaves them) are merged into
it first, their environment facts included.

Before Allure reads the results, they are post-processed: a scenario whose processes did not stop
cleanly fails, epic and story labels read as words, and results listed in ``known-issues.json``
get a ``known issue`` label. Allure 3 is then configured through its own config file (written to
``reports/allurerc.json`` and passed with ``--config``): the four categories, the hidden
``framework`` and ``language`` labels, the report's name and how much history it keeps.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from support import reporting
from support.processes import reaper

RESULTS = Path("allure-results")
REPORT = Path("allure-report")
HISTORY = Path("allure-history/history.jsonl")
ALLURE = Path("node_modules/.bin/allure")
ALLURE_CONFIG = Path("reports/allurerc.json")
KNOWN_ISSUES = Path("known-issues.json")
REPORT_NAME = "Acceptance suite"
# The tree a product owner opens first: epics, then features, then stories.
GROUP_BY = "epic,feature,story"
# Runs kept in the history file (each holds every scenario's status): the trend charts show the
# last ones; the file a CI job caches stays bounded.
HISTORY_LIMIT = 50
READABLE_LABELS = ("epic", "story")
# allure-behave labels every result with these; they say nothing to a reader of this report.
HIDDEN_LABELS = ("framework", "language")
KNOWN_ISSUE_LABEL = "known issue"
# What a broken scenario's error says when the harness, not the product, failed: a process that
# would not start, a port, etcd, the settings, the Goverse build.
HARNESS_ERRORS = ("ProcessStartError", "PortReservationError", "was not ready within",
                  "exited with code", "could not be started", "etcd", "SettingsError",
                  "GoverseBuildError")
_FAILING = ["failed", "broken"]
# Allure 3's categories (allurerc ``categories``, matched in this order; the first rule that
# matches a result wins). Allure adds its own "Product errors" and "Test errors" after these; the
# last two rules take every failed and every broken result first, so they stay empty.
CATEGORIES: list[dict[str, Any]] = [
    {"name": "Known issues", "matchers": [
        {"statuses": _FAILING, "message": "KNOWN ISSUE"},
        {"statuses": _FAILING, "labels": {KNOWN_ISSUE_LABEL: "."}}]},
    {"name": "Broken infrastructure",
     "matchers": {"statuses": ["broken"], "message": "|".join(HARNESS_ERRORS)}},
    {"name": "Product defects", "matchers": {"statuses": ["failed"]}},
    {"name": "Test defects", "matchers": {"statuses": ["broken"]}},
]
# Allure's page template always adds Google Analytics; a report opened from CI artifacts or a
# laptop should not call out to the network, so the tag is taken out after generation.
_ANALYTICS = re.compile(r'\s*<script async src="https://www\.googletagmanager\.com/[^"]*"></script>'
                        r"\s*<script>\s*window\.dataLayer.*?</script>", re.DOTALL)
_ENVIRONMENT = "environment.properties"


class ReportBuildError(RuntimeError):
    """The results cannot be merged or the known issues cannot be read."""


def allure_config() -> dict[str, Any]:
    """Allure 3's configuration of this report (the fields of an ``allurerc``)."""
    return {"name": REPORT_NAME, "hideLabels": list(HIDDEN_LABELS), "historyLimit": HISTORY_LIMIT,
            "categories": CATEGORIES}


def merge_shards(folder: Path) -> None:
    """Move the results of every sub-folder (one per shard) into ``folder``; their environment
    facts are merged, a fact the shards disagree on keeping each value ("a; b")."""
    shards = sorted(path for path in folder.iterdir() if path.is_dir()) if folder.is_dir() else []
    if not shards:
        return
    facts: dict[str, list[str]] = {}

    def note(properties: Path) -> None:
        for key, value in reporting.read_properties(properties).items():
            if value not in facts.setdefault(key, []):
                facts[key].append(value)

    note(folder / _ENVIRONMENT)
    moves: dict[str, Path] = {}  # checked first: a clash leaves the folder as it was
    for path in sorted(p for shard in shards for p in shard.rglob("*") if p.is_file()):
        if path.name == _ENVIRONMENT:
            note(path)
            continue
        other = moves.get(path.name, folder / path.name)
        if other.exists() and other.read_bytes() != path.read_bytes():
            raise ReportBuildError(f"{path} and {other} differ: the shards' results clash")
        moves[path.name] = path
    for name, path in moves.items():
        path.replace(folder / name)
    for shard in shards:
        shutil.rmtree(shard)
    reporting.write_properties(folder, {key: "; ".join(values) for key, values in facts.items()})


def _results(folder: Path) -> list[tuple[Path, dict[str, Any]]]:
    return [(path, json.loads(path.read_text(encoding="utf-8")))
            for path in sorted(folder.glob("*-result.json"))]


def fail_unclean_stops(folder: Path) -> None:
    """allure-behave takes a scenario's status from its steps alone, so a scenario whose steps
    passed but whose processes did not stop cleanly would show (and count) as passed: its result
    becomes failed, with what the stop checks found as the message."""
    for path, result in _results(folder):
        found = [attachment for attachment in result.get("attachments", [])
                 if attachment.get("name") == reporting.STOP_CHECKS]
        if not found or result.get("status") != "passed":
            continue
        source = folder / found[0].get("source", "")
        problems = source.read_text("utf-8", "replace") if source.is_file() else "see the log"
        result["status"] = "failed"
        result["statusDetails"] = {
            "message": f"the scenario's processes did not stop cleanly: {problems}"}
        path.write_text(json.dumps(result), encoding="utf-8")


def readable_labels(folder: Path) -> None:
    """Gherkin tags cannot hold spaces, so ``@allure.label.epic:Codex_storage`` is written with
    underscores; the report shows ``Codex storage``."""
    for path, result in _results(folder):
        labels = result.get("labels", [])
        changed = False
        for label in labels:
            if label.get("name") in READABLE_LABELS and "_" in label.get("value", ""):
                label["value"] = label["value"].replace("_", " ")
                changed = True
        if changed:
            path.write_text(json.dumps(result), encoding="utf-8")


def load_known_issues(path: Path) -> list[dict[str, str]]:
    """The known issues file: a JSON list of ``{"issue": …, "scenario": …, "message": …}``, where
    ``issue`` says what is known (a tracker reference, a sentence), ``scenario`` is a result's full
    name ("<feature>: <scenario>") and ``message`` a regular expression searched in its failure
    message; an entry needs ``issue`` and at least one of the other two. No file: no entries."""
    if not path.is_file():
        return []
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ReportBuildError(f"{path} is not JSON: {exc}") from exc
    if not isinstance(entries, list):
        raise ReportBuildError(f"{path} must hold a list of known issues")
    for number, entry in enumerate(entries, 1):
        if (not isinstance(entry, dict) or not entry.get("issue")
                or not (entry.get("scenario") or entry.get("message"))):
            raise ReportBuildError(f"known issue {number} in {path} needs an 'issue' and a "
                                   "'scenario' or a 'message'")
        if entry.get("message"):
            try:
                re.compile(entry["message"])
            except re.error as exc:
                raise ReportBuildError(f"known issue {number} in {path}: the message "
                                       f"{entry['message']!r} is not a regular expression: {exc}"
                                       ) from exc
    return entries


def mark_known_issues(folder: Path, known: Sequence[dict[str, str]]) -> None:
    """Label each failed or broken result a known issue describes (the category "Known issues"
    takes them), once: a label already there is not added again."""
    for path, result in _results(folder):
        if result.get("status") not in _FAILING:
            continue
        message = (result.get("statusDetails") or {}).get("message") or ""
        labels = result.setdefault("labels", [])
        marked = {label.get("value") for label in labels
                  if label.get("name") == KNOWN_ISSUE_LABEL}
        issues = [entry["issue"] for entry in known
                  if entry.get("scenario", result.get("fullName")) == result.get("fullName")
                  and re.search(entry.get("message", ""), message)
                  and entry["issue"] not in marked]
        if issues:
            labels.extend({"name": KNOWN_ISSUE_LABEL, "value": issue} for issue in issues)
            path.write_text(json.dumps(result), encoding="utf-8")


def prepare(folder: Path = RESULTS, known_issues: Path = KNOWN_ISSUES) -> None:
    """Everything done to the results before Allure reads them (see the module docstring)."""
    merge_shards(folder)
    fail_unclean_stops(folder)
    readable_labels(folder)
    mark_known_issues(folder, load_known_issues(known_issues))


def strip_analytics(page: Path) -> None:
    """Remove the analytics tag from a generated report page (nothing else changes)."""
    html = page.read_text(encoding="utf-8")
    stripped = _ANALYTICS.sub("", html, count=1)
    if stripped != html:
        page.write_text(stripped, encoding="utf-8")


def build(results: Path = RESULTS, report: Path = REPORT, history: Path = HISTORY) -> bool:
    """Generate the single-file Allure 3 report of prepared results (appending the run to the
    history file); False (with a message) if that is impossible."""
    if not ALLURE.exists():
        print(f"no HTML report: {ALLURE} is missing (run `npm ci`)", file=sys.stderr)
        return False
    history.parent.mkdir(parents=True, exist_ok=True)
    ALLURE_CONFIG.parent.mkdir(parents=True, exist_ok=True)
    ALLURE_CONFIG.write_text(json.dumps(allure_config(), indent=2), encoding="utf-8")
    done = subprocess.run(
        [str(ALLURE), "awesome", str(results), "--config", str(ALLURE_CONFIG), "--single-file",
         "--group-by", GROUP_BY, "--history-path", str(history), "-o", str(report)],
        # Like a worker: its own session (a Ctrl-C typed while the report is built reaches the
        # runner only: after the first, the report of what ran is still wanted) and tied to us.
        capture_output=True, text=True, check=False, start_new_session=True,
        env={**os.environ, **reaper.child_markers()}, preexec_fn=reaper.die_with_parent(),
    )
    if done.returncode != 0:
        print(f"the HTML report failed:\n{done.stdout}{done.stderr}", file=sys.stderr)
        return False
    strip_analytics(report / "index.html")
    print(f"HTML report: {report / 'index.html'}")
    return True


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=RESULTS,
                        help=f"the Allure results, or a folder of shards' results (default "
                             f"{RESULTS})")
    parser.add_argument("--report", type=Path, default=REPORT,
                        help=f"where the report goes (default {REPORT})")
    parser.add_argument("--known-issues", type=Path, default=KNOWN_ISSUES,
                        help=f"the known issues file (default {KNOWN_ISSUES}, if it exists)")
    args = parser.parse_args(argv)
    if not any(args.results.glob("*-result.json")) and not any(
            args.results.glob("*/**/*-result.json")):
        print(f"no Allure results in {args.results}: run `make acceptance` first, or put the "
              "shards' results there", file=sys.stderr)
        return 1
    try:
        prepare(args.results, args.known_issues)
    except ReportBuildError as exc:
        print(f"report: {exc}", file=sys.stderr)
        return 1
    return 0 if build(args.results, args.report) else 1


if __name__ == "__main__":
    sys.exit(main())
