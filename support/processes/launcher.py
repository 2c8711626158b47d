"""The one launcher for every process the suite starts (emulators, real binaries, etcd, …).

Each process gets an explicit argv, environment and working directory, its own log file (stdout
and stderr), a readiness check with a deadline, and is stopped SIGTERM-then-SIGKILL together with
its whole tree. See ``reaper`` for how nothing survives the runner.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import psutil

from support.processes import reaper
from support.processes.readiness import NotReadyError, ProcessOutput, Readiness

# Readiness probes go 20 ms apart for the first second (where the emulated processes become
# ready: a probe costs a connection attempt, a longer pause only makes the start look slower than
# it was), then 0.1 s apart.
_POLL_FAST, _POLL_FAST_FOR, _POLL_SLOW = 0.02, 1.0, 0.1


class ProcessStartError(RuntimeError):
    """A process died or did not become ready in time; the message carries its log tail."""

    def __init__(self, name: str, problem: str, log_path: Path, tail: str) -> None:
        super().__init__(f"{name} {problem}\n--- last lines of {log_path} ---\n{tail}")
        self.name = name
        self.log_path = log_path


@dataclass(frozen=True)
class ProcessSpec:
    """Everything needed to start one process."""

    name: str
    argv: Sequence[str]
    cwd: Path
    env: Mapping[str, str]
    log_path: Path
    readiness: Readiness | None = None
    ready_within: float = 30.0
    stop_grace: float = 5.0


def tail_of(path: Path, lines: int = 40, since: int = 0) -> str:
    """The last ``lines`` lines of a log file, written at byte ``since`` or later (empty if there
    is no file)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            start = max(since, handle.tell() - 64 * 1024)
            handle.seek(start)
            text = handle.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""
    found = text.splitlines()
    if start > since and found:
        found = found[1:]  # the first line read may be cut
    return "\n".join(found[-lines:])


class ProcessLog(NamedTuple):
    """A process's log file; ``since`` > 0 when the process served earlier scenarios too and
    only what it wrote from that byte on belongs to the current one."""

    name: str
    path: Path
    since: int = 0


