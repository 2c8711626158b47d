"""The Codex nodes of one scenario: started (emulator or real binary) or attached (running URLs).

Nodes are started with the flags nim-codex's own harness passes (codex.md §5.3): their own data
dir, ``--api-port``, ``--disc-port``, ``--nat=none`` and ``--listen-addrs=/ip4/127.0.0.1/tcp/0``;
readiness is ``GET /debug/info`` answering 200.

A node started without bootstrap peers may be shared with the feature's next scenario (see
``support.shared_systems``): it then lives in the feature's shared folder, and the next scenario
that starts a node of the same name and options gets it back with a client of its own.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from support.codex.client import CodexClient
from support.config import CodexTargetKind, Settings
from support.http_journal import HttpJournal
from support.processes.launcher import ManagedProcess, ProcessLog, ProcessSpec
from support.processes.ports import PortReservation, reserve_port
from support.processes.readiness import HttpGet
from support.shared_systems import SharedSystems

READY_WITHIN = 60.0  # what nim-codex's harness allows
STOP_GRACE = 5.0
DEFAULT_LOG_LEVEL = "info"


@dataclass(frozen=True)
class NodeOptions:
    """Per-node settings a scenario may ask for, as ``codex`` flags."""

    storage_quota: int | None = None
    block_retries: int | None = None
    block_ttl: int | None = None
    block_maintenance_interval: int | None = None

    def flags(self) -> list[str]:
        names = {"storage_quota": "--storage-quota", "block_retries": "--block-retries",
                 "block_ttl": "--block-ttl", "block_maintenance_interval": "--block-mi"}
        return [f"{flag}={getattr(self, field)}" for field, flag in names.items()
                if getattr(self, field) is not None]


class NodeControlUnavailableError(RuntimeError):
    """The scenario needs to start or stop nodes, but the suite only attaches to running ones."""


@dataclass
class CodexNode:
    """One node of the scenario and how to reach it."""

    name: str
    client: CodexClient
    process: ManagedProcess | None = None
    data_dir: Path | None = None
    flags: list[str] = field(default_factory=list)
    ports: list[PortReservation] = field(default_factory=list)
    exit_codes: list[int | None] = field(default_factory=list)
    log_path: Path | None = None
    share_key: tuple[object, ...] | None = None  # set when the node may serve later scenarios
    changed: bool = False  # stopped, killed, restarted, or another node bootstrapped from it
    log_since: int = 0  # where this scenario's part of a shared node's log begins

    @property
    def managed(self) -> bool:
        return self.process is not None

    @property
    def slot(self) -> str:
        return node_slot(self.name)


def node_slot(name: str) -> str:
    """Where a shareable node waits for the feature's next scenario."""
    return f"codex node {name}"


def _child_environment() -> dict[str, str]:
    """The runner's environment without CODEX_* variables, which would move the node's flags."""
    return {k: v for k, v in os.environ.items() if not k.startswith("CODEX_")}


