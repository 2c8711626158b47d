"""The Codex nodes of one scenario: started (emulator or real binary) or attached (running URLs),
as the target says (``support.codex.targets``), and stopped and checked as it says.

Nodes are started with the flags nim-codex's own harness passes (codex.md §5.3): their own data
dir, ``--api-port``, ``--disc-port``, ``--nat=none`` and ``--listen-addrs=/ip4/127.0.0.1/tcp/0``;
readiness is ``GET /debug/info`` answering 200.

A node started without bootstrap peers may be shared with the feature's next scenario (see
``support.shared_systems``): it then lives in the feature's shared folder, and the next scenario
that starts a node of the same name and options gets it back with a client of its own.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from support.codex.client import CodexClient
from support.codex.targets import NODE_CONTROL, CodexTarget, RunningCodex, codex_target
from support.config import Settings
from support.journal import Journal
from support.processes.checks import LogScan, exit_problem, scan_logs, stop_and_check
from support.processes.launcher import ManagedProcess, ProcessLog, ProcessSpec
from support.processes.ports import PortReservation, reserve_port
from support.shared_systems import SharedSystems

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
    problems: list[str] = field(default_factory=list)  # what the stop checks found

    @property
    def managed(self) -> bool:
        return self.process is not None

    @property
    def slot(self) -> str:
        return node_slot(self.name)


def node_slot(name: str) -> str:
    """Where a shareable node waits for the feature's next scenario."""
    return f"codex node {name}"


class CodexFleet:
    """Starts, restarts and stops a scenario's nodes; releases everything in ``close()``."""

    def __init__(self, settings: Settings, work_dir: Path, log_dir: Path,
                 journal: Journal | None = None,
                 shared: SharedSystems | None = None) -> None:
        self.settings = settings
        self.work_dir = work_dir
        self.log_dir = log_dir
        self.journal = journal
        self.shared = shared
        self.target: CodexTarget = codex_target(settings)
        self.nodes: dict[str, CodexNode] = {}

    def require_control(self, action: str) -> None:
        if not self.target.offers(NODE_CONTROL):
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
        if isinstance(self.target, RunningCodex):
            if options != NodeOptions():
                self.require_control("start a node with its own settings")
            return self._attach(name)
        shared = self.shared if not bootstrap else None
        share_key = (options, log_level) if shared else None
        if shared is not None and share_key is not None:
            kept: CodexNode | None = shared.take(node_slot(name), share_key)
            if kept is not None:
                return self._adopt(kept)
        for peer in bootstrap:
            self.node(peer).changed = True  # it now knows a peer that will not outlive us
        api, disc = reserve_port(), reserve_port(udp=True)
        if shared is not None and share_key is not None:
            folder = shared.new_folder(f"codex-{name}-")
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
        client = self._client_for(f"http://127.0.0.1:{api.port}", self.settings.timeout(60))
        node = CodexNode(name, client, data_dir=data_dir, flags=flags, ports=[api, disc],
                         log_path=log_path, share_key=share_key)
        self.nodes[name] = node
        self._spawn(node)
        return node

    def _adopt(self, node: CodexNode) -> CodexNode:
        """Take over a node an earlier scenario of the feature left running."""
        node.client.close()
        node.client = self._client_for(node.client.base_url, node.client.timeout)
        assert node.log_path is not None  # a node that is kept is one this suite started
        node.log_since = node.log_path.stat().st_size if node.log_path.exists() else 0
        node.exit_codes.clear()
        node.problems.clear()
        self.nodes[node.name] = node
        return node

    def extra_client(self, name: str) -> CodexClient:
        """Another client of the node, on a session of its own (for a transfer in parallel with
        others or in the background), recording into the scenario's journal as well."""
        client = self.node(name).client
        return self._client_for(client.base_url, client.timeout)

    def _client_for(self, url: str, timeout: float) -> CodexClient:
        """A client of the node at ``url`` that records into the scenario's journal."""
        return CodexClient(url, timeout=timeout, journal=self.journal)

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
        client = self._client_for(urls[index], self.settings.timeout(60))
        node = CodexNode(name, client)
        self.nodes[name] = node
        return node

    def _spawn(self, node: CodexNode) -> None:
        assert node.data_dir is not None and node.log_path is not None
        target = self.target
        assert not isinstance(target, RunningCodex)
        node.data_dir.parent.mkdir(parents=True, exist_ok=True)
        spec = ProcessSpec(
            name=f"Codex node {node.name}",
            argv=[*target.command(), *node.flags],
            cwd=node.data_dir.parent,
            env=target.environment(),
            log_path=node.log_path,
            readiness=target.readiness(node.client.api_url),
            ready_within=target.ready_within,
            stop_grace=target.stop_grace,
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
        assert node.process is not None and not isinstance(self.target, RunningCodex)
        stopped = exit_problem(node.process, self.target.clean_exits)  # before a new process
        node.problems += [stopped] if stopped else []
        node.client.close()
        node.client = self._client_for(node.client.base_url, node.client.timeout)
        self._spawn(node)
        return node

    def log_files(self) -> list[ProcessLog]:
        return [ProcessLog(node.process.name, node.process.log_path, node.log_since)
                for node in self.nodes.values() if node.process is not None]

    def log_problems(self) -> list[str]:
        """What the current scenario's part of each started node's log shows wrong."""
        if isinstance(self.target, RunningCodex):
            return []
        return scan_logs(self.log_files(), self._log_scan())

    def _log_scan(self) -> LogScan:
        """What in the nodes' logs counts: ``ERR`` lines only if no node was killed or frozen
        on purpose (its peers' errors are then provoked)."""
        assert not isinstance(self.target, RunningCodex)
        if any(n.process is not None and n.process.disturbed for n in self.nodes.values()):
            return self.target.fault_log_scan
        return self.target.log_scan

    def close(self, share: bool = False) -> list[str]:
        """Release every node: with ``share``, nodes that may serve the feature's next scenario
        and still run unchanged are handed on; the others are stopped with their data removed.
        Returns what the stop checks of the stopped nodes found."""
        log_scan = None if isinstance(self.target, RunningCodex) else self._log_scan()
        released = []
        for node in reversed(list(self.nodes.values())):
            running = node.process is not None and node.process.is_running()
            if share and self.shared and node.share_key and running and not node.changed:
                self.shared.keep(node.slot, node.share_key, node, self._release)
            else:
                released.append(node)
        self.nodes.clear()
        if not released:
            return []
        # The nodes stop at once, each in its own thread, as a cluster's nodes would.
        with ThreadPoolExecutor(len(released), thread_name_prefix="codex-stop") as pool:
            found = pool.map(lambda node: self._release(node, log_scan), released)
            return [problem for problems in found for problem in problems]

    def _release(self, node: CodexNode, log_scan: LogScan | None = None) -> list[str]:
        """Stop a node (if it runs) and check it as the target says (its log with ``log_scan``
        if given), free its ports and remove its data (its log stays); returns what the checks
        found."""
        if node.process is not None and not isinstance(self.target, RunningCodex):
            running = node.process.is_running()
            scan = self.target.log_scan if log_scan is None else log_scan
            node.problems += stop_and_check(node.process, scan,
                                            node.log_since, self.target.clean_exits)
            if running:
                node.exit_codes.append(node.process.returncode)
        _free(node)
        return node.problems


def _free(node: CodexNode) -> None:
    """Close a node's client, free its ports and remove its data (its log stays)."""
    node.client.close()
    for reservation in node.ports:
        reservation.release()
    if node.data_dir is not None:
        shutil.rmtree(node.data_dir, ignore_errors=True)
