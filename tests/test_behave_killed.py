"""A behave run killed with SIGKILL or interrupted with SIGINT at a random point of a scenario
leaves no process and no port behind, and a run right after it passes."""

from __future__ import annotations

import fcntl
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from support.processes import ports
from support.processes.reaper import RUN_MARKER

ROOT = Path(__file__).resolve().parent.parent
FEATURE = ROOT / "features" / "codex" / "resilience.feature"


def processes_of_run(owner_pid: int) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter():
        try:
            marker = proc.environ().get(RUN_MARKER, "")
            if marker.startswith(f"{owner_pid}:") and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except (psutil.Error, OSError):
            continue
    return found


def behave(tmp_path: Path, *extra: str) -> subprocess.Popen[bytes]:
    # Run from a scratch folder so these runs' reports do not mix with the real ones; behave
    # still finds steps/ and environment.py by walking up from the feature path.
    return subprocess.Popen(
        [sys.executable, "-m", "behave", str(FEATURE), "--no-junit", "-f", "null",
         "-D", f"artifacts_dir={tmp_path / 'artifacts'}", *extra],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def api_port(node: psutil.Process) -> int:
    match = re.search(r"--api-port=(\d+)", " ".join(node.cmdline()))
    assert match, node.cmdline()
    return int(match.group(1))


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            return False  # something still listens
    lock = os.open(ports._LOCK_DIR / f"{port}.lock", os.O_CREAT | os.O_RDWR)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the reservation was released
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(lock)


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
def test_interrupted_run_leaves_nothing_behind(tmp_path: Path, signum: int) -> None:
    run = behave(tmp_path)
    try:
        deadline = time.monotonic() + 60
        nodes: list[psutil.Process] = []
        while not nodes:
            assert run.poll() is None, "behave ended before a node was started"
            assert time.monotonic() < deadline, "no node was started within 60 s"
            nodes = [p for p in processes_of_run(run.pid) if "emulators.codex" in p.cmdline()]
            time.sleep(0.05)
        held = api_port(nodes[0])
        time.sleep(random.uniform(0, 1.0))  # a random point of the scenario
        run.send_signal(signum)
        run.wait(timeout=60)
        _gone, alive = psutil.wait_procs(nodes, timeout=15)
        assert not alive, f"still running after {signal.Signals(signum).name}: {alive}"
        deadline = time.monotonic() + 15
        while processes_of_run(run.pid) or not port_is_free(held):
            assert time.monotonic() < deadline, "a process or a port of the run was left behind"
            time.sleep(0.1)
    finally:
        run.kill()
        for proc in processes_of_run(run.pid):
            proc.kill()
    again = behave(tmp_path, "-n", "stops cleanly")
    assert again.wait(timeout=120) == 0, "the run right after the interrupted one failed"
