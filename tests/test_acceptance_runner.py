"""The acceptance runner's counted line and its refusal of empty runs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from support import acceptance


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
    monkeypatch.setattr(acceptance, "run_behave", lambda args: 0)
    assert acceptance.main(["--no-report"]) == 1
    out, err = capsys.readouterr()
    assert out.strip().endswith("scenarios: 0 passed, 0 failed, 0 skipped")
    assert "no scenario was executed" in err


def test_epic_and_story_labels_read_as_words(tmp_path: Path) -> None:
    (tmp_path / "a-result.json").write_text(json.dumps({"status": "passed", "labels": [
        {"name": "epic", "value": "Codex_storage"}, {"name": "story", "value": "Round_trips"},
        {"name": "tag", "value": "needs_node_control"}]}))
    acceptance.readable_labels(tmp_path)
    labels = json.loads((tmp_path / "a-result.json").read_text())["labels"]
    assert [label["value"] for label in labels] == ["Codex storage", "Round trips",
                                                   "needs_node_control"]


def test_a_scenario_whose_processes_did_not_stop_cleanly_counts_as_failed(
        tmp_path: Path) -> None:
    (tmp_path / "x-attachment.txt").write_text("codex node A exited with code 1")
    (tmp_path / "a-result.json").write_text(json.dumps({"status": "passed", "attachments": [
        {"name": "stop checks", "source": "x-attachment.txt", "type": "text/plain"}]}))
    write_result(tmp_path, "b", "passed")
    acceptance.fail_unclean_stops(tmp_path)
    result = json.loads((tmp_path / "a-result.json").read_text())
    assert result["status"] == "failed"
    assert "codex node A exited with code 1" in result["statusDetails"]["message"]
    assert acceptance.count_results(tmp_path).line() == "scenarios: 1 passed, 1 failed, 0 skipped"


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
