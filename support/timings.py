"""How long each feature took, kept from run to run so that the next run's workers are balanced.

Each worker times its features from ``before_feature`` to the end of ``after_feature`` (so a
feature's time holds its scenarios' hooks and clean-ups and the stopping of the systems its
scenarios shared, which behave's own step times leave out) and writes them to
``reports/feature-times/<run>-<pid>.json``, ``<run>`` naming the runner that started the worker
(its run marker, ``support.processes.reaper``). When the workers have ended, the runner merges
its own workers' files into ``reports/timings.json``, which the runner's clean-up at the start of
a run leaves in place.

Only complete measurements of passing features are kept: a feature some of whose scenarios were
not selected (a tag expression, ``-n``), that was interrupted, or that failed (a failure's
timeouts or early end say nothing about the next run) keeps the time an earlier run measured.
A missing or unreadable file means "no timings": the split then weighs features by their
scenario count.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from support.processes import reaper

TIMINGS = Path("reports/timings.json")
FEATURE_TIMES = Path("reports/feature-times")


@dataclass(frozen=True)
class FeatureTime:
    """One feature's measured cost: wall seconds (hooks included), the seconds behave counted
    for its steps alone, and how many scenarios ran."""

    seconds: float
    steps: float
    scenarios: int

    @property
    def per_scenario(self) -> float:
        return self.seconds / max(1, self.scenarios)


Timings = dict[str, FeatureTime]


def key(feature: str | Path) -> str:
    """The name a feature file has in the timings: its path from the working folder (so that
    ``features/a.feature`` and ``./features/a.feature`` are one feature)."""
    path = Path(feature)
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.resolve().as_posix()


def _parse(raw: object) -> Timings:
    if not isinstance(raw, dict) or not isinstance(raw.get("features"), dict):
        raise ValueError("no 'features' object")
    parsed = {}
    for name, entry in raw["features"].items():
        timing = FeatureTime(float(entry["seconds"]), float(entry.get("steps", 0.0)),
                             int(entry["scenarios"]))
        if not 0 <= timing.seconds < math.inf or timing.scenarios < 0:
            raise ValueError(f"{name}: {timing.seconds} s is not a duration")
        parsed[str(name)] = timing
    return parsed


def load(path: Path = TIMINGS) -> Timings:
    """The timings in ``path``; empty (with a one-line note for an unreadable file) when there
    are none to use."""
    if not path.is_file():
        return {}
    try:
        return _parse(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        print(f"{path} is unreadable ({exc}): the features are split by scenario count",
              file=sys.stderr)
        return {}


def save(timings: Mapping[str, FeatureTime], path: Path = TIMINGS,
         last_run: Mapping[str, object] | None = None) -> None:
    """Write the timings (sorted, rounded to 0.1 s so that the file reads well and the split
    on every machine that restores it is the same), with what the last run saw."""
    features = {name: {"seconds": round(t.seconds, 1), "steps": round(t.steps, 1),
                       "scenarios": t.scenarios} for name, t in sorted(timings.items())}
    document: dict[str, object] = {"features": features}
    if last_run is not None:
        document["last_run"] = dict(last_run)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    temporary.replace(path)


def last_run(path: Path = TIMINGS) -> dict[str, object]:
    """What the last run wrote about itself (its workers), or nothing."""
    try:
        found = json.loads(path.read_text(encoding="utf-8")).get("last_run", {})
    except (OSError, ValueError, AttributeError):
        return {}
    return found if isinstance(found, dict) else {}


def _run_id(marker: str) -> str:
    return marker.rsplit(":", 1)[-1]


def measured(folder: Path = FEATURE_TIMES) -> Timings:
    """The complete feature times the workers of this process's run wrote (unreadable files are
    skipped)."""
    found: Timings = {}
    for path in sorted(folder.glob(f"{_run_id(reaper.run_marker())}-*.json")):
        try:
            found.update(_parse(json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            continue
    return found


def features_span(pid: int, folder: Path = FEATURE_TIMES) -> tuple[float, float] | None:
    """When (``time.time()``) the worker ``pid`` of this process's run began its first feature
    and ended its last one, if it ran any."""
    path = folder / f"{_run_id(reaper.run_marker())}-{pid}.json"
    try:
        written = json.loads(path.read_text(encoding="utf-8"))
        return float(written["began"]), float(written["ended"])
    except (OSError, ValueError, TypeError, KeyError):
        return None


def merged(previous: Mapping[str, FeatureTime], new: Mapping[str, FeatureTime]) -> Timings:
    """The previous timings with this run's measurements in place of theirs."""
    return {**previous, **new}


