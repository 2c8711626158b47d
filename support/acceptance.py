"""``python -m support.acceptance [behave arguments]``: one acceptance run, start to finish.

Clears the previous results, runs behave (arguments pass through, e.g. ``-t @critical`` or
``-D codex_binary=…``), builds the single-file Allure HTML report (``--check-report`` then opens
it in headless Chromium and checks what it shows), prints one counted line and fails a run that
executed zero scenarios.

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
import re
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from support import report_browser, reporting, split, timings
from support.processes import reaper

RESULTS = Path("allure-results")
JUNIT = Path("reports/junit")
REPORT = Path("allure-report")
WORKER_LOGS = Path("reports/workers")
HISTORY = Path("allure-history/history.jsonl")
ALLURE = Path("node_modules/.bin/allure")
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


READABLE_LABELS = ("epic", "story")
# How Allure groups failures (categories.json): a broken scenario whose error comes from the
# harness (a process that would not start, a port, etcd) is infrastructure, not a product defect.
CATEGORIES = [
    {"name": "Known issues", "matchedStatuses": ["failed", "broken"],
     "messageRegex": ".*KNOWN ISSUE.*"},
    {"name": "Broken infrastructure", "matchedStatuses": ["broken"],
     "messageRegex": ".*(ProcessStartError|PortReservationError|was not ready within|exited with "
                     "code|could not be started|etcd|SettingsError|GoverseBuildError).*"},
    {"name": "Product defects", "matchedStatuses": ["failed"]},
    {"name": "Test defects", "matchedStatuses": ["broken"]},
]


def write_categories(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "categories.json").write_text(json.dumps(CATEGORIES, indent=2), encoding="utf-8")


def fail_unclean_stops(folder: Path) -> None:
    """allure-behave takes a scenario's status from its steps alone, so a scenario whose steps
    passed but whose processes did not stop cleanly would show (and count) as passed: its result
    becomes failed, with what the stop checks found as the message."""
    for path in folder.glob("*-result.json"):
        result = json.loads(path.read_text(encoding="utf-8"))
        found = [attachment for attachment in result.get("attachments", [])
                 if attachment.get("name") == reporting.STOP_CHECKS]
        if not found or result.get("status") != "passed":
            continue
        source = folder / found[0].get("source", "")
        problems = source.read_text("utf-8", "replace") if source.is_file() else "see the log"
        result["status"] = "failed"
        result["statusDetails"] = {
            "message": f"the scenario's processes did not stop cleanly: {problems}"}
        path.write_text(json.dumps(result), encoding="utf-8")


def readable_labels(folder: Path) -> None:
    """Gherkin tags cannot hold spaces, so ``@allure.label.epic:Codex_storage`` is written with
    underscores; the report shows ``Codex storage``."""
    for path in folder.glob("*-result.json"):
        result = json.loads(path.read_text(encoding="utf-8"))
        labels = result.get("labels", [])
        changed = False
        for label in labels:
            if label.get("name") in READABLE_LABELS and "_" in label.get("value", ""):
                label["value"] = label["value"].replace("_", " ")
                changed = True
        if changed:
            path.write_text(json.dumps(result), encoding="utf-8")


# Allure's page template always adds Google Analytics; a report opened from CI artifacts or a
# laptop should not call out to the network, so the tag is taken out after generation.
_ANALYTICS = re.compile(r'\s*<script async src="https://www\.googletagmanager\.com/[^"]*"></script>'
                        r"\s*<script>\s*window\.dataLayer.*?</script>", re.DOTALL)
# The tree a product owner opens first: epics, then features, then stories.
GROUP_BY = "epic,feature,story"


def strip_analytics(page: Path) -> None:
    """Remove the analytics tag from a generated report page (nothing else changes)."""
    html = page.read_text(encoding="utf-8")
    stripped = _ANALYTICS.sub("", html, count=1)
    if stripped != html:
        page.write_text(stripped, encoding="utf-8")


def build_report() -> bool:
    """Generate the single-file Allure 3 report; False (with a message) if that is impossible."""
    if not ALLURE.exists():
        print(f"no HTML report: {ALLURE} is missing (run `npm ci`)", file=sys.stderr)
        return False
    HISTORY.parent.mkdir(exist_ok=True)
    done = subprocess.run(
        [str(ALLURE), "awesome", str(RESULTS), "--single-file", "--name", "Acceptance suite",
         "--group-by", GROUP_BY, "--history-path", str(HISTORY), "-o", str(REPORT)],
        # Like a worker: its own session (a Ctrl-C typed while the report is built reaches the
        # runner only: after the first, the report of what ran is still wanted) and tied to us.
        capture_output=True, text=True, check=False, start_new_session=True,
        env={**os.environ, **reaper.child_markers()}, preexec_fn=reaper.die_with_parent(),
    )
    if done.returncode != 0:
        print(f"the HTML report failed:\n{done.stdout}{done.stderr}", file=sys.stderr)
        return False
    strip_analytics(REPORT / "index.html")
    print(f"HTML report: {REPORT / 'index.html'}")
    return True


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

    def wait_each(self, processes: Sequence[subprocess.Popen[Any]]
                  ) -> Iterator[subprocess.Popen[Any]]:
        """Yield each child as it ends (within a tenth of a second), in the order they end."""
        pending = list(processes)
        while pending:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.wait(pending[0], within=0.1)
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


def run_behave(args: Sequence[str], children: Children | None = None) -> int:
    """Run behave in a child process (output straight to ours); see ``Children``."""
    children = children or _active or Children()
    worker, spawned = Worker([], None), time.time()
    process = children.start([sys.executable, "-m", "behave", *args])
    try:
        return children.wait(process)
    finally:
        worker.ended(process.pid, spawned)
        _workers.append(worker)


def run_workers(groups: Sequence[Sequence[Path]], options: Sequence[str],
                children: Children | None = None, expected: Sequence[float] = ()) -> int:
    """Run one behave per non-empty group at once; print each worker's output when it ends,
    with how long it took (and how long the last run's timings said it would: ``expected``,
    one figure per group, if given).

    Workers share the results folders (Allure files are per scenario, JUnit files per feature)
    and keep apart everything else by themselves (ports, etcd prefixes, artifact folders).
    """
    children = children or _active or Children()
    WORKER_LOGS.mkdir(parents=True, exist_ok=True)
    guesses: list[float | None] = [*expected] or [None] * len(groups)
    workers: dict[subprocess.Popen[Any], Worker] = {}
    logs: list[TextIO] = []
    spawned = time.time()
    try:
        for group, guess in zip(groups, guesses, strict=True):
            if not group:
                continue
            if children.signum is not None:
                break
            log = WORKER_LOGS / f"worker-{len(workers) + 1}.log"
            logs.append(open(log, "w", encoding="utf-8"))  # noqa: SIM115 - closed below
            argv = [sys.executable, "-m", "behave", *options, *map(str, group)]
            process = children.start(argv, stdout=logs[-1], stderr=subprocess.STDOUT)
            workers[process] = Worker(list(group), guess, log)
        code = 0
        for process in children.wait_each(list(workers)):
            worker = workers[process]
            worker.ended(process.pid, spawned)
            ended = process.returncode
            code = max(code, ended if ended >= 0 else 128 - ended)  # -9: killed by SIGKILL
            forecast = "" if worker.expected is None else f" (expected {worker.expected:.1f} s)"
            print(f"--- worker {worker.log.stem} ({', '.join(map(str, worker.features))}): "
                  f"{worker.seconds:.1f} s{forecast} ---")
            print(worker.log.read_text(encoding="utf-8"), end="")
        return code
    finally:
        for handle in logs:
            handle.close()
        _workers.extend(workers.values())


def _positional(args: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split behave arguments into feature paths and options (values of options kept)."""
    takes_value = {"-t", "--tags", "-D", "--define", "-n", "--name", "-f", "--format", "-o",
                   "--outfile", "-i", "--include", "-e", "--exclude", "-k"}
    paths, options = [], []
    iterator = iter(args)
    for arg in iterator:
        if arg in takes_value:
            options += [arg, next(iterator, "")]
        elif arg.startswith("-"):
            options.append(arg)
        else:
            paths.append(arg)
    return paths, options


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


