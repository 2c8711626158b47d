"""The Goverse chat server (a node): ``python -m emulators.goverse.node`` / ``goverse-chat-server``.

Serves ``goverse.Goverse`` (goverse.md §2.1) for the objects whose shards it owns, creates them on
first use, pushes messages to clients through the gates' ``RegisterGate`` streams, and, once the
cluster is ready, creates ``ChatRoomMgr0`` as the chat sample's server does.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent import futures
from dataclasses import replace
from typing import NoReturn

import grpc
from google.protobuf.any_pb2 import Any
from google.protobuf.message import Message

from emulators import goflag
from emulators.goverse import config, errors
from emulators.goverse.cluster import Cluster, ClusterStartError, RoutingError
from emulators.goverse.logs import GoverseLogger
from emulators.goverse.netaddr import ListenError, listen_grpc, optional_listen
from emulators.goverse.objects import (
    OBJECT_TYPES,
    CallContext,
    GoverseObject,
    ObjectError,
    go_type,
)
from emulators.goverse.process import (
    Stoppable,
    go_panic,
    run,
    serve_until_stopped,
    stop_requested,
)
from emulators.goverse.reporting import report_to_inspector
from emulators.goverse.streams import STOPPED, drain
from wire.pb.chat import chat_pb2
from wire.pb.goverse import goverse_pb2, goverse_pb2_grpc
from wire.pb.inspector import inspector_pb2, inspector_pb2_grpc

GATE_CHANNEL_DEPTH = 1024
_MESSAGES = {descriptor.full_name: getattr(chat_pb2, name)
             for name, descriptor in chat_pb2.DESCRIPTOR.message_types_by_name.items()}


def unpack(message: Any) -> Message:
    """Unpack an Any with the node's registry of linked types (else Go's "not found")."""
    cls = _MESSAGES.get(message.type_url.rsplit("/", 1)[-1])
    if cls is None:
        raise ObjectError("failed to unmarshal request: proto: not found")
    value = cls()
    message.Unpack(value)
    return value


def pack(message: Message) -> Any:
    packed = Any()
    packed.Pack(message)
    return packed


class NodeRuntime:
    """The node's objects and its gates' push channels."""

    def __init__(self, settings: config.ProcessSettings, log: GoverseLogger) -> None:
        self.settings = settings
        self.advertise = settings.advertise
        self.log = log
        self.cluster = Cluster(settings.cluster, settings.advertise, "node", log)
        self.cluster.local_object_shards = self._object_shards
        self.cluster.on_tick.append(self._evict_foreign_objects)
        self.objects: dict[str, GoverseObject] = {}
        self._objects_lock = threading.Lock()
        self.gates: dict[str, queue.Queue[object]] = {}
        self._gates_lock = threading.Lock()
        self.started = time.monotonic()
        self.stopped = threading.Event()
        self._peers: dict[str, goverse_pb2_grpc.GoverseStub] = {}

    # --- objects ------------------------------------------------------------------------------
    def _object_shards(self) -> set[int]:
        with self._objects_lock:
            ids = list(self.objects)
        return {shard for shard in map(self.cluster.shard_of, ids) if shard is not None}

    def _evict_foreign_objects(self) -> None:
        # Goverse's removeObjectsNotBelongingToThisNode skips a tick whose cluster state is not
        # yet stable (cluster/cluster.go): a node that has just woken up or rejoined keeps its
        # stale objects until then, although calls for them are already refused.
        if not self.cluster.is_stable():
            return
        with self._objects_lock:
            foreign = [i for i in self.objects if not self._serves(i)]
            for object_id in foreign:
                del self.objects[object_id]
        for object_id in foreign:
            self.log.info(f"Evicted object {object_id}: its shard is no longer here")

    def _serves(self, object_id: str) -> bool:
        shard = self.cluster.shard_of(object_id)
        if shard is None:
            return object_id.split("/", 1)[0] == self.advertise
        return self.cluster.owns(shard)

    def check_owner(self, object_id: str) -> None:
        if self.stopped.is_set():
            raise ObjectError("node is stopped")
        if not self._serves(object_id):
            try:
                owner = self.cluster.owner_of(object_id)
            except RoutingError:
                owner = "unknown"
            raise ObjectError(f"object {object_id} is sharded to node {owner}, "
                              f"not this node {self.advertise}")

    def get_or_create(self, type_name: str, object_id: str, *, auto: bool) -> GoverseObject:
        cls = OBJECT_TYPES.get(type_name)
        with self._objects_lock:
            existing = self.objects.get(object_id)
            if existing is not None:
                if existing.type_name != type_name:
                    if auto:
                        raise ObjectError(errors.object_type_mismatch(
                            type_name, existing.type_name, object_id))
                    raise ObjectError(f"object with id {object_id} already exists but with "
                                      f"different type: {existing.type_name}")
                return existing
            if cls is None:
                prefix = f"failed to auto-create object {object_id}: " if auto else ""
                raise ObjectError(f"{prefix}unknown object type: {type_name}")
            created = self.objects[object_id] = cls(object_id, self)
        threading.Thread(target=created.on_created, daemon=True).start()
        return created

    def delete(self, type_name: str, object_id: str) -> None:
        with self._objects_lock:
            existing = self.objects.get(object_id)
            if existing is None:
                return
            if existing.type_name != type_name:
                raise ObjectError(errors.object_type_mismatch(type_name, existing.type_name,
                                                              object_id))
            del self.objects[object_id]

    # --- what objects ask for ---------------------------------------------------------------------
    def _stub(self, address: str) -> goverse_pb2_grpc.GoverseStub:
        if address not in self._peers:
            self._peers[address] = goverse_pb2_grpc.GoverseStub(grpc.insecure_channel(address))
        return self._peers[address]

    def create_object(self, type_name: str, object_id: str, timeout: float = 30.0) -> None:
        """Create an object on whichever node owns it (this one included)."""
        owner = self.cluster.owner_of(object_id)
        self._stub(owner).CreateObject(
            goverse_pb2.CreateObjectRequest(type=type_name, id=object_id), timeout=timeout)

    def create_object_async(self, type_name: str, object_id: str) -> None:
        def create() -> None:
            try:
                self.create_object(type_name, object_id)
            except (RoutingError, grpc.RpcError) as exc:
                self.log.warn(f"Failed to create {type_name} {object_id}: {exc}")

        threading.Thread(target=create, daemon=True).start()

    def push(self, client_ids: list[str], message: Message) -> None:
        packed = pack(message)
        by_gate: dict[str, list[str]] = {}
        for client_id in client_ids:
            by_gate.setdefault(client_id.split("/", 1)[0], []).append(client_id)
        for gate, ids in by_gate.items():
            with self._gates_lock:
                channel = self.gates.get(gate)
            envelope = goverse_pb2.GateMessage(client_message=goverse_pb2.ClientMessageEnvelope(
                client_ids=ids, message=packed))
            try:
                if channel is None:
                    raise queue.Full
                channel.put_nowait(envelope)
            except queue.Full:
                self.log.warn(f"Failed to push to clients {ids}: gate {gate} not registered "
                              "or its channel is full")

    # --- the inspector ------------------------------------------------------------------------
    def report(self, stub: inspector_pb2_grpc.InspectorServiceStub) -> None:
        with self._objects_lock:
            objects = [inspector_pb2.Object(id=o.id, shard_id=self._inspector_shard(o.id),
                                            **{"class": o.type_name})
                       for o in self.objects.values()]
        with self._gates_lock:
            gates = sorted(self.gates)
        stub.RegisterNode(inspector_pb2.RegisterNodeRequest(
            advertise_address=self.advertise, objects=objects,
            connected_nodes=[n for n in self.cluster.live_nodes() if n != self.advertise],
            registered_gates=gates), timeout=2)

    def unreport(self, stub: inspector_pb2_grpc.InspectorServiceStub) -> None:
        stub.UnregisterNode(inspector_pb2.UnregisterNodeRequest(
            advertise_address=self.advertise), timeout=2)

    def _inspector_shard(self, object_id: str) -> int:
        shard = self.cluster.shard_of(object_id)
        return -1 if shard is None else shard

    # --- gates --------------------------------------------------------------------------------
    def gate_stream(self, gate: str, context: grpc.ServicerContext) -> Iterator[object]:
        channel: queue.Queue[object] = queue.Queue(GATE_CHANNEL_DEPTH)
        with self._gates_lock:
            previous = self.gates.get(gate)
            self.gates[gate] = channel
        if previous is not None:
            previous.put(STOPPED)  # re-registering closes the old stream
        try:
            yield goverse_pb2.GateMessage(register_gate_response=goverse_pb2.RegisterGateResponse())
            yield from drain(channel, context, self.stopped)
        finally:
            with self._gates_lock:
                if self.gates.get(gate) is channel:
                    del self.gates[gate]


class GoverseServicer(goverse_pb2_grpc.GoverseServicer):
    """``goverse.Goverse`` on the node's port."""

    def __init__(self, runtime: NodeRuntime) -> None:
        self.runtime = runtime

    @staticmethod
    def _fail(context: grpc.ServicerContext, error: ObjectError) -> None:
        context.abort(error.code, str(error))

    def Status(self, request, context):  # noqa: N802 - gRPC method names
        runtime = self.runtime
        with runtime._objects_lock:
            count = len(runtime.objects)
        return goverse_pb2.StatusResponse(
            advertise_addr=runtime.advertise, num_objects=count,
            uptime_seconds=int(time.monotonic() - runtime.started))

    def ListObjects(self, request, context):  # noqa: N802
        with self.runtime._objects_lock:
            objects = list(self.runtime.objects.values())
        return goverse_pb2.ListObjectsResponse(objects=[
            goverse_pb2.ObjectInfo(type=o.type_name, id=o.id, creation_time=o.creation_time)
            for o in objects])

    def CallObject(self, request, context):  # noqa: N802
        runtime = self.runtime
        metadata = dict(context.invocation_metadata())
        try:
            runtime.check_owner(request.id)
            target = runtime.get_or_create(request.type, request.id, auto=True)
            if request.method not in target.methods:
                raise ObjectError(f"method not found in class {target.type_name}: "
                                  f"{request.method}")
            expected = target.methods[request.method][0]
            if not request.HasField("request"):
                raise ObjectError(f"request type mismatch: expected {go_type(expected)}, got nil")
            argument = unpack(request.request)
            if not isinstance(argument, expected):
                raise ObjectError(f"request type mismatch: expected {go_type(expected)}, got "
                                  f"{go_type(type(argument))}")
            caller = CallContext(metadata.get("x-caller-user-id") or None, request.client_id)
            reply = target.invoke(request.method, argument, caller)
        except ObjectError as error:
            self._fail(context, error)
            raise AssertionError("unreachable") from error
        return goverse_pb2.CallObjectResponse(response=pack(reply))

    def CreateObject(self, request, context):  # noqa: N802
        try:
            if not request.id:
                raise ObjectError("object id must not be empty")
            self.runtime.check_owner(request.id)
            self.runtime.get_or_create(request.type, request.id, auto=False)
        except ObjectError as error:
            self._fail(context, error)
        return goverse_pb2.CreateObjectResponse(id=request.id)

    def DeleteObject(self, request, context):  # noqa: N802
        try:
            if not request.type:
                raise ObjectError(errors.OBJECT_TYPE_REQUIRED, grpc.StatusCode.INVALID_ARGUMENT)
            self.runtime.check_owner(request.id)
            self.runtime.delete(request.type, request.id)
        except ObjectError as error:
            self._fail(context, error)
        return goverse_pb2.DeleteObjectResponse()

    def RegisterGate(self, request, context):  # noqa: N802
        if not request.gate_addr:
            context.abort(grpc.StatusCode.UNKNOWN, "gate address must not be empty")
        return self.runtime.gate_stream(request.gate_addr, context)

    def ReliableCallObject(self, request, context):  # noqa: N802
        return goverse_pb2.ReliableCallObjectResponse(
            status=goverse_pb2.SKIPPED, error=errors.NO_PERSISTENCE)


