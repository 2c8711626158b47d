"""``python -m support.acceptance [behave arguments]``: one acceptance run, start to finish.

Clears the previous results, runs behave (arguments pass through, e.g. ``-t @critical`` or
``-D codex_binary=…``), builds the single-file Allure HTML report (``--check-report`` then opens
it in headless Chromium and checks what it shows), prints one counted line and fails a run that
executed zero scenarios. With ``--jobs``/``--shard`` the workers run exactly what the arguments
select (``file:NN``, ``-n``, ``-t``, ``-i``/``-e``: ``support.selection``).

The counted line comes from the Allure results: with ``AllureFormatter.hide_excluded`` they hold
exactly the selected scenarios (outline rows separately), so "skipped" means skipped for a stated
reason, never "not selected by the tag expression".

A run's processes die with it. Workers (and the single behave) run in their own session, with a
death signal and this runner's watchdog behind them (see ``support.processes.reaper``). The first
SIGINT or SIGTERM (one Ctrl-C: the terminal's SIGINT reaches only this process, which passes one on
to each worker) stops the run in order: every worker aborts its current step, stops its systems
and writes its results; the report of what ran is built, and the run exits with 128 + the signal
number after a line saying it was interrupted. Workers that have not ended within ``--stop-grace``
seconds are killed with everything they started. A second signal kills everything at once.
"""

from __future__ import annotations

import signal
import sys


def _stop_before_start(signum: int, _frame: object) -> None:
    """A Ctrl-C or SIGTERM while the runner still loads its modules (seconds, on a busy machine):
    nothing has started yet, so the runner ends at once, with a line and no traceback."""
    print(f"interrupted by {signal.Signals(signum).name} before the run started: nothing ran",
          file=sys.stderr)
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    for _signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(_signum, _stop_before_start)

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from support import console, report_browser, report_build, reporting, scenario_feed, split, timings
from support.processes import reaper
from support.selection import (
    FeatureSelection,
    SelectionError,
    behave_arguments,
    drop_unselected,
    select,
    split_arguments,
)

RESULTS = report_build.RESULTS
JUNIT = Path("reports/junit")
REPORT = report_build.REPORT
WORKER_LOGS = Path("reports/workers")
# How long workers get to stop their systems after a Ctrl-C before they are killed.
STOP_GRACE = 30.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass(frozen=True)
class Counts:
    passed: int = 0
    failed: int = 0
    skipped: int = 0

    @property
    def executed(self) -> int:
        return self.passed + self.failed

    def line(self) -> str:
        return f"scenarios: {self.passed} passed, {self.failed} failed, {self.skipped} skipped"


def count_results(folder: Path) -> Counts:
    """Count the scenario results Allure recorded; broken and unknown statuses count as failed."""
    statuses = [json.loads(path.read_text(encoding="utf-8")).get("status")
                for path in sorted(folder.glob("*-result.json"))]
    passed = statuses.count("passed")
    skipped = statuses.count("skipped")
    return Counts(passed, len(statuses) - passed - skipped, skipped)


