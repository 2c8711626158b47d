"""Allure result files written by hand, the suite's report built from them by the real Allure 3
command line (``support.report_build``) in a folder of the test's own, and the text a rendered
page shows a reader."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from support import report_build

REPO = Path(__file__).resolve().parent.parent


def write_result(folder: Path, name: str, status: str, *, message: str | None = None,
                 epic: str = "Codex storage", feature: str = "Round trips", start: int = 0,
                 attachments: Sequence[dict[str, str]] = ()) -> dict[str, Any]:
    """One scenario's result as allure-behave writes it (its ids stay the same across runs)."""
    folder.mkdir(parents=True, exist_ok=True)
    record = {
        "uuid": str(uuid.uuid4()), "historyId": uuid.uuid5(uuid.NAMESPACE_URL, name).hex,
        "testCaseId": uuid.uuid5(uuid.NAMESPACE_DNS, name).hex,
        "name": name, "fullName": f"{feature}: {name}", "status": status, "stage": "finished",
        "start": 1_700_000_000_000 + start, "stop": 1_700_000_001_000 + start, "steps": [],
        "statusDetails": {"message": message, "trace": "Traceback …"} if message else {},
        "attachments": list(attachments),
        "labels": [{"name": "epic", "value": epic}, {"name": "feature", "value": feature},
                   {"name": "story", "value": feature}, {"name": "framework", "value": "behave"},
                   {"name": "language", "value": "cpython3"}],
    }
    (folder / f"{record['uuid']}-result.json").write_text(json.dumps(record))
    return record


def build_in(folder: Path, results: str = "allure-results") -> Path:
    """Prepare ``folder/results`` and build the report the way the runner does, with ``folder``
    as the working directory (its history file too); the report page."""
    if not (folder / "node_modules").exists():
        (folder / "node_modules").symlink_to(REPO / "node_modules")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        report_build.prepare(Path(results))
        assert report_build.build(Path(results)), "the report step failed"
    return folder / "allure-report" / "index.html"


_UNSHOWN = ("script", "style", "template")


class _TextParser(HTMLParser):
    """Collects the text nodes a reader sees, those of inline frames (``srcdoc``) too."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0  # depth inside elements that are not shown

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _UNSHOWN:
            self._hidden += 1
        srcdoc = dict(attrs).get("srcdoc")
        if tag == "iframe" and srcdoc:  # e.g. a test's description: a page of its own
            self.parts.append(page_text(srcdoc))

    def handle_endtag(self, tag: str) -> None:
        if tag in _UNSHOWN and self._hidden:
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden and data.strip():
            self.parts.append(" ".join(data.split()))


def page_text(dom: str) -> str:
    """The text a rendered page shows (scripts and styles left out, the pages of its frames in),
    one line per text node."""
    parser = _TextParser()
    parser.feed(dom)
    parser.close()
    return "\n".join(parser.parts)
