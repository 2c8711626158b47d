"""The account's storage node: a child process this node owns while the protocol is enabled.

status-go runs logos-storage in-process from ``params.LogosStorageConfig``; the emulator starts a
Codex node (the emulator, or a real binary via ``STATUS_EMULATOR_CODEX_COMMAND``) with the flags
nim-codex's harness passes, built from the same NodeConfig fields and their overrides
(``services/logosstorage/logos_storage_config_overrides.go``).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import BinaryIO

from emulators.community.archives.codex_rest import StorageClient, StorageError
from emulators.community.seams import ENV_CODEX_COMMAND, ENV_STORAGE_API_PORT

READY_WITHIN = 60.0  # what nim-codex's harness allows
STOP_GRACE = 5.0
_POLL = 0.01  # seconds between looks at a starting node (its log, its REST API)
_PR_SET_PDEATHSIG = 1
_REST_STARTED = re.compile(r"REST service started.*?address=\"?([0-9.]+):(\d+)")
_INT64 = (-(1 << 63), (1 << 63) - 1)


@dataclass(frozen=True)
class NodeConfig:
    """``params.LogosStorageNodeConfig``: Go field names, zero values meaning "default"."""

    LogLevel: str = ""
    LogFormat: str = ""
    MetricsEnabled: bool = False
    MetricsAddress: str = ""
    MetricsPort: int = 0
    DataDir: str = ""
    ListenAddrs: tuple[str, ...] = ()
    Nat: str = ""
    DiscoveryPort: int = 8090
    NetPrivKeyFile: str = ""
    BootstrapNodes: tuple[str, ...] = ()
    MaxPeers: int = 0
    NumThreads: int = 0
    AgentString: str = ""
    RepoKind: str = ""
    StorageQuota: int = 0
    BlockTtl: str = ""
    BlockMaintenanceInterval: str = ""
    BlockMaintenanceNumberOfBlocks: int = 0
    BlockRetries: int = 3000
    CacheSize: int = 0
    LogFile: str = ""


@dataclass(frozen=True)
class StorageConfig:
    """``params.LogosStorageConfig``."""

    Enabled: bool = False
    NodeConfig: NodeConfig = field(default_factory=NodeConfig)


class OverrideError(Exception):
    """ApplyLogosStorageConfigOverrides refused an override (the text is Go's)."""


def apply_overrides(config: StorageConfig, overrides: dict[str, str]) -> StorageConfig:
    """Set Go field paths (``NodeConfig.DiscoveryPort``) from strings, as status-go does."""
    for raw_key, raw in overrides.items():
        key = raw_key.strip()
        if not key:
            continue
        try:
            config = _set_path(config, key, key.split("."), raw)
        except OverrideError as exc:
            raise OverrideError(f'failed to apply LogosStorageConfig override "{key}": '
                                f"{exc}") from None
    return config


def _set_path(target: object, path: str, parts: list[str], raw: str) -> object:
    part = parts[0]
    if not part:
        raise OverrideError(f'invalid empty segment in path "{path}"')
    names = {f.name for f in fields(target)}  # type: ignore[arg-type]
    if part not in names:
        raise OverrideError(f'unknown field "{part}" in path "{path}"')
    current = getattr(target, part)
    if len(parts) == 1:
        return replace(target, **{part: _parse_value(current, raw)})  # type: ignore[type-var]
    if not isinstance(current, NodeConfig):
        raise OverrideError(f'field "{part}" in path "{path}" is not addressable struct '
                            "or pointer")
    return replace(target, **{part: _set_path(current, path, parts[1:], raw)})  # type: ignore


def _parse_value(current: object, raw: str) -> object:
    """strconv.ParseBool / ParseInt(…, 10, 64), or a []string from JSON or a comma list."""
    if isinstance(current, bool):
        if raw in ("1", "t", "T", "TRUE", "true", "True"):
            return True
        if raw in ("0", "f", "F", "FALSE", "false", "False"):
            return False
        raise OverrideError(f'strconv.ParseBool: parsing "{raw}": invalid syntax')
    if isinstance(current, int):
        if not re.fullmatch(r"[+-]?\d+", raw):
            raise OverrideError(f'strconv.ParseInt: parsing "{raw}": invalid syntax')
        value = int(raw)
        if not _INT64[0] <= value <= _INT64[1]:
            raise OverrideError(f'strconv.ParseInt: parsing "{raw}": value out of range')
        return value
    if isinstance(current, tuple):
        if raw == "":
            return ()
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = ""
        if parsed is None or (isinstance(parsed, list)
                              and all(isinstance(p, str) for p in parsed)):
            return tuple(parsed or ())
        return tuple(c.strip() for c in raw.split(",") if c.strip())
    if isinstance(current, NodeConfig):
        raise OverrideError("unsupported field kind struct")
    return raw


def node_flags(config: NodeConfig, data_dir: Path, api_port: int) -> list[str]:
    """The Codex command line for this NodeConfig (``--key=value``, as nim-codex's harness)."""
    flags = [f"--data-dir={config.DataDir or data_dir / 'logos-storage'}",
             f"--disc-port={config.DiscoveryPort}"]
    flags += [f"--listen-addrs={a}" for a in config.ListenAddrs or ("/ip4/127.0.0.1/tcp/0",)]
    flags += [f"--nat={config.Nat or 'none'}", "--api-bindaddr=127.0.0.1",
              f"--api-port={api_port}"]
    flags += [f"--bootstrap-node={spr}" for spr in config.BootstrapNodes]
    flags += [f"--block-retries={config.BlockRetries}",
              f"--log-level={config.LogLevel or 'info'}"]
    optional = {"--log-format": config.LogFormat, "--net-privkey": config.NetPrivKeyFile,
                "--max-peers": config.MaxPeers, "--num-threads": config.NumThreads,
                "--agent-string": config.AgentString, "--repo-kind": config.RepoKind,
                "--storage-quota": config.StorageQuota, "--block-ttl": config.BlockTtl,
                "--block-mi": config.BlockMaintenanceInterval,
                "--block-mn": config.BlockMaintenanceNumberOfBlocks,
                "--cache-size": config.CacheSize, "--log-file": config.LogFile,
                "--metrics-address": config.MetricsAddress,
                "--metrics-port": config.MetricsPort}
    flags += [f"{flag}={value}" for flag, value in optional.items() if value]
    if config.MetricsEnabled:
        flags.append("--metrics")
    return flags


_DEFAULT_COMMAND = [sys.executable, "-m", "emulators.codex"]
_SPARE_COMMAND = [sys.executable, "-m", "emulators.community.archives.spare"]


def _command_prefix() -> list[str]:
    raw = os.environ.get(ENV_CODEX_COMMAND, "")
    if raw:
        try:
            argv = json.loads(raw)
        except ValueError:
            argv = None
        if isinstance(argv, list) and argv and all(isinstance(a, str) for a in argv):
            return argv
    return _DEFAULT_COMMAND


_LIBC = ctypes.CDLL(None, use_errno=True)  # loaded before any fork: the child only calls it


def _dies_with(parent: int) -> Callable[[], None]:
    """The child's pre-exec step: SIGKILL when the thread that started it goes (or already
    went)."""

    def arm() -> None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)

    return arm


