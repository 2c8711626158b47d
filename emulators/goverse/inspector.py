"""The Goverse inspector: ``python -m emulators.goverse.inspector`` / ``goverse-inspector``.

gRPC ``inspector.InspectorService`` (goverse.md §2.3), which nodes and gates given
``-inspector-address`` report to, and the HTTP API of §6: ``/graph``, ``/shards``, ``/healthz``,
``/ready`` (only with etcd and a fully claimed mapping), ``/events/stream`` (SSE) and static files.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Sequence
from concurrent import futures
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

import grpc

from emulators import goflag
from emulators.goverse import config, errors
from emulators.goverse.etcdview import EtcdMirror, EtcdUnavailableError
from emulators.goverse.health import HttpService
from emulators.goverse.inspector_http import http_handler
from emulators.goverse.logs import GoverseLogger
from emulators.goverse.netaddr import ListenError, listen_grpc
from emulators.goverse.process import go_fatal, go_panic, run, serve_until_stopped, stop_requested
from wire.pb.inspector import inspector_pb2, inspector_pb2_grpc

SSE_QUEUE = 100
HEARTBEAT = 30.0


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Registry:
    """What nodes and gates reported, and who is listening for changes."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.nodes: dict[str, dict] = {}
        self.gates: dict[str, dict] = {}
        self.objects: dict[str, dict] = {}
        self.listeners: list[queue.Queue[tuple[str, dict]]] = []

    def publish(self, event: str, data: dict) -> None:
        with self.lock:
            listeners = list(self.listeners)
        for listener in listeners:
            with contextlib.suppress(queue.Full):
                listener.put_nowait((event, {"type": event, **data}))

    def node_entry(self, address: str, connected: Sequence[str], gates: Sequence[str]) -> dict:
        return {"id": address, "label": f"Node {address}", "color": "#4CAF50",
                "type": "goverse_node", "advertise_addr": address, "registered_at": _now(),
                "object_count": 0, "connected_nodes": list(connected) or None,
                "registered_gates": list(gates) or None, "link_metrics": {}}

    def object_entry(self, obj: inspector_pb2.Object, node: str) -> dict:
        return {"id": obj.id, "label": f"{getattr(obj, 'class')} ({obj.id})", "size": 10,
                "color": "", "type": getattr(obj, "class"), "goverse_node_id": node,
                "shard_id": obj.shard_id, "calls_per_minute": 0, "avg_execution_duration_us": 0}

    def graph(self) -> dict:
        with self.lock:
            nodes = [dict(n) for n in self.nodes.values()]
            for node in nodes:
                node["object_count"] = sum(1 for o in self.objects.values()
                                           if o["goverse_node_id"] == node["id"])
            return {"goverse_nodes": nodes, "goverse_gates": list(self.gates.values()),
                    "goverse_objects": list(self.objects.values())}


