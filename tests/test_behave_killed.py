"""A behave run killed with SIGKILL in the middle of a scenario leaves no process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from support.processes.reaper import RUN_MARKER

ROOT = Path(__file__).resolve().parent.parent


def processes_of_run(owner_pid: int) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter():
        try:
            marker = proc.environ().get(RUN_MARKER, "")
        except (psutil.Error, OSError):
            continue
        if marker.startswith(f"{owner_pid}:") and proc.status() != psutil.STATUS_ZOMBIE:
            found.append(proc)
    return found


def test_sigkill_of_behave_mid_scenario_leaves_no_node(tmp_path: Path) -> None:
    # Run from a scratch folder so this run's reports do not mix with the real ones; behave
    # still finds steps/ and environment.py by walking up from the feature path.
    feature = ROOT / "features" / "codex" / "resilience.feature"
    behave = subprocess.Popen(
        [sys.executable, "-m", "behave", str(feature), "--no-junit", "-f", "null",
         "-D", f"artifacts_dir={tmp_path / 'artifacts'}"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        nodes: list[psutil.Process] = []
        while not nodes:
            assert behave.poll() is None, "behave ended before a node was started"
            assert time.monotonic() < deadline, "no node was started within 60 s"
            nodes = [p for p in processes_of_run(behave.pid) if "emulators.codex" in p.cmdline()]
            time.sleep(0.05)
        behave.send_signal(signal.SIGKILL)
        behave.wait()
        _gone, alive = psutil.wait_procs(nodes, timeout=15)
        assert not alive, f"still running after behave was killed: {alive}"
        deadline = time.monotonic() + 15
        while processes_of_run(behave.pid):
            assert time.monotonic() < deadline, "the run's watchdog left processes behind"
            time.sleep(0.1)
    finally:
        behave.kill()
        for proc in processes_of_run(behave.pid):
            proc.kill()
