"""Splitting features across workers and machines."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.split import ShardError, feature_files, parse_shard, split, weight

OUTLINE = """Feature: f
  Scenario: a
    Given x
  Scenario Outline: b <n>
    Given <n>
    Examples:
      | n |
      | 1 |
      | 2 |
      | 3 |
"""


def write(folder: Path, name: str, scenarios: int) -> Path:
    path = folder / name
    path.write_text("Feature: f\n" + "".join(f"  Scenario: s{i}\n    Given x\n"
                                             for i in range(scenarios)))
    return path


def test_weights_count_scenarios_and_example_rows(tmp_path: Path) -> None:
    (tmp_path / "o.feature").write_text(OUTLINE)
    assert weight(tmp_path / "o.feature") == 4  # one scenario and three example rows
    assert weight(write(tmp_path, "p.feature", 2)) == 2


def test_split_is_balanced_deterministic_and_complete(tmp_path: Path) -> None:
    features = [write(tmp_path, f"f{i}.feature", n) for i, n in enumerate([5, 4, 3, 3, 2, 1])]
    groups = split(features, 2)
    assert split(list(reversed(features)), 2) == groups
    assert sorted(f for g in groups for f in g) == sorted(features)
    loads = [sum(weight(f) for f in g) for g in groups]
    assert abs(loads[0] - loads[1]) <= 1


def test_shards_partition_the_features(tmp_path: Path) -> None:
    features = [write(tmp_path, f"f{i}.feature", i + 1) for i in range(7)]
    shards = [set(split(features, 3)[k]) for k in range(3)]
    assert set.union(*shards) == set(features)
    assert sum(len(s) for s in shards) == len(features)


def test_feature_files_expand_folders_and_line_suffixes(tmp_path: Path) -> None:
    write(tmp_path, "a.feature", 1)
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub", "b.feature", 1)
    found = feature_files([str(tmp_path), f"{tmp_path / 'a.feature'}:3"])
    assert found == [tmp_path / "a.feature", tmp_path / "sub" / "b.feature"]


@pytest.mark.parametrize("text", ["0/2", "3/2", "a/b", "1"])
def test_bad_shards(text: str) -> None:
    with pytest.raises(ShardError):
        parse_shard(text)
