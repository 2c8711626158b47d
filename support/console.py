"""The runner's live console: what each worker finishes, as it finishes, and a bar of the run.

Each worker writes its feed (``support.scenario_feed``) and its behave output (its log) to files
the runner reads as they grow (``Console.poll``, called while the runner waits for its workers):
nothing a worker writes ever waits for the runner, and the logs stay complete. The console shows

- one line per finished scenario: ``[w1] passed    3.2 s  Codex storage › Round trips › …``;
- the workers' ``[progress]`` lines (from the feed) and ``HOOK-ERROR`` lines (from the log),
  prefixed with the worker;
- a bar: scenarios done out of those selected, failures so far, time elapsed and left (from
  the last run's per-scenario times in ``reports/timings.json``, else this run's rate). On a
  terminal it is redrawn in place; elsewhere (a pipe, a log, ``CI=true``) a plain line is
  printed every ``PLAIN_EVERY`` scenarios or ``PLAIN_SECONDS`` seconds;
- at the end, each failure with the first lines of its error and its artifacts folder.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from support import timings
from support.timings import FeatureTime

PLAIN_EVERY = 10
PLAIN_SECONDS = 10.0
LOG_TAIL = 30  # lines of a worker's log shown when it failed with no failed scenario to show
_HOOK_ERROR = "HOOK-ERROR"  # a hook's failure, printed by behave or the suite to the log
_CLEAR = "\r\x1b[2K"
_RED, _GREEN, _YELLOW, _RESET = "\x1b[31m", "\x1b[32m", "\x1b[33m", "\x1b[0m"
_FAILED = ("failed", "error", "hook_error", "cleanup_error", "undefined", "pending")


def outcome(status: str) -> str:
    """A behave status as the counted line says it: passed, failed or skipped."""
    if status == "passed":
        return "passed"
    return "failed" if status in _FAILED else "skipped"


def is_live(stream: TextIO, environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the bar is redrawn in place: on a terminal, outside CI."""
    if environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
        return False
    if environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def clock(seconds: float) -> str:
    """``75.4`` → ``1:15``; an hour or more → ``1:02:03``."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def bar_text(done: int, total: int | None, failed: int, elapsed: float,
             left: float | None) -> str:
    """The bar's words: ``12/100 scenarios · 1 failed · 1:15 elapsed · about 2:10 left``."""
    parts = [f"{done}/{'?' if total is None else total} scenarios",
             f"{failed} failed" if failed else "none failed", f"{clock(elapsed)} elapsed"]
    if total is None or done < total:
        parts.append("time left not known yet" if left is None else f"about {clock(left)} left")
    return " · ".join(parts)


@dataclass(frozen=True)
class Finished:
    """One scenario a worker has finished (an event of its feed)."""

    worker: int
    feature: str
    title: str
    status: str
    seconds: float
    message: str | None = None
    artifacts: str | None = None

    @property
    def outcome(self) -> str:
        return outcome(self.status)


def failure_summary(failures: list[Finished]) -> list[str]:
    """The end-of-run lines: each failed scenario, why (first lines), where its files are."""
    if not failures:
        return []
    lines = [f"{len(failures)} scenario{'s' if len(failures) != 1 else ''} failed:"]
    for number, failed in enumerate(failures, 1):
        lines.append(f"{number}. {failed.title}  [w{failed.worker}, {failed.status}, "
                     f"{failed.seconds:.1f} s]")
        for text in (failed.message or "no message").splitlines():
            lines.append(f"     {text}")
        if failed.artifacts:
            lines.append(f"     artifacts: {timings.key(failed.artifacts)}")
    return lines