class InspectorServicer(inspector_pb2_grpc.InspectorServiceServicer):
    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def Ping(self, request, context):  # noqa: N802 - gRPC method names
        return inspector_pb2.Empty()

    def RegisterNode(self, request, context):  # noqa: N802
        if not request.advertise_address:
            context.abort(grpc.StatusCode.UNKNOWN, errors.ADVERTISE_ADDRESS_EMPTY)
        registry, address = self.registry, request.advertise_address
        node = registry.node_entry(address, request.connected_nodes, request.registered_gates)
        with registry.lock:
            known = address in registry.nodes
            registry.nodes[address] = node
            for object_id in [i for i, o in registry.objects.items()
                              if o["goverse_node_id"] == address]:
                del registry.objects[object_id]
            for obj in request.objects:
                registry.objects[obj.id] = registry.object_entry(obj, address)
        registry.publish("node_updated" if known else "node_added", {"node": node})
        return inspector_pb2.RegisterNodeResponse()

    def UnregisterNode(self, request, context):  # noqa: N802
        registry = self.registry
        with registry.lock:
            registry.nodes.pop(request.advertise_address, None)
            for object_id in [i for i, o in registry.objects.items()
                              if o["goverse_node_id"] == request.advertise_address]:
                del registry.objects[object_id]
        registry.publish("node_removed", {"node_id": request.advertise_address})
        return inspector_pb2.Empty()

    def _require_node(self, context: grpc.ServicerContext, address: str) -> None:
        """An object report from a node the inspector does not know is refused (under the
        registry's lock)."""
        if address not in self.registry.nodes:
            context.abort(grpc.StatusCode.NOT_FOUND, errors.NODE_NOT_REGISTERED)

    def AddOrUpdateObject(self, request, context):  # noqa: N802
        registry = self.registry
        with registry.lock:
            self._require_node(context, request.node_address)
            if not request.object.id:
                return inspector_pb2.Empty()
            known = request.object.id in registry.objects
            entry = registry.objects[request.object.id] = registry.object_entry(
                request.object, request.node_address)
        registry.publish("object_updated" if known else "object_added", {"object": entry})
        return inspector_pb2.Empty()

    def RemoveObject(self, request, context):  # noqa: N802
        registry = self.registry
        with registry.lock:
            self._require_node(context, request.node_address)
            registry.objects.pop(request.object_id, None)
        registry.publish("object_removed", {"object_id": request.object_id})
        return inspector_pb2.Empty()

    def RegisterGate(self, request, context):  # noqa: N802
        if not request.advertise_address:
            context.abort(grpc.StatusCode.UNKNOWN, errors.ADVERTISE_ADDRESS_EMPTY)
        address = request.advertise_address
        gate = {"id": address, "label": f"Gate {address}", "color": "#2196F3",
                "type": "goverse_gate", "advertise_addr": address, "registered_at": _now(),
                "connected_nodes": list(request.connected_nodes) or None,
                "clients": request.clients, "link_metrics": {}}
        with self.registry.lock:
            known = address in self.registry.gates
            self.registry.gates[address] = gate
        self.registry.publish("gate_updated" if known else "gate_added", {"gate": gate})
        return inspector_pb2.RegisterGateResponse()

    def UnregisterGate(self, request, context):  # noqa: N802
        with self.registry.lock:
            self.registry.gates.pop(request.advertise_address, None)
        self.registry.publish("gate_removed", {"gate_id": request.advertise_address})
        return inspector_pb2.Empty()

    def UpdateConnectedNodes(self, request, context):  # noqa: N802
        with self.registry.lock:
            for group in (self.registry.nodes, self.registry.gates):
                if request.advertise_address in group:
                    group[request.advertise_address]["connected_nodes"] = \
                        list(request.connected_nodes)
        return inspector_pb2.Empty()

    def UpdateRegisteredGates(self, request, context):  # noqa: N802
        with self.registry.lock:
            node = self.registry.nodes.get(request.advertise_address)
            if node is not None:
                node["registered_gates"] = list(request.registered_gates)
        return inspector_pb2.Empty()

    def UpdateGateClients(self, request, context):  # noqa: N802
        with self.registry.lock:
            gate = self.registry.gates.get(request.advertise_address)
            if gate is not None:
                gate["clients"] = request.clients
        return inspector_pb2.Empty()

    def ReportObjectCall(self, request, context):  # noqa: N802
        return inspector_pb2.Empty()

    def ReportLinkCall(self, request, context):  # noqa: N802
        return inspector_pb2.Empty()


def serve(settings: config.InspectorSettings) -> int:
    log = GoverseLogger("Inspector")
    registry = Registry()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=32))
    inspector_pb2_grpc.add_InspectorServiceServicer_to_server(InspectorServicer(registry), server)
    stop = stop_requested()  # main.go's signal.Notify comes before the servers start
    try:
        listen_grpc(server, settings.grpc_addr)
    except ListenError as exc:
        go_fatal(log, f"Failed to start gRPC server: {exc}", [_MAIN])
    mirror = None
    if settings.etcd_addr:
        mirror = EtcdMirror(settings.etcd_addr, settings.etcd_prefix, on_membership=lambda: None,
                            on_shards=lambda: registry.publish("shard_update", {}))
        try:
            mirror.start()
        except EtcdUnavailableError:  # the shard view stays empty until etcd answers
            log.error(f"Failed to connect to etcd at {settings.etcd_addr}: context deadline "
                      "exceeded")
            mirror.start_following()
    http: HttpService | None = None
    try:
        http = HttpService(settings.http_addr, http_handler(registry, mirror, settings.shards,
                                                            Path(settings.static_dir)))
    except OSError as exc:  # Goverse only logs an HTTP bind failure and keeps running
        log.error(f"HTTP server failed: {exc}")
    server.start()
    if http is not None:
        http.start()
    return serve_until_stopped(stop, server, (http, mirror))


_MAIN = ("main.main()", "/goverse/cmd/inspector/main.go:41")


def _config_failed(problem: str) -> NoReturn:
    """``inspectorconfig.Get`` panics on a loader error."""
    go_panic(f"Failed to load inspector config: {problem}",
             [("github.com/xiaonanln/goverse/cmd/inspector/inspectorconfig.Get()",
               "/goverse/cmd/inspector/inspectorconfig/inspectorconfig.go:128"),
              ("main.main()", "/goverse/cmd/inspector/main.go:21")])


def main(argv: Sequence[str] | None = None) -> None:
    run(goflag.program_name("inspector"), config.INSPECTOR_FLAGS, config.inspector_settings,
        config_failed=_config_failed, serve=serve, argv=argv)


if __name__ == "__main__":
    main()