def _run(parser: argparse.ArgumentParser, ours: argparse.Namespace, behave_args: list[str],
         children: Children) -> int:
    known = timings.load()
    phases: dict[str, float] = {}
    started = time.monotonic()
    if ours.jobs > 1 or ours.shard:
        paths, options = _positional(behave_args)
        features = split.feature_files(paths or ["features"])
        if ours.shard:
            try:
                number, total = split.parse_shard(ours.shard)
            except split.ShardError as exc:
                parser.error(str(exc))
            features = split.split(features, total, known)[number - 1]
        groups = split.split(features, max(1, ours.jobs), known)
        costs = split.costs(features, known)
        code = run_workers(groups, options,
                           expected=[sum(costs[f] for f in g) for g in groups] if known else [])
    else:
        code = run_behave(behave_args)
    phases["workers"] = time.monotonic() - started
    left = reaper.kill_run(reaper.run_marker(), grace=3.0)
    if left:
        print(f"stopped {left} process(es) the workers left behind", file=sys.stderr)
    phases["leftovers"] = time.monotonic() - started - sum(phases.values())
    reporting.merge_environments(RESULTS)
    fail_unclean_stops(RESULTS)
    counts = count_results(RESULTS)
    readable_labels(RESULTS)
    write_categories(RESULTS)
    phases["results"] = time.monotonic() - started - sum(phases.values())
    report_ok = ours.no_report or build_report()
    interrupted = children.signum
    if report_ok and ours.check_report and not ours.no_report and interrupted is None:
        report_ok = report_browser.main(["--report", str(REPORT / "index.html"),
                                         "--results", str(RESULTS)]) == 0
    phases["report"] = time.monotonic() - started - sum(phases.values())
    timings.save(timings.merged(known, timings.measured()), last_run={
        "workers": [w.describe() for w in _workers],
        "phases": {name: round(seconds, 2) for name, seconds in phases.items()}})
    if counts.executed == 0 and interrupted is None:
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
