"""Splitting features across workers and machines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support.selection import FeatureSelection, SelectionError, select, split_arguments
from support.split import Plan, ShardError, costs, parse_shard, plan, split
from support.timings import FeatureTime, load

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


def whole(path: Path) -> FeatureSelection:
    """A feature run whole, with behave's count of its scenarios."""
    scenarios = path.read_text().count("Scenario:")
    return FeatureSelection(path, (), scenarios, scenarios, frozenset())


def weigh(features: list[Path], known: dict[str, FeatureTime] | None = None) -> dict[Path, float]:
    """The features' costs, each run whole."""
    return costs([whole(f) for f in features], known)


def test_weights_count_scenarios_and_example_rows(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no behave.ini: no default tags
    (tmp_path / "o.feature").write_text(OUTLINE)
    weight = costs(select([str(tmp_path / "o.feature"), str(write(tmp_path, "p.feature", 2))]))
    assert weight[tmp_path / "o.feature"] == 4  # one scenario and three example rows
    assert weight[tmp_path / "p.feature"] == 2


def test_split_is_balanced_deterministic_and_complete(tmp_path: Path) -> None:
    features = [write(tmp_path, f"f{i}.feature", n) for i, n in enumerate([5, 4, 3, 3, 2, 1])]
    weight = weigh(features)
    groups = split(weight, 2)
    assert split(weigh(list(reversed(features))), 2) == groups
    assert sorted(f for g in groups for f in g) == sorted(features)
    loads = [sum(weight[f] for f in g) for g in groups]
    assert abs(loads[0] - loads[1]) <= 1


def test_shards_partition_the_features(tmp_path: Path) -> None:
    features = [write(tmp_path, f"f{i}.feature", i + 1) for i in range(7)]
    shards = [set(split(weigh(features), 3)[k]) for k in range(3)]
    assert set.union(*shards) == set(features)
    assert sum(len(s) for s in shards) == len(features)


def test_folders_expand_and_line_suffixes_select_their_scenarios(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no behave.ini: no default tags
    write(tmp_path, "a.feature", 3)  # scenarios at lines 2, 4 and 6
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "o.feature").write_text(OUTLINE)
    found = {f.path.name: f
             for f in select([str(tmp_path / "sub"), f"{tmp_path / 'a.feature'}:4:6"])}
    assert (found["a.feature"].lines, found["a.feature"].selected, found["a.feature"].total) == \
        ((4, 6), 2, 3)
    assert [str(at) for at in found["a.feature"].locations] == \
        [f"{tmp_path / 'a.feature'}:4", f"{tmp_path / 'a.feature'}:6"]
    assert len(found["a.feature"].left_out) == 1  # s0, whose skipped result the runner drops
    assert (found["o.feature"].selected, found["o.feature"].locations) == \
        (4, [tmp_path / "sub" / "o.feature"])
    row = select([f"{tmp_path / 'sub' / 'o.feature'}:9"])[0]  # one Examples row of the outline
    assert (row.selected, row.total) == (1, 4)
    # A file named whole and by a line runs whole, once.
    assert [(f.lines, f.selected) for f in select([f"{tmp_path / 'a.feature'}:4", str(tmp_path)])
            if f.path.name == "a.feature"] == [((), 3)]


def test_names_tags_and_file_patterns_select_as_behave_does(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "behave.ini").write_text("[behave]\ndefault_tags = not @slow\n")
    write(tmp_path, "a.feature", 3)
    (tmp_path / "t.feature").write_text("Feature: t\n  @slow\n  Scenario: s0\n    Given x\n"
                                        "  @fast\n  Scenario: s1\n    Given x\n")
    def counts(*args: str) -> dict[str, int]:
        return {f.path.name: f.selected for f in select([*args, str(tmp_path)])}
    assert counts() == {"a.feature": 3, "t.feature": 1}  # behave.ini's default tags
    assert counts("-n", "s1") == {"a.feature": 1, "t.feature": 1}
    assert counts("--name=s2") == {"a.feature": 1, "t.feature": 0}
    assert counts("-t", "@slow") == {"a.feature": 0, "t.feature": 1}
    assert counts("-i", "t\\.feature") == {"t.feature": 1}
    assert counts("-e", "t\\.feature") == {"a.feature": 3}


def test_option_values_are_not_taken_for_paths() -> None:
    assert split_arguments(["-n", "a.feature:1", "--no-skipped", "-D", "x=1", "f.feature:3:5",
                            "--tags=@a", "features"]) == (
        ["f.feature:3", "f.feature:5", "features"],
        ["-n", "a.feature:1", "--no-skipped", "-D", "x=1", "--tags=@a"])


def test_arguments_behave_would_refuse_are_named(tmp_path: Path) -> None:
    with pytest.raises(SelectionError, match=r"missing\.feature"):
        select([str(tmp_path / "missing.feature")])
    with pytest.raises(SelectionError, match="unrecognized arguments"):
        select(["--no-such-option", str(tmp_path)])


def test_workers_get_only_features_with_selected_scenarios_weighed_by_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    big, small, other = (write(tmp_path, f"{n}.feature", count)
                         for n, count in [("big", 10), ("small", 3), ("other", 2)])
    # Line 2 of big is one scenario: it weighs 1, not 10, and small (3) goes alone.
    chosen = plan(select([f"{big}:2", str(small), str(other), "-n", "s0|s1|s2"]), 2)
    assert chosen.groups == [[small], [Path(f"{big}:2"), other]]
    assert not chosen.elsewhere
    nothing = plan(select([str(big), "-n", "no such scenario"]), 2)
    assert nothing.groups == [[], []]
    assert not nothing.elsewhere  # nothing anywhere: the runner fails the run
    one = select([f"{big}:2"])
    assert plan(one, 1, shard=(1, 2)).groups == [[Path(f"{big}:2")]]
    assert plan(one, 1, shard=(2, 2)) == Plan([[]], [], elsewhere=True)


@pytest.mark.parametrize("text", ["0/2", "3/2", "a/b", "1"])
def test_bad_shards(text: str) -> None:
    with pytest.raises(ShardError):
        parse_shard(text)


def timings_file(folder: Path, features: dict[str, tuple[float, int]]) -> Path:
    path = folder / "timings.json"
    path.write_text(json.dumps({"features": {
        name: {"seconds": seconds, "steps": seconds / 2, "scenarios": scenarios}
        for name, (seconds, scenarios) in features.items()}}))
    return path


def test_measured_durations_decide_the_bins_not_the_scenario_counts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    many, slow, a, b = (write(tmp_path, f"{n}.feature", count)
                        for n, count in [("many", 20), ("slow", 2), ("a", 3), ("b", 3)])
    known = load(timings_file(tmp_path, {"many.feature": (4.0, 20), "slow.feature": (60.0, 2),
                                         "a.feature": (30.0, 3), "b.feature": (25.0, 3)}))
    assert split(weigh([many, slow, a, b]), 2) == [[many], [a, b, slow]]  # by size: 20 against 8
    assert split(weigh([many, slow, a, b], known), 2) == [[slow], [a, b, many]]  # 60 s against 59 s
    assert split(weigh([b, a, slow, many], known), 2) == split(weigh([many, slow, a, b], known), 2)


def test_a_feature_without_a_timing_weighs_its_scenarios_at_the_median_rate(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    features = [write(tmp_path, f"{n}.feature", count)
                for n, count in [("x", 2), ("y", 4), ("z", 10), ("new", 5)]]
    known = load(timings_file(tmp_path, {"x.feature": (2.0, 2), "y.feature": (12.0, 4),
                                         "z.feature": (50.0, 10)}))  # 1, 3 and 5 s a scenario
    assert weigh(features, known) == {features[0]: 2.0, features[1]: 12.0, features[2]: 50.0,
                                      features[3]: 5 * 3.0}


@pytest.mark.parametrize("content", [
    None, "", "{not json", "[]", '{"features": 3}',
    '{"features": {"a.feature": {"seconds": "soon"}}}',
    '{"features": {"a.feature": {"seconds": -1, "scenarios": 1}}}'])
def test_an_absent_or_unreadable_timings_file_falls_back_to_scenario_counts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        content: str | None) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "timings.json"
    if content is not None:
        path.write_text(content)
    features = [write(tmp_path, f"f{i}.feature", n) for i, n in enumerate([5, 4, 3, 3, 2, 1])]
    known = load(path)
    assert known == {}
    assert split(weigh(features, known), 2) == split(weigh(features), 2)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert (content is None) == (err == "")  # an unreadable file is named, an absent one is not


def test_moves_and_swaps_improve_on_dealing_heaviest_first(tmp_path: Path) -> None:
    # Dealt heaviest-first: 3+2+2 against 3+2 (7 s); the best split is 3+3 against 2+2+2 (6 s).
    features = [write(tmp_path, f"{n}.feature", count)
                for n, count in [("a", 3), ("b", 3), ("c", 2), ("d", 2), ("e", 2)]]
    weight = weigh(features)
    groups = split(weight, 2)
    assert sorted(sum(weight[f] for f in g) for g in groups) == [6, 6]


def test_step_tables_and_several_examples_weigh_as_behave_counts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "t.feature"
    path.write_text("Feature: t\n  Scenario: a\n    Given these\n      | x |\n      | 1 |\n"
                    "  Scenario Outline: b <n>\n    Given <n>\n    Examples: one\n      | n |\n"
                    "      | 1 |\n    Examples: two\n      | n |\n      | 2 |\n      | 3 |\n")
    assert costs(select([str(path)])) == {path: 4}  # a, and b's three rows
