"""The checks made on every process the suite stops: its exit code and its log, with real
processes; a process the scenario killed on purpose is not held to its exit code."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from support.processes.checks import (
    GO_PANIC,
    NIM_ERROR,
    NIM_FATAL,
    PYTHON_TRACEBACK,
    exit_problem,
    stop_and_check,
)
from support.processes.launcher import ManagedProcess, ProcessSpec
from support.processes.readiness import LogLine

ALL = NIM_ERROR + GO_PANIC + PYTHON_TRACEBACK


def process(tmp_path: Path, code: str, name: str = "probe") -> ManagedProcess:
    """A started Python process running ``code`` that says ``ready`` once it has set up."""
    spec = ProcessSpec(name=name, argv=[sys.executable, "-u", "-c", textwrap.dedent(code)],
                       cwd=tmp_path, env=dict(os.environ), log_path=tmp_path / f"{name}.log",
                       readiness=LogLine("ready"), ready_within=20.0, stop_grace=5.0)
    return ManagedProcess(spec).start()


SERVES = """
    import signal, sys, time
    signal.signal(signal.SIGTERM, lambda *_: sys.exit({code}))
    print({line!r})
    print("ready")
    while True:
        time.sleep(0.1)
"""


def write_log(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "some.log"
    path.write_text(textwrap.dedent(text))
    return path


def test_the_scan_names_the_exception_a_traceback_ends_with(tmp_path: Path) -> None:
    path = write_log(tmp_path, """\
        INF 2026-01-01 started
        Traceback (most recent call last):
          File "x.py", line 1, in <module>
            boom()
        ValueError: the ledger is gone
        """)
    assert ALL.first_offence(path) == "a Python traceback: ValueError: the ledger is gone"


def test_the_scan_finds_go_panics_and_nim_errors_but_not_warnings(tmp_path: Path) -> None:
    panic = write_log(tmp_path, "[INFO] up\npanic: runtime error: nil map\n\n"
                                "goroutine 1 [running]:\n")
    assert GO_PANIC.first_offence(panic) == "a Go panic: panic: runtime error: nil map"
    err = write_log(tmp_path, "WRN 2026 Block retries exhausted\nERR 2026 Block store failed\n")
    assert NIM_ERROR.first_offence(err) == "a nim-codex ERR line: ERR 2026 Block store failed"
    calm = write_log(tmp_path, 'WRN 2026 Download cut short error="Error retries exhausted"\n'
                               "[WARN] [Gate] stream ended: UNAVAILABLE\n")
    assert ALL.first_offence(calm) is None


def test_where_errors_were_provoked_only_fatal_lines_count(tmp_path: Path) -> None:
    path = write_log(tmp_path, "ERR 2026 peer vanished\nFAT 2026 repo gone\n")
    assert NIM_FATAL.first_offence(path) == "a nim-codex FATAL line: FAT 2026 repo gone"
    victim = process(tmp_path, SERVES.format(code=0, line="INF 2026 hello"), name="frozen")
    assert not victim.disturbed
    victim.pause()
    assert victim.disturbed  # the scenario froze it: its peers' errors are provoked
    assert stop_and_check(victim, ALL) == []  # stop thaws it, and it ends cleanly


def test_the_scan_reads_only_from_where_the_scenario_began(tmp_path: Path) -> None:
    path = write_log(tmp_path, "ERR 2026 an earlier scenario's trouble\nINF 2026 fine\n")
    assert NIM_ERROR.first_offence(path, since=len(path.read_bytes().splitlines(True)[0])) is None


def test_a_clean_stop_passes_and_an_unclean_one_names_the_process(tmp_path: Path) -> None:
    clean = process(tmp_path, SERVES.format(code=0, line="INF 2026 hello"), name="calm")
    assert stop_and_check(clean, ALL) == []
    unclean = process(tmp_path, SERVES.format(code=3, line="INF 2026 hello"), name="grumpy")
    assert stop_and_check(unclean, ALL) == ["grumpy exited with code 3"]
    assert "### " in unclean.log_path.read_text().splitlines()[-1]  # how it ended, for evidence


def test_an_offending_log_line_fails_the_check(tmp_path: Path) -> None:
    noisy = process(tmp_path, SERVES.format(code=0, line="ERR 2026 repo corrupt"), name="noisy")
    [problem] = stop_and_check(noisy, ALL)
    assert problem.startswith("noisy logged a nim-codex ERR line: ERR 2026 repo corrupt")


def test_a_kill_on_purpose_is_no_unclean_exit_but_a_crash_is(tmp_path: Path) -> None:
    victim = process(tmp_path, SERVES.format(code=0, line="INF 2026 hello"), name="victim")
    assert victim.kill() == -9
    assert stop_and_check(victim, ALL) == []
    victim.start()  # started again: the new process is held to its exit code
    assert victim.stop() == 0 and exit_problem(victim) is None
    crash = process(tmp_path, """
        import os, signal, time
        print("ready")
        time.sleep(0.3)
        os.kill(os.getpid(), signal.SIGKILL)
    """, name="crash")
    deadline = time.monotonic() + 10
    while crash.is_running() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stop_and_check(crash, ALL) == ["crash was killed by signal 9"]


def test_every_unclean_stop_counts_not_only_the_last(tmp_path: Path) -> None:
    flaky = process(tmp_path, SERVES.format(code=2, line="INF 2026 hello"), name="flaky")
    flaky.stop()
    flaky.start()
    assert flaky.stop() == 2
    assert flaky.exits == [2, 2]
    assert exit_problem(flaky) == "flaky exited with code 2"
    assert exit_problem(flaky, clean=(0, 2)) is None


ROOT = Path(__file__).resolve().parent.parent


def test_a_scenario_whose_node_logs_an_error_fails_and_names_the_line(tmp_path: Path) -> None:
    """End to end through behave: a Codex 'binary' (the emulator behind a script) that logs an
    ERR line fails the scenario that used it, though every step passed."""
    binary = tmp_path / "codex"
    binary.write_text(f"#!{sys.executable}\n" + textwrap.dedent("""\
        import runpy, sys
        print("ERR 2026-12-01 injected by the test  topics=test", flush=True)
        runpy.run_module("emulators.codex", run_name="__main__")
        """))
    binary.chmod(0o755)
    run = subprocess.run(
        [sys.executable, "-m", "behave", str(ROOT / "features/codex/round_trip.feature:22"),
         "--no-junit", "--no-capture", "-f", "progress", "-D", f"codex_binary={binary}",
         "-D", f"artifacts_dir={tmp_path / 'artifacts'}"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
        text=True, timeout=300, check=False)
    output = run.stdout + run.stderr
    assert run.returncode != 0, output[-4000:]
    assert "5 steps passed, 0 failed" in output, output[-4000:]
    assert ("Codex node A logged a nim-codex ERR line: ERR 2026-12-01 injected by the test"
            in output), output[-4000:]
