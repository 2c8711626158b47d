"""Community nodes for a scenario, and a client for their status-backend-style API.

Each person gets a Codex node (all of a scenario's Codex nodes form one network) and a community
node that uses it; community nodes know each other's API addresses and exchange their own control
messages.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from support.codex.nodes import CodexFleet, NodeOptions
from support.config import Settings
from support.processes.launcher import ManagedProcess, ProcessLog, ProcessSpec
from support.processes.ports import PortReservation, reserve_port
from support.processes.readiness import LogLine
from support.sse import server_sent_events

KEY_RETRY = 1.0  # status-go waits an hour before retrying an archive it lacks the key for


class CommunityError(Exception):
    """A JSON-RPC call was refused; the message is the node's."""


@dataclass
class Signal:
    type: str
    event: dict[str, Any]
    arrived: float


@dataclass
class CommunityClient:
    """Calls one node's ``/statusgo/CallRPC`` and records its ``/signals`` stream."""

    url: str
    timeout: float = 60.0
    signals: list[Signal] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._cond = threading.Condition()
        self._session = requests.Session()
        self._calls = 0
        threading.Thread(target=self._listen, daemon=True).start()

    def call(self, method: str, **params: Any) -> Any:
        self._calls += 1
        reply = self._session.post(f"{self.url}/statusgo/CallRPC", json={
            "jsonrpc": "2.0", "id": self._calls, "method": method, "params": [params]},
            timeout=self.timeout).json()
        if "error" in reply:
            raise CommunityError(f"{method}: {reply['error']['message']}")
        return reply["result"]

    def _listen(self) -> None:
        try:
            with requests.get(f"{self.url}/signals", stream=True, timeout=(5, None)) as stream:
                for _, data in server_sent_events(stream):
                    item = json.loads(data)
                    with self._cond:
                        self.signals.append(Signal(item["type"], item["event"], time.time()))
                        self._cond.notify_all()
        except requests.RequestException:
            return

    def wait_for_signal(self, name: str, within: float,
                        matches: Callable[[dict[str, Any]], bool] = lambda _: True) -> Signal:
        deadline = time.monotonic() + within
        with self._cond:
            while True:
                for item in self.signals:
                    if item.type == name and matches(item.event):
                        return item
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [s.type for s in self.signals]
                    raise AssertionError(f"no {name} signal within {within:.0f} s (seen: {seen})")
                self._cond.wait(remaining)

    def signal_names(self) -> list[str]:
        with self._cond:
            return [s.type for s in self.signals]


@dataclass
class Person:
    name: str
    codex_node: str
    url: str
    process: ManagedProcess
    client: CommunityClient
    port: PortReservation


class CommunityNodes:
    """Starts the scenario's people: a Codex node and a community node each."""

    def __init__(self, settings: Settings, fleet: CodexFleet, work_dir: Path,
                 log_dir: Path) -> None:
        self.settings = settings
        self.fleet = fleet
        self.work_dir = work_dir
        self.log_dir = log_dir
        self.people: dict[str, Person] = {}

    def start(self, names: list[str]) -> None:
        codex_names = [f"{name}-codex" for name in names]
        # A short retry budget: an archive nobody holds fails in seconds, not hours.
        self.fleet.start_network(codex_names, options=NodeOptions(block_retries=2))
        ports = {name: reserve_port() for name in names}
        urls = {name: f"http://127.0.0.1:{ports[name].port}" for name in names}
        for name, codex_name in zip(names, codex_names, strict=True):
            argv = [sys.executable, "-m", "emulators.community",
                    "--data-dir", str(self.work_dir / name),
                    "--listen", f"127.0.0.1:{ports[name].port}",
                    "--codex-url", self.fleet.node(codex_name).client.base_url,
                    "--key-retry", str(KEY_RETRY),
                    *[arg for other in names if other != name
                      for arg in ("--peer", urls[other])]]
            process = ManagedProcess(ProcessSpec(
                name=f"community node of {name}", argv=argv, cwd=self.work_dir,
                env=dict(os.environ), log_path=self.log_dir / f"community-{name}.log",
                readiness=LogLine("community node listening"),
                ready_within=self.settings.timeout(30), stop_grace=self.settings.timeout(5),
            ))
            self.work_dir.mkdir(parents=True, exist_ok=True)
            process.start()
            self.people[name] = Person(name, codex_name, urls[name], process,
                                       CommunityClient(urls[name], self.settings.timeout(60)),
                                       ports[name])

    def person(self, name: str) -> Person:
        if name not in self.people:
            raise AssertionError(f"{name} has no node in this scenario")
        return self.people[name]

    def log_files(self) -> list[ProcessLog]:
        return [ProcessLog(p.process.name, p.process.log_path) for p in self.people.values()]

    def close(self) -> None:
        for person in self.people.values():
            person.process.stop()
            person.port.release()
