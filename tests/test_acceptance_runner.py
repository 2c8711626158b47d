"""The acceptance runner's counted line and its refusal of empty runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support import acceptance
from support.processes import debris


def write_result(folder: Path, name: str, status: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}-result.json").write_text(json.dumps({"name": name, "status": status}))


def test_counts_every_recorded_scenario(tmp_path: Path) -> None:
    for index, status in enumerate(["passed", "passed", "failed", "broken", "skipped", "unknown"]):
        write_result(tmp_path, str(index), status)
    (tmp_path / "environment.properties").write_text("a=b\n")
    counts = acceptance.count_results(tmp_path)
    assert counts.line() == "scenarios: 2 passed, 3 failed, 1 skipped"


def test_a_run_with_no_scenarios_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(acceptance, "run_behave", lambda args, **_: 0)
    assert acceptance.main(["--no-report"]) == 1
    out, err = capsys.readouterr()
    assert out.strip().endswith("scenarios: 0 passed, 0 failed, 0 skipped")
    assert "no scenario was executed" in err


def test_workers_are_seen_in_the_order_they_end() -> None:
    children = acceptance.Children()
    slow = children.start([sys.executable, "-c", "import signal; signal.pause()"])
    quick = children.start([sys.executable, "-c", "pass"])
    ended = children.wait_each([slow, quick])
    assert next(ended) is quick
    assert slow.poll() is None
    slow.terminate()
    assert next(ended) is slow
    assert list(ended) == []


ROOT = Path(__file__).resolve().parents[1]
COMMAND_LINE = ROOT / "features/codex/command_line.feature"  # scenarios at lines 11, 19, 23, 28
CONTENT = ROOT / "features/codex/content_identity.feature"  # an outline's rows at lines 44-46
LIFECYCLE = ROOT / "features/codex/lifecycle.feature"


def run_in_parallel(folder: Path, *args: str) -> tuple[subprocess.CompletedProcess[str],
                                                        dict[str, str]]:
    """A real two-worker run of the runner in ``folder``; its output and each result's status
    by scenario name."""
    debris.prepare(folder)
    done = subprocess.run(
        [sys.executable, "-m", "support.acceptance", "--no-report", "--jobs", "2", *args],
        cwd=folder, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
        timeout=300, check=False)
    results = [json.loads(path.read_text()) for path in (folder / "allure-results").glob(
        "*-result.json")]
    statuses = {result["name"]: result["status"] for result in results}
    assert len(statuses) == len(results), f"a scenario ran twice: {sorted(statuses)}"
    return done, statuses


def test_line_selections_run_exactly_those_scenarios_in_parallel(tmp_path: Path) -> None:
    done, statuses = run_in_parallel(tmp_path, f"{COMMAND_LINE}:19:28", f"{CONTENT}:45")
    assert done.returncode == 0, done.stdout + done.stderr
    assert statuses == {"codex-download needs a CID": "passed",
                        "codex-upload reports a file it cannot read": "passed",
                        "The name and type come back with the download -- @1.2 ": "passed"}, \
        done.stdout + done.stderr
    assert "scenarios: 3 passed, 0 failed, 0 skipped" in done.stdout


def test_a_name_selects_across_workers_and_features_it_misses_do_not_run(tmp_path: Path) -> None:
    done, statuses = run_in_parallel(
        tmp_path, "-n", "codex-download needs a CID|Deleting a file twice is harmless",
        str(COMMAND_LINE), str(LIFECYCLE), str(CONTENT))
    assert done.returncode == 0, done.stdout + done.stderr
    assert statuses == {"codex-download needs a CID": "passed",
                        "Deleting a file twice is harmless": "passed"}, done.stdout + done.stderr
    workers = sorted(p.name for p in (tmp_path / "reports/workers").glob("*.log"))
    assert workers == ["worker-1.log", "worker-2.log"]  # content_identity.feature went nowhere
