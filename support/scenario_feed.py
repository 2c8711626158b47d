"""A worker's live feed for the runner's console: one JSON object per line, as things happen.

The runner (``support.console``) adds ``-f support.scenario_feed:ScenarioFeed -o <file>`` to
each behave it starts and reads the file as it grows. The worker only appends to a regular file
and flushes each line, so a slow runner never holds a worker up.

Events:

- ``{"event": "start", "features": {"features/a.feature": 3, ...}}``, once, from ``before_all``:
  how many scenarios of each feature this worker will run (tags, ``-n`` and ``file:NN``
  applied; each Examples row counts);
- ``{"event": "progress", "message": ...}``: a ``support.progress`` line (cluster start-up,
  large transfers), in its place among the scenarios;
- ``{"event": "scenario", "feature": ..., "title": ..., "status": ..., "seconds": ...,
  "message": ..., "artifacts": ...}`` once a scenario is over (its hooks and clean-ups
  included), with the first lines of its error and its artifacts folder if it failed.

behave's formatters learn of a scenario's end only when the next one begins (or at the end of
the feature, after ``after_feature`` stopped what the feature shared), so ``after_feature``
calls ``finished`` first: the feature's last scenario is reported as soon as it is over.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from behave.formatter.base import Formatter  # type: ignore[import-untyped]
from behave.model import Feature, Scenario
from behave.model_type import Status
from behave.runner import Context

from support import progress, timings

FORMAT = "support.scenario_feed:ScenarioFeed"
MESSAGE_LINES = 6
_EPIC, _STORY = "allure.label.epic:", "allure.label.story:"


def names_formatter(args: Sequence[str]) -> bool:
    """Whether behave arguments choose a formatter (``-f``/``--format``)."""
    return any(arg in ("-f", "--format") or arg.startswith(("--format=", "-f")) for arg in args)


def behave_args(events: Path, given: Sequence[str] = ()) -> list[str]:
    """The behave options, to go before the ``given`` ones, that make a worker write its feed
    to ``events``. A formatter on the command line takes the place of behave's default one, so
    the progress formatter is named too (to the worker's log), unless ``given`` names one."""
    ours = ["-f", FORMAT, "-o", str(events)]
    return ours if names_formatter(given) else [*ours, "-f", "progress", "-o", "-"]


class Evidence(Protocol):
    """What the feed reads of a scenario's evidence (``support.worlds.Evidence``)."""

    folder: Path
    problems: list[str]


def title(scenario: Scenario) -> str:
    """``Codex storage › Round trips › Alice uploads a file``: the scenario under its epic and
    story (the feature's name when it has no story label)."""
    feature = scenario.feature
    tags = [str(tag) for tag in (feature.tags if feature is not None else [])]
    epic = next((t[len(_EPIC):] for t in tags if t.startswith(_EPIC)), "")
    story = next((t[len(_STORY):] for t in tags if t.startswith(_STORY)), "")
    parts = [epic, story or (feature.name if feature is not None else "")]
    return " › ".join([p.replace("_", " ") for p in parts if p] + [scenario.name.strip()])


def failure(scenario: Scenario, problems: Sequence[str] = ()) -> str:
    """The first lines of why a scenario failed, in the step's (or hook's) own words, or what
    the stop checks of its processes found."""
    for step in scenario.all_steps:
        if step.status == Status.undefined:
            return f"undefined step: {step.keyword} {step.name}"
        if step.status.has_failed():
            exception = step.exception
            if isinstance(exception, AssertionError) and str(exception):
                text = str(exception)
            elif exception is not None:
                text = f"{type(exception).__name__}: {exception}"
            else:
                text = step.error_message or ""
            return _first_lines(f"{step.keyword} {step.name}\n{text}")
    if problems:
        return _first_lines("the scenario's processes did not stop cleanly:\n"
                            + "\n".join(problems))
    return _first_lines(scenario.error_message or f"the scenario ended {scenario.status.name} "
                                                   "in a hook or clean-up (see the worker log)")


def _first_lines(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines() if line.strip()]
    more = len(lines) - MESSAGE_LINES
    return "\n".join(lines[:MESSAGE_LINES] + ([f"… ({more} more lines)"] if more > 0 else []))


class ScenarioFeed(Formatter):  # type: ignore[misc]  # behave's formatter base is untyped
    """The behave formatter that writes the feed (see the module's documentation)."""

    name = "scenario_feed"
    description = "one JSON line per finished scenario, for the runner's console"

    def __init__(self, stream_opener: Any, config: Any) -> None:
        super().__init__(stream_opener, config)
        self._current: Scenario | None = None
        self._started = 0.0
        self._evidence: Evidence | None = None
        self._lock = threading.Lock()  # progress comes from transfer threads too
        self._unlisten = progress.listen(
            lambda message: self._write({"event": "progress", "message": message}))

    def _write(self, event: dict[str, object]) -> None:
        with self._lock:
            stream = self.open()
            stream.write(json.dumps(event) + "\n")
            stream.flush()

    def announce(self, features: list[Feature]) -> None:
        """The start event: how many scenarios of each of ``features`` this worker will run."""
        counts = {timings.key(f.filename): sum(bool(s.should_run(self.config))
                                               for s in f.walk_scenarios())
                  for f in features}
        self._write({"event": "start", "features": {k: n for k, n in counts.items() if n}})

    def note_evidence(self, evidence: Evidence) -> None:
        """The current scenario's folder and stop checks (read when it is over)."""
        self._evidence = evidence

    def scenario(self, scenario: Scenario) -> None:
        self.finished()
        if scenario.should_run(self.config):  # not one left out by tags, name or line
            self._current, self._started, self._evidence = scenario, time.monotonic(), None

    def finished(self) -> None:
        """Report the current scenario, if there is one: it is over."""
        scenario, self._current = self._current, None
        if scenario is None:
            return
        failed = scenario.status.has_failed()
        evidence = self._evidence
        self._write({
            "event": "scenario", "feature": timings.key(scenario.filename),
            "title": title(scenario), "status": scenario.status.name,
            "seconds": round(time.monotonic() - self._started, 2),
            "message": failure(scenario, evidence.problems if evidence else ()) if failed
            else None,
            "artifacts": str(evidence.folder) if failed and evidence else None})

    def eof(self) -> None:
        self.finished()

    def close(self) -> None:
        self._unlisten()  # no progress after the stream is closed
        self.finished()
        self.close_stream()


def feed_of(context: Context) -> ScenarioFeed | None:
    """The run's feed formatter, if the runner asked for one."""
    runner = getattr(context, "_runner", None)
    found = [f for f in getattr(runner, "formatters", None) or [] if isinstance(f, ScenarioFeed)]
    return found[0] if found else None
