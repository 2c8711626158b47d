"""A Goverse gate: ``python -m emulators.goverse.gate`` (``goverse-chat-gate``, with the chat
sample's authentication) or ``goverse-gate`` (the generic ``cmd/gate``: everyone anonymous).

Serves ``gate.GateService`` (goverse.md §2.2): ``Register`` streams the client its id and then
every message pushed to it, untouched; calls are routed to the owning node through the shard map;
each node is followed with a ``RegisterGate`` stream for pushes.
"""

from __future__ import annotations

import base64
import os
import queue
import struct
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent import futures
from dataclasses import dataclass
from typing import NoReturn, TypeVar

import grpc
from google.protobuf.any_pb2 import Any

from emulators import goflag
from emulators.goverse import config, errors
from emulators.goverse.cluster import Cluster, ClusterStartError, RoutingError
from emulators.goverse.gate_errors import AuthError, GateCallError, call_timeout
from emulators.goverse.logs import GoverseLogger
from emulators.goverse.netaddr import ListenError, listen_grpc
from emulators.goverse.process import go_fatal, run, serve_until_stopped, stop_requested
from emulators.goverse.reporting import report_to_inspector
from emulators.goverse.streams import drain
from wire.pb.gate import gate_pb2, gate_pb2_grpc
from wire.pb.goverse import goverse_pb2, goverse_pb2_grpc
from wire.pb.inspector import inspector_pb2, inspector_pb2_grpc

CLIENT_CHANNEL_DEPTH = 10
R = TypeVar("R")


def chat_authorise(metadata: dict[str, list[str]]) -> str:
    """The chat sample's OnClientAuthorise: ``x-username`` required, ``x-password`` ``000000``."""
    user = (metadata.get("x-username") or [""])[0]
    if not user:
        raise AuthError("x-username header is required")
    if (metadata.get("x-password") or [""])[0] != "000000":
        raise AuthError("invalid password")
    return user