class _Child:
    """A storage node process and the thread that spawned it and waits for it:
    PR_SET_PDEATHSIG follows the spawning *thread*, so it must live as long as the child, never
    be a short-lived request thread."""

    def __init__(self, argv: list[str], cwd: Path, log_path: Path | None) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self.error: BaseException | None = None
        self._started = threading.Event()
        self.owner = threading.Thread(target=self._own, args=(argv, cwd, log_path),
                                      name="storage-node", daemon=True)
        self.owner.start()

    def _own(self, argv: list[str], cwd: Path, log_path: Path | None) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CODEX_")}
        try:
            with contextlib.ExitStack() as files:
                if log_path is None:  # a spare: it opens the log it is given; until then
                    # what goes wrong (an import) shows in this node's own log
                    out: int | BinaryIO = subprocess.DEVNULL
                    err: int | None = None
                else:
                    out, err = files.enter_context(open(log_path, "ab")), subprocess.STDOUT
                    os.chmod(log_path, 0o600)
                self.process = subprocess.Popen(
                    argv, stdin=subprocess.DEVNULL if log_path else subprocess.PIPE,
                    stdout=out, stderr=err, env=env, cwd=cwd,
                    preexec_fn=_dies_with(os.getpid()))  # noqa: PLW1509
        except OSError as exc:
            self.error = exc
            self._started.set()
            return
        self._started.set()
        self.process.wait()

    def spawned(self) -> subprocess.Popen[bytes] | None:
        """The process once spawned (None if it could not be)."""
        self._started.wait()
        return self.process

    def run(self, flags: list[str], cwd: Path, log_path: Path) -> bool:
        """Hand a spare its node's flags; False if it is no longer there to take them."""
        process = self.spawned()
        if process is None or process.stdin is None or process.poll() is not None:
            return False
        request = {"args": flags, "log": str(log_path), "cwd": str(cwd)}
        try:
            process.stdin.write(json.dumps(request).encode() + b"\n")
            process.stdin.close()
        except OSError:
            return False
        return True


