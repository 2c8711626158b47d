"""Listen addresses as Go's ``net.Listen("tcp", addr)`` reads them, failing with Go's words
(``emulators.netaddr``, with ``net.Listen``'s ``listen tcp: `` in front).

An empty host (Go: every interface) binds loopback here, since the suite's servers never listen
beyond 127.0.0.1.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

from emulators import netaddr as go_net

if TYPE_CHECKING:
    import grpc

    from emulators.goverse.logs import GoverseLogger


class ListenError(OSError):
    """An address Go's ``net.Listen`` refuses; ``str()`` is Go's error text."""


def listen_address(address: str) -> tuple[str, int]:
    """``host:port`` → the (host, port) to bind, or ListenError with Go's text."""
    try:
        host, port_text = go_net.split_host_port(address)
        port = go_net.lookup_port(port_text)
        return ("127.0.0.1", port) if not host else (go_net.resolve_host(host, port)[1], port)
    except go_net.NetError as error:
        raise ListenError(f"listen tcp: {error}") from None


def check_bindable(address: str) -> tuple[str, int]:
    """Bind the address once, as Go's listener would, to report a failure in Go's words
    (``listen tcp 127.0.0.1:5000: bind: address already in use``); returns (host, port)."""
    host, port = listen_address(address)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as error:
            raise ListenError(go_net.bind_failure(host, port, error)) from error
    return host, port


def grpc_target(address: str) -> str:
    """The ``host:port`` grpcio binds for a Go listen address (ListenError if Go refuses it)."""
    return go_net.join_host_port(*listen_address(address))


def grpc_address(address: str) -> str:
    """The target grpcio binds for ``address`` (ListenError if Go refuses it)."""
    check_bindable(address)
    return grpc_target(address)


def listen_grpc(server: grpc.Server, address: str) -> None:
    """Bind the gRPC server to ``address`` or raise ListenError in Go's words."""
    target = grpc_address(address)
    try:
        bound = server.add_insecure_port(target)
    except RuntimeError as error:  # grpcio raises where older versions returned 0
        raise ListenError(go_net.bind_refused(target, "address already in use")) from error
    if bound == 0:
        raise ListenError(go_net.bind_refused(target, "address already in use"))


def optional_listen(log: GoverseLogger, what: str, address: str | None) -> str | None:
    """``address`` if one is configured and can be bound. Goverse logs a listen failure of an
    optional HTTP server (``<what> error: <Go's text>``) and runs on without it: then None."""
    if not address:
        return None
    try:
        check_bindable(address)
    except ListenError as exc:
        log.error(f"{what} error: {exc}")
        return None
    return address