def new_client_id(gate: str) -> str:
    """``<gate advertise address>/<20 URL-safe base64 chars>``: µs timestamp + random bytes."""
    raw = struct.pack(">Q", time.time_ns() // 1000) + os.urandom(7)
    return f"{gate}/{base64.urlsafe_b64encode(raw).decode().rstrip('=')}"


def _go_code(code: grpc.StatusCode) -> str:
    """gRPC-Go's name for a status code (``Unauthenticated``, ``Unknown``, …)."""
    return "".join(part.capitalize() for part in code.name.split("_")).replace("Ok", "OK")


@dataclass
class Client:
    client_id: str
    user: str | None
    channel: queue.Queue[object]


class GateRuntime:
    """The gate's clients, its node connections and its push streams."""

    def __init__(self, settings: config.ProcessSettings,
                 authorise: Callable[[dict[str, list[str]]], str] | None,
                 log: GoverseLogger) -> None:
        self.settings = settings
        self.advertise = settings.advertise
        self.authorise = authorise
        self.log = log
        self.cluster = Cluster(settings.cluster, settings.advertise, "gate", log)
        self.cluster.on_tick.append(self._follow_nodes)
        self.clients: dict[str, Client] = {}
        self._lock = threading.Lock()
        self._stubs: dict[str, goverse_pb2_grpc.GoverseStub] = {}
        self._streams: dict[str, threading.Thread] = {}
        self.stopped = threading.Event()

    def stub(self, node: str) -> goverse_pb2_grpc.GoverseStub:
        with self._lock:
            if node not in self._stubs:
                # A RegisterGate stream is read by the thread that follows the node: with this
                # option grpcio reads it on that thread instead of handing every push over from
                # its channel thread. (grpcio imports grpc.experimental with its first channel.)
                from grpc.experimental import ChannelOptions  # noqa: PLC0415

                options = [(ChannelOptions.SingleThreadedUnaryStream, 1)]
                self._stubs[node] = goverse_pb2_grpc.GoverseStub(
                    grpc.insecure_channel(node, options=options))
            return self._stubs[node]

    # --- pushes from nodes --------------------------------------------------------------------
    def _follow_nodes(self) -> None:
        for node in self.cluster.live_nodes():
            with self._lock:
                running = self._streams.get(node)
                if running is not None and running.is_alive():
                    continue
                thread = threading.Thread(target=self._follow, args=(node,), daemon=True)
                self._streams[node] = thread
            thread.start()

    def _follow(self, node: str) -> None:
        try:
            stream = self.stub(node).RegisterGate(
                goverse_pb2.RegisterGateRequest(gate_addr=self.advertise))
            for message in stream:
                if self.stopped.is_set():
                    stream.cancel()
                    return
                kind = message.WhichOneof("message")
                if kind == "client_message":
                    self.deliver(list(message.client_message.client_ids),
                                 message.client_message.message)
                elif kind == "broadcast_message":
                    with self._lock:
                        everyone = list(self.clients)
                    self.deliver(everyone, message.broadcast_message.message)
        except grpc.RpcError as exc:
            self.log.warn(f"RegisterGate stream to {node} ended: {exc.code().name}")

    def deliver(self, client_ids: list[str], message: Any) -> None:
        for client_id in client_ids:
            with self._lock:
                client = self.clients.get(client_id)
            if client is None:
                continue
            try:
                client.channel.put_nowait(message)
            except queue.Full:
                self.log.warn(f"Dropped a message for client {client_id}: its buffer is full")

    # --- the inspector ------------------------------------------------------------------------
    def report(self, stub: inspector_pb2_grpc.InspectorServiceStub) -> None:
        with self._lock:
            connected = sorted(node for node, t in self._streams.items() if t.is_alive())
            clients = len(self.clients)
        stub.RegisterGate(inspector_pb2.RegisterGateRequest(
            advertise_address=self.advertise, connected_nodes=connected, clients=clients),
            timeout=2)

    def unreport(self, stub: inspector_pb2_grpc.InspectorServiceStub) -> None:
        stub.UnregisterGate(inspector_pb2.UnregisterGateRequest(
            advertise_address=self.advertise), timeout=2)

    # --- clients ------------------------------------------------------------------------------
    def register(self, metadata: dict[str, list[str]]) -> Client:
        return self._add_client(self.authorise(metadata) if self.authorise else None)

    def register_anonymous(self) -> Client:
        """A client of the HTTP event stream: registered without authentication."""
        return self._add_client(None)

    def _add_client(self, user: str | None) -> Client:
        client = Client(new_client_id(self.advertise), user, queue.Queue(CLIENT_CHANNEL_DEPTH))
        with self._lock:
            self.clients[client.client_id] = client
        return client

    def unregister(self, client: Client) -> None:
        with self._lock:
            self.clients.pop(client.client_id, None)

    def identity(self, client_id: str) -> str | None:
        with self._lock:
            client = self.clients.get(client_id)
        return client.user if client else None

    # --- calls (the gRPC and the HTTP gate share them) ----------------------------------------
    def _route(self, object_id: str) -> str:
        try:
            return self.cluster.owner_of(object_id)
        except RoutingError as error:
            raise GateCallError(grpc.StatusCode.UNKNOWN, str(error)) from error

    @staticmethod
    def _relayed(node: str, call: str, error: grpc.RpcError) -> GateCallError:
        code = error.code()
        return GateCallError(code, f"remote {call} failed on node {node}: rpc error: code = "
                                   f"{_go_code(code)} desc = {error.details()}")

    def _on_owner(self, object_id: str, call: str,
                  send: Callable[[goverse_pb2_grpc.GoverseStub], R]) -> R:
        """Send one call to the node owning ``object_id``; its failure in Goverse's words."""
        node = self._route(object_id)
        try:
            return send(self.stub(node))
        except grpc.RpcError as error:
            raise self._relayed(node, call, error) from error

    def call(self, object_type: str, object_id: str, method: str, request: Any, *,
             client_id: str, user: str | None, timeout: float) -> Any:
        """Route a call to the node owning the object; the caller's identity goes along."""
        metadata = [("x-caller-user-id", user)] if user else []
        reply = self._on_owner(object_id, "CallObject", lambda stub: stub.CallObject(
            goverse_pb2.CallObjectRequest(id=object_id, method=method, type=object_type,
                                          request=request, client_id=client_id),
            metadata=metadata, timeout=timeout))
        return reply.response

    def create(self, object_type: str, object_id: str, timeout: float) -> str:
        object_id = object_id or f"{object_type}-{new_client_id('x').split('/', 1)[1]}"
        self._on_owner(object_id, "CreateObject", lambda stub: stub.CreateObject(
            goverse_pb2.CreateObjectRequest(type=object_type, id=object_id), timeout=timeout))
        return object_id

    def delete(self, object_type: str, object_id: str, timeout: float) -> None:
        self._on_owner(object_id, "DeleteObject", lambda stub: stub.DeleteObject(
            goverse_pb2.DeleteObjectRequest(id=object_id, type=object_type), timeout=timeout))


def _metadata(context: grpc.ServicerContext) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for key, value in context.invocation_metadata():
        values.setdefault(key.lower(), []).append(value)
    return values


class GateServicer(gate_pb2_grpc.GateServiceServicer):
    """``gate.GateService`` on the gate's port."""

    def __init__(self, runtime: GateRuntime) -> None:
        self.runtime = runtime

    def _check_running(self, context: grpc.ServicerContext) -> None:
        if self.runtime.stopped.is_set():
            context.abort(grpc.StatusCode.UNAVAILABLE, "gate server is stopped")

    @staticmethod
    def _timeout(context: grpc.ServicerContext) -> float:
        """The caller's deadline, or Goverse's 30 s default when the caller set none."""
        return call_timeout(context.time_remaining())

    def Register(self, request, context) -> Iterator[Any]:  # noqa: N802 - gRPC method names
        self._check_running(context)
        try:
            client = self.runtime.register(_metadata(context))
        except AuthError as error:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, str(error))
            return
        try:
            first = Any()
            first.Pack(gate_pb2.RegisterResponse(client_id=client.client_id))
            yield first
            yield from drain(client.channel, context, self.runtime.stopped)
        finally:
            self.runtime.unregister(client)

    def CallObject(self, request, context):  # noqa: N802
        self._check_running(context)
        user = self.runtime.identity(request.client_id)
        try:
            response = self.runtime.call(request.type, request.id, request.method,
                                         request.request, client_id=request.client_id,
                                         user=user, timeout=self._timeout(context))
        except GateCallError as error:
            context.abort(error.code, str(error))
        return gate_pb2.CallObjectResponse(response=response)

    def CreateObject(self, request, context):  # noqa: N802
        self._check_running(context)
        try:
            object_id = self.runtime.create(request.type, request.id, self._timeout(context))
        except GateCallError as error:
            context.abort(error.code, str(error))
        return gate_pb2.CreateObjectResponse(id=object_id)

    def DeleteObject(self, request, context):  # noqa: N802
        self._check_running(context)
        if not request.type:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, errors.OBJECT_TYPE_REQUIRED)
        try:
            self.runtime.delete(request.type, request.id, self._timeout(context))
        except GateCallError as error:
            context.abort(error.code, str(error))
        return gate_pb2.DeleteObjectResponse()

    def ReliableCallObject(self, request, context):  # noqa: N802
        self._check_running(context)
        return gate_pb2.ReliableCallObjectResponse(status="SKIPPED",
                                                   error=errors.NO_PERSISTENCE)


