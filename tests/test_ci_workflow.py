"""The CI recipe (.github/workflows/acceptance.yml): actionlint accepts it and rejects it broken,
its shard matrix and its ``SHARD=`` arguments agree, and its timings merge keeps each shard's
measurements."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "acceptance.yml"
ACTIONLINT = shutil.which("actionlint", path=str(Path(sys.executable).parent))
# "${{ matrix.shard }}/K", in the job's name and (after SHARD=) in its `make acceptance` line.
SHARD_OF = re.compile(r"\$\{\{ *matrix\.shard *\}\}/(\d+)")


def actionlint(path: Path) -> subprocess.CompletedProcess[str]:
    """actionlint as `make lint` runs it (no shellcheck or pyflakes, whatever the machine has)."""
    assert ACTIONLINT is not None, (
        "actionlint is not in the venv: `make lint` needs it too (the dev extras' actionlint pin)")
    return subprocess.run([ACTIONLINT, "-shellcheck=", "-pyflakes=", "-no-color", str(path)],
                          capture_output=True, text=True, check=False, timeout=60)


def jobs() -> dict[str, Any]:
    loaded = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    found: dict[str, Any] = loaded["jobs"]
    return found


def test_actionlint_accepts_the_workflow() -> None:
    done = actionlint(WORKFLOW)
    assert done.returncode == 0, f"actionlint found problems in {WORKFLOW.name}:\n{done.stdout}"


@pytest.mark.parametrize(("original", "broken", "named"), [
    ("needs: [plan, shard]", "needs: [plan, shards]", '"shards"'),
    ("name: allure-results-${{ matrix.shard }}", "name: allure-results-${{ matrix.part }}",
     '"part"'),
    ("runs-on: ubuntu-latest", "runs_on: ubuntu-latest", '"runs_on"'),
], ids=["unknown job in needs", "undefined matrix value", "misspelt key"])
def test_actionlint_rejects_a_broken_copy_naming_the_problem(
        tmp_path: Path, original: str, broken: str, named: str) -> None:
    text = WORKFLOW.read_text(encoding="utf-8")
    assert original in text, f"the workflow no longer has {original!r}: update this test"
    shutil.copytree(ROOT / ".github", tmp_path / ".github")  # with the local actions it uses
    copy = tmp_path / ".github" / "workflows" / WORKFLOW.name
    copy.write_text(text.replace(original, broken, 1), encoding="utf-8")
    done = actionlint(copy)
    assert done.returncode != 0, f"actionlint accepted the workflow with {broken!r}"
    assert named in done.stdout, f"actionlint did not name {named}:\n{done.stdout}"


def test_each_shard_runs_once_and_the_count_matches_the_matrix() -> None:
    shard_job = jobs()["shard"]
    shards = shard_job["strategy"]["matrix"]["shard"]
    runs = [step["run"] for step in shard_job["steps"] if "make acceptance" in step.get("run", "")]
    assert len(runs) == 1, f"the shard job should run `make acceptance` once, not {len(runs)}"
    totals = (re.findall("SHARD=" + SHARD_OF.pattern, runs[0])
              + SHARD_OF.findall(shard_job["name"]))
    assert len(totals) == 2, (
        f"expected ${{{{ matrix.shard }}}}/K once in {runs[0]!r} (after SHARD=) and once in the "
        f"job's name {shard_job['name']!r}")
    total = int(totals[0])
    assert set(totals) == {str(total)}, f"the run and the job name give different K: {totals}"
    assert sorted(shards) == list(range(1, total + 1)), (
        f"SHARD=k/{total} needs each shard 1..{total} once; the matrix has {shards}")


def test_the_report_job_merges_every_shard_even_after_a_failure() -> None:
    report = jobs()["report"]
    assert report["if"] == "always()"
    assert "shard" in report["needs"]
    uploads = [step for step in jobs()["shard"]["steps"]
               if step.get("uses", "").startswith("actions/upload-artifact@")]
    assert uploads, "the shards upload nothing"
    assert all(step.get("if") == "always()" for step in uploads), (
        "a failing shard must still upload its results")


def merge_script() -> str:
    steps = [step for step in jobs()["report"]["steps"]
             if step.get("name") == "merge the shards' feature timings"]
    assert len(steps) == 1
    script: str = steps[0]["run"]
    return script


def write_timings(path: Path, features: dict[str, float]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"features": {
        name: {"seconds": seconds, "steps": seconds, "scenarios": 1}
        for name, seconds in features.items()}}), encoding="utf-8")


def test_the_timings_merge_takes_each_features_time_from_the_shard_that_ran_it(
        tmp_path: Path) -> None:
    plan = {"features/a.feature": 10.0, "features/b.feature": 20.0, "features/c.feature": 30.0}
    write_timings(tmp_path / "timings/plan/timings.json", plan)
    # Shard 1 ran a and a new feature d; shard 2 ran b (failed: its time stays the plan's) and c.
    write_timings(tmp_path / "timings/shards/timings-1/timings.json",
                  {**plan, "features/a.feature": 11.0, "features/d.feature": 5.0})
    write_timings(tmp_path / "timings/shards/timings-2/timings.json",
                  {**plan, "features/c.feature": 33.0})
    assert run_merge(tmp_path) == {"features/a.feature": 11.0, "features/b.feature": 20.0,
                                   "features/c.feature": 33.0, "features/d.feature": 5.0}


def test_the_timings_merge_reads_a_lone_shards_file_left_flat(tmp_path: Path) -> None:
    # download-artifact extracts a pattern that matches one artifact straight into its path.
    plan = {"features/a.feature": 10.0, "features/b.feature": 20.0}
    write_timings(tmp_path / "timings/plan/timings.json", plan)
    write_timings(tmp_path / "timings/shards/timings.json", {**plan, "features/b.feature": 2.0})
    assert run_merge(tmp_path) == {"features/a.feature": 10.0, "features/b.feature": 2.0}


def run_merge(folder: Path) -> dict[str, float]:
    """Run the report job's merge step in ``folder``; the seconds it saved per feature."""
    (folder / ".venv").symlink_to(ROOT / ".venv")
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", merge_script()], cwd=folder,
                          env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    merged = json.loads((folder / "reports/timings.json").read_text(encoding="utf-8"))
    return {name: entry["seconds"] for name, entry in merged["features"].items()}
