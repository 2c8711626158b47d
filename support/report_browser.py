"""``python -m support.report_browser``: open the single-file Allure report in headless Chromium
and check that it shows what the results hold.

The report is opened from ``file://`` (it must not need a server), rendered with its own
JavaScript, and read back from the rendered page: the totals in the summary and, in the tree
(grouped by epic), each epic with its counts by status. Those are compared with counts taken
straight from the Allure result files, so a report that renders nothing, drops an epic or
miscounts fails the check. A rendered page that loads anything from the network fails too.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from support.config import SettingsError, load_settings

# Flags for a sandboxed, offline machine: no first-run UI, no background connections.
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
)
# Virtual time lets the report's scripts finish (decode the embedded data, draw the tree).
VIRTUAL_TIME_MS = 20_000
STATUSES = ("passed", "failed", "broken", "skipped", "unknown")
_STATUS_CLASS = re.compile(r"styles_(" + "|".join(STATUSES) + r")__")
# Elements that never have an end tag in serialised HTML.
_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                   "source", "track", "wbr"})
_EXTERNAL = re.compile(r"^(https?:)?//", re.IGNORECASE)


class BrowserError(RuntimeError):
    """Chromium is missing, failed, or the page it rendered is not a report."""


@dataclass
class ReportView:
    """What the report shows: totals by status and, per epic, counts by status."""

    totals: dict[str, int] = field(default_factory=dict)
    epics: dict[str, dict[str, int]] = field(default_factory=dict)
    external_resources: list[str] = field(default_factory=list)


def chromium_executable() -> str:
    """``$CHROMIUM`` or ``chromium`` on PATH; a clear error when neither is there."""
    wanted = os.environ.get("CHROMIUM", "chromium")
    found = shutil.which(wanted)
    if not found:
        raise BrowserError(f"Chromium not found ({wanted!r}): install Debian's chromium package "
                           "(make test does) or set CHROMIUM=/path/to/chromium")
    return found


def render(page: Path, timeout: float = 120.0) -> str:
    """The DOM of ``page`` after its scripts ran, as headless Chromium serialises it."""
    if not page.is_file():
        raise BrowserError(f"no report at {page}")
    with tempfile.TemporaryDirectory(prefix="report-browser-") as profile:
        argv = [chromium_executable(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                f"--virtual-time-budget={VIRTUAL_TIME_MS}", "--dump-dom",
                page.resolve().as_uri()]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                                  check=False)
        except subprocess.TimeoutExpired as exc:
            raise BrowserError(f"Chromium did not render {page} within {timeout:.0f} s") from exc
    if done.returncode != 0 or "<html" not in done.stdout:
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        raise BrowserError(f"Chromium failed on {page} (exit code {done.returncode}):\n{tail}")
    return done.stdout


class _ViewParser(HTMLParser):
    """Collects the summary totals and the top-level tree sections of a rendered report."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.view = ReportView()
        self._stack: list[tuple[str, str]] = []  # (tag, role) of open elements
        self._metadata: str | None = None  # status of the open metadata item
        self._section: str | None = None  # title of the open tree section
        self._bar_status: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        testid = attributes.get("data-testid", "")
        role = testid
        if tag in ("script", "img", "iframe") and _EXTERNAL.match(attributes.get("src", "")):
            self.view.external_resources.append(attributes["src"])
        if tag == "link" and _EXTERNAL.match(attributes.get("href", "")):
            self.view.external_resources.append(attributes["href"])
        if testid.startswith("metadata-item-"):
            self._metadata = testid.removeprefix("metadata-item-")
        elif testid == "tree-section" and self._tree_depth() == 1:
            self._section = ""  # a top-level section: an epic (deeper ones are its features)
        elif "tree-status-bar-item" in attributes.get("class", "") and self._section:
            match = _STATUS_CLASS.search(attributes["class"])
            self._bar_status = match.group(1) if match else "unknown"
            role = "bar-item"
        if tag not in _VOID:
            self._stack.append((tag, role))

    def _tree_depth(self) -> int:
        return sum(1 for _, role in self._stack if role == "tree-content")

    def handle_endtag(self, tag: str) -> None:
        while self._stack:
            open_tag, role = self._stack.pop()
            if role.startswith("metadata-item-"):
                self._metadata = None
            elif role == "tree-section":
                self._section = None
            elif role == "bar-item":
                self._bar_status = None
            if open_tag == tag:
                break

    def handle_data(self, data: str) -> None:
        text = data.strip()
        if not text or not self._stack:
            return
        role = self._stack[-1][1]
        if role == "tree-section-title" and self._section == "":
            self._section = text
            self.view.epics.setdefault(text, {})
        elif self._metadata and text.isdigit() and self._metadata not in self.view.totals:
            self.view.totals[self._metadata] = int(text)
        elif self._bar_status and self._section and text.isdigit():
            counts = self.view.epics[self._section]
            counts[self._bar_status] = counts.get(self._bar_status, 0) + int(text)


