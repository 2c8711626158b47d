"""Emulated programs stop on SIGTERM or SIGINT at any moment, also while they are busy: the signal
is taken through a wakeup socket (``emulators.serving.StopSignals``), not by a Python handler that
could deadlock on a lock the main thread holds."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from emulators.serving import STOP_SIGNALS, StopSignals


@pytest.fixture
def restored_signals() -> Iterator[None]:
    handlers = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    wakeup = signal.set_wakeup_fd(-1)
    signal.set_wakeup_fd(wakeup)
    yield
    signal.set_wakeup_fd(wakeup)
    for signum, handler in handlers.items():
        signal.signal(signum, handler)


@pytest.mark.parametrize("sent", STOP_SIGNALS)
def test_the_first_stop_signal_is_returned_even_when_sent_from_another_thread(
        restored_signals: None, sent: signal.Signals) -> None:
    stop = StopSignals()
    threading.Timer(0.05, os.kill, (os.getpid(), sent)).start()
    assert stop.wait() == sent


def _free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start_node(data: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    node = subprocess.Popen(
        [sys.executable, "-m", "emulators.codex", f"--data-dir={data}",
         "--listen-addrs=/ip4/127.0.0.1/tcp/0", "--api-bindaddr=127.0.0.1",
         f"--api-port={port}", f"--disc-port={_free_port(socket.SOCK_DGRAM)}", "--nat=none"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/api/codex/v1"
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(f"{url}/debug/info", timeout=1)
            return node, url
        except requests.RequestException:
            assert node.poll() is None, f"the node exited with {node.returncode} before it was up"
            assert time.monotonic() < deadline, "the node did not answer within 30 s"
            time.sleep(0.01)


def _hammer(url: str, until: threading.Event) -> None:
    with requests.Session() as session:
        while not until.is_set():
            try:
                session.get(f"{url}/space", timeout=1)
            except requests.RequestException:
                return


def test_a_busy_codex_node_stops_at_once_on_sigterm_right_after_it_is_up(tmp_path: Path) -> None:
    rng = random.Random(13)
    for trial in range(8):
        node, url = _start_node(tmp_path / f"node-{trial}")
        done = threading.Event()
        clients = [threading.Thread(target=_hammer, args=(url, done)) for _ in range(3)]
        for client in clients:
            client.start()
        time.sleep(rng.uniform(0.0, 0.05))  # the moment the SIGTERM comes, not a wait for state
        node.terminate()
        try:
            code = node.wait(timeout=10)
        except subprocess.TimeoutExpired:
            node.kill()
            node.wait()
            code = None
        finally:
            done.set()
            for client in clients:
                client.join()
        assert code == 0, f"trial {trial}: the node ended with {code} after SIGTERM (None: hung)"