def _create_chat_manager(runtime: NodeRuntime) -> None:
    """After ClusterReady, wait the chat server's delay, then create ChatRoomMgr0 (retrying)."""
    runtime.cluster.ready.wait()
    if runtime.stopped.wait(config.chat_delay()):
        return
    while not runtime.stopped.is_set():
        try:
            runtime.create_object("ChatRoomMgr", "ChatRoomMgr0")
            return
        except (RoutingError, grpc.RpcError) as exc:
            runtime.log.warn(f"Failed to create ChatRoomMgr0, retrying: {exc}")
            runtime.stopped.wait(runtime.settings.cluster.tick)


_MAIN = ("main.main()", "/goverse/samples/chat/server/chat_server.go:19")
_LOAD_FRAMES = [("github.com/xiaonanln/goverse/node/serverconfig.Get()",
                 "/goverse/node/serverconfig/serverconfig.go:156"),
                ("github.com/xiaonanln/goverse/goverseapi.NewServer()",
                 "/goverse/goverseapi/goverseapi.go:52"),
                ("main.main()", "/goverse/samples/chat/server/chat_server.go:15")]


def _config_failed(problem: str) -> NoReturn:
    """``serverconfig.Get`` panics on a loader error."""
    go_panic(f"Failed to load server config: {problem}", _LOAD_FRAMES)


