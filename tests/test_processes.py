"""The launcher, the reaper and port reservations, with real processes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from support.processes import ports, reaper
from support.processes.checks import exit_problem
from support.processes.launcher import ManagedProcess, ProcessSpec, ProcessStartError
from support.processes.readiness import (
    GrpcHealth,
    LogLine,
    NotReadyError,
    ProcessOutput,
    TcpConnect,
)

PY = sys.executable


def spec(tmp_path: Path, code: str, **kwargs: Any) -> ProcessSpec:
    return ProcessSpec(
        name=kwargs.pop("name", "probe"),
        argv=[PY, "-u", "-c", textwrap.dedent(code)],
        cwd=tmp_path,
        env=dict(os.environ),
        log_path=tmp_path / "probe.log",
        **kwargs,
    )


def printed_number(process: ManagedProcess, label: str) -> int:
    """A number the process printed on a line ``<label> <n>`` (not the launcher's header)."""
    match = re.search(rf"^{label} (\d+)$", process.log_path.read_text(), re.MULTILINE)
    assert match, f"no '{label} <n>' line in {process.log_path}"
    return int(match.group(1))


def wait_gone(pid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
            return True
        time.sleep(0.05)
    return False


def test_ready_by_log_line_and_clean_exit_code(tmp_path: Path) -> None:
    process = ManagedProcess(spec(tmp_path, """
        import signal, sys, time
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        print("service is up")
        time.sleep(60)
    """, readiness=LogLine("service is up"), ready_within=10)).start()
    assert process.is_running()
    assert process.stop() == 0
    assert "service is up" in process.log_path.read_text()


def test_an_end_by_sigterm_counts_as_unclean_only_once_the_process_was_ready(
        tmp_path: Path) -> None:
    # No SIGTERM handler: the default action ends the process, as in a program still starting.
    code = """
        import time
        print("service is up")
        time.sleep(60)
    """
    starting = ManagedProcess(spec(tmp_path, code, readiness=LogLine("never printed")))
    starting.start(wait=False)
    assert starting.stop() == -signal.SIGTERM
    assert exit_problem(starting) is None, "stopped while starting, it ended by the stop itself"
    ready = ManagedProcess(spec(tmp_path, code, name="ready", readiness=LogLine("service is up"),
                                ready_within=10)).start()
    assert ready.stop() == -signal.SIGTERM
    assert exit_problem(ready) == "ready was killed by signal 15"


def test_early_death_fails_at_once_with_exit_code_and_log_tail(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(ProcessStartError) as caught:
        ManagedProcess(spec(tmp_path, """
            import sys
            print("cannot open the database")
            sys.exit(3)
        """, name="failing node", readiness=TcpConnect("127.0.0.1", 9), ready_within=30)).start()
    message = str(caught.value)
    assert "failing node exited with code 3 before it was ready" in message
    assert "cannot open the database" in message
    assert time.monotonic() - started < 10  # not the 30 s deadline


def test_readiness_deadline_is_honoured_and_the_process_stopped(tmp_path: Path) -> None:
    process = ManagedProcess(spec(tmp_path, "import time; time.sleep(60)",
                                  readiness=LogLine("never printed"), ready_within=0.5))
    started = time.monotonic()
    with pytest.raises(ProcessStartError, match=r"was not ready within 0\.5 s"):
        process.start()
    assert time.monotonic() - started < 8
    assert not process.is_running()


def test_stop_kills_the_whole_tree_even_when_sigterm_is_ignored(tmp_path: Path) -> None:
    process = ManagedProcess(spec(tmp_path, f"""
        import signal, subprocess, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        child = subprocess.Popen([{PY!r}, "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"])
        print("child", child.pid, flush=True)
        time.sleep(60)
    """, readiness=LogLine(r"^child \d+$"), stop_grace=0.5)).start()
    child_pid = printed_number(process, "child")
    code = process.stop()
    assert code == -signal.SIGKILL
    assert wait_gone(child_pid, within=5)


def test_reparented_grandchild_is_found_by_its_marker(tmp_path: Path) -> None:
    # The middle process exits soon after it is ready, so the grandchild re-parents to init:
    # only the environment marker still ties it to the managed process.
    process = ManagedProcess(spec(tmp_path, f"""
        import subprocess, time
        child = subprocess.Popen([{PY!r}, "-c", "import time; time.sleep(60)"],
                                 start_new_session=True)
        print("grandchild", child.pid, flush=True)
        time.sleep(0.5)
    """, readiness=LogLine(r"^grandchild \d+$"))).start()
    grandchild = printed_number(process, "grandchild")
    assert wait_gone(process.pid, within=5)
    assert psutil.pid_exists(grandchild)
    process.stop()
    assert wait_gone(grandchild, within=5)


def test_no_orphan_after_sigkill_of_the_parent(tmp_path: Path) -> None:
    """A real parent starts a real server through the launcher and is then SIGKILLed."""
    parent = subprocess.Popen([PY, "-u", "-c", textwrap.dedent(f"""
        import os, sys, time
        from pathlib import Path
        from support.processes.launcher import ManagedProcess, ProcessSpec
        from support.processes.readiness import LogLine
        spec = ProcessSpec("server", [{PY!r}, "-u", "-c",
                           "print('up', flush=True); import time; time.sleep(120)"],
                           cwd=Path({str(tmp_path)!r}), env=dict(os.environ),
                           log_path=Path({str(tmp_path)!r}) / "server.log",
                           readiness=LogLine("up"))
        server = ManagedProcess(spec).start()
        print(server.pid, flush=True)
        time.sleep(120)
    """)], stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parent.parent)
    assert parent.stdout is not None
    server_pid = int(parent.stdout.readline())
    assert psutil.pid_exists(server_pid)
    parent.kill()
    parent.wait()
    assert wait_gone(server_pid, within=10), "the server outlived its SIGKILLed parent"


def test_sweep_kills_processes_whose_run_is_gone(tmp_path: Path) -> None:
    dead_owner = "999999999:0.00:feedbeef"
    env = {**os.environ, reaper.RUN_MARKER: dead_owner}
    leftover = subprocess.Popen([PY, "-c", "import time; time.sleep(60)"], env=env)
    try:
        deadline = time.monotonic() + 5
        while reaper.RUN_MARKER not in psutil.Process(leftover.pid).environ():
            assert time.monotonic() < deadline
            time.sleep(0.02)
        swept = reaper.sweep_leftovers(grace=2)
        assert any(str(leftover.pid) in line for line in swept)
        assert wait_gone(leftover.pid, within=5)
    finally:
        leftover.kill()


def test_sweep_spares_processes_of_a_live_run(tmp_path: Path) -> None:
    env = {**os.environ, reaper.RUN_MARKER: reaper.run_marker()}
    ours = subprocess.Popen([PY, "-c", "import time; time.sleep(60)"], env=env)
    try:
        time.sleep(0.2)  # let the child exec so its environment is readable
        reaper.sweep_leftovers(grace=1)
        assert ours.poll() is None
    finally:
        ours.kill()
        ours.wait()


def test_port_reservations_exclude_each_other(monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = ports.reserve_port(), ports.reserve_port()
    candidates = frozenset({first.port, second.port})
    first.release()
    second.release()
    monkeypatch.setattr(ports, "_CANDIDATES", candidates)
    monkeypatch.setattr(ports, "_ATTEMPTS", 10)
    a, b = ports.reserve_port(), ports.reserve_port()
    assert {a.port, b.port} == candidates
    with pytest.raises(ports.PortReservationError):
        ports.reserve_port()
    a.release()
    again = ports.reserve_port()
    assert again.port == a.port
    again.release()
    b.release()


def test_reservation_held_by_another_process_is_not_handed_out(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    held = ports.reserve_port()
    port = held.port
    held.release()
    holder = subprocess.Popen([PY, "-u", "-c", textwrap.dedent(f"""
        import fcntl, os, time
        fd = os.open({str(ports._LOCK_DIR / f"{port}.lock")!r}, os.O_CREAT | os.O_RDWR)
        fcntl.flock(fd, fcntl.LOCK_EX)
        print("held", flush=True)
        time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        monkeypatch.setattr(ports, "_CANDIDATES", frozenset({port}))
        monkeypatch.setattr(ports, "_ATTEMPTS", 3)
        with pytest.raises(ports.PortReservationError):
            ports.reserve_port()
    finally:
        holder.kill()
        holder.wait()


def test_tcp_readiness_reports_refusal(tmp_path: Path) -> None:
    reservation = ports.reserve_port()
    try:
        with pytest.raises(NotReadyError, match=r"127\.0\.0\.1"):
            TcpConnect("127.0.0.1", reservation.port).check(ProcessOutput(tmp_path / "none.log"))
    finally:
        reservation.release()


def test_grpc_health_readiness(tmp_path: Path) -> None:
    reservation = ports.reserve_port()
    port = reservation.port
    reservation.release()
    process = ManagedProcess(spec(tmp_path, f"""
        import time
        from concurrent import futures
        import grpc
        from grpc_health.v1 import health, health_pb2, health_pb2_grpc
        time.sleep(0.5)  # not ready at once: the check must retry
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        servicer = health.HealthServicer()
        servicer.set("chat.Chat", health_pb2.HealthCheckResponse.SERVING)
        health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
        server.add_insecure_port("127.0.0.1:{port}")
        server.start()
        server.wait_for_termination()
    """, readiness=GrpcHealth(f"127.0.0.1:{port}", "chat.Chat"), ready_within=30)).start()
    try:
        with pytest.raises(NotReadyError, match=r"NOT_FOUND|SERVICE_UNKNOWN"):
            GrpcHealth(f"127.0.0.1:{port}", "no.Such").check(ProcessOutput(process.log_path))
    finally:
        process.stop()