@dataclass(frozen=True)
class GateProgram:
    """One of the two gate binaries: its ``os.Args[0]``, its main.go's logger and source, and
    its authentication handler."""

    binary: str
    component: str
    source: str
    authorise: Callable[[dict[str, list[str]]], str] | None

    def frames(self, line: int) -> list[tuple[str, str]]:
        return [("main.main()", f"{self.source}:{line}")]

    def config_failed(self, problem: str) -> NoReturn:
        go_fatal(GoverseLogger(self.component), f"Failed to load gate config: {problem}",
                 self.frames(37))


CHAT_GATE = GateProgram("chat_gateway", "ChatGate", "/goverse/samples/chat/gate/main.go",
                        chat_authorise)
GENERIC_GATE = GateProgram("gateway", "Gate", "/goverse/cmd/gate/main.go", None)


def serve(settings: config.ProcessSettings, program: GateProgram) -> int:
    log = GoverseLogger("Gate")
    main_log = GoverseLogger(program.component)
    for value, name in ((settings.listen, "ListenAddress"),
                        (settings.advertise, "AdvertiseAddress"),
                        (settings.cluster.etcd_endpoint, "EtcdAddress")):
        if not value:  # gateserver.NewGateServer's check
            go_fatal(main_log, f"Failed to create gate server: invalid gate configuration: "
                               f"{name} cannot be empty", program.frames(44))
    runtime = GateRuntime(settings, program.authorise, log)
    try:
        runtime.cluster.start()
    except ClusterStartError as exc:
        go_fatal(main_log, f"Failed to start gate server: failed to start cluster: {exc}",
                 program.frames(49))
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=64))
    gate_pb2_grpc.add_GateServiceServicer_to_server(GateServicer(runtime), server)
    try:
        listen_grpc(server, settings.listen)
    except ListenError as exc:
        go_fatal(main_log, f"Failed to start gate server: failed to listen on {settings.listen}: "
                           f"{exc}", program.frames(49))
    # http.server is imported only now, once the gate has joined its cluster (see
    # emulators.goverse.health).
    from emulators.goverse.health import HealthServer, optional_server  # noqa: PLC0415
    from emulators.goverse.http_gate import HttpGate  # noqa: PLC0415

    http_gate = optional_server(log, "HTTP client API server", settings.http_listen,
                                lambda address: HttpGate(address, runtime))
    ops = optional_server(log, "Ops HTTP server", settings.ops_listen, lambda address: HealthServer(
        address, runtime.cluster.ready.is_set, ready_body={"status": "ready"},
        not_ready_body={"error": "Cluster is not ready", "code": "NOT_READY"}))
    stop = stop_requested()
    reporter = report_to_inspector(settings.inspector_address, runtime.cluster, runtime.report,
                                   runtime.unreport, log)
    server.start()
    for started in (ops, http_gate):
        if started is not None:
            started.start()
    return serve_until_stopped(stop, server, (ops, http_gate, reporter, runtime.cluster),
                               stopping=runtime.stopped)


def _main(program: GateProgram, argv: Sequence[str] | None) -> None:
    run(goflag.program_name(program.binary), config.GATE_FLAGS, config.gate_settings,
        config_failed=program.config_failed, serve=lambda settings: serve(settings, program),
        argv=argv)


def chat_gate_main(argv: Sequence[str] | None = None) -> None:
    """``samples/chat/gate``: the gate with the chat sample's authentication."""
    _main(CHAT_GATE, argv)


def generic_gate_main(argv: Sequence[str] | None = None) -> None:
    """``cmd/gate``: no authentication handler, every client is anonymous."""
    _main(GENERIC_GATE, argv)


if __name__ == "__main__":
    chat_gate_main()