def _validate(settings: config.ProcessSettings) -> config.ProcessSettings:
    """``server.NewServer``'s check (``goverseapi.NewServer`` panics with its error); an empty
    etcd address becomes the default, as there."""
    for value, name in ((settings.listen, "ListenAddress"),
                        (settings.advertise, "AdvertiseAddress")):
        if not value:
            go_panic(f"invalid server configuration: {name} cannot be empty",
                     [("github.com/xiaonanln/goverse/goverseapi.NewServer()",
                       "/goverse/goverseapi/goverseapi.go:55"),
                      ("main.main()", "/goverse/samples/chat/server/chat_server.go:15")])
    if settings.cluster.etcd_endpoint:
        return settings
    return replace(settings, cluster=replace(settings.cluster, etcd_endpoint="localhost:2379"))


def serve(settings: config.ProcessSettings) -> int:
    settings = _validate(settings)
    log = GoverseLogger("ChatServer")
    runtime = NodeRuntime(settings, log)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=64))
    goverse_pb2_grpc.add_GoverseServicer_to_server(GoverseServicer(runtime), server)
    try:
        listen_grpc(server, settings.listen)
    except ListenError as exc:  # server.Run returns net.Listen's error; main panics with it
        go_panic(str(exc), [_MAIN])
    stop = stop_requested()  # server.Run's signal.Notify follows net.Listen
    http_listen = optional_listen(log, "Metrics HTTP server", settings.http_listen)
    server.start()
    reporter = report_to_inspector(settings.inspector_address, runtime.cluster, runtime.report,
                                   runtime.unreport, log)
    try:
        runtime.cluster.start()
    except ClusterStartError:  # Goverse only warns, and serves outside the cluster
        GoverseLogger("EtcdManager").warn("etcd connection test failed: context deadline "
                                          "exceeded")
    else:
        threading.Thread(target=_create_chat_manager, args=(runtime,), daemon=True).start()
    health = _metrics_server(runtime, http_listen, log)
    return serve_until_stopped(stop, server, (health, reporter, runtime.cluster),
                               stopping=runtime.stopped)


def _metrics_server(runtime: NodeRuntime, address: str | None,
                    log: GoverseLogger) -> Stoppable | None:
    """The HTTP server with ``/ready``, started as ``server.Run`` starts its metrics server:
    once the cluster has started. ``http.server`` is imported only here, off the way to joining
    the cluster (see ``emulators.goverse.health``)."""
    if address is None:
        return None
    from emulators.goverse.health import HealthServer, optional_server  # noqa: PLC0415

    health = optional_server(log, "Metrics HTTP server", address, lambda bound: HealthServer(
        bound, runtime.cluster.ready.is_set, ready_body={"status": "ready"},
        not_ready_body={"status": "not ready"}))
    if health is not None:
        health.start()
    return health


def main(argv: Sequence[str] | None = None) -> None:
    run(goflag.program_name("chat_server"), config.NODE_FLAGS, config.node_settings,
        config_failed=_config_failed, serve=serve, argv=argv)


if __name__ == "__main__":
    main()
