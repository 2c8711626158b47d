"""Debris trials: start the parallel runner, kill or interrupt it at a random moment, and count the
processes and ports its run left behind (used by ``tests/test_runner_killed.py`` and
``bench/debris_check.py``).

A trial runs ``python -m support.acceptance --jobs 2`` in a scratch folder (its own ``behave.ini``
copy, results and artifacts; behave finds steps and hooks by walking up from the feature paths).
While it runs, every process of the run is recorded: the runner's descendants, every process whose
run markers name the runner or one of its workers, and the watchdogs of those runners, together
with the ports they listen on or hold a reservation for. Then the trial sends its signal(s) and,
once the runner is gone (or stopped waiting for it), waits at most ``settle`` seconds for all of
them to go. What is still there then is debris. Last, a fresh run of ``next_features`` must pass.

The seed decides every choice (signal, moment, the gap between two Ctrl-Cs); ``DEBRIS_SEED`` sets
it, so that a failing trial can be replayed.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from support.processes import ports
from support.processes.reaper import LINEAGE, RUN_MARKER
from support.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]
SEED_VARIABLE = "DEBRIS_SEED"
# What a trial does to the runner: SIGKILL; one SIGINT (a Ctrl-C); SIGINT twice (stop at once).
KINDS = ("SIGKILL", "SIGINT", "SIGINT twice", "SIGTERM")
DEFAULT_FEATURES = ("features/codex/network.feature", "features/codex/network_failures.feature")
NEXT_FEATURES = ("features/codex/space.feature", "features/codex/resilience.feature")


def seed_from_environment() -> int:
    """``DEBRIS_SEED`` if set, else a fresh seed (print it: it replays the trials)."""
    text = os.environ.get(SEED_VARIABLE, "").strip()
    return int(text) if text else random.SystemRandom().randrange(1, 10**9)


@dataclass(frozen=True)
class Plan:
    """One trial: what is sent, when (seconds after the runner started its first process: on a
    busy machine the runner's own start-up can take seconds) and, for two Ctrl-Cs, the gap
    between them."""

    kind: str
    at: float
    gap: float = 0.0

    def describe(self) -> str:
        gap = f", again {self.gap:.2f} s later" if self.kind == "SIGINT twice" else ""
        return f"{self.kind} at {self.at:.2f} s{gap}"


def plans(seed: int, trials: int, within: tuple[float, float],
          kinds: Sequence[str] = KINDS) -> list[Plan]:
    """The trials a seed stands for (the same seed, the same trials)."""
    rng = random.Random(seed)
    return [Plan(rng.choice(list(kinds)), round(rng.uniform(*within), 2),
                 round(rng.uniform(0.05, 1.5), 2)) for _ in range(trials)]


@dataclass
class Outcome:
    plan: Plan
    signalled: bool  # False: the run had ended before the moment came
    runner_code: int | None
    stopped_within: float | None  # seconds from the (first) signal to the runner's exit
    processes_left: list[str] = field(default_factory=list)
    ports_left: list[int] = field(default_factory=list)
    recorded_processes: int = 0
    recorded_ports: int = 0
    next_run_code: int | None = None
    output: str = ""

    @property
    def clean(self) -> bool:
        return not self.processes_left and not self.ports_left and self.next_run_code == 0

    def line(self) -> str:
        stopped = "did not stop" if self.stopped_within is None else \
            f"exited {self.runner_code} after {self.stopped_within:.1f} s"
        return (f"{self.plan.describe()}: {stopped}; watched {self.recorded_processes} processes "
                f"and {self.recorded_ports} ports; left {len(self.processes_left)} processes, "
                f"{len(self.ports_left)} ports; next run exited {self.next_run_code}")


def prepare(folder: Path) -> Path:
    """A scratch working folder for runner runs: behave.ini and the Allure CLI."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "behave.ini", folder / "behave.ini")
    modules = folder / "node_modules"
    if not modules.exists() and (ROOT / "node_modules").exists():
        modules.symlink_to(ROOT / "node_modules")
    return folder


def start_runner(folder: Path, features: Sequence[str], *extra: str,
                 **popen: Any) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "support.acceptance", "--jobs", "2", *extra,
            *(str(ROOT / feature) for feature in features)]
    popen.setdefault("stderr", subprocess.STDOUT)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if "stdout" in popen:
        return subprocess.Popen(argv, cwd=folder, env=env, **popen)
    with open(folder / "runner.log", "ab") as log:
        return subprocess.Popen(argv, cwd=folder, env=env, stdout=log, **popen)


