"""Where a person's status-backend comes from: one class per kind of target.

- ``EmulatorTarget`` (default): ``python -m emulators.community --address 127.0.0.1:<port>``,
  with the emulator's knobs in its environment (backdating, a 1 s hash-ratchet retry, the token
  ledger, a known storage API port, the Codex command).
- ``BinaryTarget`` (``status_backend_binary``): the same command line, plain environment.
- ``RunningTarget`` (``status_backend_urls``): persons map to the running backends in order.

A backend the suite started may serve the feature's later scenarios (``support.shared_systems``):
it is then left logged out, as a running target's backends are, and the next scenario's person
of the same place creates a new account on it; its log from ``log_since`` on is that scenario's.

Each owns its command line, environment, readiness (``/health`` within a scaled deadline), stop
(the launcher's SIGTERM-then-SIGKILL of the whole tree) and the checks made on it (exit code 0, no
panic or traceback in the backend's log, no ``ERR`` line or traceback in an emulated storage
node's), logs and the capabilities it offers.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

import psutil
import requests

from support.capabilities import Need, active_tag
from support.config import Settings, StatusBackendTargetKind
from support.processes.checks import (
    GO_PANIC,
    NIM_ERROR,
    NOTHING,
    PYTHON_TRACEBACK,
    LogScan,
    log_problem,
    log_size,
    scan_logs,
    stop_and_check,
)
from support.processes.launcher import ManagedProcess, ProcessLog, ProcessSpec
from support.processes.ports import PortReservation, reserve_port
from support.processes.readiness import NotReadyError, ProcessOutput
from support.waiting import eventually

READY_WITHIN = 30.0
STOP_GRACE = 10.0
PROBE_WITHIN = 2.0  # one /health probe
STORAGE_LOG = "logos-storage.log"  # the emulator's storage node log, in the account's folder


class Capability(Enum):
    """What only some targets offer; scenarios needing one carry its tag."""

    EXPLICIT_ARCHIVE_WINDOW = (
        "explicit_archive_window",
        "archives of a chosen time window, the index announced on demand and messages from the "
        "past (createHistoryArchiveFromDB, dispatchArchiveLink, a backdated sendChatMessage)",
        "status-go offers them only to its Go tests, not through status-backend")
    STORAGE_ACCESS = (
        "storage_access",
        "direct access to a person's storage node (its REST API and files)",
        "status-go runs the storage node in-process, without an API of its own")
    EMULATED_CHAIN = (
        "emulated_chain",
        "community tokens for members",
        "a real status-backend needs a chain with the token deployed, the emulator reads "
        "balances from the suite's token ledger")

    @property
    def category(self) -> str:
        return str(self.value[0])

    @property
    def tag(self) -> str:
        return active_tag(self.category)

    @property
    def what(self) -> str:
        return str(self.value[1])

    @property
    def why(self) -> str:
        """Why only the embedded emulator offers it."""
        return str(self.value[2])


# Environment of the emulator (a real status-backend ignores these); names as in the emulator.
ENV_BACKDATING = "STATUS_EMULATOR_BACKDATING"
ENV_RATCHET_RETRY = "STATUS_EMULATOR_RATCHET_RETRY"
ENV_TOKEN_LEDGER = "STATUS_EMULATOR_TOKEN_LEDGER"
ENV_STORAGE_API_PORT = "STATUS_EMULATOR_STORAGE_API_PORT"
ENV_CODEX_COMMAND = "STATUS_EMULATOR_CODEX_COMMAND"


@dataclass(frozen=True)
class Health:
    """Ready when ``/health`` answers 200 with JSON (asked as status-go's client asks it)."""

    url: str
    timeout: float = PROBE_WITHIN

    def describe(self) -> str:
        return f"{self.url} answers"

    def check(self, output: ProcessOutput) -> None:
        self.ask()

    def ask(self) -> None:
        try:
            response = requests.post(self.url, json=[], timeout=self.timeout)
            response.raise_for_status()
            response.json()
        except (requests.RequestException, ValueError) as exc:
            raise NotReadyError(f"{self.url}: {exc.__class__.__name__}") from exc


@dataclass
class Backend:
    """One person's status-backend: where it answers, and what the suite must release."""

    owner: str
    url: str
    process: ManagedProcess | None = None
    reservations: list[PortReservation] = field(default_factory=list)
    storage_port: int | None = None  # the storage node's REST port, when the suite chose it
    log_scan: LogScan = NOTHING  # what in the backend's log means it is broken
    storage_log_scan: LogScan = NOTHING  # the same for its storage node's log
    clean_exits: tuple[int, ...] = (0,)
    log_since: int = 0  # where the current scenario's part of the backend's log begins

    @property
    def storage_url(self) -> str | None:
        return None if self.storage_port is None else f"http://127.0.0.1:{self.storage_port}"

    def logs(self, data_dir: Path) -> list[ProcessLog]:
        found = [] if self.process is None else [ProcessLog(self.process.name,
                                                            self.process.log_path,
                                                            self.log_since)]
        found += [ProcessLog(f"storage node of {self.owner} ({path.parent.name})", path)
                  for path in sorted(data_dir.rglob(STORAGE_LOG))]
        return found

    def storage_process(self) -> psutil.Process:
        """The storage node the backend started for this person: its process listening on the
        REST port the suite chose."""
        if self.process is None or self.storage_port is None:
            raise AssertionError(f"{self.owner}'s storage node is not a process the suite knows")
        for child in psutil.Process(self.process.pid).children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if any(c.laddr and c.laddr.port == self.storage_port
                       and c.status == psutil.CONN_LISTEN
                       for c in child.net_connections(kind="tcp")):
                    return child
        raise AssertionError(f"{self.owner}'s storage node is not running")

    def storage_requests_in_flight(self) -> int:
        """How many requests the backend has open to its storage node's REST API right now (its
        storage client opens one connection per request)."""
        if self.process is None or self.storage_port is None:
            raise AssertionError(f"{self.owner}'s storage node is not a process the suite knows")
        connections = psutil.Process(self.process.pid).net_connections(kind="tcp")
        return sum(1 for c in connections if c.raddr and c.raddr.port == self.storage_port
                   and c.status == psutil.CONN_ESTABLISHED)

    def is_running(self) -> bool:
        return self.process is not None and self.process.is_running()

    def serve_next(self, owner: str) -> None:
        """Serve another scenario's person: their part of the log begins now."""
        assert self.process is not None
        self.owner = owner
        self.log_since = log_size(self.process.log_path)

    def check(self, data_dir: Path) -> list[str]:
        """Check the running backend's log (this scenario's part) and its storage node's (in
        the account's ``data_dir``) without stopping it; returns what the checks found."""
        assert self.process is not None
        found = log_problem(self.process.name, self.process.log_path, self.log_scan,
                            self.log_since)
        return ([found] if found else []) + scan_logs(self.logs(data_dir)[1:],
                                                      self.storage_log_scan)

    def stop(self, data_dir: Path | None = None) -> list[str]:
        """Stop the backend (if the suite started it) and check it and the log of its storage
        node (in the account's ``data_dir``); returns what the checks found."""
        problems: list[str] = []
        if self.process is not None:
            problems += stop_and_check(self.process, self.log_scan, self.log_since,
                                       self.clean_exits)
            if data_dir is not None:
                problems += scan_logs(self.logs(data_dir)[1:], self.storage_log_scan)
        for reservation in self.reservations:
            reservation.release()
        self.reservations.clear()
        return problems


class _StartedTarget:
    """What the emulator and a binary share: the suite starts one backend per person."""

    kind: StatusBackendTargetKind
    capabilities: frozenset[Capability] = frozenset()
    log_scan: LogScan = GO_PANIC
    storage_log_scan: LogScan = NOTHING  # status-go runs its storage node in-process

    def __init__(self, settings: Settings, work_dir: Path, log_dir: Path) -> None:
        self.settings = settings
        self.work_dir = work_dir
        self.log_dir = log_dir

    def command(self) -> list[str]:
        raise NotImplementedError

    def share_key(self) -> tuple[object, ...]:
        """What a backend must have been started with to serve another scenario."""
        return (self.kind, tuple(self.command()))

    def environment(self, backend: Backend) -> dict[str, str]:
        return {k: v for k, v in os.environ.items() if not k.startswith("STATUS_EMULATOR_")}

    def start(self, person: str, home: Path | None = None) -> Backend:
        """A new backend for ``person``; with ``home``, its working folder and log are there
        (a folder that outlives the scenario, for a backend later scenarios may use)."""
        work_dir, log_dir = (home, home) if home is not None else (self.work_dir, self.log_dir)
        port = reserve_port()
        backend = Backend(person, f"http://127.0.0.1:{port.port}", reservations=[port],
                          log_scan=self.log_scan, storage_log_scan=self.storage_log_scan)
        env = self.environment(backend)
        work_dir.mkdir(parents=True, exist_ok=True)
        backend.process = ManagedProcess(ProcessSpec(
            name=f"status-backend of {person}",
            argv=[*self.command(), "--address", f"127.0.0.1:{port.port}"],
            cwd=work_dir, env=env,
            log_path=log_dir / f"status-backend-{person}.log",
            readiness=Health(backend.url + "/health", self.settings.timeout(PROBE_WITHIN)),
            ready_within=self.settings.timeout(READY_WITHIN),
            stop_grace=self.settings.timeout(STOP_GRACE),
        ))
        try:
            backend.process.start()
        except Exception:
            backend.stop()
            raise
        return backend


class EmulatorTarget(_StartedTarget):
    kind = StatusBackendTargetKind.EMULATOR
    capabilities = frozenset(Capability)
    log_scan = GO_PANIC + PYTHON_TRACEBACK
    storage_log_scan = NIM_ERROR + PYTHON_TRACEBACK  # its storage nodes are Codex emulators

    def __init__(self, settings: Settings, work_dir: Path, log_dir: Path,
                 token_ledger: Path) -> None:
        super().__init__(settings, work_dir, log_dir)
        self.token_ledger = token_ledger

    def command(self) -> list[str]:
        return [sys.executable, "-m", "emulators.community"]

    def share_key(self) -> tuple[object, ...]:
        return (*super().share_key(), str(self.token_ledger))

    def environment(self, backend: Backend) -> dict[str, str]:
        storage = reserve_port()
        backend.reservations.append(storage)
        backend.storage_port = storage.port
        env = super().environment(backend)
        env.update({ENV_BACKDATING: "1", ENV_RATCHET_RETRY: "1",
                    ENV_TOKEN_LEDGER: str(self.token_ledger),
                    ENV_STORAGE_API_PORT: str(storage.port)})
        if self.settings.codex_binary is not None:
            env[ENV_CODEX_COMMAND] = json.dumps([str(self.settings.codex_binary)])
        return env


class BinaryTarget(_StartedTarget):
    kind = StatusBackendTargetKind.BINARY

    def command(self) -> list[str]:
        assert self.settings.status_backend_binary is not None
        return [str(self.settings.status_backend_binary)]


class RunningTarget:
    """Backends someone else started; the n-th person of a scenario gets the n-th URL."""

    kind = StatusBackendTargetKind.URLS
    capabilities: frozenset[Capability] = frozenset()

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._handed_out = 0

    def share_key(self) -> tuple[object, ...]:
        """Its backends are someone else's: the suite never hands them on itself."""
        return (self.kind,)

    def start(self, person: str, home: Path | None = None) -> Backend:
        urls = self.settings.status_backend_urls
        if self._handed_out >= len(urls):
            raise AssertionError(f"the scenario needs a status-backend for {person}, but "
                                 f"status_backend_urls names only {len(urls)}")
        backend = Backend(person, urls[self._handed_out])
        self._handed_out += 1
        probe = Health(backend.url + "/health", self.settings.timeout(PROBE_WITHIN))

        def healthy() -> None:
            try:
                probe.ask()
            except NotReadyError as exc:
                raise AssertionError(f"the status-backend for {person} at {backend.url} does "
                                     f"not answer: {exc}") from exc

        eventually(healthy, self.settings.timeout(READY_WITHIN), interval=0.2)
        return backend


Target = EmulatorTarget | BinaryTarget | RunningTarget


_KINDS: dict[StatusBackendTargetKind, type[Target]] = {
    StatusBackendTargetKind.EMULATOR: EmulatorTarget,
    StatusBackendTargetKind.BINARY: BinaryTarget,
    StatusBackendTargetKind.URLS: RunningTarget,
}


class TargetCapabilities:
    """What the status-backend target the settings name can do, for the capability tags."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.offered = _KINDS[settings.status_backend_target].capabilities

    def offers(self, capability: Need) -> bool:
        return capability in self.offered

    def lacks(self, capability: Need) -> str:
        why = f" ({capability.why})" if isinstance(capability, Capability) else ""
        return (f"the status-backend target is "
                f"{self.settings.describe_status_backend_target()}, but this scenario needs "
                f"@{active_tag(capability.category)}: {capability.what}, which only the "
                f"embedded emulator offers{why}")


def make_target(settings: Settings, work_dir: Path, log_dir: Path, token_ledger: Path
                ) -> Target:
    kind = settings.status_backend_target
    if kind is StatusBackendTargetKind.URLS:
        return RunningTarget(settings)
    if kind is StatusBackendTargetKind.BINARY:
        return BinaryTarget(settings, work_dir, log_dir)
    return EmulatorTarget(settings, work_dir, log_dir, token_ledger)