def merge_shards(plan: Mapping[str, FeatureTime],
                 shards: Iterable[Mapping[str, FeatureTime]]) -> Timings:
    """The timings of a run split over shards (``--shard``): each shard started from the
    ``plan`` (the timings they all restored) and ran disjoint features, so each feature's time is
    the one a shard's timings hold that differs from the plan's (a feature no shard measured, or
    whose shard failed it, keeps the plan's)."""
    found = dict(plan)
    for shard in shards:
        for feature, timing in shard.items():
            if plan.get(feature) != timing:
                found[feature] = timing
    return found


def shard_files(paths: Iterable[Path]) -> list[Path]:
    """The timings files ``paths`` name: a file as it is, a folder's ``timings.json`` files at
    any depth (download-artifact puts one artifact straight in its folder, several in
    sub-folders), in order."""
    found: list[Path] = []
    for path in paths:
        found += sorted(path.rglob("timings.json")) if path.is_dir() else [path]
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m support.timings merge --plan PLAN [--out OUT] SHARD...``: merge the shards'
    timings files (or folders of them) over the plan's (``merge_shards``) into OUT
    (reports/timings.json)."""
    parser = argparse.ArgumentParser(prog="python -m support.timings")
    commands = parser.add_subparsers(dest="command", required=True)
    merge = commands.add_parser("merge", help="merge the shards' timings over the plan's")
    merge.add_argument("--plan", type=Path, required=True,
                       help="the timings file every shard started from")
    merge.add_argument("--out", type=Path, default=TIMINGS, help=f"default: {TIMINGS}")
    merge.add_argument("shards", type=Path, nargs="+", metavar="SHARD",
                       help="a shard's timings file, or a folder of them")
    args = parser.parse_args(argv)
    save(merge_shards(load(args.plan), map(load, shard_files(args.shards))), args.out)
    return 0


class FeatureClock:
    """A worker's side: times each feature and writes the complete ones as they end, with when
    the worker began its first feature and ended its last (its start-up and wind-down are what
    the runner saw of the process around them)."""

    def __init__(self, folder: Path = FEATURE_TIMES) -> None:
        runner = os.environ.get(reaper.RUN_MARKER, reaper.run_marker())
        self._file = folder / f"{_run_id(runner)}-{os.getpid()}.json"
        self._times: dict[str, dict[str, float | int]] = {}
        self._began: float | None = None
        self._started = 0.0
        self._ran = 0

    def begin_feature(self) -> None:
        self._started = time.monotonic()
        if self._began is None:
            self._began = time.time()
        self._ran = 0

    def begin_scenario(self) -> None:
        self._ran += 1

    def end_feature(self, filename: str, scenarios: int, steps: float, usable: bool) -> None:
        """Keep the feature's time if every one of its ``scenarios`` ran and it is ``usable``
        (it passed and the run was not aborted)."""
        if usable and self._ran >= scenarios:
            self._times[key(filename)] = {"seconds": time.monotonic() - self._started,
                                          "steps": steps, "scenarios": self._ran}
        self._file.parent.mkdir(parents=True, exist_ok=True)
        self._file.write_text(json.dumps({"began": self._began, "ended": time.time(),
                                          "features": self._times}), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