class RunWatch:
    """Everything a runner's run has started so far (see the module's documentation)."""

    def __init__(self, runner_pid: int) -> None:
        self.runner = psutil.Process(runner_pid)
        self.pid = runner_pid
        self.prefix = f"{runner_pid}:{self.runner.create_time():.2f}:"
        self.processes: dict[int, psutil.Process] = {}
        self.markers: set[str] = set()
        self.ports: set[int] = set()

    def _ours(self, proc: psutil.Process) -> bool:
        """Whether the process carries the run's markers (noting them), or is the watchdog of
        one of the run's runners (known once one of the process it started has been seen)."""
        try:
            env = proc.environ()
            cmdline = proc.cmdline()
        except (psutil.Error, OSError):
            return False
        markers = [*env.get(LINEAGE, "").split(), *env.get(RUN_MARKER, "").split()]
        if any(marker.startswith(self.prefix) for marker in markers):
            self.markers.update(markers)
            return True
        return len(cmdline) > 1 and "support.processes.watchdog" in cmdline and \
            (cmdline[-1] in self.markers or cmdline[-1].startswith(self.prefix))

    def scan(self) -> list[psutil.Process]:
        """Record the run's processes now alive (and their ports); returns them."""
        found: dict[int, psutil.Process] = {}
        # What the runner and every recorded process (a worker orphaned by an old-style kill)
        # started, markers or not.
        for parent in [self.runner, *self.processes.values()]:
            with contextlib.suppress(psutil.Error):
                if _alive(parent):
                    found.update((child.pid, child) for child in parent.children(recursive=True))
        candidates = list(psutil.process_iter())
        for proc in candidates:  # markers first, then watchdogs (which need the markers)
            if proc.pid not in found and self._ours(proc):
                found[proc.pid] = proc
        for proc in candidates:
            if proc.pid not in found and self._ours(proc):
                found[proc.pid] = proc
        alive = [proc for proc in found.values() if _alive(proc)]
        for proc in alive:
            self.processes.setdefault(proc.pid, proc)
            with contextlib.suppress(psutil.Error, OSError):
                self.ports.update(c.laddr.port for c in proc.net_connections(kind="inet")
                                  if c.status == psutil.CONN_LISTEN)
        self.ports.update(_reserved_by({proc.pid for proc in alive}))
        return alive

    def left(self) -> list[psutil.Process]:
        """The run's processes still alive: recorded ones and any new one carrying its markers."""
        alive = {proc.pid: proc for proc in self.processes.values() if _alive(proc)}
        alive.update((proc.pid, proc) for proc in self.scan())
        return list(alive.values())

    def ports_held(self) -> list[int]:
        return sorted(port for port in self.ports if not port_is_free(port))


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _reserved_by(pids: set[int]) -> set[int]:
    """The ports whose reservation lock (``ports._LOCK_DIR``) one of ``pids`` holds."""
    inodes: dict[int, int] = {}
    with contextlib.suppress(OSError):
        for lock in ports._LOCK_DIR.glob("*.lock"):
            with contextlib.suppress(OSError, ValueError):
                inodes[lock.stat().st_ino] = int(lock.stem)
    found = set()
    with contextlib.suppress(OSError):
        for line in Path("/proc/locks").read_text().splitlines():
            fields = line.split()
            if len(fields) > 5 and fields[1] == "FLOCK" and fields[4].isdigit() \
                    and int(fields[4]) in pids:
                inode = int(fields[5].rsplit(":", 1)[-1])
                if inode in inodes:
                    found.add(inodes[inode])
    return found


