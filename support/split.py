"""Splitting a run's features across worker processes (``--jobs``) and machines (``--shard``).

Features are weighed by the seconds the last run measured for them (``support.timings``); a
feature with no measurement (new, renamed, or no timings file at all) by its scenario count (each
Examples row counts, as behave counts them: ``support.selection``) times the median seconds per
scenario of the measured ones; a feature of which a line, name or tag selection runs only some
scenarios by those, at its measured seconds per scenario (else the median).
They are dealt heaviest-first to the lightest bin, then single moves and swaps between the
heaviest and the lightest bin are made while they lower the heavier of the two; ties are broken
by path, so the split is deterministic for the same timings file: machines that restore the same
file (or have none) compute the same split. A feature is never cut: its scenarios share their
systems, so no worker can end before the longest feature it runs.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from support.selection import FeatureSelection
from support.timings import FeatureTime, key


class ShardError(ValueError):
    """A ``--shard`` value that is not K/N with 1 <= K <= N."""


@dataclass(frozen=True)
class Plan:
    """What each worker runs: its behave locations (a feature, or ``file:NN`` a selected line),
    and the seconds the timings expect of it (empty with no timings); ``elsewhere``: the
    selection runs scenarios, but none on this shard."""

    groups: list[list[Path]]
    expected: list[float]
    elsewhere: bool = False


def plan(selections: Sequence[FeatureSelection], jobs: int, shard: tuple[int, int] | None = None,
         timings: Mapping[str, FeatureTime] | None = None) -> Plan:
    """Split the features with a selected scenario over ``jobs`` workers (of this shard's part,
    ``(K, N)``: the K-th of N), each weighed by its selected scenarios."""
    chosen = {found.path: found for found in selections if found.selected}
    cost = costs(chosen.values(), timings)
    features = sorted(chosen)
    if shard is not None:
        features = split({f: cost[f] for f in features}, shard[1])[shard[0] - 1]
    groups = split({f: cost[f] for f in features}, max(1, jobs))
    return Plan([[at for feature in group for at in chosen[feature].locations]
                 for group in groups],
                [sum(cost[f] for f in group) for group in groups] if timings else [],
                elsewhere=bool(chosen) and not features)


def costs(selections: Iterable[FeatureSelection],
          timings: Mapping[str, FeatureTime] | None = None) -> dict[Path, float]:
    """Each feature's expected seconds: run whole (all its scenarios selected), its measured
    time; else (unmeasured, or a line, name or tag selection runs only some of its scenarios)
    its selected scenarios times its measured seconds per scenario, else the median seconds per
    scenario of the measured features (with no timings: the scenario count)."""
    timings = timings or {}
    per_scenario = [t.per_scenario for t in timings.values() if t.scenarios]
    scale = statistics.median(per_scenario) if per_scenario else 1.0
    found = {}
    for selection in selections:
        timing = timings.get(key(selection.path))
        if timing is not None and selection.selected == selection.total:
            found[selection.path] = timing.seconds
        else:
            rate = timing.per_scenario if timing is not None and timing.scenarios else scale
            found[selection.path] = selection.selected * rate
    return found


def split(cost: Mapping[Path, float], bins: int) -> list[list[Path]]:
    """Deal the features (``cost``: each one's expected seconds, from ``costs``) into ``bins``
    groups of similar expected seconds (some may stay empty)."""
    features = list(cost)
    groups: list[list[Path]] = [[] for _ in range(bins)]
    loads = [0.0] * bins
    for feature in sorted(features, key=lambda f: (-cost[f], str(f))):
        lightest = min(range(bins), key=lambda i: (loads[i], i))
        groups[lightest].append(feature)
        loads[lightest] += cost[feature]
    while _rebalance(groups, loads, cost):
        pass
    return [sorted(group) for group in groups]


def _rebalance(groups: list[list[Path]], loads: list[float], cost: Mapping[Path, float]) -> bool:
    """Make the one move (a feature from the heaviest bin to the lightest) or swap that lowers
    the heavier of the two the most; False if none does. Each step lowers the sorted loads, so
    repeating it ends."""
    heavy = max(range(len(groups)), key=lambda i: (loads[i], -i))
    light = min(range(len(groups)), key=lambda i: (loads[i], i))
    best: tuple[float, Path, Path | None] | None = None
    for out in sorted(groups[heavy], key=str):
        for back in [None, *sorted(groups[light], key=str)]:
            moved = cost[out] - (0.0 if back is None else cost[back])
            peak = max(loads[heavy] - moved, loads[light] + moved)
            if moved > 0 and peak < loads[heavy] - 1e-9 and (best is None or peak < best[0]):
                best = (peak, out, back)
    if best is None:
        return False
    _peak, out, back = best
    groups[heavy].remove(out)
    groups[light].append(out)
    moved = cost[out]
    if back is not None:
        groups[light].remove(back)
        groups[heavy].append(back)
        moved -= cost[back]
    loads[heavy] -= moved
    loads[light] += moved
    return True


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/3"`` → (2, 3)."""
    match = re.fullmatch(r"(\d+)/(\d+)", text.strip())
    if not match or not 1 <= int(match.group(1)) <= int(match.group(2)):
        raise ShardError(f"--shard takes K/N with 1 <= K <= N, not {text!r}")
    return int(match.group(1)), int(match.group(2))
