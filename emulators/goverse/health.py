"""The Goverse programs' HTTP servers beside their gRPC port: ``/healthz`` and ``/ready`` (a node's
``-http-listen``, a gate's ``-ops-listen``) and the binding they share.

``http.server`` costs a process more to import than ``grpc`` does: the programs import this module
once they have joined their cluster, which is also when Goverse starts its HTTP servers."""

from __future__ import annotations

from collections.abc import Callable
from http.server import ThreadingHTTPServer
from typing import TypeVar

from emulators.gohttp import GoHandler
from emulators.goverse.logs import GoverseLogger
from emulators.goverse.netaddr import check_bindable
from emulators.http_json import send_json
from emulators.serving import PromptStop


def bind_address(address: str) -> tuple[str, int]:
    """``host:port`` → a bind address. An empty host (Go's ``:port``, all interfaces) binds
    loopback here: the suite's servers never listen beyond 127.0.0.1. Raises
    ``netaddr.ListenError`` (an OSError) with Go's ``net.Listen`` text."""
    return check_bindable(address)


class _Server(PromptStop, ThreadingHTTPServer):
    daemon_threads = True


class HttpService:
    """An HTTP server on a Go listen address, served from a daemon thread between ``start`` and
    ``stop``; ``netaddr.ListenError`` (an OSError) in Go's words if it cannot bind."""

    def __init__(self, address: str, handler: type[GoHandler]) -> None:
        self._server = _Server(bind_address(address), handler)

    def start(self) -> None:
        self._server.start_serving("http")

    def stop(self) -> None:
        self._server.stop_serving()
        self._server.server_close()


H = TypeVar("H", bound=HttpService)


def optional_server(log: GoverseLogger, what: str, address: str | None,
                    make: Callable[[str], H]) -> H | None:
    """The server on ``address`` when one is configured. Goverse logs a listen failure
    (``<what> error: <Go's text>``) and keeps serving gRPC without it."""
    if not address:
        return None
    try:
        return make(address)
    except OSError as exc:  # netaddr.ListenError included: Go's net.Listen text
        log.error(f"{what} error: {exc}")
        return None


class HealthServer(HttpService):
    """Serves health and readiness."""

    def __init__(self, address: str, is_ready: Callable[[], bool], *,
                 ready_body: dict[str, str], not_ready_body: dict[str, str]) -> None:
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

        super().__init__(address, Handler)