def port_is_free(port: int) -> bool:
    """Nothing listens on the port and nobody holds its reservation."""
    with socket.socket() as probe:
        probe.settimeout(1.0)
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            return False
    lock = os.open(ports._LOCK_DIR / f"{port}.lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(lock)


def command_of(proc: psutil.Process) -> str:
    """The process's command line ("" once it is gone)."""
    try:
        return " ".join(proc.cmdline())
    except (psutil.Error, OSError):
        return ""


def describe(proc: psutil.Process) -> str:
    return f"pid {proc.pid}: {command_of(proc)[:160]}"


def _wait_for(runner: subprocess.Popen[bytes], watch: RunWatch, until: float) -> int | None:
    """Wait for the runner to exit until ``until`` (monotonic), recording its processes."""
    while True:
        try:
            return runner.wait(timeout=max(0.0, min(0.2, until - time.monotonic())))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(psutil.Error):
                watch.scan()
            if time.monotonic() >= until:
                return None


def _wait_for_first_process(runner: subprocess.Popen[bytes], watch: RunWatch,
                            until: float) -> int | None:
    """Wait until the runner has started a process of its run (or has exited: its code)."""
    while not watch.processes:
        code = _wait_for(runner, watch, min(until, time.monotonic() + 0.05))
        if code is not None or time.monotonic() >= until:
            return code
    return None


def trial(plan: Plan, folder: Path, *, features: Sequence[str] = DEFAULT_FEATURES,
          next_features: Sequence[str] = NEXT_FEATURES, stop_within: float = 45.0,
          settle: float = 10.0, extra: Sequence[str] = ("--no-report",)) -> Outcome:
    """Run one trial (see the module's documentation) in ``folder``."""
    prepare(folder)
    (folder / "runner.log").unlink(missing_ok=True)
    runner = start_runner(folder, features, *extra)
    watch = RunWatch(runner.pid)
    code = None
    stopped_within = signalled_at = None
    try:
        code = _wait_for_first_process(runner, watch, time.monotonic() + stop_within)
        if code is None:
            code = _wait_for(runner, watch, time.monotonic() + plan.at)
        signalled = time.monotonic()
        if code is None:
            signalled_at = signalled
            watch.scan()
            first = signal.SIGKILL if plan.kind == "SIGKILL" else \
                signal.SIGTERM if plan.kind == "SIGTERM" else signal.SIGINT
            runner.send_signal(first)
            if plan.kind == "SIGINT twice":
                # No scan in the gap: on a busy machine one can take longer than the gap itself.
                with contextlib.suppress(subprocess.TimeoutExpired):
                    code = runner.wait(timeout=plan.gap)
                if code is None:
                    runner.send_signal(signal.SIGINT)
            if code is None:
                code = _wait_for(runner, watch, signalled + stop_within)
        if code is not None:
            stopped_within = time.monotonic() - signalled
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
    left, held = settled(watch, settle)
    outcome = Outcome(plan, signalled_at is not None, code, stopped_within,
                      [describe(proc) for proc in left], held, len(watch.processes),
                      len(watch.ports),
                      output=(folder / "runner.log").read_text("utf-8", "replace"))
    for proc in left:  # do not let debris spoil the next trial
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(left, timeout=5)
    outcome.next_run_code = next_run(folder, next_features)
    return outcome


def settled(watch: RunWatch, settle: float) -> tuple[list[psutil.Process], list[int]]:
    """Wait (at most ``settle`` seconds) until none of the run's processes and ports is left;
    returns what is left then."""

    def nothing_left() -> None:
        assert not watch.left() and not watch.ports_held()

    with contextlib.suppress(AssertionError):
        eventually(nothing_left, settle, interval=0.05)
    return watch.left(), watch.ports_held()


def next_run(folder: Path, features: Sequence[str], timeout: float = 180.0) -> int | None:
    """A plain ``--jobs 2`` run right after a trial; its exit code (None: it did not end)."""
    log = folder / "next-run.log"
    with open(log, "wb") as out:
        run = start_runner(folder, features, "--no-report", stdout=out)
        try:
            return run.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            run.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                run.wait(timeout=60)
            return None
        finally:
            if run.poll() is None:
                run.kill()
                run.wait()
