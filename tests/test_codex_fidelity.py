"""Issue 11: the emulated node answers as nim-codex (codex/rest/api.nim) behind presto and chronos
do, for non-UTF-8 filenames, marketplace paths, log levels, percent-encoded paths, the request-head
limits and an absent block on ``/network/stream``. Raw sockets, so that every byte is checked."""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import time
from urllib.parse import urlsplit

import pytest

from emulators.codex import nim_json
from emulators.codex.chronos_http import decode_url, parse_request, query_params, split_target
from emulators.codex.logs import LogLevelError, parse_log_level
from support.codex.nodes import CodexFleet, CodexNode, NodeOptions
from wire.cid import CODEX_BLOCK, CODEX_MANIFEST, Cid

API = "/api/codex/v1"
RAW_NAME = b"caf\xe9-\xff.bin"  # latin-1 bytes, not UTF-8


def address(node: CodexNode) -> tuple[str, int]:
    parts = urlsplit(node.client.base_url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


def exchange(node: CodexNode, request: bytes, timeout: float = 30) -> bytes:
    """Send raw bytes, read until the node closes the connection."""
    with socket.create_connection(address(node), timeout=timeout) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def request(node: CodexNode, method: str, path: str, body: bytes = b"",
            headers: tuple[tuple[str, bytes], ...] = ()) -> tuple[int, dict[str, str], bytes]:
    """One request with raw header bytes; returns status, headers (lower-case) and body."""
    lines = [f"{method} {path} HTTP/1.1".encode(), b"Host: x", b"Connection: close"]
    lines += [name.encode() + b": " + value for name, value in headers]
    if body:
        lines.append(f"Content-Length: {len(body)}".encode())
    answer = exchange(node, b"\r\n".join(lines) + b"\r\n\r\n" + body)
    head, _, rest = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.split(b"\r\n")
    fields = {}
    for line in header_lines:
        name, _, value = line.partition(b":")
        fields[name.decode().lower()] = value.strip().decode("latin-1")
    return int(status_line.split()[1]), fields, rest


def upload_raw_name(node: CodexNode, name: bytes = RAW_NAME, data: bytes = b"raw-name") -> str:
    status, _, body = request(node, "POST", API + "/data", data,
                              (("Content-Disposition", b'attachment; filename="' + name + b'"'),))
    assert status == 200, body
    return body.decode()


# --- non-UTF-8 filenames -------------------------------------------------------------------------
def test_a_non_utf8_filename_is_stored_and_served_as_its_bytes(shared_node: CodexNode) -> None:
    cid = upload_raw_name(shared_node)
    expected = b"{\"cid\":\"" + cid.encode() + b"\",\"manifest\":{\"treeCid\":\""
    for method, path in (("GET", f"/data/{cid}/network/manifest"),
                         ("POST", f"/data/{cid}/network")):
        status, fields, body = request(shared_node, method, API + path)
        assert (status, fields["content-type"]) == (200, "application/json")
        assert body.startswith(expected)
        assert b'"filename":"' + RAW_NAME + b'"' in body  # Nim's std/json passes bytes as they are
    status, _, listing = request(shared_node, "GET", API + "/data")
    assert status == 200 and b'"filename":"' + RAW_NAME + b'"' in listing
    status, fields, data = request(shared_node, "GET", f"{API}/data/{cid}")
    assert (status, data) == (200, b"raw-name")
    raw_head = exchange(shared_node, f"GET {API}/data/{cid} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert b'Content-Disposition: attachment; filename="' + RAW_NAME + b'"\r\n' in raw_head


def test_json_escapes_control_bytes_as_nim_does(shared_node: CodexNode) -> None:
    # isValidFilename lets control bytes through; std/json writes \u00XX in upper case.
    cid = upload_raw_name(shared_node, b"a\x1b\x01\x7fb.txt", b"ctl")
    _, _, body = request(shared_node, "GET", f"{API}/data/{cid}/network/manifest")
    assert b'"filename":"a\\u001B\\u0001\x7fb.txt"' in body


def test_a_non_utf8_filename_survives_a_restart(fleet: CodexFleet) -> None:
    node = fleet.start("raw")
    cid = upload_raw_name(node)
    fleet.restart("raw")
    status, _, listing = request(node, "GET", API + "/data")
    assert status == 200 and cid.encode() in listing and RAW_NAME in listing
    assert node.client.space().total_blocks == 2


# --- marketplace paths ---------------------------------------------------------------------------
SLOT = "0x" + "11" * 32


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/sales/slots"), ("GET", f"/sales/slots/{SLOT}"), ("GET", "/sales/availability"),
    ("POST", "/sales/availability"), ("PATCH", f"/sales/availability/{SLOT}"),
    ("GET", f"/sales/availability/{SLOT}/reservations"), ("GET", "/storage/purchases"),
    ("GET", f"/storage/purchases/{SLOT}"),
    ("POST", f"/storage/request/{Cid.of_bytes(CODEX_MANIFEST, b'x')}"),
])
def test_routed_marketplace_pairs_answer_503(shared_node: CodexNode, method: str,
                                             path: str) -> None:
    status, fields, body = request(shared_node, method, API + path)
    assert (status, body, fields["content-type"]) == (503, b"Persistence is not enabled",
                                                       "text/html")


