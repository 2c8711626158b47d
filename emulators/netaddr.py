"""Listen addresses as Go's ``net`` package reads them (``host:port``, ``[v6]:port``, ``:port``),
failing with its words. Each program puts its own operation in front of a ``NetError``: Go's
``net.Listen`` writes ``listen tcp: <error>``, status-backend's address check
``invalid address: <error>``.

The texts are those of Go's ``net`` package: ``address X: missing port in address``,
``address X: invalid port``, ``lookup tcp/X: unknown port``, ``lookup H: no such host`` and,
for a failed bind, ``listen tcp H:P: bind: address already in use``.
"""

from __future__ import annotations

import socket

_PORT_MAX = 0xFFFF


class NetError(Exception):
    """An address Go's ``net`` package refuses; ``str()`` is Go's error text."""


def _address_error(address: str, why: str) -> NetError:
    """Go's ``net.AddrError``."""
    return NetError(f"address {address}: {why}")


def split_host_port(hostport: str) -> tuple[str, str]:
    """``net.SplitHostPort``: (host, port), or NetError ``address X: <why>``."""
    colon = hostport.rfind(":")
    if colon < 0:
        raise _address_error(hostport, "missing port in address")
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise _address_error(hostport, "missing ']' in address")
        if end + 1 == len(hostport):
            raise _address_error(hostport, "missing port in address")
        if end + 1 != colon:
            raise _address_error(hostport, "too many colons in address"
                                 if hostport[end + 1] == ":" else "missing port in address")
        host, no_open_before, no_close_before = hostport[1:end], 1, end + 1
    else:
        host, no_open_before, no_close_before = hostport[:colon], 0, 0
        if ":" in host:
            raise _address_error(hostport, "too many colons in address")
    if "[" in hostport[no_open_before:]:
        raise _address_error(hostport, "unexpected '[' in address")
    if "]" in hostport[no_close_before:]:
        raise _address_error(hostport, "unexpected ']' in address")
    return host, hostport[colon + 1:]


def lookup_port(service: str) -> int:
    """``net.LookupPort("tcp", service)``: a decimal with an optional sign (``address X: invalid
    port`` outside 0–65535), else a service name (``lookup tcp/X: unknown port``)."""
    digits = service[1:] if service[:1] in ("+", "-") else service
    if digits.isascii() and (digits.isdigit() or not digits):
        number = int(digits or "0") * (-1 if service.startswith("-") else 1)
        if not 0 <= number <= _PORT_MAX:
            raise _address_error(service, "invalid port")
        return number
    try:
        return socket.getservbyname(service, "tcp")
    except OSError as error:
        raise NetError(f"lookup tcp/{service}: unknown port") from error


def resolve_host(host: str, port: int) -> tuple[socket.AddressFamily, str]:
    """The first address ``host`` resolves to, or NetError ``lookup H: no such host``."""
    try:
        family, _, _, _, sockaddr = socket.getaddrinfo(
            host, port, socket.AF_UNSPEC, socket.SOCK_STREAM)[0]
    except (OSError, UnicodeError) as error:
        raise NetError(f"lookup {host}: no such host") from error
    return family, str(sockaddr[0])


def join_host_port(host: str, port: int) -> str:
    """``net.JoinHostPort``: an IPv6 host in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def bind_refused(address: str, why: str) -> str:
    """``net.Listen``'s text for a bind of ``host:port`` refused, e.g. ``address already in
    use``."""
    return f"listen tcp {address}: bind: {why}"


def bind_failure(host: str, port: int, error: OSError) -> str:
    """``net.Listen``'s text for a bind the kernel refused with ``error``."""
    return bind_refused(join_host_port(host, port), (error.strerror or str(error)).lower())
