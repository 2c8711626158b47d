"""The acceptance runner's counted line and its refusal of empty runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from support import acceptance


def write_suite(folder: Path, name: str, *, tests: int, failures: int, errors: int,
                skipped: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"TESTS-{name}.xml").write_text(
        f'<testsuite name="{name}" tests="{tests}" failures="{failures}" errors="{errors}" '
        f'skipped="{skipped}"></testsuite>')


def test_counts_add_up_across_features(tmp_path: Path) -> None:
    write_suite(tmp_path, "a", tests=5, failures=1, errors=0, skipped=1)
    write_suite(tmp_path, "b", tests=3, failures=0, errors=1, skipped=0)
    counts = acceptance.count_junit(tmp_path)
    assert counts.line() == "scenarios: 5 passed, 2 failed, 1 skipped"


def test_a_run_with_no_scenarios_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(acceptance, "run_behave", lambda args: 0)
    assert acceptance.main(["--no-report"]) == 1
    out, err = capsys.readouterr()
    assert out.strip().endswith("scenarios: 0 passed, 0 failed, 0 skipped")
    assert "no scenario was executed" in err
