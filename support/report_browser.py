"""``python -m support.report_browser``: open the single-file Allure report in headless Chromium
and check that it shows what the results hold.

The report is opened from ``file://`` (it must not need a server), rendered with its own
JavaScript, and read back from the rendered page: the totals in the summary and, in the tree
(grouped by epic), each epic with its counts by status. Those are compared with counts taken
straight from the Allure result files, so a report that renders nothing, drops an epic or
miscounts fails the check. A rendered page that loads anything from the network fails too.

A test result's page is the report's route ``#<its id>`` (the ids are in the data the page
embeds, ``data/test-results/<id>.json``); ``--screenshot-failed PNG`` also saves a screenshot of
the first failed scenario's page, its journal of exchanges opened as a reader's click would open it.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from support import journal
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


def _chromium(page: Path, action: Sequence[str], timeout: float, route: str) -> str:
    """Run headless Chromium on ``page`` (at ``#route`` if given) with ``action``'s flags; its
    standard output."""
    if not page.is_file():
        raise BrowserError(f"no report at {page}")
    url = page.resolve().as_uri() + (f"#{route}" if route else "")
    with tempfile.TemporaryDirectory(prefix="report-browser-") as profile:
        argv = [chromium_executable(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                f"--virtual-time-budget={VIRTUAL_TIME_MS}", *action, url]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                                  check=False)
        except subprocess.TimeoutExpired as exc:
            raise BrowserError(f"Chromium did not render {page} within {timeout:.0f} s") from exc
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        raise BrowserError(f"Chromium failed on {page} (exit code {done.returncode}):\n{tail}")
    return done.stdout


def render(page: Path, timeout: float = 120.0, route: str = "") -> str:
    """The DOM of ``page`` (at ``#route``: a test result's id opens its page) after its scripts
    ran, as headless Chromium serialises it."""
    dom = _chromium(page, ["--dump-dom"], timeout, route)
    if "<html" not in dom:
        raise BrowserError(f"Chromium rendered no page from {page}")
    return dom


def screenshot(page: Path, png: Path, route: str = "", size: tuple[int, int] = (1400, 1000),
               timeout: float = 120.0) -> Path:
    """A PNG of ``page`` at ``#route`` as a ``size`` (width, height) window shows it."""
    png.parent.mkdir(parents=True, exist_ok=True)
    png.unlink(missing_ok=True)
    _chromium(page, [f"--screenshot={png.resolve()}", f"--window-size={size[0]},{size[1]}"],
              timeout, route)
    if not png.is_file():
        raise BrowserError(f"Chromium wrote no screenshot of {page} to {png}")
    return png


# A single-file report embeds each of its data files as d("<path>","<base64>") in its page.
_EMBEDDED = re.compile(r'\bd\("([^"]+)","([A-Za-z0-9+/=]*)"\)')


def embedded_files(page: Path) -> dict[str, bytes]:
    """The data files a single-file report carries, by path (``widgets/categories.json``,
    ``data/test-results/<id>.json``, …)."""
    return {match.group(1): base64.b64decode(match.group(2))
            for match in _EMBEDDED.finditer(page.read_text(encoding="utf-8"))}


def report_results(page: Path) -> list[dict[str, Any]]:
    """Every test result as the report holds it (its ``id`` is the route to its page)."""
    return [json.loads(data) for path, data in sorted(embedded_files(page).items())
            if path.startswith("data/test-results/")]


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


# Command-line Chromium cannot click, so a copy of the page carries this script: once the page
# has drawn a result's attachment rows, it clicks the header of the one named NAME (a try every
# 100 ms, at most 150 tries; virtual time runs the timers) and, when too little of the opened
# text would show under that header (or the header is below the window), scrolls the header to
# the middle; otherwise the page's top, with the failure's message, stays in view.
_OPEN_ATTACHMENT = """<script>/* support.report_browser: open one attachment */
(function (name, tries) {
  function header() {
    var rows = document.querySelectorAll('[data-testid="test-result-attachment-header"]');
    for (var i = 0; i < rows.length; i++) {
      var labels = rows[i].querySelectorAll("button span");
      for (var j = 0; j < labels.length; j++) {
        if (labels[j].textContent.trim() === name) return rows[i];
      }
    }
    return null;
  }
  function reveal(row) {
    if (row.getBoundingClientRect().top > window.innerHeight - 240) {
      row.scrollIntoView({block: "center"});
    }
  }
  function attempt() {
    var row = header();
    if (row) {
      row.querySelector("button").click();
      setTimeout(function () { reveal(row); }, 500);
    } else if (--tries > 0) {
      setTimeout(attempt, 100);
    }
  }
  attempt();
})(NAME, 150);
</script>"""


@contextmanager
def attachment_opened(page: Path, name: str) -> Iterator[Path]:
    """A temporary copy of ``page`` that, once rendered, opens the attachment called ``name``
    (on a test result's page) as a reader's click would; ``page`` itself is left as it is."""
    if not page.is_file():
        raise BrowserError(f"no report at {page}")
    html = page.read_text(encoding="utf-8")
    end = html.rfind("</body>")
    if end < 0:
        raise BrowserError(f"{page} has no </body>: it is not a report page")
    script = _OPEN_ATTACHMENT.replace("NAME", json.dumps(name).replace("</", "<\\/"))
    with tempfile.TemporaryDirectory(prefix="report-page-") as folder:
        copy = Path(folder) / page.name
        copy.write_text(html[:end] + script + html[end:], encoding="utf-8")
        yield copy


def attachment_names(result: dict[str, Any]) -> list[str]:
    """The names of a test result's attachments, its steps' (at any depth) included, in order."""
    names = []
    for step in result.get("steps", []):
        if step.get("type") == "attachment":
            names.append(step.get("link", {}).get("name", ""))
        names += attachment_names(step)
    return names


# Tall enough for a failed scenario's message, description, steps and opened journal.
FAILED_PAGE_SIZE = (1400, 1800)


def screenshot_failed(page: Path, png: Path, timeout: float = 120.0) -> str:
    """Save a screenshot of the first failed (or broken) scenario's page, its journal of
    exchanges open (Chromium given ``timeout`` seconds); says which, and where."""
    failing = [result for result in report_results(page)
               if result.get("status") in ("failed", "broken")]
    if not failing:
        return "no failed scenario to take a screenshot of"
    first = min(failing, key=lambda result: result.get("fullName", ""))
    if journal.ATTACHMENT not in attachment_names(first):
        screenshot(page, png, route=first["id"], size=FAILED_PAGE_SIZE, timeout=timeout)
        return f"the page of {first.get('fullName')!r} (it has no journal) is in {png}"
    with attachment_opened(page, journal.ATTACHMENT) as opened:
        screenshot(opened, png, route=first["id"], size=FAILED_PAGE_SIZE, timeout=timeout)
    return f"the page of {first.get('fullName')!r}, its journal open, is in {png}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", type=Path, default=Path("allure-report/index.html"))
    parser.add_argument("--results", type=Path, default=Path("allure-results"))
    parser.add_argument("--screenshot-failed", type=Path, metavar="PNG",
                        help="also save a screenshot of the first failed scenario's page")
    args = parser.parse_args(argv)
    try:
        timeout = load_settings({}).timeout(120)
        shown = read_view(render(args.report, timeout))
        if args.screenshot_failed:
            said = screenshot_failed(args.report, args.screenshot_failed, timeout)
            print(f"report check: {said}")
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