@pytest.mark.parametrize(("method", "path"), [
    ("POST", "/sales/slots"), ("GET", "/sales"), ("GET", "/sales/other"),
    ("PATCH", "/sales/availability"), ("GET", "/storage"), ("GET", "/storage/request/x"),
    ("DELETE", "/sales/slots"), ("GET", "/sales/slots/a/b"),
])
def test_other_marketplace_paths_are_presto_404(shared_node: CodexNode, method: str,
                                                 path: str) -> None:
    status, fields, body = request(shared_node, method, API + path)
    assert (status, body, fields.get("content-type")) == (404, b"", None)


def test_options_on_a_routed_marketplace_path_is_204(shared_node: CodexNode) -> None:
    status, _, body = request(shared_node, "OPTIONS", f"{API}/sales/availability/{SLOT}")
    assert (status, body) == (204, b"")
    assert request(shared_node, "OPTIONS", API + "/sales/slots")[0] == 404


def test_marketplace_cors_headers_follow_each_handler(fleet: CodexFleet) -> None:
    node = fleet.start("cors")
    node.flags.append("--api-cors-origin=https://app.example")
    fleet.restart("cors")
    _, fields, _ = request(node, "GET", API + "/sales/slots")
    assert fields["access-control-allow-methods"] == "GET, OPTIONS"
    purchase = f"{API}/storage/request/{Cid.of_bytes(CODEX_MANIFEST, b'x')}"
    _, fields, _ = request(node, "POST", purchase)
    assert fields["access-control-allow-methods"] == "POST, OPTIONS"
    _, fields, _ = request(node, "PATCH", f"{API}/sales/availability/{SLOT}")
    assert "access-control-allow-origin" not in fields  # this handler passes no headers
    status, fields, _ = request(node, "OPTIONS", f"{API}/sales/availability/{SLOT}")
    assert (status, fields["access-control-allow-methods"]) == (204, "PATCH, OPTIONS")


# --- log level -----------------------------------------------------------------------------------
LEVEL_ERROR = b"Please specify one of: trace, debug, info, notice, warn, error or fatal"


@pytest.mark.parametrize(("query", "status", "text"), [
    ("level=", 500, LEVEL_ERROR),
    ("level", 500, LEVEL_ERROR),
    ("level=codex:debug", 500, LEVEL_ERROR),
    ("level=debug&level=info", 500, LEVEL_ERROR),  # presto joins repeated values with ","
    ("level=DEBUG;codex:trace", 500, b"'codex' is not a recognized log level."),
    ("level=DEBUG;codex", 500,
     b"Please use the following syntax 'DEBUG: topic1,topic2; INFO: topic3'."),
    ("LEVEL=info", 200, b""),
    ("level=d_e_b_u_g", 200, b""),  # parseEnum is style-insensitive
    ("level=none", 200, b""),
    ("level=info;trace:codex,restapi", 200, b""),
    ("level=warn;dbg:%20codex", 200, b""),
])
def test_log_level_answers_as_nim_codex(shared_node: CodexNode, query: str, status: int,
                                        text: bytes) -> None:
    answer = request(shared_node, "POST", f"{API}/debug/chronicles/loglevel?{query}")
    assert (answer[0], answer[2]) == (status, text)
    request(shared_node, "POST", f"{API}/debug/chronicles/loglevel?level=info")


