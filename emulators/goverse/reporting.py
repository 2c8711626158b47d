"""Reporting to the inspector (``-inspector-address``): nodes and gates register themselves after
every management tick, from a thread of their own (a Ping first; a failed Ping means register
again later), and unregister when they stop."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

import grpc

from emulators.goverse.cluster import Cluster
from emulators.goverse.logs import GoverseLogger
from wire.pb.inspector import inspector_pb2, inspector_pb2_grpc

_TIMEOUT = 2.0


def report_to_inspector(address: str | None, cluster: Cluster,
                        register: Callable[[inspector_pb2_grpc.InspectorServiceStub], None],
                        unregister: Callable[[inspector_pb2_grpc.InspectorServiceStub], None],
                        log: GoverseLogger) -> InspectorReporter | None:
    """With an inspector address, refresh the registration on every management tick."""
    if not address:
        return None
    reporter = InspectorReporter(address, register, unregister, log)
    cluster.on_tick.append(reporter.refresh)
    return reporter


class InspectorReporter:
    """Keeps one node's or gate's entry in the inspector up to date, from a thread of its own
    (Goverse's ``inspectormanager`` runs beside the cluster's management loop): each tick asks
    for a report, and an inspector that is slow to answer never holds up the tick."""

    def __init__(self, address: str, register: Callable[[inspector_pb2_grpc.InspectorServiceStub],
                                                          None],
                 unregister: Callable[[inspector_pb2_grpc.InspectorServiceStub], None],
                 log: GoverseLogger) -> None:
        self._stub = inspector_pb2_grpc.InspectorServiceStub(grpc.insecure_channel(address))
        self._register = register
        self._unregister = unregister
        self._log = log
        self._due = threading.Event()
        self._stopping = threading.Event()
        self._lock = threading.Lock()  # a report and the final unregistration never overlap
        threading.Thread(target=self._run, name="inspector-report", daemon=True).start()

    def refresh(self) -> None:
        """Ask for a report (reports asked for while one is under way make one more)."""
        self._due.set()

    def _run(self) -> None:
        while True:
            self._due.wait()
            self._due.clear()
            with self._lock:
                if self._stopping.is_set():
                    return
                try:
                    self._stub.Ping(inspector_pb2.Empty(), timeout=_TIMEOUT)
                    self._register(self._stub)
                except grpc.RpcError as exc:
                    self._log.warn(f"Inspector unreachable: {exc.code().name}")

    def stop(self) -> None:
        self._stopping.set()
        self._due.set()
        with self._lock, contextlib.suppress(grpc.RpcError):
            self._unregister(self._stub)
