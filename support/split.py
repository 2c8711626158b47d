"""Splitting a run's features across worker processes (``--jobs``) and machines (``--shard``).

Deterministic: features are weighed by their scenario count (each Examples row counts) and dealt
longest-first to the lightest bin, ties broken by path, so every machine computes the same split.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

_SCENARIO = re.compile(r"^\s*Scenario( Outline)?:", re.MULTILINE)
_EXAMPLE_ROW = re.compile(r"^\s*\|", re.MULTILINE)


class ShardError(ValueError):
    """A ``--shard`` value that is not K/N with 1 <= K <= N."""


def feature_files(paths: Sequence[str]) -> list[Path]:
    """Every .feature file under the given files or folders, sorted."""
    found: set[Path] = set()
    for raw in paths:
        path = Path(raw.split(":", 1)[0])
        if path.is_dir():
            found.update(path.rglob("*.feature"))
        elif path.suffix == ".feature":
            found.add(path)
    return sorted(found)


def weight(feature: Path) -> int:
    """Roughly how many scenarios a feature runs (outline rows count, header rows do not)."""
    text = feature.read_text(encoding="utf-8")
    outlines = text.count("Scenario Outline:")
    rows = len(_EXAMPLE_ROW.findall(text.split("Examples:", 1)[1])) if outlines else 0
    return max(1, len(_SCENARIO.findall(text)) - outlines + max(0, rows - outlines))


def split(features: Sequence[Path], bins: int) -> list[list[Path]]:
    """Deal features into ``bins`` groups of similar total weight (some may stay empty)."""
    groups: list[list[Path]] = [[] for _ in range(bins)]
    loads = [0] * bins
    for feature in sorted(features, key=lambda f: (-weight(f), str(f))):
        lightest = min(range(bins), key=lambda i: (loads[i], i))
        groups[lightest].append(feature)
        loads[lightest] += weight(feature)
    return [sorted(group) for group in groups]


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/3"`` → (2, 3)."""
    match = re.fullmatch(r"(\d+)/(\d+)", text.strip())
    if not match or not 1 <= int(match.group(1)) <= int(match.group(2)):
        raise ShardError(f"--shard takes K/N with 1 <= K <= N, not {text!r}")
    return int(match.group(1)), int(match.group(2))