# --- percent-encoded path segments ---------------------------------------------------------------
def test_percent_encoded_segments_are_decoded(shared_node: CodexNode) -> None:
    cid = shared_node.client.upload(b"percent")
    encoded = "%7A" + cid[1:]
    status, _, body = request(shared_node, "GET", f"{API}/data/{encoded}/exists")
    assert (status, json.loads(body)) == (200, {cid: True})
    assert request(shared_node, "GET", f"{API}/%64ata/{cid}")[2] == b"percent"
    slashed = request(shared_node, "GET", f"{API}/data/{cid}%2Fexists")  # one segment
    assert (slashed[0], slashed[2]) == (400, b"Incorrect Cid")


# --- request-head limits -------------------------------------------------------------------------
CHRONOS_ERROR = re.compile(
    rb"^HTTP/1\.1 (\d{3} [A-Za-z ]+)\r\nDate: [A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} "
    rb"\d{2}:\d{2}:\d{2} GMT\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n"
    rb"Connection: close\r\n\r\n$")


def chronos_error(answer: bytes) -> bytes:
    match = CHRONOS_ERROR.match(answer)
    assert match, answer[:300]
    return match.group(1)


def head_of(size: int, connection: str = "keep-alive") -> bytes:
    """A GET /space request head of exactly ``size`` bytes, the final CRLFCRLF included."""
    start = f"GET {API}/space HTTP/1.1\r\nConnection: {connection}\r\nX-Pad: ".encode()
    return start + b"a" * (size - len(start) - 4) + b"\r\n\r\n"


def test_request_heads_up_to_8192_bytes_are_served(shared_node: CodexNode) -> None:
    answer = exchange(shared_node, head_of(8192, "close"))
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")


def test_a_request_head_over_8192_bytes_is_431(shared_node: CodexNode) -> None:
    assert chronos_error(exchange(shared_node, head_of(8193))) == \
        b"431 Request Header Fields Too Large"


def test_a_long_request_line_is_431_too(shared_node: CodexNode) -> None:
    line = f"GET {API}/{'a' * 9000} HTTP/1.1\r\n\r\n".encode()
    assert chronos_error(exchange(shared_node, line)) == b"431 Request Header Fields Too Large"


@pytest.mark.parametrize("head", [
    b"HELLO\r\n\r\n",
    b"GET /\r\n\r\n",  # HTTP/0.9 style
    b"FOO /api/codex/v1/space HTTP/1.1\r\n\r\n",  # httputils knows nine methods
    b"GET /api/codex/v1/space HTTP/1.2\r\n\r\n",
    b"GET /api/codex/v1/sp|ce HTTP/1.1\r\n\r\n",
    b"GET /api/codex/v1/space HTTP/1.1\r\nBad Header: x\r\n\r\n",
    b"GET /api/codex/v1/space HTTP/1.1\r\n folded\r\n\r\n",
    b"\r\nGET /api/codex/v1/space HTTP/1.1\r\n\r\n",
    b"POST /api/codex/v1/data HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
])
def test_a_malformed_request_head_is_a_plain_400(shared_node: CodexNode, head: bytes) -> None:
    assert chronos_error(exchange(shared_node, head)) == b"400 Bad Request"


def test_an_unfinished_head_waits_ten_seconds_then_408(shared_node: CodexNode) -> None:
    started = time.monotonic()
    answer = exchange(shared_node, b"GET /api/codex/v1/space HTTP/1.1\r\n")
    assert chronos_error(answer) == b"408 Request Timeout"
    assert 9 <= time.monotonic() - started < 20


def test_a_broken_content_type_with_a_body_is_415_and_closes(shared_node: CodexNode) -> None:
    answer = exchange(shared_node, f"POST {API}/data HTTP/1.1\r\nContent-Type: not a type\r\n"
                                   "Content-Length: 1\r\n\r\nx".encode())
    assert chronos_error(answer) == b"415 Unsupported Media Type"


def test_expect_100_continue_on_upload(shared_node: CodexNode) -> None:
    with socket.create_connection(address(shared_node), timeout=30) as sock:
        sock.sendall(f"POST {API}/data HTTP/1.1\r\nContent-Length: 5\r\n"
                     "Expect: 100-continue\r\nConnection: close\r\n\r\n".encode())
        assert sock.recv(1024) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"hello")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")


def test_an_http_1_0_request_is_answered_in_1_0_and_closed(shared_node: CodexNode) -> None:
    answer = exchange(shared_node, f"GET {API}/space HTTP/1.0\r\n\r\n".encode())
    assert answer.startswith(b"HTTP/1.0 200 OK\r\n")
    assert b"\r\nConnection: close\r\n" in answer


