"""The feature timings a run keeps for the next run's split."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace

import pytest

from support import acceptance, lifecycle, timings
from support.processes import reaper
from support.timings import FeatureClock, FeatureTime


def test_only_features_that_ran_whole_are_timed(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    clock = FeatureClock(tmp_path / "times")
    for name, ran, of, usable in [("whole", 3, 3, True), ("tag-filtered", 1, 3, True),
                                  ("interrupted-or-failed", 2, 2, False)]:
        clock.begin_feature()
        for _ in range(ran):
            clock.begin_scenario()
        clock.end_feature(f"features/{name}.feature", of, steps=0.5, usable=usable)
    found = timings.measured(tmp_path / "times")
    assert list(found) == ["features/whole.feature"]
    assert found["features/whole.feature"].scenarios == 3
    assert found["features/whole.feature"].steps == 0.5


def test_a_run_reads_only_its_own_workers_times(tmp_path: Path) -> None:
    folder = tmp_path / "times"
    folder.mkdir()
    (folder / "0123456789ab-1.json").write_text(json.dumps(
        {"features/other.feature": {"seconds": 1.0, "steps": 1.0, "scenarios": 1}}))
    (folder / f"{reaper.run_marker().rsplit(':', 1)[-1]}-2.json").write_text("{broken")
    assert timings.measured(folder) == {}


def test_saved_timings_read_back_rounded_with_the_last_run(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    timings.save({"b.feature": FeatureTime(1.04, 0.51, 2), "a.feature": FeatureTime(9.0, 8.0, 1)},
                 path, last_run={"workers": [{"seconds": 3.0}]})
    assert timings.load(path) == {"a.feature": FeatureTime(9.0, 8.0, 1),
                                  "b.feature": FeatureTime(1.0, 0.5, 2)}
    assert timings.last_run(path) == {"workers": [{"seconds": 3.0}]}
    assert timings.last_run(tmp_path / "absent.json") == {}


def feature(folder: Path, name: str, scenarios: int) -> Path:
    path = folder / "features" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text("Feature: f\n" + "  Scenario: s\n    Given x\n" * scenarios)
    return path


def test_the_runner_splits_by_the_last_timings_and_keeps_this_runs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name, scenarios in [("big.feature", 9), ("slow.feature", 1), ("new.feature", 1)]:
        feature(tmp_path, name, scenarios)
    timings.save({"features/big.feature": FeatureTime(3.0, 2.0, 9),
                  "features/slow.feature": FeatureTime(40.0, 30.0, 1),
                  "features/gone.feature": FeatureTime(5.0, 4.0, 1)})
    seen: list[list[list[Path]]] = []

    def fake_workers(groups: Sequence[Sequence[Path]], options: Sequence[str],
                     expected: Sequence[float] = (), known: object = None) -> int:
        seen.append([list(g) for g in groups])
        clock = FeatureClock()
        clock.begin_feature()
        clock.begin_scenario()
        clock.end_feature("features/new.feature", 1, steps=0.1, usable=True)
        return 0

    monkeypatch.setitem(os.environ, reaper.RUN_MARKER, reaper.run_marker())
    monkeypatch.setattr(acceptance, "run_workers", fake_workers)
    acceptance.main(["--no-report", "--jobs", "2", "features"])
    # slow (40 s) alone; new (no timing: 1 scenario at the median 5 s a scenario) with big (3 s)
    assert seen == [[[Path("features/slow.feature")],
                     [Path("features/big.feature"), Path("features/new.feature")]]]
    kept = timings.load()
    assert set(kept) == {"features/big.feature", "features/slow.feature",
                         "features/gone.feature", "features/new.feature"}
    assert kept["features/slow.feature"].seconds == 40.0
    assert "phases" in timings.last_run()


def test_the_shards_merge_takes_each_features_time_from_the_shard_that_ran_it() -> None:
    def times(features: dict[str, float]) -> timings.Timings:
        return {name: FeatureTime(seconds, seconds, 1) for name, seconds in features.items()}
    plan = {"features/a.feature": 10.0, "features/b.feature": 20.0, "features/c.feature": 30.0}
    # Shard 1 ran a and a new feature d; shard 2 ran b (failed: its time stays the plan's) and c.
    merged = timings.merge_shards(times(plan), [
        times({**plan, "features/a.feature": 11.0, "features/d.feature": 5.0}),
        times({**plan, "features/c.feature": 33.0})])
    assert merged == times({"features/a.feature": 11.0, "features/b.feature": 20.0,
                            "features/c.feature": 33.0, "features/d.feature": 5.0})


def test_the_merge_command_reads_shard_files_and_folders_of_them(tmp_path: Path) -> None:
    plan = {"features/a.feature": FeatureTime(10.0, 5.0, 1),
            "features/b.feature": FeatureTime(20.0, 5.0, 2)}
    timings.save(plan, tmp_path / "plan.json")
    timings.save({**plan, "features/a.feature": FeatureTime(11.0, 5.0, 1)},
                 tmp_path / "shards" / "timings-1" / "timings.json")
    timings.save({**plan, "features/b.feature": FeatureTime(2.0, 1.0, 2)},
                 tmp_path / "flat.json")
    assert timings.main(["merge", "--plan", str(tmp_path / "plan.json"),
                         "--out", str(tmp_path / "out.json"),
                         str(tmp_path / "shards"), str(tmp_path / "flat.json"),
                         str(tmp_path / "missing")]) == 0
    assert timings.load(tmp_path / "out.json") == {
        "features/a.feature": FeatureTime(11.0, 5.0, 1),
        "features/b.feature": FeatureTime(2.0, 1.0, 2)}


def test_a_feature_whose_scenarios_the_targets_skip_is_not_timed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(lifecycle.reporting, "record_skip", lambda scenario, reason: None)
    skipped: list[str] = []

    def skip(reason: str) -> None:
        skipped.append(reason)
    scenario = SimpleNamespace(skip=skip)
    context = SimpleNamespace(feature_clock=FeatureClock(tmp_path / "times"),
                              capability_matcher=SimpleNamespace(
                                  skip_reason=lambda scenario: "the targets cannot"))
    context.feature_clock.begin_feature()
    for _ in range(2):
        lifecycle.start_scenario(context, scenario)  # type: ignore[arg-type]
    context.feature_clock.end_feature("features/skipped.feature", 2, steps=0.0, usable=True)
    assert skipped == ["the targets cannot"] * 2
    assert timings.measured(tmp_path / "times") == {}
