"""The flake check's load: busy processes that keep a core busy while the check runs and stop by
themselves when it ends, or when the check itself dies."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import psutil

from support.waiting import eventually

ROOT = Path(__file__).resolve().parent.parent


def flake_check() -> ModuleType:
    spec = importlib.util.spec_from_file_location("flake_check", ROOT / "bench" / "flake_check.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_busy_processes_burn_cpu_and_stop_with_the_block() -> None:
    with flake_check().busy_processes(2) as processes:
        watched = [psutil.Process(p.pid) for p in processes]
        start = [sum(process.cpu_times()[:2]) for process in watched]

        def busy() -> None:
            used = [sum(process.cpu_times()[:2]) - before
                    for process, before in zip(watched, start, strict=True)]
            assert all(seconds >= 0.2 for seconds in used), (
                f"CPU seconds the busy loops used so far: {used}")

        eventually(busy, 30.0, interval=0.2)
    assert all(p.poll() is not None for p in processes), "a busy process outlived the block"


def test_a_busy_process_stops_when_the_check_dies() -> None:
    """The check is SIGKILLed (no clean-up runs): its busy processes notice and end."""
    parent = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        import os, subprocess, sys
        sys.path.insert(0, {str(ROOT / "bench")!r})
        import flake_check
        code = flake_check._BUSY.format(parent=os.getpid(), limit=60)
        child = subprocess.Popen([sys.executable, "-c", code],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        print(child.pid, flush=True)
        """)], capture_output=True, text=True, timeout=30, check=True)
    child = psutil.Process(int(parent.stdout.strip()))

    def gone() -> None:
        assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE, (
            f"busy process {child.pid} still runs after its parent ended")

    eventually(gone, 10.0, interval=0.1)
