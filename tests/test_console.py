"""The runner's live console: scenario lines as they finish, the bar on a terminal and in CI,
the end-of-run failures, and a real parallel run that speaks within seconds of behave starting."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from behave.formatter.base import StreamOpener

from support import console, progress, scenario_feed
from support.config import load_settings
from support.processes import debris
from support.timings import FeatureTime

SCENARIO_LINE = re.compile(r"^\[w\d+\] (passed|failed|skipped) +\d+\.\d s  \S")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _event(**fields: object) -> str:
    return json.dumps(fields) + "\n"


def _scenario(feature: str, title: str, status: str = "passed", seconds: float = 2.0,
              **more: object) -> str:
    return _event(event="scenario", feature=feature, title=title, status=status,
                  seconds=seconds, **more)


def _console(tmp_path: Path, *, live: bool, expected: dict[str, FeatureTime] | None = None
             ) -> tuple[console.Console, io.StringIO, Clock, list[Path]]:
    out, clock = io.StringIO(), Clock()
    shown = console.Console(out, live=live, expected=expected, now=clock)
    files = []
    for number in (1, 2):
        events, log = tmp_path / f"w{number}.events", tmp_path / f"w{number}.log"
        events.write_text("")
        log.write_text("")
        shown.add_worker(number, events, log)
        files += [events, log]
    return shown, out, clock, files


def _append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(text)


def test_a_scenario_line_and_a_progress_line_appear_as_the_worker_writes_them(
        tmp_path: Path) -> None:
    shown, out, _clock, (events1, log1, events2, _log2) = _console(tmp_path, live=False)
    _append(events1, _event(event="start", features={"a.feature": 2}))
    _append(events2, _event(event="start", features={"b.feature": 1}))
    _append(events1, _event(event="progress", message="upload to node A: 200 MiB in 0.8 s"))
    _append(log1, "features/a.feature  .HOOK-ERROR in after_scenario: the node hung\n")
    _append(events1, _scenario("a.feature", "Codex storage › Round trips › Alice uploads",
                               seconds=3.24))
    _append(events2, '{"event": "scenario", "feature"')  # half a line: not yet
    shown.poll()
    lines = out.getvalue().splitlines()
    assert "[w1] [progress] upload to node A: 200 MiB in 0.8 s" in lines
    assert "[w1] HOOK-ERROR in after_scenario: the node hung" in lines
    assert "[w1] passed     3.2 s  Codex storage › Round trips › Alice uploads" in lines
    assert shown.total == 3 and len(shown.finished) == 1


def test_on_a_terminal_the_bar_is_redrawn_in_place(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    shown, out, clock, (events1, _log1, events2, _log2) = _console(tmp_path, live=True)
    _append(events1, _event(event="start", features={"a.feature": 2}))
    _append(events2, _event(event="start", features={"b.feature": 2}))
    _append(events1, _scenario("a.feature", "A › one", status="failed", seconds=4.0))
    shown.poll()
    clock.now += 1.0
    shown.poll()
    text = out.getvalue()
    assert "\n" not in text.rsplit("\x1b[2K", 1)[-1], "the bar ends no line"
    assert text.endswith("\r\x1b[2K1/4 scenarios · 1 failed · 0:01 elapsed · about 0:08 left")
    assert "\r\x1b[2K[w1] \x1b[31mfailed \x1b[0m    4.0 s  A › one\n" in text


def test_on_a_narrow_terminal_the_bar_is_cut_to_fit(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "30")
    shown, out, _clock, _files = _console(tmp_path, live=True)
    shown.poll()
    assert out.getvalue() == "\r\x1b[2K0/? scenarios · none failed ·"


def test_in_ci_the_bar_is_a_plain_line_now_and_then(tmp_path: Path) -> None:
    shown, out, clock, (events1, _log1, events2, _log2) = _console(tmp_path, live=False)
    _append(events1, _event(event="start", features={"a.feature": 30}))
    _append(events2, _event(event="start", features={}))
    shown.poll()
    clock.now += 3
    for index in range(console.PLAIN_EVERY):
        _append(events1, _scenario("a.feature", f"A › {index}", seconds=0.3))
    shown.poll()  # ten scenarios: a bar line
    clock.now += 1
    shown.poll()  # nothing new and only a second later: none
    clock.now += console.PLAIN_SECONDS
    shown.poll()  # ten seconds later: one again
    bars = [line for line in out.getvalue().splitlines() if line.startswith("-- ")]
    assert bars == ["-- 10/30 scenarios · none failed · 0:03 elapsed · about 0:06 left",
                    "-- 10/30 scenarios · none failed · 0:14 elapsed · about 0:06 left"]
    assert "\r" not in out.getvalue() and "\x1b" not in out.getvalue()


def test_the_bar_reads_as_words() -> None:
    assert console.bar_text(12, 100, 0, 75.4, 3725.0) == \
        "12/100 scenarios · none failed · 1:15 elapsed · about 1:02:05 left"
    assert console.bar_text(100, 100, 2, 601.0, 0.0) == \
        "100/100 scenarios · 2 failed · 10:01 elapsed"
    assert console.bar_text(0, None, 0, 1.0, None) == \
        "0/? scenarios · none failed · 0:01 elapsed · time left not known yet"


def test_ci_or_a_pipe_is_never_live() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert console.is_live(Terminal(), {})
    assert not console.is_live(Terminal(), {"CI": "true"})
    assert not console.is_live(io.StringIO(), {})


def test_time_left_comes_from_the_last_run_then_from_this_runs_rate(tmp_path: Path) -> None:
    known = {"a.feature": FeatureTime(seconds=30.0, steps=20.0, scenarios=3)}
    shown, _out, _clock, (events1, _log1, events2, _log2) = _console(
        tmp_path, live=False, expected=known)
    _append(events1, _event(event="start", features={"a.feature": 3}))
    _append(events2, _event(event="start", features={"b.feature": 4}))
    shown.poll()
    assert shown.time_left() is None  # nothing known of b.feature yet
    _append(events2, _scenario("b.feature", "B › one", seconds=5.0))
    shown.poll()
    # worker 1: 3 left × 10 s (last run); worker 2: 3 left × 5 s (this run's average)
    assert shown.time_left() == 30.0


def test_the_end_of_the_run_names_each_failure_with_its_message_and_artifacts(
        tmp_path: Path) -> None:
    shown, out, _clock, (events1, log1, events2, _log2) = _console(tmp_path, live=False)
    folder = tmp_path / "artifacts" / "run" / "space" / "a-three-block-file"
    _append(events1, _event(event="start", features={"a.feature": 2}))
    _append(events1, _scenario(
        "a.feature", "Codex storage › Storage accounting › A three-block file", "failed", 4.12,
        message="Then node A's storage grew by 3 blocks\nnode A's storage grew by 4 blocks; "
                "expected 3", artifacts=str(folder)))
    _append(events1, _scenario("a.feature", "Codex storage › Storage accounting › Empty",
                               seconds=1.0))
    shown.poll()
    _append(log1, "Traceback (most recent call last):\nBoom\n")
    shown.worker_ended(1, 1, 9.5, 8.0, log1)  # its failure is shown: not its log
    _append(events2, "")
    shown.worker_ended(2, 2, 1.0, None, tmp_path / "w2.log")
    shown.finish()
    text = out.getvalue()
    assert "[w1] worker ended in 9.5 s (expected 8.0 s): 2 scenarios, exit code 1" in text
    assert "Boom" not in text
    assert "[w2] the last lines of" in text  # failed with nothing to show for it
    summary = text.split("-- 2/2 scenarios · 1 failed", 1)[1].splitlines()[1:]
    assert summary == [
        "1 scenario failed:",
        "1. Codex storage › Storage accounting › A three-block file  [w1, failed, 4.1 s]",
        "     Then node A's storage grew by 3 blocks",
        "     node A's storage grew by 4 blocks; expected 3",
        f"     artifacts: {folder}",
    ]


def test_the_summary_says_nothing_when_nothing_failed() -> None:
    assert console.failure_summary([]) == []


def test_a_chosen_formatter_replaces_the_progress_one_in_the_worker_log(tmp_path: Path) -> None:
    events = tmp_path / "w.events"
    assert scenario_feed.behave_args(events) == [
        "-f", scenario_feed.FORMAT, "-o", str(events), "-f", "progress", "-o", "-"]
    assert scenario_feed.behave_args(events, ["--format=pretty"]) == [
        "-f", scenario_feed.FORMAT, "-o", str(events)]


@pytest.mark.parametrize("jobs", ["2", "1"])
def test_a_run_prints_its_first_scenario_line_within_seconds(tmp_path: Path, jobs: str) -> None:
    """The default mode (two workers), and one behave: the first scenario line comes while the
    workers still run, seconds after the run began, not when a worker ends."""
    multiplier = load_settings({}).timeout_multiplier
    folder = debris.prepare(tmp_path)
    features = ["features/codex/command_line.feature", "features/codex/round_trip.feature"]
    started = time.monotonic()
    runner = subprocess.Popen(
        [sys.executable, "-m", "support.acceptance", "--no-report", "--jobs", jobs,
         *(str(debris.ROOT / feature) for feature in features)],
        cwd=folder, env={**os.environ, "PYTHONPATH": str(debris.ROOT), "CI": "true"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen: list[tuple[float, str]] = []

    def read() -> None:
        assert runner.stdout is not None
        for line in runner.stdout:
            seen.append((time.monotonic() - started, line.rstrip("\n")))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        code = runner.wait(timeout=180 * multiplier)
    finally:
        if runner.poll() is None:
            runner.kill()
        reader.join(timeout=10)
    output = "\n".join(line for _at, line in seen)
    assert code in (0, 1), output  # what the scenarios find is not this test's business
    first = next((at for at, line in seen if SCENARIO_LINE.match(line)), None)
    ended = next((at for at, line in seen if " worker ended in " in line), None)
    assert first is not None and ended is not None, output
    # Start-up (imports, behave, the first Codex node) and one short scenario.
    assert first < 20 * multiplier, f"the first scenario line came {first:.1f} s in:\n{output}"
    assert first < ended, f"nothing was shown before a worker ended:\n{output}"
    scenarios = [line for _at, line in seen if SCENARIO_LINE.match(line)]
    assert len(scenarios) == 11, output  # 4 + 7, each once
    assert re.fullmatch(r"scenarios: \d+ passed, \d+ failed, 0 skipped", seen[-1][1]), output


def test_a_workers_progress_lines_go_to_its_feed_in_their_place(tmp_path: Path) -> None:
    events = tmp_path / "w.events"
    feed = scenario_feed.ScenarioFeed(StreamOpener(str(events)), config=None)
    progress.note("chat cluster of 2 server(s) ready in 1.2 s")
    feed.close()
    progress.note("after the feed closed")  # a closed feed no longer listens
    assert [json.loads(line) for line in events.read_text().splitlines()] == [
        {"event": "progress", "message": "chat cluster of 2 server(s) ready in 1.2 s"}]
