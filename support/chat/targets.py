"""Which Goverse programs a chat cluster runs: one class per kind of target.

- ``GoverseEmulator`` (default): ``python -m emulators.goverse.{node,gate,inspector}``, with
  short timings in its environment.
- ``GoverseBinary`` (``goverse_bin_dir`` or ``goverse_source``): the real ``chat_server``,
  ``chat_gateway`` and ``inspector``, with the same flags and YAML, and ``GOCOVERDIR`` per process
  with ``goverse_coverage_dir``.

Each owns its command lines, environment, readiness (a node's and a gate's gRPC port accepts a
connection, the inspector's ``/healthz`` answers), and the checks made on stop: exit code 0 from
every process (goverse.md §8, coverage needs a clean exit) and a log free of panics and
tracebacks. Goverse has no running-deployment mode: the suite always starts the cluster.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from support.chat.binaries import GoverseBinaries
from support.processes.checks import GO_PANIC, PYTHON_TRACEBACK, LogScan
from support.processes.ports import PortReservation
from support.processes.readiness import HttpGet, Readiness, TcpConnect

# Goverse's management tick (ShardMappingCheckInterval) and the chat server's wait after
# ClusterReady are both 5 s (goverse.md §1.3, §3.1): the emulator runs both 25 times faster, so
# that ChatRoomMgr0 still comes one tick after readiness.
EMULATOR_TIMING = {"GOVERSE_EMULATOR_TICK": "0.2", "GOVERSE_EMULATOR_CHAT_DELAY": "0.2"}
BINARY_NAMES = {"node": "chat_server", "gate": "chat_gateway", "inspector": "inspector"}
EMULATOR_MODULES = {"node": "emulators.goverse.node", "gate": "emulators.goverse.gate",
                    "inspector": "emulators.goverse.inspector"}


class _GoverseTarget:
    """What every Goverse target shares: readiness and the coverage folder."""

    log_scan: LogScan = GO_PANIC
    clean_exits: tuple[int, ...] = (0,)

    def __init__(self, coverage_dir: Path | None = None) -> None:
        self.coverage_dir = coverage_dir

    def command(self, role: str) -> list[str]:
        raise NotImplementedError

    def environment(self, name: str) -> dict[str, str]:
        env = dict(os.environ)
        if self.coverage_dir is not None:
            folder = self.coverage_dir / name
            folder.mkdir(parents=True, exist_ok=True)
            env["GOCOVERDIR"] = str(folder)
        return env

    def readiness(self, role: str, grpc_port: PortReservation,
                  http_port: PortReservation) -> Readiness:
        """A node or gate serves once its gRPC port accepts; the inspector once ``/healthz``
        answers on its HTTP port."""
        if role == "inspector":
            return HttpGet(f"http://127.0.0.1:{http_port.port}/healthz")
        return TcpConnect("127.0.0.1", grpc_port.port)


class GoverseEmulator(_GoverseTarget):
    log_scan = GO_PANIC + PYTHON_TRACEBACK

    def command(self, role: str) -> list[str]:
        return [sys.executable, "-m", EMULATOR_MODULES[role]]

    def environment(self, name: str) -> dict[str, str]:
        """With short timings."""
        return {**super().environment(name), **EMULATOR_TIMING}


class GoverseBinary(_GoverseTarget):
    def __init__(self, bin_dir: Path, coverage_dir: Path | None = None) -> None:
        super().__init__(coverage_dir)
        self.bin_dir = bin_dir

    def command(self, role: str) -> list[str]:
        return [str(self.bin_dir / BINARY_NAMES[role])]


GoverseTarget = GoverseEmulator | GoverseBinary


def goverse_target(binaries: GoverseBinaries) -> GoverseTarget:
    """The Goverse target the settings name (building the binaries first if they say so)."""
    bin_dir = binaries.directory()
    if bin_dir is None:
        return GoverseEmulator(binaries.coverage_dir)
    return GoverseBinary(bin_dir, binaries.coverage_dir)
