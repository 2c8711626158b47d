"""``/healthz`` and ``/ready`` over HTTP (a node's ``-http-listen``, a gate's ``-ops-listen``)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import ThreadingHTTPServer

import grpc

from emulators.gohttp import GoHandler
from emulators.goverse.netaddr import ListenError, check_bindable, grpc_target
from emulators.http_json import send_json


def bind_address(address: str) -> tuple[str, int]:
    """``host:port`` → a bind address. An empty host (Go's ``:port``, all interfaces) binds
    loopback here: the suite's servers never listen beyond 127.0.0.1. Raises
    ``netaddr.ListenError`` (an OSError) with Go's ``net.Listen`` text."""
    return check_bindable(address)


def grpc_address(address: str) -> str:
    """The target grpcio binds for ``address`` (``netaddr.ListenError`` if Go refuses it)."""
    check_bindable(address)
    return grpc_target(address)


def listen_grpc(server: grpc.Server, address: str) -> None:
    """Bind the gRPC server to ``address`` or raise ``netaddr.ListenError`` in Go's words."""
    target = grpc_address(address)
    try:
        bound = server.add_insecure_port(target)
    except RuntimeError as error:  # grpcio raises where older versions returned 0
        raise ListenError(f"listen tcp {target}: bind: address already in use") from error
    if bound == 0:
        raise ListenError(f"listen tcp {target}: bind: address already in use")


class HealthServer:
    """Serves health and readiness when an address is configured (else does nothing)."""

    def __init__(self, address: str | None, is_ready: Callable[[], bool], *,
                 ready_body: dict[str, str], not_ready_body: dict[str, str]) -> None:
        self._server: ThreadingHTTPServer | None = None
        if address is None:
            return
        answers = (is_ready, ready_body, not_ready_body)

        class Handler(GoHandler):
            def route(self, method: str) -> None:
                self.read_body()
                check, ready, not_ready = answers
                if self.path == "/healthz":
                    send_json(self, 200, {"status": "ok"})
                elif self.path == "/ready":
                    send_json(self, *((200, ready) if check() else (503, not_ready)))
                else:
                    self.not_found()

        self._server = ThreadingHTTPServer(bind_address(address), Handler)
        self._server.daemon_threads = True

    def start(self) -> None:
        if self._server is not None:
            threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