def read_view(dom: str) -> ReportView:
    """Parse a rendered report into what a reader sees; BrowserError if it shows no results."""
    parser = _ViewParser()
    parser.feed(dom)
    parser.close()
    view = parser.view
    if "total" not in view.totals:
        raise BrowserError("the rendered page shows no result totals: the report did not render")
    return view


def expected_view(results: Path) -> ReportView:
    """Totals and per-epic counts taken from the Allure result files themselves."""
    totals: Counter[str] = Counter()
    epics: dict[str, Counter[str]] = {}
    for path in sorted(results.glob("*-result.json")):
        result = json.loads(path.read_text(encoding="utf-8"))
        status = result.get("status") or "unknown"
        epic = next((label["value"] for label in result.get("labels", [])
                     if label.get("name") == "epic"), None)
        totals[status] += 1
        totals["total"] += 1
        if epic:
            epics.setdefault(epic, Counter())[status] += 1
    return ReportView(dict(totals), {name: dict(counts) for name, counts in epics.items()})


def compare(shown: ReportView, expected: ReportView) -> list[str]:
    """Every difference between the report and the results, in words; empty when they agree."""
    problems = [f"the page loads {url} from the network" for url in shown.external_resources]
    for status, count in sorted(expected.totals.items()):
        if shown.totals.get(status) != count:
            problems.append(f"the report shows {shown.totals.get(status, 'no')} {status} "
                            f"where the results hold {count}")
    for epic, counts in sorted(expected.epics.items()):
        if epic not in shown.epics:
            problems.append(f"the epic {epic!r} is missing from the report's tree")
        elif shown.epics[epic] != counts:
            problems.append(f"the epic {epic!r} shows {shown.epics[epic]} where the results "
                            f"hold {counts}")
    problems += [f"the report's tree shows {epic!r}, which no result names"
                 for epic in sorted(set(shown.epics) - set(expected.epics))]
    return problems


def describe(view: ReportView) -> str:
    """One line for the console: the total and each epic's count."""
    epics = "; ".join(f"{name}: {sum(counts.values())}" for name, counts in view.epics.items())
    return f"{view.totals.get('total', 0)} results ({epics})"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", type=Path, default=Path("allure-report/index.html"))
    parser.add_argument("--results", type=Path, default=Path("allure-results"))
    args = parser.parse_args(argv)
    try:
        timeout = load_settings({}).timeout(120)
        shown = read_view(render(args.report, timeout))
    except (BrowserError, SettingsError) as exc:
        print(f"report check: {exc}", file=sys.stderr)
        return 1
    problems = compare(shown, expected_view(args.results))
    for problem in problems:
        print(f"report check: {problem}", file=sys.stderr)
    if not problems:
        print(f"report check: Chromium shows {describe(shown)}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
