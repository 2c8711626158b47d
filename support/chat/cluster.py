"""A Goverse chat cluster for one scenario: N chat servers and M chat gates on a shared etcd,
under the scenario's own key prefix, configured by one YAML file with short timings.

The target (``support.chat.targets``) says which programs start: the emulators by default, or the
real ``chat_server`` and ``chat_gateway`` with the same flags and YAML. Readiness is real: every
node and gate reports ``/ready`` and the six chat objects exist. Every process is stopped and
checked as the target says (``support.processes.checks``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import requests

from support import expect
from support.chat.targets import GoverseEmulator, GoverseTarget
from support.config import Settings
from support.etcd import client_for, new_prefix
from support.expect import listing, plural
from support.journal import Journal
from support.processes.checks import scan_logs, stop_and_check
from support.processes.launcher import ManagedProcess, ProcessLog, ProcessSpec
from support.processes.ports import PortReservation, reserve_port
from support.waiting import eventually
from wire.goverse_yaml import write_cluster_yaml
from wire.pb.goverse import goverse_pb2, goverse_pb2_grpc

CHAT_OBJECTS = 6  # ChatRoomMgr0 and its five rooms
SHARDS = 64
STABILITY = "300ms"
READY_WITHIN = 60.0
STOP_GRACE = 10.0
ANSWER_WITHIN = 5.0  # an inspector view, a server's ListObjects or Status
MOVE_WITHIN = 10.0  # the inspector's answer to a shard move
PROBE_WITHIN = 2.0  # one /ready probe
READY_POLL = 0.03  # seconds between looks at a starting cluster: a fraction of the 0.2 s tick


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
    stopped: bool = False  # stopped and checked by the cluster


class ChatCluster:
    """Starts, inspects and stops one scenario's chat cluster."""

    def __init__(self, settings: Settings, etcd_endpoint: str, work_dir: Path,
                 log_dir: Path, target: GoverseTarget | None = None, *,
                 journal: Journal | None = None) -> None:
        self.settings = settings
        self.journal = journal  # the current scenario's: records the inspector's exchanges
        self.target: GoverseTarget = target or GoverseEmulator()
        self.etcd_endpoint = etcd_endpoint
        self.work_dir = work_dir
        self.log_dir = log_dir
        self.prefix = new_prefix("chat")
        self.nodes: dict[str, Member] = {}
        self.gates: dict[str, Member] = {}
        self.inspector: Member | None = None
        self.rearranged = False  # a shard was moved by hand
        self.config_path = work_dir / "goverse.yaml"
        self.problems: list[str] = []  # what the stop checks found
        self._channels: dict[str, grpc.Channel] = {}

    # --- start ----------------------------------------------------------------------------------
    def start(self, nodes: int, gates: int, inspector: bool = False) -> None:
        """Start the whole cluster at once (the inspector first, if any: nodes and gates report
        to it from their first tick on, and report again at every tick) and wait until it is
        ready; if that fails, stop what was started."""
        try:
            self._start(nodes, gates, inspector)
        except BaseException:
            self.stop()
            raise

    def _start(self, nodes: int, gates: int, inspector: bool) -> None:
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
        for member in self.members():
            member.process.wait_ready()
        self.wait_until_ready(READY_WITHIN)

    def _spawn(self, role: str, name: str, grpc_port: PortReservation,
               health_port: PortReservation) -> Member:
        id_flag = "-node-id" if role == "node" else "-gate-id"
        spec = ProcessSpec(
            name=f"chat {role} {name}",
            argv=[*self.target.command(role), "-config", str(self.config_path), id_flag, name],
            cwd=self.work_dir, env=self.target.environment(name),
            log_path=self.log_dir / f"{role}-{name}.log",
            readiness=self.target.readiness(role, grpc_port, health_port),
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
            argv=[*self.target.command("inspector"), "-config", str(self.config_path)],
            cwd=self.work_dir, env=self.target.environment("inspector"),
            log_path=self.log_dir / "inspector.log",
            readiness=self.target.readiness("inspector", grpc_port, http_port),
            ready_within=self.settings.timeout(READY_WITHIN),
            stop_grace=self.settings.timeout(STOP_GRACE),
        )
        process = ManagedProcess(spec).start(wait=False)
        return Member("inspector", f"127.0.0.1:{grpc_port.port}",
                      f"127.0.0.1:{http_port.port}", process, [grpc_port, http_port])

    def inspector_view(self, path: str) -> dict[str, Any]:
        """``GET <inspector>/graph`` or ``/shards``."""
        answer = self._ask_inspector("GET", path, timeout=self.settings.timeout(ANSWER_WITHIN))
        answer.raise_for_status()
        view: dict[str, Any] = answer.json()
        return view

    def move_shard(self, shard_id: int, target: str) -> None:
        """``POST <inspector>/shards/move``; the cluster no longer has its start-up layout."""
        self.rearranged = True
        answer = self._ask_inspector("POST", "/shards/move",
                                     json={"shard_id": shard_id, "target_node": target},
                                     timeout=self.settings.timeout(MOVE_WITHIN))
        if answer.status_code != 200:
            raise AssertionError(f"the inspector refused to move shard {shard_id}: "
                                 f"{answer.status_code} {answer.text.strip()}")

    def _ask_inspector(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One call of the inspector's HTTP API, recorded in the scenario's journal."""
        if self.inspector is None:
            raise AssertionError("this cluster has no inspector")
        with requests.Session() as session:
            if self.journal is not None:
                self.journal.attach(session)
            return session.request(method, f"http://{self.inspector.health_address}{path}",
                                   **kwargs)

    def assert_inspector_shows(self, gates: int, object_ids: set[str]) -> None:
        """The inspector's graph lists every node, ``gates`` gates and exactly ``object_ids``,
        each object on the node that really holds it."""
        graph = self.inspector_view("/graph")
        addresses = sorted(n["advertise_addr"] for n in graph["goverse_nodes"])
        expect.equal(addresses, sorted(m.address for m in self.nodes.values()),
                     "the inspector shows the servers at", show=listing)
        expect.equal(len(graph["goverse_gates"]), gates, "the inspector shows",
                     show=lambda count: plural(count, "gate"))
        placed = {o["id"]: o["goverse_node_id"] for o in graph["goverse_objects"]}
        expect.equal(sorted(placed), sorted(object_ids), "the inspector shows the chat objects",
                     show=lambda ids: listing(ids, empty="no object"))
        misplaced = [f"{object_id} on {self._server_at(placed[object_id])}, held by {node}"
                     for node, ids in self.objects_by_node().items() for object_id in ids
                     if placed[object_id] != self.nodes[node].address]
        expect.none_of(misplaced, "the inspector shows chat objects on the wrong server:")

    def _server_at(self, address: str | None) -> str:
        """The name of the server at ``address`` (the address itself if none is there)."""
        names = {member.address: name for name, member in self.nodes.items()}
        return names.get(address or "", address or "no server")

    def assert_shards_settled(self) -> None:
        """The inspector's shard view lists the live servers, and every shard is on a live
        server and where it is meant to be (no shard still moving)."""
        view = self.inspector_view("/shards")
        live = sorted(m.address for m in self.nodes.values())
        expect.equal(view["nodes"], live, "the inspector's shard view lists the servers at",
                     show=listing)
        shards = view["shards"]
        expect.that(bool(shards), "the inspector's shard view shows no shard")
        orphaned = [row for row in shards if row["current_node"] not in live]
        moving = [row for row in shards if row["target_node"] != row["current_node"]]
        problems = [f"shard {row['shard_id']} is on {self._server_at(row['current_node'])}, "
                    "which is not a live server" for row in orphaned[:3]]
        problems += [f"shard {row['shard_id']} targets {self._server_at(row['target_node'])} "
                     f"but is on {self._server_at(row['current_node'])}" for row in moving[:3]]
        counts = [*([f"{plural(len(orphaned), 'shard')} off the live servers"] if orphaned else []),
                  *([f"{plural(len(moving), 'shard')} still moving"] if moving else [])]
        expect.that(not problems, f"{listing(counts)}: " + "; ".join(problems))

    def wait_until_ready(self, within: float) -> None:
        """The six chat objects exist and every running node and gate says ready, looked at
        every READY_POLL seconds (the objects first: they come last, a few ticks after the
        servers' readiness)."""
        probe_within = self.settings.timeout(PROBE_WITHIN)

        def ready() -> None:
            count = self.object_count()
            expect.that(count >= CHAT_OBJECTS, f"{count} of the {CHAT_OBJECTS} chat objects "
                        "exist yet")
            for member in [*self.nodes.values(), *self.gates.values()]:
                if not member.process.is_running():
                    continue
                try:
                    answer = requests.get(f"http://{member.health_address}/ready",
                                          timeout=probe_within)
                except requests.RequestException as exc:
                    raise AssertionError(f"{member.name}: {exc.__class__.__name__}") from exc
                expect.that(answer.status_code == 200, f"{member.name} is not ready yet")

        eventually(ready, self.settings.timeout(within), interval=READY_POLL,
                   max_interval=READY_POLL)

    # --- looking inside -------------------------------------------------------------------------
    def stub(self, node: str) -> goverse_pb2_grpc.GoverseStub:
        """A stub on the one channel this cluster keeps per server (closed by ``stop``)."""
        address = self.nodes[node].address
        channel = self._channels.get(address)
        if channel is None:
            channel = self._channels[address] = grpc.insecure_channel(address)
        return goverse_pb2_grpc.GoverseStub(channel)

    def objects_by_node(self) -> dict[str, list[str]]:
        """Object ids per running node (``ListObjects``); a hung node answers nothing."""
        placed: dict[str, list[str]] = {}
        for name, member in self.nodes.items():
            if not member.process.is_running() or member.process.paused:
                continue
            try:
                reply = self.stub(name).ListObjects(goverse_pb2.Empty(),
                                                    timeout=self.settings.timeout(ANSWER_WITHIN))
            except grpc.RpcError:
                continue
            placed[name] = sorted(obj.id for obj in reply.objects)
        return placed

    def object_count(self) -> int:
        return sum(len(ids) for ids in self.objects_by_node().values())

    def status(self, node: str) -> goverse_pb2.StatusResponse:
        return self.stub(node).Status(goverse_pb2.Empty(),
                                      timeout=self.settings.timeout(ANSWER_WITHIN))

    # --- handing on -----------------------------------------------------------------------------
    def members(self) -> list[Member]:
        members = [*self.nodes.values(), *self.gates.values()]
        return members if self.inspector is None else [*members, self.inspector]

    def intact(self) -> bool:
        """Every process still runs, none was killed and no shard was moved by hand: fit to
        serve another scenario."""
        return not self.rearranged and all(m.process.is_running() and not m.killed
                                           for m in self.members())

    def adopt(self, journal: Journal | None) -> None:
        """A new scenario takes the cluster over: its logs and ``journal`` start from here."""
        self.journal = journal
        for member in self.members():
            path = member.process.log_path
            member.log_since = path.stat().st_size if path.exists() else 0

    # --- stopping -------------------------------------------------------------------------------
    def kill(self, node: str) -> None:
        member = self.nodes[node]
        member.killed = True
        member.exit_codes.append(member.process.kill())

    def hang(self, node: str) -> None:
        """Freeze a server in place (SIGSTOP), as a hung host would: it keeps its sockets and
        answers nothing, and nothing keeps its etcd lease alive. ``stop`` thaws it first."""
        self.rearranged = True  # its rooms move away: not a cluster to hand on
        self.nodes[node].process.pause()

    def wake(self, node: str) -> None:
        """Let a hung server run on (SIGCONT)."""
        self.nodes[node].process.resume()

    def registered(self) -> set[str]:
        """The servers and gates whose registration is in etcd (``<prefix>/nodes/<address>``
        and ``<prefix>/gates/<address>``, goverse.md §1.2), by name."""
        client = client_for(self.etcd_endpoint, timeout=self.settings.timeout(ANSWER_WITHIN))
        try:
            keys = {meta["key"].decode() for _, meta in client.get_prefix(self.prefix + "/")}
        finally:
            client.session.close()
        return {m.name for group, members in (("nodes", self.nodes), ("gates", self.gates))
                for m in members.values() if f"{self.prefix}/{group}/{m.address}" in keys}

    def stop(self) -> dict[str, int | None]:
        """Stop gates, then nodes in reverse order, then the inspector, each checked as the
        target says (problems go to ``problems``); returns every process's exit code."""
        for channel in self._channels.values():
            channel.close()
        self._channels.clear()
        codes: dict[str, int | None] = {}
        last = {"inspector": self.inspector} if self.inspector is not None else {}
        for group in (self.gates, self.nodes, last):
            for name, member in reversed(list(group.items())):
                if not member.stopped:
                    running = member.process.is_running()
                    self.problems += stop_and_check(member.process, self.target.log_scan,
                                                    member.log_since, self.target.clean_exits)
                    if running:
                        member.exit_codes.append(member.process.returncode)
                    member.stopped = True
                codes[name] = member.exit_codes[-1] if member.exit_codes else None
                for reservation in member.ports:
                    reservation.release()
        return codes

    def stop_checked(self) -> list[str]:
        """Stop everything (as ``stop``) and return what the stop checks found, if anything."""
        self.stop()
        return self.problems

    def log_problems(self) -> list[str]:
        """What the current scenario's part of each process's log shows wrong."""
        return scan_logs(self.log_files(), self.target.log_scan)

    def unclean_exits(self) -> dict[str, int | None]:
        """Processes that ended with a code other than 0, except those the scenario killed."""
        return {m.name: m.exit_codes[-1] for m in self.members()
                if not m.killed and m.exit_codes and m.exit_codes[-1] != 0}

    def log_files(self) -> list[ProcessLog]:
        return [ProcessLog(m.process.name, m.process.log_path, m.log_since)
                for m in self.members()]