class StopNow(BaseException):
    """A second SIGINT/SIGTERM: everything was killed; leave whatever the runner was doing."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@dataclass
class Children:
    """The runner's behave processes and what a SIGINT or SIGTERM does to them.

    Each child runs in its own session (a terminal's Ctrl-C reaches the runner alone, which passes
    exactly one SIGINT on), dies with the runner (``PR_SET_PDEATHSIG``) and carries the runner's
    markers, so that the runner's watchdog ends it and all it started if the runner is killed.
    """

    grace: float = STOP_GRACE
    signum: int | None = None
    deadline: float | None = None
    processes: list[subprocess.Popen[Any]] = field(default_factory=list)
    _told: set[int] = field(default_factory=set)

    def install(self) -> dict[int, Any]:
        """Handle SIGINT and SIGTERM from now on; returns the previous handlers."""
        return {signum: signal.signal(signum, self._on_signal) for signum in STOP_SIGNALS}

    def start(self, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
        reaper.ensure_watchdog()
        process = subprocess.Popen(
            list(argv), env={**os.environ, **reaper.child_markers()}, stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=reaper.die_with_parent(),  # noqa: PLW1509 - needed for PDEATHSIG
            **kwargs,
        )
        self.processes.append(process)
        if self.signum is not None:  # a signal came while this one was starting
            self._tell(process)
        return process

    def _tell(self, process: subprocess.Popen[Any]) -> None:
        if process.pid not in self._told and process.poll() is None:
            self._told.add(process.pid)
            process.send_signal(signal.SIGINT)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if self.signum is None:
            self.signum = signum
            self.deadline = time.monotonic() + self.grace
            print(f"\n{signal.Signals(signum).name}: stopping the run; the workers stop their "
                  f"systems (at most {self.grace:g} s) and the report of what ran is written. "
                  "Press Ctrl-C again to stop at once.", file=sys.stderr, flush=True)
            for process in list(self.processes):
                self._tell(process)
            return
        for again in STOP_SIGNALS:
            signal.signal(again, signal.SIG_IGN)
        print(f"\n{signal.Signals(signum).name} again: stopping at once", file=sys.stderr,
              flush=True)
        self.kill()
        raise StopNow(signum)

    def kill(self) -> None:
        """SIGKILL every child, then everything carrying the run's marker."""
        for process in self.processes:
            if process.poll() is None:
                process.kill()
        for process in self.processes:
            process.wait()
        reaper.kill_run(reaper.run_marker(), grace=0.0)

    def wait(self, process: subprocess.Popen[Any], within: float | None = None) -> int:
        """Wait for one child; once the run is stopping, at most until the grace period ends
        (then every child is killed). With ``within``, raise ``TimeoutExpired`` if it is still
        running after that many seconds."""
        give_up = None if within is None else time.monotonic() + within
        while True:
            deadline = self.deadline
            timeout = 0.5 if deadline is None else max(0.0, deadline - time.monotonic())
            if give_up is not None:
                timeout = min(timeout, max(0.0, give_up - time.monotonic()))
            try:
                return process.wait(timeout=min(timeout, 0.5))
            except subprocess.TimeoutExpired:
                if deadline is not None and time.monotonic() >= deadline:
                    print(f"the workers did not stop within {self.grace:g} s: killing them",
                          file=sys.stderr, flush=True)
                    self.kill()
                    return process.wait()
                if give_up is not None and time.monotonic() >= give_up:
                    raise

    def wait_each(self, processes: Sequence[subprocess.Popen[Any]],
                  tick: Callable[[], None] = lambda: None) -> Iterator[subprocess.Popen[Any]]:
        """Yield each child as it ends (within a tenth of a second), in the order they end;
        ``tick`` is called every tenth of a second meanwhile (the console)."""
        pending = list(processes)
        while pending:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.wait(pending[0], within=0.1)
            tick()
            for process in [p for p in pending if p.poll() is not None]:
                pending.remove(process)
                yield process


# The children of the run ``main`` runs (a fresh set when the functions below are called alone).
_active: Children | None = None


@dataclass
class Worker:
    """One behave process of the run: its features, how long they were expected to take (from
    the last run's timings, if there were any) and how long the process took (``seconds``), of
    which ``start_up`` went before its first feature began and ``wind_down`` after its last
    feature ended."""

    features: list[Path]
    expected: float | None
    log: Path = Path()
    seconds: float = 0.0
    start_up: float | None = None
    wind_down: float | None = None

    def ended(self, pid: int, spawned: float) -> None:
        """The process ``pid``, started at ``spawned`` (``time.time()``), has just ended."""
        now = time.time()
        self.seconds = now - spawned
        span = timings.features_span(pid)
        if span is not None:
            self.start_up, self.wind_down = span[0] - spawned, now - span[1]

    def describe(self) -> dict[str, object]:
        found: dict[str, object] = {"seconds": round(self.seconds, 1)}
        for name, value in (("expected", self.expected), ("start_up", self.start_up),
                            ("wind_down", self.wind_down)):
            if value is not None:
                found[name] = round(value, 2)
        return {**found, "features": [timings.key(f) for f in self.features]}


# The workers of the run ``main`` runs, for the timings file's ``last_run``.
_workers: list[Worker] = []


def run_behave(args: Sequence[str], children: Children | None = None,
               known: Mapping[str, timings.FeatureTime] | None = None) -> int:
    """Run one behave with ``args`` as they are, under the live console (``run_workers``)."""
    return _run_watched([(list(args), Worker([], None))], children, known)