class Tail:
    """The complete lines appended to a file since the last call (the file may not exist yet)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._rest = b""

    def lines(self) -> list[str]:
        try:
            with self.path.open("rb") as handle:
                handle.seek(self._offset)
                chunk = handle.read()
        except OSError:  # not there yet (or gone): nothing new
            return []
        self._offset += len(chunk)
        *complete, self._rest = (self._rest + chunk).split(b"\n")
        return [line.decode("utf-8", "replace").rstrip("\r") for line in complete]


@dataclass
class WorkerView:
    """What the console knows of one worker."""

    number: int
    events: Tail
    log: Tail
    planned: dict[str, int] | None = None  # scenarios per feature, once the worker announced
    done: dict[str, int] = field(default_factory=dict)
    failed: int = 0
    ended: bool = False


class Console:
    """The live console of one run (see the module's documentation)."""

    def __init__(self, stream: TextIO | None = None, *, live: bool | None = None,
                 expected: Mapping[str, FeatureTime] | None = None,
                 now: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream or sys.stdout
        self.live = is_live(self.stream) if live is None else live
        self.expected = dict(expected or {})
        self.now = now
        self.started = now()
        self.workers: dict[int, WorkerView] = {}
        self.finished: list[Finished] = []
        self._bar_shown = ""  # the bar as last drawn on a terminal
        self._plain_at = (0, self.started)  # scenarios done and time at the last plain bar
        self._plain_bar = ""

    def add_worker(self, number: int, events: Path, log: Path) -> None:
        self.workers[number] = WorkerView(number, Tail(events), Tail(log))

    # -- what the run has done so far
    @property
    def total(self) -> int | None:
        if any(w.planned is None and not w.ended for w in self.workers.values()):
            return None
        return sum(sum((w.planned or {}).values()) for w in self.workers.values())

    @property
    def failures(self) -> list[Finished]:
        return [f for f in self.finished if f.outcome == "failed"]

    def time_left(self) -> float | None:
        """Seconds until the slowest worker is done: its scenarios still to run times their
        expected seconds each (the last run's for their feature, else this run's average)."""
        ran = [f.seconds for f in self.finished if f.outcome != "skipped"]
        rate = sum(ran) / len(ran) if ran else None
        slowest = 0.0
        for worker in self.workers.values():
            if worker.ended:
                continue
            if worker.planned is None:
                return None
            left = 0.0
            for feature, planned in worker.planned.items():
                remaining = max(0, planned - worker.done.get(feature, 0))
                known = self.expected.get(feature)
                each = known.per_scenario if known is not None and known.scenarios else rate
                if remaining and each is None:
                    return None
                left += remaining * (each or 0.0)
            slowest = max(slowest, left)
        return slowest

    def bar(self) -> str:
        text = bar_text(len(self.finished), self.total, len(self.failures),
                        self.now() - self.started, self.time_left())
        # On a terminal, a bar that wrapped could not be redrawn in place.
        return text[:shutil.get_terminal_size().columns - 1] if self.live else text

    # -- output
    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()

    def say(self, line: str) -> None:
        """A line above the bar (the bar is redrawn below it on a terminal)."""
        if self.live:
            self._bar_shown = self.bar()
            self._write(f"{_CLEAR}{line}\n{self._bar_shown}")
        else:
            self._write(f"{line}\n")

    def _color(self, status: str, text: str) -> str:
        if not self.live:
            return text
        color = {"passed": _GREEN, "failed": _RED}.get(outcome(status), _YELLOW)
        return f"{color}{text}{_RESET}"

    def poll(self) -> None:
        """Show what the workers wrote since the last call; redraw or print the bar."""
        for worker in self.workers.values():
            for line in worker.log.lines():
                if _HOOK_ERROR in line:
                    self.say(f"[w{worker.number}] {line[line.index(_HOOK_ERROR):]}")
            for line in worker.events.lines():
                self._event(worker, line)
        self._tick()

    def _event(self, worker: WorkerView, line: str) -> None:
        try:
            event = json.loads(line)
            self._show(worker, event if isinstance(event, dict) else {})
        except (ValueError, TypeError, AttributeError):  # a line the console cannot read: the
            return  # worker's log and the results have it all the same

    def _show(self, worker: WorkerView, event: dict[str, Any]) -> None:
        if event.get("event") == "progress":
            self.say(f"[w{worker.number}] [progress] {event.get('message', '')}")
        elif event.get("event") == "start":
            worker.planned = {str(k): int(v) for k, v in event.get("features", {}).items()}
        elif event.get("event") == "scenario":
            finished = Finished(worker.number, str(event.get("feature", "")),
                                str(event.get("title", "")), str(event.get("status", "")),
                                float(event.get("seconds", 0.0)), event.get("message"),
                                event.get("artifacts"))
            self.finished.append(finished)
            worker.done[finished.feature] = worker.done.get(finished.feature, 0) + 1
            worker.failed += finished.outcome == "failed"
            status = self._color(finished.status, f"{finished.outcome:<7}")
            self.say(f"[w{worker.number}] {status} {finished.seconds:6.1f} s  {finished.title}")

    def _tick(self) -> None:
        if self.live:
            if (bar := self.bar()) != self._bar_shown:  # about once a second (the clock)
                self._bar_shown = bar
                self._write(_CLEAR + bar)
            return
        done, at = self._plain_at
        now = self.now()
        if len(self.finished) >= done + PLAIN_EVERY or now - at >= PLAIN_SECONDS:
            self._plain_at = (len(self.finished), now)
            self._plain_bar = self.bar()
            self._write(f"-- {self._plain_bar}\n")

    def worker_ended(self, number: int, code: int, seconds: float, expected: float | None,
                     log: Path) -> None:
        """A worker's process has ended: say so; if it failed with no failed scenario to show
        for it (behave could not start, a hook outside the scenarios failed), the end of its log."""
        self.poll()
        worker = self.workers[number]
        worker.ended = True
        forecast = "" if expected is None else f" (expected {expected:.1f} s)"
        ran = sum(worker.done.values())
        self.say(f"[w{number}] worker ended in {seconds:.1f} s{forecast}: {ran} scenario"
                 f"{'s' if ran != 1 else ''}, exit code {code}; log: {log}")
        if code != 0 and not worker.failed:
            lines = log.read_text("utf-8", "replace").splitlines() if log.is_file() else []
            self.say(f"[w{number}] the last lines of {log}:")
            for text in lines[-LOG_TAIL:]:
                self.say(f"[w{number}] | {text}")

    def finish(self) -> None:
        """End the bar (left as a plain line) and print the failures."""
        if self._bar_shown:
            self._write(_CLEAR)
        if (bar := self.bar()) != self._plain_bar:
            self._write(f"-- {bar}\n")
        for line in failure_summary(self.failures):
            self._write(f"{line}\n")
