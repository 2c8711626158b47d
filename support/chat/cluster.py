"""A Goverse chat cluster for one scenario: N chat servers and M chat gates on a shared etcd,
under the scenario's own key prefix, configured by one YAML file with short timings.

The emulators start by default; with ``goverse_bin_dir`` the real ``chat_server`` and
``chat_gateway`` binaries start through the same code with the same flags and YAML.
Readiness is real: every node and gate reports ``/ready`` and the six chat objects exist.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import requests

from support.config import Settings
from support.etcd import new_prefix
from support.processes.launcher import ManagedProcess, ProcessLog, ProcessSpec
from support.processes.ports import PortReservation, reserve_port
from support.processes.readiness import HttpGet, TcpConnect
from support.waiting import eventually
from wire.goverse_yaml import write_cluster_yaml
from wire.pb.goverse import goverse_pb2, goverse_pb2_grpc

CHAT_OBJECTS = 6  # ChatRoomMgr0 and its five rooms
SHARDS = 64
STABILITY = "300ms"
EMULATOR_TIMING = {"GOVERSE_EMULATOR_TICK": "0.2", "GOVERSE_EMULATOR_CHAT_DELAY": "0.3"}
READY_WITHIN = 60.0
STOP_GRACE = 10.0


@dataclass
class Member:
    """One node or gate of the cluster."""

    name: str
    address: str
    health_address: str
    process: ManagedProcess
    ports: list[PortReservation] = field(default_factory=list)
    exit_codes: list[int | None] = field(default_factory=list)
    killed: bool = False
    http_address: str | None = None  # a gate's HTTP client API
    log_since: int = 0  # where the current scenario's part of the log begins


class ChatCluster:
    """Starts, inspects and stops one scenario's chat cluster."""

    def __init__(self, settings: Settings, etcd_endpoint: str, work_dir: Path,
                 log_dir: Path, *, bin_dir: Path | None = None,
                 coverage_dir: Path | None = None) -> None:
        self.settings = settings
        self.bin_dir = bin_dir
        self.coverage_dir = coverage_dir
        self.etcd_endpoint = etcd_endpoint
        self.work_dir = work_dir
        self.log_dir = log_dir
        self.prefix = new_prefix("chat")
        self.nodes: dict[str, Member] = {}
        self.gates: dict[str, Member] = {}
        self.inspector: Member | None = None
        self.rearranged = False  # a shard was moved by hand
        self.config_path = work_dir / "goverse.yaml"

    # --- commands -------------------------------------------------------------------------------
    def _command(self, role: str) -> list[str]:
        if self.bin_dir is not None:
            binary = {"node": "chat_server", "gate": "chat_gateway", "inspector": "inspector"}[role]
            return [str(self.bin_dir / binary)]
        module = {"node": "emulators.goverse.node", "gate": "emulators.goverse.gate",
                  "inspector": "emulators.goverse.inspector"}[role]
        return [sys.executable, "-m", module]

    def _environment(self, name: str) -> dict[str, str]:
        env = dict(os.environ)
        if self.bin_dir is None:
            env.update(EMULATOR_TIMING)
        if self.coverage_dir is not None:
            folder = self.coverage_dir / name
            folder.mkdir(parents=True, exist_ok=True)
            env["GOCOVERDIR"] = str(folder)
        return env

    # --- start ----------------------------------------------------------------------------------
    def start(self, nodes: int, gates: int, inspector: bool = False) -> None:
        """Start the whole cluster (the inspector first, if any) and wait until it is ready."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        node_ports = [(reserve_port(), reserve_port()) for _ in range(nodes)]
        gate_ports = [(reserve_port(), reserve_port(), reserve_port()) for _ in range(gates)]
        inspector_ports = (reserve_port(), reserve_port()) if inspector else None
        write_cluster_yaml(
            self.config_path, shards=SHARDS, etcd_endpoint=self.etcd_endpoint,
            prefix=self.prefix, stability=STABILITY,
            nodes=[{"id": f"node-{i + 1}", "grpc_addr": f"127.0.0.1:{g.port}",
                    "advertise_addr": f"127.0.0.1:{g.port}", "http_addr": f"127.0.0.1:{h.port}"}
                   for i, (g, h) in enumerate(node_ports)],
            gates=[{"id": f"gate-{i + 1}", "grpc_addr": f"127.0.0.1:{g.port}",
                    "advertise_addr": f"127.0.0.1:{g.port}", "ops_addr": f"127.0.0.1:{o.port}",
                    "http_addr": f"127.0.0.1:{h.port}"}
                   for i, (g, o, h) in enumerate(gate_ports)],
            inspector=None if inspector_ports is None else {
                "grpc_addr": f"127.0.0.1:{inspector_ports[0].port}",
                "http_addr": f"127.0.0.1:{inspector_ports[1].port}",
                "advertise_addr": f"127.0.0.1:{inspector_ports[0].port}"},
        )
        if inspector_ports is not None:
            self.inspector = self._spawn_inspector(*inspector_ports)
        for index, (grpc_port, http_port) in enumerate(node_ports):
            self.nodes[f"node-{index + 1}"] = self._spawn("node", f"node-{index + 1}",
                                                          grpc_port, http_port)
        for index, (grpc_port, ops_port, http_port) in enumerate(gate_ports):
            gate = self._spawn("gate", f"gate-{index + 1}", grpc_port, ops_port)
            gate.ports.append(http_port)
            gate.http_address = f"127.0.0.1:{http_port.port}"
            self.gates[gate.name] = gate
        for member in [*self.nodes.values(), *self.gates.values()]:
            member.process.wait_ready()
        self.wait_until_ready(READY_WITHIN)

    def _spawn(self, role: str, name: str, grpc_port: PortReservation,
               health_port: PortReservation) -> Member:
        id_flag = "-node-id" if role == "node" else "-gate-id"
        spec = ProcessSpec(
            name=f"chat {role} {name}",
            argv=[*self._command(role), "-config", str(self.config_path), id_flag, name],
            cwd=self.work_dir, env=self._environment(name),
            log_path=self.log_dir / f"{role}-{name}.log",
            readiness=TcpConnect("127.0.0.1", grpc_port.port),
            ready_within=self.settings.timeout(READY_WITHIN),
            stop_grace=self.settings.timeout(STOP_GRACE),
        )
        process = ManagedProcess(spec).start(wait=False)
        return Member(name, f"127.0.0.1:{grpc_port.port}", f"127.0.0.1:{health_port.port}",
                      process, [grpc_port, health_port])

    def _spawn_inspector(self, grpc_port: PortReservation,
                         http_port: PortReservation) -> Member:
        spec = ProcessSpec(
            name="chat inspector",
            argv=[*self._command("inspector"), "-config", str(self.config_path)],
            cwd=self.work_dir, env=self._environment("inspector"),
            log_path=self.log_dir / "inspector.log",
            readiness=HttpGet(f"http://127.0.0.1:{http_port.port}/healthz"),
            ready_within=self.settings.timeout(READY_WITHIN),
            stop_grace=self.settings.timeout(STOP_GRACE),
        )
        process = ManagedProcess(spec).start()
        return Member("inspector", f"127.0.0.1:{grpc_port.port}",
                      f"127.0.0.1:{http_port.port}", process, [grpc_port, http_port])

    def inspector_view(self, path: str) -> dict:
        """``GET <inspector>/graph`` or ``/shards``."""
        if self.inspector is None:
            raise AssertionError("this cluster has no inspector")
        answer = requests.get(f"http://{self.inspector.health_address}{path}", timeout=5)
        answer.raise_for_status()
        return answer.json()

    def move_shard(self, shard_id: int, target: str) -> None:
        """``POST <inspector>/shards/move``; the cluster no longer has its start-up layout."""
        if self.inspector is None:
            raise AssertionError("this cluster has no inspector")
        self.rearranged = True
        answer = requests.post(f"http://{self.inspector.health_address}/shards/move",
                               json={"shard_id": shard_id, "target_node": target}, timeout=10)
        if answer.status_code != 200:
            raise AssertionError(f"the inspector refused to move shard {shard_id}: "
                                 f"{answer.status_code} {answer.text.strip()}")

    def assert_inspector_shows(self, gates: int, object_ids: set[str]) -> None:
        """The inspector's graph lists every node, ``gates`` gates and exactly ``object_ids``,
        each object on the node that really holds it."""
        graph = self.inspector_view("/graph")
        addresses = sorted(n["advertise_addr"] for n in graph["goverse_nodes"])
        assert addresses == sorted(m.address for m in self.nodes.values()), addresses
        assert len(graph["goverse_gates"]) == gates, graph["goverse_gates"]
        placed = {o["id"]: o["goverse_node_id"] for o in graph["goverse_objects"]}
        assert set(placed) == object_ids, sorted(placed)
        for node, ids in self.objects_by_node().items():
            for object_id in ids:
                assert placed[object_id] == self.nodes[node].address, object_id

    def assert_shards_settled(self) -> None:
        """The inspector's shard view lists the live servers, and every shard is on a live
        server and where it is meant to be (no shard still moving)."""
        view = self.inspector_view("/shards")
        live = sorted(m.address for m in self.nodes.values())
        assert view["nodes"] == live, (f"the inspector's shard view lists the servers "
                                       f"{view['nodes']}; the live servers are {live}")
        shards = view["shards"]
        assert shards, "the inspector's shard view shows no shard"
        orphaned = [row for row in shards if row["current_node"] not in live]
        moving = [row for row in shards if row["target_node"] != row["current_node"]]
        problems = [f"shard {row['shard_id']} is on {row['current_node'] or 'no server'}, "
                    "which is not a live server" for row in orphaned[:3]]
        problems += [f"shard {row['shard_id']} targets {row['target_node']} but is on "
                     f"{row['current_node'] or 'no server'}" for row in moving[:3]]
        assert not problems, (f"{len(orphaned)} shard(s) off the live servers, {len(moving)} "
                              f"still moving: " + "; ".join(problems))

    def wait_until_ready(self, within: float) -> None:
        """Every running node and gate says ready and the six chat objects exist."""
        def ready() -> None:
            for member in [*self.nodes.values(), *self.gates.values()]:
                if not member.process.is_running():
                    continue
                try:
                    answer = requests.get(f"http://{member.health_address}/ready", timeout=2)
                except requests.RequestException as exc:
                    raise AssertionError(f"{member.name}: {exc.__class__.__name__}") from exc
                assert answer.status_code == 200, f"{member.name} is not ready yet"
            count = self.object_count()
            assert count >= CHAT_OBJECTS, f"{count} of {CHAT_OBJECTS} chat objects exist"

        eventually(ready, self.settings.timeout(within), interval=0.05)

    # --- looking inside -------------------------------------------------------------------------
    def stub(self, node: str) -> goverse_pb2_grpc.GoverseStub:
        return goverse_pb2_grpc.GoverseStub(grpc.insecure_channel(self.nodes[node].address))

    def objects_by_node(self) -> dict[str, list[str]]:
        """Object ids per running node (``ListObjects``)."""
        placed: dict[str, list[str]] = {}
        for name, member in self.nodes.items():
            if not member.process.is_running():
                continue
            try:
                reply = self.stub(name).ListObjects(goverse_pb2.Empty(), timeout=5)
            except grpc.RpcError:
                continue
            placed[name] = sorted(obj.id for obj in reply.objects)
        return placed

    def object_count(self) -> int:
        return sum(len(ids) for ids in self.objects_by_node().values())

    def status(self, node: str) -> goverse_pb2.StatusResponse:
        return self.stub(node).Status(goverse_pb2.Empty(), timeout=5)

    # --- handing on -----------------------------------------------------------------------------
    def members(self) -> list[Member]:
        members = [*self.nodes.values(), *self.gates.values()]
        return members if self.inspector is None else [*members, self.inspector]

    def intact(self) -> bool:
        """Every process still runs, none was killed and no shard was moved by hand: fit to
        serve another scenario."""
        return not self.rearranged and all(m.process.is_running() and not m.killed
                                           for m in self.members())

    def adopt(self) -> None:
        """A new scenario takes the cluster over: its logs start from here."""
        for member in self.members():
            path = member.process.log_path
            member.log_since = path.stat().st_size if path.exists() else 0

    # --- stopping -------------------------------------------------------------------------------
    def kill(self, node: str) -> None:
        member = self.nodes[node]
        member.killed = True
        member.exit_codes.append(member.process.kill())

    def stop(self) -> dict[str, int | None]:
        """Stop gates, then nodes in reverse order, then the inspector; returns every process's
        exit code."""
        codes: dict[str, int | None] = {}
        last = {"inspector": self.inspector} if self.inspector is not None else {}
        for group in (self.gates, self.nodes, last):
            for name, member in reversed(list(group.items())):
                if member.process.is_running():
                    member.exit_codes.append(member.process.stop())
                codes[name] = member.exit_codes[-1] if member.exit_codes else None
                for reservation in member.ports:
                    reservation.release()
        return codes

    def unclean_exits(self) -> dict[str, int | None]:
        """Processes that ended with a code other than 0, except those the scenario killed."""
        return {m.name: m.exit_codes[-1] for m in self.members()
                if not m.killed and m.exit_codes and m.exit_codes[-1] != 0}

    def log_files(self) -> list[ProcessLog]:
        return [ProcessLog(m.process.name, m.process.log_path, m.log_since)
                for m in self.members()]