class _Spare:
    """At most one storage node process of the default command, started ahead of need and
    waiting for its flags (``emulators.community.archives.spare``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: _Child | None = None

    def prepare(self) -> None:
        """Start a spare unless one waits (or a real binary is configured)."""
        if _command_prefix() is not _DEFAULT_COMMAND:
            return
        with self._lock:
            if self._waiting is None:
                self._waiting = _Child(_SPARE_COMMAND, Path("/"), None)

    def take(self) -> _Child | None:
        with self._lock:
            child, self._waiting = self._waiting, None
        return child


SPARE = _Spare()


class StorageNode:
    """One running storage node, its REST client and its log."""

    def __init__(self, config: NodeConfig, data_dir: Path) -> None:
        self.config = config
        self.data_dir = data_dir
        self.log_path = data_dir / "logos-storage.log"
        self.client: StorageClient | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._owner: threading.Thread | None = None

    def start(self, ready_within: float = READY_WITHIN) -> StorageClient:
        """Start the node (a spare's, if one waits) and wait until its REST API answers;
        raises StorageError if not."""
        port_text = os.environ.get(ENV_STORAGE_API_PORT, "")
        api_port = int(port_text) if port_text.isdigit() else 0
        prefix = _command_prefix()
        flags = node_flags(self.config, self.data_dir, api_port)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        child = SPARE.take() if prefix is _DEFAULT_COMMAND else None
        if child is not None:
            self.log_path.touch(0o600)
            os.chmod(self.log_path, 0o600)
        if child is None or not child.run(flags, self.data_dir, self.log_path):
            child = _Child([*prefix, *flags], self.data_dir, self.log_path)
        SPARE.prepare()  # for the next login of this backend
        self._owner, self._process = child.owner, child.spawned()
        if self._process is None:
            raise StorageError(f"cannot start the storage node: {child.error}")
        deadline = time.monotonic() + ready_within
        try:
            port = api_port or self._port_from_log(offset, deadline)
            self.client = StorageClient(f"http://127.0.0.1:{port}")
            self._wait_ready(self.client, deadline)
        except StorageError:
            self.stop()
            raise
        return self.client

    def _exited(self) -> bool:
        return self._process is None or self._process.poll() is not None

    def _port_from_log(self, offset: int, deadline: float) -> int:
        """The REST port from the node's ``REST service started … address=host:port`` line."""
        waiter = threading.Event()
        while time.monotonic() < deadline and not self._exited():
            with open(self.log_path, "rb") as log:
                log.seek(offset)
                match = _REST_STARTED.search(log.read().decode("utf-8", "replace"))
            if match:
                return int(match.group(2))
            waiter.wait(_POLL)
        raise StorageError(self._failure("did not report its REST address"))

    def _wait_ready(self, client: StorageClient, deadline: float) -> None:
        waiter = threading.Event()
        while time.monotonic() < deadline and not self._exited():
            try:
                client.debug_info(timeout=max(0.1, min(2.0, deadline - time.monotonic())))
                return
            except StorageError:
                waiter.wait(_POLL)
        raise StorageError(self._failure("did not become ready"))

    def _failure(self, what: str) -> str:
        code = None if self._process is None else self._process.poll()
        state = f"exited with code {code}" if code is not None else what
        tail = self.log_path.read_text("utf-8", "replace")[-800:] if self.log_path.exists() else ""
        return f"the storage node {state}; log {self.log_path}: {tail.strip()}"

    def stop(self, grace: float = STOP_GRACE) -> None:
        """SIGTERM, then SIGKILL after the grace period; returns once the process is gone."""
        process = self._process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(grace)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._owner is not None:
            self._owner.join()
        self.client = None

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid
