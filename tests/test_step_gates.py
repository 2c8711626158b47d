"""The step gate (``python -m support.step_gates``) and the results folders it must not touch."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def suite_copy(folder: Path, extra_feature: str | None = None) -> Path:
    """A working folder that sees the suite's features, steps and hooks through links."""
    shutil.copy(ROOT / "behave.ini", folder / "behave.ini")
    for name in ("steps", "environment.py"):
        (folder / name).symlink_to(ROOT / name)
    (folder / "features").mkdir()
    for domain in (ROOT / "features").iterdir():
        (folder / "features" / domain.name).symlink_to(domain)
    if extra_feature is not None:
        (folder / "features" / "extra.feature").write_text(extra_feature)
    return folder


def run_gate(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "support.step_gates"], cwd=folder,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
                          text=True, timeout=120, check=False)


@pytest.mark.parametrize("extra", [None, "Feature: x\n  Scenario: y\n    Given nothing matches\n"])
def test_the_gate_writes_its_usage_report_and_no_results(tmp_path: Path,
                                                         extra: str | None) -> None:
    folder = suite_copy(tmp_path, extra)
    done = run_gate(folder)
    if extra is None:
        assert done.returncode == 0, done.stdout + done.stderr
        assert "every step is defined" in done.stdout
    else:
        assert done.returncode == 1, done.stdout + done.stderr
        assert "Given nothing matches" in done.stderr
        assert "step gate failed: UNDEFINED STEPS" in done.stderr
    assert (folder / "reports/steps-usage.txt").is_file()
    written = sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                     if p.is_file() and not p.is_symlink()
                     and not any(part.is_symlink() for part in p.parents))
    assert written == ["behave.ini", *(["features/extra.feature"] if extra else []),
                       "reports/steps-usage.txt"], \
        "the dry run wrote more than its usage report"
