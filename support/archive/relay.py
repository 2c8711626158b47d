"""The scenario's emulated Waku network: one relay program, and the fleets file that points every
person's status-backend at it (``InitializeApplication.wakuFleetsConfigFilePath``).

The relay stores nothing and every account is logged out when a scenario ends, so the relay may
serve the feature's next scenario when the ``share`` rule allows (``support.shared_systems``).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from support.config import Settings
from support.processes.checks import PYTHON_TRACEBACK, log_problem, log_size, stop_and_check
from support.processes.launcher import ManagedProcess, ProcessLog, ProcessSpec
from support.processes.ports import PortReservation, reserve_port
from support.processes.readiness import TcpConnect
from support.shared_systems import SharedSystems

FLEET = "acceptance.local"  # CreateAccountAndLogin.wakuV2Fleet
READY_WITHIN = 20.0
STOP_GRACE = 5.0
SLOT = "Waku relay"


class WakuRelay:
    """Started (or taken over from the feature's previous scenario) on first use, without
    waiting: the first backend starts meanwhile. ``fleets_file`` exists from then on, and
    ``wait_ready`` waits until the relay listens."""

    def __init__(self, settings: Settings, work_dir: Path, log_dir: Path,
                 shared: SharedSystems | None = None) -> None:
        self.settings = settings
        self.fleets_file = work_dir / "fleets.json"
        self._log_dir = log_dir
        self._shared = shared
        self._process: ManagedProcess | None = None
        self._port: PortReservation | None = None
        self._ready = False
        self._log_since = 0  # where this scenario's part of a handed-on relay's log begins

    def ensure_started(self) -> None:
        if self._process is not None:
            return
        kept = self._shared.take(SLOT, FLEET) if self._shared is not None else None
        if isinstance(kept, WakuRelay) and kept.running():
            self._adopt(kept)
            return
        if isinstance(kept, WakuRelay) and self._shared is not None:  # it stopped: say why
            self._shared.problems += kept.close()
        if self._shared is not None:  # a folder that outlives the scenario
            home = self._shared.new_folder("waku-relay-")
            self.fleets_file, self._log_dir = home / "fleets.json", home
        self._port = reserve_port()
        address = f"127.0.0.1:{self._port.port}"
        self.fleets_file.parent.mkdir(parents=True, exist_ok=True)
        self._process = ManagedProcess(ProcessSpec(
            name="Waku relay", argv=[sys.executable, "-m", "emulators.waku_relay",
                                     "--address", address],
            cwd=self.fleets_file.parent, env=dict(os.environ),
            log_path=self._log_dir / "waku-relay.log",
            readiness=TcpConnect("127.0.0.1", self._port.port),
            ready_within=self.settings.timeout(READY_WITHIN),
            stop_grace=self.settings.timeout(STOP_GRACE),
        ))
        self._process.start(wait=False)
        fleets = {"fleets": {FLEET: {"tcp/p2p/waku": {
            "relay": f"/ip4/127.0.0.1/tcp/{self._port.port}/ws"}}}}
        self.fleets_file.write_text(json.dumps(fleets, indent=2), encoding="utf-8")

    def _adopt(self, kept: WakuRelay) -> None:
        """Go on with the relay an earlier scenario of the feature left running."""
        self._process, self._port, self.fleets_file = kept._process, kept._port, kept.fleets_file
        self._log_dir, self._ready = kept._log_dir, kept._ready
        assert self._process is not None
        self._log_since = log_size(self._process.log_path)

    def running(self) -> bool:
        return self._process is not None and self._process.is_running()

    def wait_ready(self) -> None:
        """Until the relay (started by ``ensure_started``) listens, within its deadline."""
        if self._process is None:
            raise RuntimeError("the Waku relay was never started")
        if not self._ready:
            self._process.wait_ready()
            self._ready = True

    def log_files(self) -> list[ProcessLog]:
        if self._process is None:
            return []
        return [ProcessLog(self._process.name, self._process.log_path, self._log_since)]

    def close(self, share: bool = False) -> list[str]:
        """Hand the relay on (``share``, and its log shows nothing wrong) or stop and check it
        (an emulator: exit code 0, no traceback)."""
        if self._process is None:
            return []
        if share and self._shared is not None and self._ready and self.running():
            found = log_problem(self._process.name, self._process.log_path, PYTHON_TRACEBACK,
                                self._log_since)
            if found is None:
                self._shared.keep(SLOT, FLEET, self, WakuRelay.close)
                return []
        problems = stop_and_check(self._process, PYTHON_TRACEBACK, self._log_since)
        if self._port is not None:
            self._port.release()
        return problems