def run_workers(groups: Sequence[Sequence[Path]], options: Sequence[str],
                children: Children | None = None, expected: Sequence[float] = (),
                known: Mapping[str, timings.FeatureTime] | None = None) -> int:
    """Run one behave per non-empty group at once, under the live console (``support.console``:
    each finished scenario, the ``[progress]`` lines, a bar, and at the end each failure), with
    how long each took (and how long the last run's timings said it would: ``expected``, one
    figure per group, if given; ``known``: the last run's timings, by which the console forecasts
each scenario). Each worker's whole output is in ``reports/workers/``.

    Workers share the results folders (Allure files are per scenario, JUnit files per feature)
    and keep apart everything else by themselves (ports, etcd prefixes, artifact folders).
    """
    guesses: list[float | None] = [*expected] or [None] * len(groups)
    return _run_watched([([*options, *map(str, group)], Worker(list(group), guess))
                         for group, guess in zip(groups, guesses, strict=True) if group],
                        children, known)


def _run_watched(runs: Sequence[tuple[list[str], Worker]], children: Children | None,
                 known: Mapping[str, timings.FeatureTime] | None = None) -> int:
    """Start one behave per (arguments, worker), its output to its log and its feed to the
    console, and wait for them all; the highest exit code (a signal's as 128 + N)."""
    children = children or _active or Children()
    WORKER_LOGS.mkdir(parents=True, exist_ok=True)
    shown = console.Console(expected=known)
    workers: dict[subprocess.Popen[Any], Worker] = {}
    asked: set[subprocess.Popen[Any]] = set()
    logs: list[TextIO] = []
    spawned = time.time()
    try:
        for args, worker in runs:
            if children.signum is not None:
                break
            worker.log = WORKER_LOGS / f"worker-{len(workers) + 1}.log"
            events = worker.log.with_suffix(".events")
            events.write_text("", encoding="utf-8")  # not an earlier run's, if one is left
            shown.add_worker(len(workers) + 1, events, worker.log)
            logs.append(open(worker.log, "w", encoding="utf-8"))  # noqa: SIM115 - closed below
            argv = [sys.executable, "-m", "behave", *scenario_feed.behave_args(events, args),
                    *args]
            process = children.start(argv, stdout=logs[-1], stderr=subprocess.STDOUT)
            workers[process] = worker
            if scenario_feed.names_formatter(args):
                asked.add(process)
        numbers = {process: number for number, process in enumerate(workers, 1)}
        code = 0
        for process in children.wait_each(list(workers), tick=shown.poll):
            worker = workers[process]
            worker.ended(process.pid, spawned)
            ended = process.returncode
            code = max(code, ended if ended >= 0 else 128 - ended)  # -9: killed by SIGKILL
            shown.worker_ended(numbers[process], ended, worker.seconds, worker.expected,
                               worker.log)
            if process in asked:  # a formatter of the caller's choice: its output, in full
                print(worker.log.read_text("utf-8", "replace"), end="", flush=True)
        shown.finish()
        return code
    finally:
        for handle in logs:
            handle.close()
        _workers.extend(workers.values())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, add_help=True,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-report", action="store_true", help="skip the HTML report")
    parser.add_argument("--jobs", type=int, default=1,
                        help="run the features in this many behave processes at once")
    parser.add_argument("--check-report", action="store_true",
                        help="open the HTML report in headless Chromium and check that it shows "
                             "every epic with the counts the results hold")
    parser.add_argument("--shard", default=None,
                        help="K/N: run only the K-th of N deterministic parts of the features "
                             "(to spread one run over N machines)")
    parser.add_argument("--stop-grace", type=float, default=STOP_GRACE, metavar="SECONDS",
                        help="after a Ctrl-C (SIGINT) or SIGTERM, how long the workers may take "
                             f"to stop their systems before they are killed (default "
                             f"{STOP_GRACE:g})")
    ours, behave_args = parser.parse_known_args(argv)
    if not ours.stop_grace >= 0 or ours.stop_grace == float("inf"):
        parser.error(f"--stop-grace takes a finite number of seconds >= 0, not {ours.stop_grace}")
    for folder in (RESULTS, JUNIT, REPORT, WORKER_LOGS, reporting.ENVIRONMENT_FACTS,
                   timings.FEATURE_TIMES):
        shutil.rmtree(folder, ignore_errors=True)
    # behave's JUnit reporter makes its folder on a check-then-create race: workers that end
    # their first feature at once would crash on FileExistsError, so the folder exists first.
    JUNIT.mkdir(parents=True)
    global _active  # noqa: PLW0603 - the one run this process runs
    children = _active = Children(grace=ours.stop_grace)
    _workers.clear()
    previous = children.install()
    try:
        return _run(parser, ours, behave_args, children)
    except StopNow as stop:
        print(count_results(RESULTS).line())
        print(f"interrupted again by {signal.Signals(stop.signum).name}: stopped at once, "
              "without the report", file=sys.stderr)
        return 128 + stop.signum
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        _active = None


