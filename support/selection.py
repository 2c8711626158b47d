"""Which scenarios a run's behave arguments select, read with behave's own configuration and
parser, so that a parallel run (``--jobs``, ``--shard``) honours the selection a single behave
would: ``file:NN`` (several lines as ``file:NN:MM``), ``-n``/``--name``, ``-i``/``-e``, ``-t`` and
the ``default_tags`` of behave.ini.

Each worker is given its features with their line selections and the run's options; a feature
none of whose scenarios is selected goes to no worker. A scenario a line selection leaves out
is marked skipped by behave and would show as "skipped" in the Allure results; the runner drops
those results (``drop_unselected``), so that the results hold exactly the selected scenarios,
as they do for the scenarios a tag expression or name leaves out (``hide_excluded``).
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from allure_behave.utils import scenario_history_id  # type: ignore[import-untyped]
from behave.configuration import OPTIONS, Configuration
from behave.model_type import FileLocation
from behave.runner_util import collect_feature_locations, parse_features

# ``a.feature:11:20``: lines 11 and 20 of a.feature (behave itself takes one line a location).
_LINES = re.compile(r"^(?P<file>.+?\.feature)(?P<lines>(?::\d+)+)$")


def _options_with_values() -> frozenset[str]:
    """behave's options that take the next argument as their value (``-t``, ``-n``, ``-D``…)."""
    found: set[str] = set()
    for names, raw in OPTIONS:
        spec = cast(dict[str, object], raw)
        if spec.get("action") in (None, "store", "append") and spec.get("nargs") != "?":
            found.update(name for name in names if name.startswith("-"))
    return frozenset(found)


TAKES_VALUE = _options_with_values()


class SelectionError(ValueError):
    """Arguments behave would refuse (an unknown option, a missing file, a bad tag expression)."""


def split_arguments(args: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split behave arguments into paths (``a.feature:11:20`` becomes ``a.feature:11`` and
    ``a.feature:20``) and options (with their values)."""
    paths: list[str] = []
    options: list[str] = []
    iterator = iter(args)
    for arg in iterator:
        if arg in TAKES_VALUE:
            options += [arg, next(iterator, "")]
        elif arg.startswith("-"):
            options.append(arg)
        else:
            paths.extend(expand_lines(arg))
    return paths, options


def expand_lines(path: str) -> list[str]:
    """``a.feature:11:20`` → ``["a.feature:11", "a.feature:20"]``; any other path as it is."""
    match = _LINES.match(path)
    if not match:
        return [path]
    return [f"{match['file']}:{line}" for line in match["lines"].split(":")[1:]]


def behave_arguments(args: Sequence[str]) -> list[str]:
    """The arguments as one behave takes them: several lines of a file as several locations."""
    paths, options = split_arguments(args)
    return [*options, *paths]


@dataclass(frozen=True)
class FeatureSelection:
    """One feature file of a run: the lines it was selected by (none: the whole file), how many
    of its scenarios (outline rows each) the arguments select out of how many, and the Allure
    history ids of the scenarios its line selection leaves out."""

    path: Path
    lines: tuple[int, ...]
    selected: int
    total: int
    left_out: frozenset[str]

    @property
    def locations(self) -> list[Path]:
        """What a worker is given for this feature: the file, or one ``file:NN`` a line."""
        return [Path(f"{self.path}:{line}") for line in self.lines] or [self.path]


def select(args: Sequence[str]) -> list[FeatureSelection]:
    """The features the behave arguments ``args`` name (behave.ini's ``paths`` if none), in
    order, with what they select; features ``-i``/``-e`` exclude are left out, features with no
    selected scenario are kept (``selected`` 0). ``SelectionError`` if behave would refuse them."""
    told = io.StringIO()
    try:
        with contextlib.redirect_stderr(told):
            config = Configuration(command_args=behave_arguments(args), load_config=True)
        return [_selection(config, filename, lines)
                for filename, lines in _lines(config).items()]
    except SystemExit as exc:  # behave's argument parser has said why on stderr
        raise SelectionError(told.getvalue().strip() or f"behave refused {list(args)}") from exc
    except Exception as exc:  # behave's errors (a missing file, bad Gherkin) share no base class
        raise SelectionError(f"{type(exc).__name__}: {exc}") from exc


def _lines(config: Configuration) -> dict[str, list[int] | None]:
    """Each feature file the configuration names, with its selected lines (None: all of it)."""
    lines: dict[str, list[int] | None] = {}
    for location in collect_feature_locations(config.paths or ["features"]):
        if config.exclude(location):
            continue
        known = lines.setdefault(location.filename, [])
        if location.line is None or known is None:
            lines[location.filename] = None
        elif location.line not in known:
            known.append(location.line)
    return lines


def _selection(config: Configuration, filename: str, lines: list[int] | None) -> FeatureSelection:
    at: list[int | None] = [*lines] if lines else [None]
    locations = [FileLocation(filename, line) for line in at]
    chosen: list[str] = []
    left_out: set[str] = set()
    total = 0
    for feature in parse_features(locations, language=vars(config).get("lang")):
        scenarios = feature.walk_scenarios()
        total += len(scenarios)
        for scenario in scenarios:
            if feature.should_run(config) and scenario.should_run(config):
                chosen.append(scenario_history_id(scenario))
            elif scenario.should_skip:  # left out by the line selection
                left_out.add(scenario_history_id(scenario))
    return FeatureSelection(Path(filename), tuple(lines or ()), len(chosen), total,
                            frozenset(left_out - set(chosen)))


def drop_unselected(folder: Path, selections: Iterable[FeatureSelection]) -> int:
    """Remove the "skipped" results of scenarios a line selection left out; how many."""
    left_out = frozenset().union(*(found.left_out for found in selections))
    dropped = 0
    if not left_out:
        return dropped
    for path in folder.glob("*-result.json"):
        result = json.loads(path.read_text(encoding="utf-8"))
        if result.get("status") == "skipped" and result.get("historyId") in left_out:
            path.unlink()
            dropped += 1
    return dropped

