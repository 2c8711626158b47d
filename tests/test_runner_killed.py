"""The parallel runner (``python -m support.acceptance --jobs 2``) killed with SIGKILL, or stopped
with one or two Ctrl-Cs, at a random moment leaves no process and no port behind 10 s later, and
the next run passes. A Ctrl-C in a terminal stops the run in order, with the report written; one
that comes while the runner still starts ends it quietly.

The moments come from a seed, printed with every trial; ``DEBRIS_SEED=<seed>`` replays them.
"""

from __future__ import annotations

import fcntl
import os
import re
import signal
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import psutil
import pytest

from support.processes import debris
from support.processes.reaper import RUN_MARKER

SEED = debris.seed_from_environment()
# Two workers of several Codex nodes each; a kill falls while scenarios start and stop nodes.
WITHIN = (1.0, 8.0)


@pytest.mark.parametrize("kind", ["SIGKILL", "SIGINT", "SIGINT twice", "SIGTERM"])
def test_parallel_run_killed_or_interrupted_leaves_nothing_behind(tmp_path: Path,
                                                                   kind: str) -> None:
    index = debris.KINDS.index(kind)
    plan = debris.plans(SEED + index, 1, WITHIN, kinds=[kind])[0]
    replay = f"{debris.SEED_VARIABLE}={SEED} ({plan.describe()})"
    print(f"seed: {replay}")
    outcome = debris.trial(plan, tmp_path)
    print(outcome.line())
    assert outcome.signalled, f"the run ended before the moment came; replay: {replay}"
    assert outcome.stopped_within is not None, f"the runner did not stop; replay: {replay}"
    if kind != "SIGKILL":
        name = "SIGTERM" if kind == "SIGTERM" else "SIGINT"
        assert outcome.runner_code == 128 + signal.Signals[name], \
            f"{outcome.output}\nreplay: {replay}"
        assert f"interrupted by {name}" in outcome.output or "interrupted again" in \
            outcome.output, f"{outcome.output}\nreplay: {replay}"
    assert outcome.recorded_processes > 0, f"no process of the run was seen; replay: {replay}"
    assert not outcome.processes_left, \
        f"left 10 s after {plan.describe()}: {outcome.processes_left}; replay: {replay}"
    assert not outcome.ports_left, \
        f"ports held 10 s after {plan.describe()}: {outcome.ports_left}; replay: {replay}"
    assert outcome.next_run_code == 0, \
        f"the run after the interrupted one failed ({tmp_path / 'next-run.log'}); replay: {replay}"


@pytest.mark.parametrize("name", ["SIGINT", "SIGTERM"])
def test_a_stop_while_the_runner_starts_up_ends_it_without_a_traceback(tmp_path: Path,
                                                                        name: str) -> None:
    folder = debris.prepare(tmp_path)
    runner = subprocess.Popen(
        [sys.executable, "-X", "importtime", "-m", "support.acceptance", "--no-report",
         str(debris.ROOT / debris.NEXT_FEATURES[0])],
        cwd=folder, env={**os.environ, "PYTHONPATH": str(debris.ROOT)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert runner.stderr is not None
    # -X importtime reports each module once loaded: argparse is the runner's first import after
    # its early stop, and the modules behind it (the report, the launcher, protobuf) are where a
    # slow start-up used to turn a Ctrl-C into a traceback.
    while not (line := runner.stderr.readline()).rstrip().endswith("| argparse") and line:
        pass
    runner.send_signal(signal.Signals[name])
    out, err = runner.communicate(timeout=60)
    assert "Traceback" not in err, f"a {name} during start-up gave a traceback:\n{err[-3000:]}"
    assert runner.returncode == 128 + signal.Signals[name], \
        f"the runner exited with {runner.returncode} after a {name} during start-up:\n{out}{err}"
    assert f"interrupted by {name}" in err, err[-3000:]


def _take_terminal() -> None:
    """In the child: make the pty on stdin the controlling terminal of its new session."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def test_ctrl_c_in_a_terminal_stops_the_run_in_order_with_the_report(tmp_path: Path) -> None:
    grace = 15.0
    folder = debris.prepare(tmp_path)
    master, slave = os.openpty()
    output = bytearray()

    def drain() -> None:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the terminal's other side is closed
                return
            if not chunk:
                return
            output.extend(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    started = time.time()
    try:
        runner = debris.start_runner(
            folder, debris.DEFAULT_FEATURES, "--stop-grace", str(grace),
            stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
            preexec_fn=_take_terminal)
    finally:
        os.close(slave)
    reader.start()
    watch = debris.RunWatch(runner.pid)
    try:
        deadline = time.monotonic() + 60
        # Both workers are under way: each has a Codex node up.
        while len({_worker_of(proc) for proc in watch.scan()
                   if "emulators.codex" in debris.command_of(proc)} - {None}) < 2:
            assert runner.poll() is None, "the run ended before its scenarios were under way"
            assert time.monotonic() < deadline, "no node of either worker came up within 60 s"
            time.sleep(0.1)
        os.write(master, b"\x03")  # Ctrl-C, as typed: the terminal signals its foreground group
        typed = time.monotonic()
        code = runner.wait(timeout=grace + 30)
        took = time.monotonic() - typed
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
        reader.join(timeout=10)
        os.close(master)
    text = output.decode("utf-8", "replace")
    assert code == 130, f"exit code {code}:\n{text}"
    assert "interrupted by SIGINT" in text, text
    assert took < grace + 30, f"stopped {took:.1f} s after the Ctrl-C"
    report = folder / "allure-report" / "index.html"
    assert report.exists() and report.stat().st_mtime >= started, f"no report:\n{text}"
    for log in sorted((folder / "reports" / "workers").glob("worker-*.log")):
        worker = log.read_text("utf-8", "replace")
        # One orderly stop per worker: the runner passed one SIGINT on, the terminal's own
        # went to the runner alone (a second one would have killed the worker at once).
        assert len(re.findall(r"SIGINT: stopping", worker)) == 1, f"{log}:\n{worker}"
        assert "ABORTED" in worker, f"{log}:\n{worker}"
    left, held = debris.settled(watch, 10.0)
    assert not left, [debris.describe(proc) for proc in left]
    assert not held, held


def _worker_of(proc: psutil.Process) -> str | None:
    """The run marker of the worker that started a process (its nearest runner)."""
    try:
        return proc.environ().get(RUN_MARKER)
    except psutil.Error:
        return None
