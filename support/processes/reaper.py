"""No orphans, ever: how the suite finds and kills processes it started.

Every child gets three environment markers: the run marker (``<owner pid>:<owner start
time>:<id>`` of the process that started it), the lineage (the run markers of that owner and of
every runner above it, outermost first) and its own process marker. Descendants inherit them, so a
process tree can be found even after children re-parent to init. A runner is any process that
starts others through the suite: the parallel runner (``python -m support.acceptance``), each of
its behave workers, a plain behave. Three layers use the markers:

1. ``PR_SET_PDEATHSIG``: the kernel SIGKILLs a direct child when its runner dies;
2. a watchdog process (``python -m support.processes.watchdog``) that holds a pipe to the runner
   and, when the pipe closes (runner gone, even by SIGKILL), kills everything whose lineage holds
   the runner's marker: for the parallel runner, its workers and everything they started;
3. ``sweep_leftovers()`` at the start of every run: kills marked processes whose owner is gone.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator

import psutil

RUN_MARKER = "ACCEPTANCE_RUN_MARKER"
LINEAGE = "ACCEPTANCE_RUN_LINEAGE"
PROCESS_MARKER = "ACCEPTANCE_PROCESS_MARKER"
_PR_SET_PDEATHSIG = 1


def _owner_marker() -> str:
    me = psutil.Process()
    return f"{me.pid}:{me.create_time():.2f}:{uuid.uuid4().hex[:12]}"


_RUN_MARKER_VALUE = _owner_marker()
_watchdog: subprocess.Popen[bytes] | None = None


def run_marker() -> str:
    """This process's run marker (inherited by everything it starts)."""
    return _RUN_MARKER_VALUE


def child_markers() -> dict[str, str]:
    """The environment markers of a process this one starts: our run marker, and the lineage
    (ours appended to the one we inherited, so that every runner above finds it too)."""
    inherited = os.environ.get(LINEAGE, "").split()
    return {RUN_MARKER: _RUN_MARKER_VALUE, LINEAGE: " ".join([*inherited, _RUN_MARKER_VALUE])}


def new_process_marker() -> str:
    return uuid.uuid4().hex


def die_with_parent() -> Callable[[], None]:
    """A ``preexec_fn`` asking the kernel to SIGKILL the child when this thread's process dies.

    Caveat: Linux ties the signal to the *thread* that forked. Start processes from a thread that
    outlives them (behave's and pytest's main thread do).
    """
    parent = os.getpid()
    libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None

    def preexec() -> None:
        if libc is not None:
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


def _marked(variable: str, value: str | None = None) -> Iterator[tuple[psutil.Process, str]]:
    me = os.getpid()
    for proc in psutil.process_iter(["pid"]):
        if proc.pid == me:
            continue
        try:
            marker = proc.environ().get(variable)
        except (psutil.Error, OSError):
            continue
        if marker is None:
            continue
        if value is None or marker == value or (variable == LINEAGE and value in marker.split()):
            yield proc, marker


def kill_processes(procs: list[psutil.Process], grace: float) -> None:
    """SIGTERM each process, wait up to ``grace`` seconds, then SIGKILL what is left (with no
    grace: SIGKILL at once); waits a moment for the killed ones to go."""
    alive = procs
    if grace > 0:
        for proc in procs:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.terminate()
        _gone, alive = psutil.wait_procs(procs, timeout=grace)
    for proc in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    psutil.wait_procs(alive, timeout=max(grace, 1.0))


def kill_marked(variable: str, value: str, grace: float) -> int:
    """Kill every process whose environment has ``variable=value`` (for ``LINEAGE``: a lineage
    holding ``value``); returns how many."""
    procs = [proc for proc, _ in _marked(variable, value)]
    kill_processes(procs, grace)
    return len(procs)


def descendants_of_run(marker: str) -> list[psutil.Process]:
    """Every live process started, however deep, under the runner with this run marker."""
    found = {proc.pid: proc for proc, _ in _marked(LINEAGE, marker)}
    found.update((proc.pid, proc) for proc, _ in _marked(RUN_MARKER, marker))
    alive = []
    for proc in found.values():
        with contextlib.suppress(psutil.Error):
            if proc.status() != psutil.STATUS_ZOMBIE:
                alive.append(proc)
    return alive


def kill_run(marker: str, grace: float, passes: int = 5) -> int:
    """Kill everything under the runner with this marker, again until nothing is found (a process
    may start another while the first pass kills); returns how many were killed."""
    killed = 0
    for _ in range(passes):
        procs = descendants_of_run(marker)
        if not procs:
            break
        kill_processes(procs, grace)
        killed += len(procs)
    return killed


def _owner_alive(marker: str) -> bool:
    try:
        pid_text, started, _ = marker.split(":", 2)
        owner = psutil.Process(int(pid_text))
        return f"{owner.create_time():.2f}" == started
    except (ValueError, psutil.Error):
        return False


def sweep_leftovers(grace: float = 3.0) -> list[str]:
    """Kill processes left by earlier runs whose runner is gone; describes each one killed."""
    leftovers = [(proc, marker) for proc, marker in _marked(RUN_MARKER) if not _owner_alive(marker)]
    descriptions = []
    for proc, _marker in leftovers:
        try:
            descriptions.append(f"pid {proc.pid}: {' '.join(proc.cmdline())[:200]}")
        except psutil.Error:
            descriptions.append(f"pid {proc.pid}")
    kill_processes([proc for proc, _ in leftovers], grace)
    return descriptions


def ensure_watchdog() -> None:
    """Start this run's watchdog once; it outlives us only long enough to clean up."""
    global _watchdog  # noqa: PLW0603 - one watchdog per runner process
    if _watchdog is not None and _watchdog.poll() is None:
        return
    env = {k: v for k, v in os.environ.items() if k not in (RUN_MARKER, LINEAGE, PROCESS_MARKER)}
    _watchdog = subprocess.Popen(
        [sys.executable, "-m", "support.processes.watchdog", _RUN_MARKER_VALUE],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
