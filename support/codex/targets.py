"""Which Codex the scenarios talk to: one class per kind of target.

- ``CodexEmulator`` (default): ``python -m emulators.codex`` with the real binary's flags.
- ``CodexBinary`` (``codex_binary``): the real ``codex`` program, same flags.
- ``RunningCodex`` (``codex_urls``): nodes someone else started; the n-th node of a scenario is
  the n-th URL, and nothing can be started, restarted or stopped.

Each owns its command line, environment, readiness (``GET /debug/info`` answering 200 within a
scaled deadline, codex.md §5.3), what it can do (``NODE_CONTROL``) and the checks made on stop:
exit code 0 after SIGTERM (codex.md §5.2), and a log free of tracebacks and ``ERR`` lines; in a
scenario that killed or froze a node on purpose, its peers' ``ERR`` lines are provoked and only
``FAT`` lines count.
"""

from __future__ import annotations

import os
import sys

from support.capabilities import Capability, Need
from support.config import CodexTargetKind, Settings
from support.processes.checks import NIM_ERROR, NIM_FATAL, PYTHON_TRACEBACK, LogScan
from support.processes.readiness import HttpGet, Readiness

READY_WITHIN = 60.0  # what nim-codex's harness allows
STOP_GRACE = 5.0

NODE_CONTROL = Capability("node_control", "starts, restarts, stops, kills or freezes nodes")


class _StartedCodex:
    """What the emulator and a binary share: the suite starts each node itself."""

    kind: CodexTargetKind
    log_scan: LogScan = NIM_ERROR
    fault_log_scan: LogScan = NIM_FATAL  # where the scenario killed or froze a node
    clean_exits: tuple[int, ...] = (0,)

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        """The runner's environment without CODEX_* variables, which would move the flags."""
        return {k: v for k, v in os.environ.items() if not k.startswith("CODEX_")}

    def readiness(self, api_url: str) -> Readiness:
        return HttpGet(api_url + "/debug/info")

    @property
    def ready_within(self) -> float:
        return self.settings.timeout(READY_WITHIN)

    @property
    def stop_grace(self) -> float:
        return self.settings.timeout(STOP_GRACE)

    def offers(self, capability: Need) -> bool:
        return capability is NODE_CONTROL

    def lacks(self, capability: Need) -> str:
        return f"{self.settings.describe_codex_target()} lacks {capability.category}"


class CodexEmulator(_StartedCodex):
    kind = CodexTargetKind.EMULATOR
    log_scan = NIM_ERROR + PYTHON_TRACEBACK
    fault_log_scan = NIM_FATAL + PYTHON_TRACEBACK

    def command(self) -> list[str]:
        return [sys.executable, "-m", "emulators.codex"]


class CodexBinary(_StartedCodex):
    kind = CodexTargetKind.BINARY

    def command(self) -> list[str]:
        assert self.settings.codex_binary is not None
        return [str(self.settings.codex_binary)]


class RunningCodex:
    """Nodes someone else runs: the suite only talks to them."""

    kind = CodexTargetKind.URLS

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def offers(self, capability: Need) -> bool:
        return False

    def lacks(self, capability: Need) -> str:
        return (f"codex_urls is set: this scenario {capability.what}, which only nodes the "
                "suite manages allow")


CodexTarget = CodexEmulator | CodexBinary | RunningCodex


def codex_target(settings: Settings) -> CodexTarget:
    """The Codex target the settings name."""
    kind = settings.codex_target
    if kind is CodexTargetKind.URLS:
        return RunningCodex(settings)
    if kind is CodexTargetKind.BINARY:
        return CodexBinary(settings)
    return CodexEmulator(settings)
