"""The archive scenarios run against a status-backend binary and against running status-backends,
as they would against real ones: proven with the emulator's own console script standing in for
the binary, and with emulators started by hand for the running URLs. A scenario that needs what
only the embedded emulator offers is skipped, and the reason names the capability."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from support.processes.ports import reserve_port
from support.waiting import eventually

ROOT = Path(__file__).resolve().parent.parent
CONSOLE_SCRIPT = Path(sys.executable).parent / "status-backend-emulator"
# A real flow (the owner's periodic loop; Bob joins later) and one that needs the emulator.
REAL_FLOW = "features/archive/periodic.feature:60"
EMULATOR_ONLY = "features/archive/archives.feature:18"
SKIP_REASON = "needs @use.with_explicit_archive_window=true"


def behave(tmp_path: Path, *defines: str) -> subprocess.CompletedProcess[str]:
    """One behave run of the two scenarios, from a scratch folder (its reports stay there)."""
    return subprocess.run(
        [sys.executable, "-m", "behave", str(ROOT / REAL_FLOW), str(ROOT / EMULATOR_ONLY),
         "--no-junit", "--no-capture", "-f", "plain",
         "-D", f"artifacts_dir={tmp_path / 'artifacts'}", *defines],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
        text=True, timeout=300, check=False)


def assert_one_passed_one_skipped(run: subprocess.CompletedProcess[str]) -> None:
    """The real flow passed; the emulator-only scenario was skipped for its capability (behave
    counts the scenarios a file:line selection leaves out as skipped too)."""
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    assert "1 scenario passed, 0 failed" in output, output[-4000:]
    skipped = [line for line in output.splitlines() if line.startswith("SKIPPED ")]
    assert len(skipped) == 1 and SKIP_REASON in skipped[0], output[-4000:]


def test_a_status_backend_binary_runs_the_real_flows(tmp_path: Path) -> None:
    assert CONSOLE_SCRIPT.is_file(), f"{CONSOLE_SCRIPT} is missing: run make install"
    assert_one_passed_one_skipped(behave(tmp_path, "-D",
                                         f"status_backend_binary={CONSOLE_SCRIPT}"))


@pytest.fixture
def running_backends(tmp_path: Path) -> Iterator[list[str]]:
    """Two status-backends started by hand, as an operator would."""
    reservations = [reserve_port(), reserve_port()]
    processes = [subprocess.Popen([str(CONSOLE_SCRIPT), "--address", f"127.0.0.1:{r.port}"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  start_new_session=True) for r in reservations]
    urls = [f"http://127.0.0.1:{r.port}" for r in reservations]

    def healthy() -> None:
        for url in urls:
            try:
                requests.get(f"{url}/health", timeout=2).raise_for_status()
            except requests.RequestException as exc:
                raise AssertionError(f"{url} does not answer /health yet: {exc}") from exc

    try:
        eventually(healthy, 30.0, interval=0.1)
        yield urls
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            assert process.wait(30) == 0, "a status-backend did not stop cleanly"
        for reservation in reservations:
            reservation.release()


def test_running_status_backends_run_the_real_flows(tmp_path: Path,
                                                    running_backends: list[str]) -> None:
    assert_one_passed_one_skipped(behave(tmp_path, "-D",
                                         f"status_backend_urls={','.join(running_backends)}"))