def _run_selected(parser: argparse.ArgumentParser, ours: argparse.Namespace,
                  behave_args: list[str], known: timings.Timings,
                  ) -> tuple[int, list[FeatureSelection], bool]:
    """Run what the behave arguments select: in one behave, or split over ``--jobs`` workers
    (of this ``--shard``), each given its features with their line selections. Returns behave's
    exit code, the selection, and whether the selection ran only on other shards."""
    parallel = ours.jobs > 1 or bool(ours.shard)
    try:
        selections = select(behave_args)
    except SelectionError as exc:
        if parallel:
            parser.error(f"behave would refuse these arguments: {exc}")
        selections = []  # one behave says what is wrong itself
    if not parallel:
        return run_behave(behave_arguments(behave_args), known=known), selections, False
    try:
        shard = split.parse_shard(ours.shard) if ours.shard else None
    except split.ShardError as exc:
        parser.error(str(exc))
    plan = split.plan(selections, ours.jobs, shard, known)
    code = run_workers(plan.groups, split_arguments(behave_args)[1], expected=plan.expected,
                       known=known)
    return code, selections, plan.elsewhere


def _run(parser: argparse.ArgumentParser, ours: argparse.Namespace, behave_args: list[str],
         children: Children) -> int:
    known = timings.load()
    phases: dict[str, float] = {}
    started = time.monotonic()
    code, selections, elsewhere = _run_selected(parser, ours, behave_args, known)
    phases["workers"] = time.monotonic() - started
    left = reaper.kill_run(reaper.run_marker(), grace=3.0)
    if left:
        print(f"stopped {left} process(es) the workers left behind", file=sys.stderr)
    phases["leftovers"] = time.monotonic() - started - sum(phases.values())
    reporting.merge_environments(RESULTS)
    drop_unselected(RESULTS, selections)
    try:
        report_build.prepare(RESULTS)
        prepared = True
    except report_build.ReportBuildError as exc:
        print(f"no HTML report: {exc}", file=sys.stderr)
        prepared = False
    counts = count_results(RESULTS)
    phases["results"] = time.monotonic() - started - sum(phases.values())
    report_ok = ours.no_report or (prepared and report_build.build())
    interrupted = children.signum
    if report_ok and ours.check_report and not ours.no_report and interrupted is None:
        report_ok = report_browser.main(["--report", str(REPORT / "index.html"),
                                         "--results", str(RESULTS)]) == 0
    phases["report"] = time.monotonic() - started - sum(phases.values())
    timings.save(timings.merged(known, timings.measured()), last_run={
        "workers": [w.describe() for w in _workers],
        "phases": {name: round(seconds, 2) for name, seconds in phases.items()}})
    if elsewhere:
        print(f"shard {ours.shard}: the selection's scenarios all went to other shards")
    elif counts.executed == 0 and interrupted is None:
        print("no scenario was executed: check the tag expression and paths", file=sys.stderr)
        code = code or 1
    print(counts.line())
    if interrupted is not None:
        print(f"interrupted by {signal.Signals(interrupted).name}: the run stopped early; the "
              "results and the report hold the scenarios that ran", file=sys.stderr)
        return 128 + interrupted
    return code if report_ok else code or 1


if __name__ == "__main__":
    _code = main()
    # The run is over and its counted line printed: a late Ctrl-C or SIGTERM changes nothing.
    for _signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(_signum, signal.SIG_IGN)
    sys.exit(_code)