def test_non_utf8_header_bytes_do_not_break_other_routes(shared_node: CodexNode) -> None:
    status, _, body = request(shared_node, "GET", API + "/space",
                              headers=(("X-Junk", b"\xff\xfe\x00\x80"),))
    assert status == 200 and b"totalBlocks" in body


def test_non_utf8_bytes_in_a_path_get_an_answer(shared_node: CodexNode) -> None:
    # A keep-alive connection gets an answer for each request, whatever the path decodes to.
    conn = http.client.HTTPConnection(*address(shared_node), timeout=30)
    conn.request("GET", API + "/data/%FF%FE/exists")
    answer = conn.getresponse()
    assert (answer.status, answer.read()) == (400, b"Incorrect Cid")
    conn.close()


# --- an absent block on /network/stream ----------------------------------------------------------
def test_network_stream_of_an_absent_block_waits_on_the_network(shared_node: CodexNode) -> None:
    block = Cid.of_bytes(CODEX_BLOCK, os.urandom(64))
    started = time.monotonic()
    status, fields, body = request(shared_node, "GET", f"{API}/data/{block}/network/stream")
    elapsed = time.monotonic() - started
    assert (status, body) == (500, b"Error retries exhausted")
    assert fields["content-type"] == "text/html; charset=utf-8"
    assert 2.5 <= elapsed < 10  # one round of --block-retries=1, as for any network fetch


def test_network_stream_of_a_block_a_peer_holds_fetches_it(fleet: CodexFleet) -> None:
    holder, asker = fleet.start_network(["A", "B"], options=NodeOptions(block_retries=5))
    data = os.urandom(1000)
    holder.client.upload(data)
    block = str(Cid.of_bytes(CODEX_BLOCK, data + bytes(65536 - len(data))))
    assert asker.client.exists(block) is False
    status, _, body = request(asker, "GET", f"{API}/data/{block}/network/stream")
    assert (status, body) == (404, b"CID has invalid content type for manifest {$cid}")
    assert asker.client.exists(block) is True  # the single block was fetched and kept


# --- the ported pieces on their own ---------------------------------------------------------------
def test_nim_json_matches_std_json() -> None:
    value = {"a": [1, True, None, {}], "b": [], "c": "x\x00\x0b\x1f\x7f\"\\", "d": b"\xff"}
    assert nim_json.dumps(value) == \
        b'{"a":[1,true,null,{}],"b":[],"c":"x\\u0000\\u000b\\u001F\x7f\\"\\\\","d":"\xff"}'
    plain = {"id": "x", "addrs": ["/ip4/1"], "table": {"nodes": [], "n": {"k": False}}}
    assert nim_json.pretty(plain) == json.dumps(plain, indent=2).encode()
    assert nim_json.dumps("caf\udce9") == b'"caf\xe9"'  # surrogate escapes → the raw byte


def test_parse_request_follows_http_utils() -> None:
    head = parse_request(b"PATCH /a?b=c HTTP/1.1\r\nX-A:  v \r\nX-B:\r\nX-A: w\r\n\r\n")
    assert head is not None
    assert (head.method, head.target, head.version) == ("PATCH", "/a?b=c", "HTTP/1.1")
    assert head.headers == [("X-A", "v "), ("X-B", ""), ("X-A", "w")]
    assert head.get("x-a") == "v ,w"  # chronos getString joins repeated headers
    for bad in (b"GET / HTTP/1.1\n\n", b"get / HTTP/1.1\r\n\r\n", b"GET /a\"b HTTP/1.1\r\n\r\n",
                b"GET / HTTP/1.1\r\nX:\ny\r\n\r\n", b"GET  / HTTP/1.1\r\n\r\n"):
        assert parse_request(bad) is None, bad


def test_uri_and_query_handling() -> None:
    assert split_target("/p/a%2Fb?x=1#frag") == ("/p/a%2Fb", "x=1")
    assert split_target("http://host:1/p?q") == ("/p", "q")
    assert decode_url("a+b%41%zz%4") == "a bA%zz%4"
    assert query_params("Level=a&level=b&=x&flag&y=%2B") == {"level": ["a", "b"], "flag": [""],
                                                            "y": ["+"]}


def test_log_level_syntax_is_chronicles() -> None:
    assert parse_log_level("info;trace:codex, restapi;disabled:x") == (
        2, {"codex": 0, "restapi": 0, "x": 99})
    with pytest.raises(LogLevelError) as caught:
        parse_log_level("warn;codex:debug")
    assert caught.value.applied == 4
