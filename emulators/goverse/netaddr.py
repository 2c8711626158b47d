"""Listen addresses as Go's ``net.Listen("tcp", addr)`` reads them, failing with Go's words.

``host:port``, ``[v6]:port`` and ``:port``; an empty host (Go: every interface) binds loopback
here, since the suite's servers never listen beyond 127.0.0.1. The error texts are those of Go's
``net`` package: ``listen tcp: address X: missing port in address``, ``... invalid port``,
``listen tcp: lookup tcp/X: unknown port``, ``listen tcp: lookup H: no such host``,
``listen tcp H:P: bind: address already in use``.
"""

from __future__ import annotations

import socket


class ListenError(OSError):
    """An address Go's ``net.Listen`` refuses; ``str()`` is Go's error text."""


def split_host_port(address: str) -> tuple[str, str]:
    """``net.SplitHostPort`` (Go's messages, prefixed as ``net.Listen`` reports them)."""
    def fail(why: str) -> ListenError:
        return ListenError(f"listen tcp: address {address}: {why}")

    colon = address.rfind(":")
    if colon < 0:
        raise fail("missing port in address")
    if address.startswith("["):
        end = address.find("]")
        if end < 0:
            raise fail("missing ']' in address")
        if end + 1 == len(address):
            raise fail("missing port in address")
        if end + 1 != colon:
            raise fail("missing port in address" if address[end + 1] != ":"
                       else "too many colons in address")
        host = address[1:end]
    else:
        host = address[:colon]
        if ":" in host:
            raise fail("too many colons in address")
    if "[" in host or "]" in address[colon:]:
        raise fail("unexpected '[' in address")
    return host, address[colon + 1:]


def listen_address(address: str) -> tuple[str, int]:
    """``host:port`` → the (host, port) to bind, or ListenError with Go's text."""
    host, port_text = split_host_port(address)
    if port_text.isdigit():
        port = int(port_text)
        if port > 65535:
            raise ListenError(f"listen tcp: address {port_text}: invalid port")
    elif port_text == "":
        port = 0
    else:
        try:
            port = socket.getservbyname(port_text, "tcp")
        except OSError as error:
            raise ListenError(f"listen tcp: lookup tcp/{port_text}: unknown port") from error
    if not host:
        return "127.0.0.1", port
    try:
        resolved = socket.getaddrinfo(host, port, socket.AF_UNSPEC, socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise ListenError(f"listen tcp: lookup {host}: no such host") from error
    return str(resolved[0][4][0]), port


def _go_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def check_bindable(address: str) -> tuple[str, int]:
    """Bind the address once, as Go's listener would, to report a failure in Go's words
    (``listen tcp 127.0.0.1:5000: bind: address already in use``); returns (host, port)."""
    host, port = listen_address(address)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as error:
            why = (error.strerror or str(error)).lower()
            raise ListenError(f"listen tcp {_go_address(host, port)}: bind: {why}") from error
    return host, port


def grpc_target(address: str) -> str:
    """The ``host:port`` grpcio binds for a Go listen address (ListenError if Go refuses it)."""
    host, port = listen_address(address)
    return _go_address(host, port)
