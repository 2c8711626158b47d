"""Every emulated HTTP server answers with Nagle's algorithm off on its accepted connections, as
Go's net package does on every TCP connection (net/tcpsock.go) and as the Codex emulator needs
for keep-alive answers written in more than one piece: without TCP_NODELAY, each such answer
waits about 40 ms for the client's delayed ACK. ``socketserver.StreamRequestHandler`` sets the
option on each accepted socket when the handler class says ``disable_nagle_algorithm``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from socketserver import BaseServer
from types import SimpleNamespace
from typing import Any, cast

import pytest

from emulators.codex.api import CodexHttpServer
from emulators.codex.exchange import ExchangeServer
from emulators.community.server import StatusBackendServer
from emulators.goverse.health import HealthServer, HttpService
from emulators.goverse.http_gate import HttpGate
from emulators.goverse.inspector_http import http_handler

NOTHING = cast(Any, None)  # what a handler reaches only while it answers a request


def _service(make: Callable[[], HttpService]) -> Callable[[], BaseServer]:
    return lambda: make()._server  # the HTTP server a Goverse program's service runs


SERVERS: dict[str, Callable[[], BaseServer]] = {
    "a status-backend": lambda: StatusBackendServer(("127.0.0.1", 0), NOTHING, NOTHING),
    "a Codex node's REST API": lambda: CodexHttpServer(cast(Any, SimpleNamespace(
        config=SimpleNamespace(api_bindaddr="127.0.0.1", api_port=0)))),
    "a Codex node's block exchange": lambda: ExchangeServer(("127.0.0.1", 0), NOTHING, dict),
    "a Goverse node's health port": _service(lambda: HealthServer(
        "127.0.0.1:0", lambda: True, ready_body={}, not_ready_body={})),
    "a Goverse gate's client API": _service(lambda: HttpGate("127.0.0.1:0", NOTHING)),
    "the Goverse inspector's HTTP port": _service(lambda: HttpService(
        "127.0.0.1:0", http_handler(NOTHING, None, 1, Path("static")))),
}


@pytest.fixture(params=sorted(SERVERS))
def server(request: pytest.FixtureRequest) -> Iterator[tuple[str, BaseServer]]:
    bound = SERVERS[request.param]()
    try:
        yield request.param, bound
    finally:
        bound.server_close()


def test_each_emulated_http_server_turns_nagle_off_on_its_connections(
        server: tuple[str, BaseServer]) -> None:
    name, bound = server
    handler = bound.RequestHandlerClass
    assert getattr(handler, "disable_nagle_algorithm", False), (
        f"{name} answers with Nagle's algorithm on: its handler {handler.__qualname__} does not "
        "set disable_nagle_algorithm")