class CodexFleet:
    """Starts, restarts and stops a scenario's nodes; releases everything in ``close()``."""

    def __init__(self, settings: Settings, work_dir: Path, log_dir: Path,
                 journal: HttpJournal | None = None,
                 shared: SharedSystems | None = None) -> None:
        self.settings = settings
        self.work_dir = work_dir
        self.log_dir = log_dir
        self.journal = journal
        self.shared = shared
        self.nodes: dict[str, CodexNode] = {}

    def _command(self) -> list[str]:
        if self.settings.codex_target is CodexTargetKind.BINARY:
            return [str(self.settings.codex_binary)]
        return [sys.executable, "-m", "emulators.codex"]

    def require_control(self, action: str) -> None:
        if self.settings.codex_target is CodexTargetKind.URLS:
            raise NodeControlUnavailableError(
                f"cannot {action}: codex_urls is set, so the suite only uses running nodes"
            )

    def node(self, name: str) -> CodexNode:
        try:
            return self.nodes[name]
        except KeyError:
            raise KeyError(f"no Codex node named {name!r} in this scenario "
                           f"(known: {', '.join(self.nodes) or 'none'})") from None

    def start(self, name: str, *, bootstrap: Sequence[str] = (),
              options: NodeOptions | None = None,
              log_level: str = DEFAULT_LOG_LEVEL) -> CodexNode:
        """Start a node bootstrapped from the named nodes (or attach the next running node when
        codex_urls is set: then the operator connected them, and options need node control)."""
        if name in self.nodes:
            raise ValueError(f"a Codex node named {name!r} already exists")
        options = options or NodeOptions()
        if self.settings.codex_target is CodexTargetKind.URLS:
            if options != NodeOptions():
                self.require_control("start a node with its own settings")
            return self._attach(name)
        share_key = (options, log_level) if not bootstrap and self.shared else None
        if share_key is not None:
            kept = self.shared.take(node_slot(name), share_key)
            if kept is not None:
                return self._adopt(kept)
        for peer in bootstrap:
            self.node(peer).changed = True  # it now knows a peer that will not outlive us
        api, disc = reserve_port(), reserve_port(udp=True)
        if share_key is not None:
            folder = self.shared.new_folder(f"codex-{name}-")
            data_dir, log_path = folder / "data", folder / f"codex-{name}.log"
        else:
            data_dir, log_path = self.work_dir / name / "data", self.log_dir / f"codex-{name}.log"
        flags = [
            f"--data-dir={data_dir}",
            "--listen-addrs=/ip4/127.0.0.1/tcp/0",
            "--api-bindaddr=127.0.0.1",
            f"--api-port={api.port}",
            f"--disc-port={disc.port}",
            "--nat=none",
            f"--log-level={log_level}",
        ]
        flags += options.flags()
        flags += [f"--bootstrap-node={self.spr_of(peer)}" for peer in bootstrap]
        client = CodexClient(f"http://127.0.0.1:{api.port}",
                             timeout=self.settings.timeout(60), journal=self.journal)
        node = CodexNode(name, client, data_dir=data_dir, flags=flags, ports=[api, disc],
                         log_path=log_path, share_key=share_key)
        self.nodes[name] = node
        self._spawn(node)
        return node

    def _adopt(self, node: CodexNode) -> CodexNode:
        """Take over a node an earlier scenario of the feature left running."""
        node.client.close()
        node.client = CodexClient(node.client.base_url, timeout=node.client.timeout,
                                  journal=self.journal)
        node.log_since = node.log_path.stat().st_size if node.log_path.exists() else 0
        node.exit_codes.clear()
        self.nodes[node.name] = node
        return node

    def start_network(self, names: Sequence[str],
                      bootstrap: Mapping[str, Sequence[str]] | None = None,
                      options: NodeOptions | None = None) -> list[CodexNode]:
        """Start nodes in order; by default each one bootstraps from every node started before it,
        as nim-codex's own harness chains them."""
        started = []
        for index, name in enumerate(names):
            peers = list(names[:index]) if bootstrap is None else list(bootstrap.get(name, ()))
            started.append(self.start(name, bootstrap=peers, options=options))
        return started

    def spr_of(self, name: str) -> str:
        """The signed peer record a node reports in ``/debug/info`` (what others bootstrap from)."""
        return str(self.node(name).client.debug_info()["spr"])

    def _attach(self, name: str) -> CodexNode:
        urls = self.settings.codex_urls
        index = len(self.nodes)
        if index >= len(urls):
            raise NodeControlUnavailableError(
                f"the scenario needs node {name!r}, but codex_urls names only {len(urls)} node(s)"
            )
        client = CodexClient(urls[index], timeout=self.settings.timeout(60), journal=self.journal)
        node = CodexNode(name, client)
        self.nodes[name] = node
        return node

    def _spawn(self, node: CodexNode) -> None:
        assert node.data_dir is not None and node.log_path is not None
        node.data_dir.parent.mkdir(parents=True, exist_ok=True)
        spec = ProcessSpec(
            name=f"Codex node {node.name}",
            argv=[*self._command(), *node.flags],
            cwd=node.data_dir.parent,
            env=_child_environment(),
            log_path=node.log_path,
            readiness=HttpGet(node.client.api_url + "/debug/info"),
            ready_within=self.settings.timeout(READY_WITHIN),
            stop_grace=self.settings.timeout(STOP_GRACE),
        )
        node.process = ManagedProcess(spec)
        node.process.start()

    def stop(self, name: str) -> int | None:
        """Stop a node gracefully (SIGTERM, then SIGKILL after the grace); returns its exit code."""
        return self._end(name, "stop a node", graceful=True)

    def kill(self, name: str) -> int | None:
        """SIGKILL a node, as a crash would; returns its exit code."""
        return self._end(name, "kill a node", graceful=False)

    def _end(self, name: str, action: str, graceful: bool) -> int | None:
        self.require_control(action)
        node = self.node(name)
        assert node.process is not None
        node.changed = True
        code = node.process.stop() if graceful else node.process.kill()
        node.exit_codes.append(code)
        return code

    def restart(self, name: str) -> CodexNode:
        """Stop a node and start it again on the same data dir and ports."""
        self.stop(name)
        node = self.node(name)
        node.client.close()
        node.client = CodexClient(node.client.base_url, timeout=node.client.timeout,
                                  journal=self.journal)
        self._spawn(node)
        return node

    def log_files(self) -> list[ProcessLog]:
        return [ProcessLog(node.process.name, node.process.log_path, node.log_since)
                for node in self.nodes.values() if node.process is not None]

    def close(self, share: bool = False) -> None:
        """Release every node: with ``share``, nodes that may serve the feature's next scenario
        and still run unchanged are handed on; the others are stopped with their data removed."""
        for node in reversed(list(self.nodes.values())):
            running = node.process is not None and node.process.is_running()
            if share and self.shared and node.share_key and running and not node.changed:
                self.shared.keep(node.slot, node.share_key, node, _release)
            else:
                _release(node)
        self.nodes.clear()


def _release(node: CodexNode) -> None:
    """Stop a node (if it runs), free its ports and remove its data (its log stays)."""
    if node.process is not None and node.process.is_running():
        node.exit_codes.append(node.process.stop())
    node.client.close()
    for reservation in node.ports:
        reservation.release()
    if node.data_dir is not None:
        shutil.rmtree(node.data_dir, ignore_errors=True)