class ManagedProcess:
    """A started OS process the suite owns until ``stop()``."""

    def __init__(self, spec: ProcessSpec) -> None:
        self.spec = spec
        self._marker = reaper.new_process_marker()
        self._popen: subprocess.Popen[bytes] | None = None
        self.returncode: int | None = None
        self.paused = False
        self.ended_on_purpose = False  # the scenario killed it, as a crash would
        self.exits: list[int] = []  # the codes of every end the scenario did not cause
        self.disturbed = False  # killed or paused on purpose: its peers may log errors
        self.ready = False  # its readiness check passed (set by wait_ready)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def log_path(self) -> Path:
        return self.spec.log_path

    @property
    def pid(self) -> int:
        if self._popen is None:
            raise RuntimeError(f"{self.name} was never started")
        return self._popen.pid

    def is_running(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    def start(self, wait: bool = True) -> ManagedProcess:
        """Spawn the process and (unless ``wait`` is False, to start several at once) wait until
        its readiness check passes; see ``wait_ready``."""
        reaper.ensure_watchdog()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**self.spec.env, **reaper.child_markers(), reaper.PROCESS_MARKER: self._marker}
        # Python's bytecode cache stays on for what the suite starts (also where the machine turns
        # it off): the first emulated process compiles the modules, the hundreds after it read them.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        with open(self.log_path, "ab") as log:
            log.write(f"### {time.strftime('%H:%M:%S')} starting: {' '.join(self.spec.argv)}\n"
                      .encode())
            log.flush()
            output = ProcessOutput(self.log_path, log.tell())
            try:
                self._popen = subprocess.Popen(
                    list(self.spec.argv),
                    cwd=self.spec.cwd,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    preexec_fn=reaper.die_with_parent(),  # noqa: PLW1509 - needed for PDEATHSIG
                )
            except OSError as exc:
                raise ProcessStartError(self.name, f"could not be started: {exc}",
                                        self.log_path, "") from exc
        self.returncode = None
        self.ended_on_purpose = False
        self.ready = False
        self._output = output
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self) -> None:
        """Wait for the readiness check (deadline ``ready_within``); fails at once if the
        process exits first."""
        if self.spec.readiness is None:
            self.ready = True
            return
        readiness, output = self.spec.readiness, self._output
        assert readiness is not None and self._popen is not None
        deadline = time.monotonic() + self.spec.ready_within
        fast_until = time.monotonic() + _POLL_FAST_FOR
        last = "not checked yet"
        while True:
            code = self._popen.poll()
            if code is not None:
                self.returncode = code
                self._kill_leftovers()
                raise ProcessStartError(self.name, f"exited with code {code} before it was ready",
                                        self.log_path, tail_of(self.log_path))
            try:
                readiness.check(output)
                self.ready = True
                return
            except NotReadyError as exc:
                last = str(exc)
            if time.monotonic() >= deadline:
                self.stop()
                raise ProcessStartError(
                    self.name,
                    f"was not ready within {self.spec.ready_within:.1f} s "
                    f"(waiting for: {readiness.describe()}; last check: {last})",
                    self.log_path,
                    tail_of(self.log_path),
                )
            interval = _POLL_FAST if time.monotonic() < fast_until else _POLL_SLOW
            time.sleep(min(interval, max(0.0, deadline - time.monotonic())))

    def _tree(self) -> list[psutil.Process]:
        if self._popen is None:
            return []
        try:
            root = psutil.Process(self._popen.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def _kill_leftovers(self) -> None:
        """Kill descendants that re-parented away from the tree (found by the process marker)."""
        reaper.kill_marked(reaper.PROCESS_MARKER, self._marker, grace=1.0)

    def pause(self) -> None:
        """Freeze the whole tree with SIGSTOP, as a hung host or a debugger would: sockets stay
        open, nothing answers (patroni's ``ProcessHang``)."""
        _signal_all(self._tree(), signal.SIGSTOP)
        self.paused = True
        self.disturbed = True

    def resume(self) -> None:
        """Let a paused tree run on (SIGCONT)."""
        _signal_all(self._tree(), signal.SIGCONT)
        self.paused = False

    def kill(self) -> int | None:
        """SIGKILL the whole tree at once, as a crash would; returns the exit code. The stop
        checks do not hold a process ended on purpose to its exit code."""
        if self.is_running():
            self.ended_on_purpose = self.disturbed = True
        return self.stop(grace=0.0)

    def stop(self, grace: float | None = None) -> int | None:
        """SIGTERM the whole tree, SIGKILL whatever is left after the grace period.

        Returns the main process's exit code (negative: killed by that signal).
        """
        if self._popen is None:
            return None
        ended_before = self.returncode is not None
        if self._popen.poll() is None:
            grace = self.spec.stop_grace if grace is None else grace
            tree = self._tree()
            if self.paused:  # a stopped process would not see SIGTERM until it runs again
                _signal_all(tree, signal.SIGCONT)
                self.paused = False
            first = signal.SIGTERM if grace > 0 else signal.SIGKILL
            _signal_all(tree, first)
            if grace > 0:
                deadline = time.monotonic() + grace
                # The main process is our child: wait through Popen, which keeps its exit code
                # (psutil would reap it and the code would be lost).
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._popen.wait(timeout=grace)
                psutil.wait_procs(tree[1:], timeout=max(0.0, deadline - time.monotonic()))
                _signal_all(tree, signal.SIGKILL)
        self.returncode = self._popen.wait()
        self._kill_leftovers()
        if not ended_before:
            _note_exit(self.log_path, self.returncode)
            # Stopped before it was ready, a program may end by the SIGTERM itself: it had not
            # got to handling it yet (a real binary neither). That end is the stop's, not a fault.
            stopped_early = not self.ready and self.returncode == -signal.SIGTERM
            if not self.ended_on_purpose and not stopped_early:
                self.exits.append(self.returncode)
        return self.returncode


def _note_exit(path: Path, code: int) -> None:
    """End the process's part of its log with how it ended (evidence for a failed scenario)."""
    how = f"killed by signal {-code}" if code < 0 else f"exited with code {code}"
    with contextlib.suppress(OSError), open(path, "ab") as log:
        log.write(f"### {time.strftime('%H:%M:%S')} {how}\n".encode())


def _signal_all(procs: list[psutil.Process], signum: int) -> None:
    for proc in procs:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                proc.send_signal(signum)
        except psutil.NoSuchProcess:
            pass
