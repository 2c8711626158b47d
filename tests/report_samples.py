"""Allure result files written by hand, and the suite's report built from them by the real
Allure 3 command line (``support.report_build``), in a folder of the test's own."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
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
