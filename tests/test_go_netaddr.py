"""The emulators' reading of listen addresses against Go's own vectors (``net/ipsock_test.go``'s
``splitFailureTests``, ``net/port_test.go``): the expected texts are Go's, not this code's."""

from __future__ import annotations

import pytest

from emulators.netaddr import NetError, lookup_port, split_host_port

# net/ipsock_test.go: splitFailureTests
_SPLIT_FAILURES = [
    ("www.google.com", "missing port in address"),
    ("127.0.0.1", "missing port in address"),
    ("[::1]", "missing port in address"),
    ("[fe80::1%lo0]", "missing port in address"),
    ("::1", "too many colons in address"),
    ("fe80::1%lo0:80", "too many colons in address"),
    ("[foo:bar]", "missing port in address"),
    ("[foo:bar]baz", "missing port in address"),
    ("[foo]bar:baz", "missing port in address"),
    ("[foo]:[bar]:baz", "too many colons in address"),
    ("[foo]:[bar]baz", "unexpected '[' in address"),
    ("foo[bar]:baz", "unexpected '[' in address"),
    ("foo]bar:baz", "unexpected ']' in address"),
]


@pytest.mark.parametrize(("hostport", "why"), _SPLIT_FAILURES)
def test_split_host_port_fails_as_go_does(hostport: str, why: str) -> None:
    with pytest.raises(NetError) as failure:
        split_host_port(hostport)
    assert str(failure.value) == f"address {hostport}: {why}"


@pytest.mark.parametrize(("hostport", "expected"), [
    ("localhost:http", ("localhost", "http")),
    ("[::1]:80", ("::1", "80")),
    (":80", ("", "80")),
    ("127.0.0.1:", ("127.0.0.1", "")),
])
def test_split_host_port_splits_as_go_does(hostport: str, expected: tuple[str, str]) -> None:
    assert split_host_port(hostport) == expected


@pytest.mark.parametrize(("service", "port"), [("", 0), ("80", 80), ("+80", 80), ("-0", 0),
                                               ("65535", 65535), ("http", 80)])
def test_ports_are_read_as_go_s_lookup_port_reads_them(service: str, port: int) -> None:
    assert lookup_port(service) == port


@pytest.mark.parametrize(("service", "error"), [
    ("65536", "address 65536: invalid port"),
    ("-1", "address -1: invalid port"),
    ("nope", "lookup tcp/nope: unknown port"),
])
def test_a_port_go_refuses_is_refused_in_its_words(service: str, error: str) -> None:
    with pytest.raises(NetError) as failure:
        lookup_port(service)
    assert str(failure.value) == error
