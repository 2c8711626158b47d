"""Listen addresses as Go's ``net.Listen("tcp", addr)`` reads them, failing with Go's words
(``emulators.netaddr``, with ``net.Listen``'s ``listen tcp: `` in front).

An empty host (Go: every interface) binds loopback here, since the suite's servers never listen
beyond 127.0.0.1.
"""

from __future__ import annotations

import socket

from emulators import netaddr as go_net


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
