"""The scenario's emulated Waku network: one relay program, and the fleets file that points every
person's status-backend at it (``InitializeApplication.wakuFleetsConfigFilePath``)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from support.config import Settings
from support.processes.checks import PYTHON_TRACEBACK, stop_and_check
from support.processes.launcher import ManagedProcess, ProcessLog, ProcessSpec
from support.processes.ports import PortReservation, reserve_port
from support.processes.readiness import TcpConnect

FLEET = "acceptance.local"  # CreateAccountAndLogin.wakuV2Fleet
READY_WITHIN = 20.0
STOP_GRACE = 5.0


class WakuRelay:
    """Started on first use; ``fleets_file`` exists from then on."""

    def __init__(self, settings: Settings, work_dir: Path, log_dir: Path) -> None:
        self.settings = settings
        self.fleets_file = work_dir / "fleets.json"
        self._log_dir = log_dir
        self._process: ManagedProcess | None = None
        self._port: PortReservation | None = None

    def ensure_started(self) -> None:
        if self._process is not None:
            return
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
        self._process.start()
        fleets = {"fleets": {FLEET: {"tcp/p2p/waku": {
            "relay": f"/ip4/127.0.0.1/tcp/{self._port.port}/ws"}}}}
        self.fleets_file.write_text(json.dumps(fleets, indent=2), encoding="utf-8")

    def log_files(self) -> list[ProcessLog]:
        if self._process is None:
            return []
        return [ProcessLog(self._process.name, self._process.log_path)]

    def close(self) -> list[str]:
        """Stop the relay and check it (an emulator: exit code 0, no traceback)."""
        problems = [] if self._process is None else stop_and_check(self._process,
                                                                    PYTHON_TRACEBACK)
        if self._port is not None:
            self._port.release()
        return problems
