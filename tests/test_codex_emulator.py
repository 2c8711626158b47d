"""The emulated node's REST behaviour at the HTTP level (codex.md §1–2), through raw sockets and
the suite's client."""

from __future__ import annotations

import base64
import http.client
import json
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from support.codex.client import CodexClient, CodexError, DownloadCancelledError
from support.codex.nodes import CodexFleet, CodexNode, NodeOptions
from wire.cid import CODEX_BLOCK, CODEX_MANIFEST, Cid

API = "/api/codex/v1"


def connection(node: CodexNode) -> http.client.HTTPConnection:
    parts = urlsplit(node.client.base_url)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)


@dataclass(frozen=True)
class RawReply:
    """An answer read to its end before its connection closed."""

    status: int
    body: bytes
    response: http.client.HTTPResponse

    def getheader(self, name: str) -> str | None:
        return self.response.getheader(name)

    def getheaders(self) -> list[tuple[str, str]]:
        return self.response.getheaders()


def raw_request(node: CodexNode, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> RawReply:
    conn = connection(node)
    conn.request(method, API + path, body=body, headers=headers or {})
    response = conn.getresponse()
    reply = RawReply(response.status, response.read(), response)
    conn.close()
    return reply


def test_upload_answers_text_plain_cid_without_newline(shared_node: CodexNode) -> None:
    response = raw_request(shared_node, "POST", "/data", os.urandom(100))
    body = response.body
    assert response.status == 200
    assert response.getheader("Content-Type") == "text/plain"
    assert not body.endswith(b"\n")
    assert Cid.parse(body.decode()).codec == CODEX_MANIFEST
    assert response.getheader("Server").startswith("nim-presto/0.0.3 (")


def test_download_headers(shared_node: CodexNode) -> None:
    data = os.urandom(70000)
    cid = shared_node.client.upload(data, filename="a b.bin", mimetype="image/png")
    response = raw_request(shared_node, "GET", f"/data/{cid}")
    assert response.status == 200
    assert response.body == data
    assert response.getheader("Content-Length") == "70000"
    assert response.getheader("Connection") == "close"
    assert response.getheader("Content-Type") == "image/png"
    assert response.getheader("Content-Disposition") == 'attachment; filename="a b.bin"'
    assert response.getheader("Transfer-Encoding") is None
    assert response.getheader("Access-Control-Expose-Headers") is None
    stream = raw_request(shared_node, "GET", f"/data/{cid}/network/stream")
    assert stream.getheader("Access-Control-Expose-Headers") == "Content-Disposition"


def test_utf8_filename_comes_back_as_raw_bytes(shared_node: CodexNode) -> None:
    cid = shared_node.client.upload(b"x", filename="résumé.txt")
    result = shared_node.client.download(cid)
    assert result.filename == "résumé.txt"


def test_unknown_route_and_unrouted_method_are_empty_404(shared_node: CodexNode) -> None:
    for method, path in (("GET", "/nothing"), ("HEAD", "/data"), ("PUT", "/data"),
                         ("GET", "/debug/info/extra")):
        response = raw_request(shared_node, method, path)
        assert (response.status, response.body) == (404, b"")
        assert response.getheader("Content-Type") is None
        assert response.getheader("Content-Length") == "0"


@pytest.mark.parametrize(("method", "suffix"), [
    ("GET", ""), ("DELETE", ""), ("GET", "/exists"), ("GET", "/network/stream"),
    ("GET", "/network/manifest"), ("POST", "/network"),
])
def test_bad_cid_is_400_on_every_route(shared_node: CodexNode, method: str, suffix: str) -> None:
    response = raw_request(shared_node, method, f"/data/zDvZRwzmNonExistentCID123456789{suffix}")
    assert (response.status, response.body) == (400, b"Incorrect Cid")
    assert response.getheader("Content-Type") == "text/html"


def test_upload_error_texts(shared_node: CodexNode) -> None:
    cases = [
        ({}, b"", 500, "Request do not have body available"),
        ({"Content-Type": "text/plain; charset=utf-8"}, b"x", 422,
         "The MIME type 'text/plain; charset=utf-8' is not valid."),
        ({"Content-Type": "Text/Plain"}, b"x", 200, None),
        ({"Content-Disposition": 'filename="exam*ple.txt"'}, b"x", 422,
         "The filename is not valid."),
        ({"Content-Disposition": "filename=unquoted.txt"}, b"x", 200, None),
    ]
    for headers, body, status, text in cases:
        response = raw_request(shared_node, "POST", "/data", body, headers)
        assert response.status == status, headers
        if text is not None:
            assert response.body.decode() == text
            assert response.getheader("Content-Type") == "text/html"


def test_mimetype_is_stored_as_sent(shared_node: CodexNode) -> None:
    cid = shared_node.client.upload(b"abc", mimetype="Text/Plain")
    assert shared_node.client.fetch_manifest(cid).manifest.mimetype == "Text/Plain"


def test_broken_content_type_is_415(shared_node: CodexNode) -> None:
    response = raw_request(shared_node, "POST", "/data", b"x", {"Content-Type": "not a type"})
    assert response.status == 415


def test_chunked_upload_and_empty_chunked_upload(shared_node: CodexNode) -> None:
    data = os.urandom(200_000)
    cid = shared_node.client.upload(iter([data[:1000], data[1000:]]))
    assert shared_node.client.download_bytes(cid) == data
    with pytest.raises(CodexError) as caught:
        shared_node.client.upload(iter([b""]))
    assert (caught.value.status, caught.value.body) == (500, "Empty leaves")


def test_aborted_upload_creates_no_dataset(shared_node: CodexNode) -> None:
    before = {item.cid for item in shared_node.client.list_data()}
    parts = urlsplit(shared_node.client.base_url)
    with socket.create_connection((parts.hostname, parts.port)) as sock:
        sock.sendall(f"POST {API}/data HTTP/1.1\r\nHost: x\r\nContent-Length: 500000\r\n\r\n"
                     .encode() + os.urandom(200_000))
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:  # the node notices the abort asynchronously
        assert {item.cid for item in shared_node.client.list_data()} == before
        time.sleep(0.1)


def test_exists_is_keyed_by_base58_and_empty_block_is_always_present(
        shared_node: CodexNode) -> None:
    cid = Cid.of_bytes(CODEX_MANIFEST, b"not stored")
    base32 = "b" + base64.b32encode(cid.to_bytes()).decode().lower().rstrip("=")
    response = raw_request(shared_node, "GET", f"/data/{base32}/exists")
    assert json.loads(response.body) == {str(cid): False}
    empty = Cid.of_bytes(CODEX_BLOCK, b"")
    assert shared_node.client.exists(str(empty)) is True


def test_delete_is_idempotent_and_frees_space(shared_node: CodexNode) -> None:
    client = shared_node.client
    before = client.space()
    cid = client.upload(os.urandom(3 * 65536))
    grown = client.space()
    assert grown.total_blocks - before.total_blocks == 4
    client.delete(cid)
    client.delete(cid)
    assert client.space() == before
    assert client.exists(cid) is False
    client.delete(str(Cid.of_bytes(CODEX_BLOCK, b"never stored")))


def test_space_json_shape(shared_node: CodexNode) -> None:
    response = raw_request(shared_node, "GET", "/space")
    body = response.body.decode()
    assert list(json.loads(body)) == ["totalBlocks", "quotaMaxBytes", "quotaUsedBytes",
                                      "quotaReservedBytes"]
    assert " " not in body and response.getheader("Content-Type") == "application/json"


def test_manifest_json_has_nulls_and_key_order(shared_node: CodexNode) -> None:
    cid = shared_node.client.upload(b"some file contents")
    response = raw_request(shared_node, "GET", f"/data/{cid}/network/manifest")
    assert response.body.decode() == (
        f'{{"cid":"{cid}","manifest":{{"treeCid":'
        '"zDzSvJTezk7bJNQqFq8k1iHXY84psNuUfZVusA5bBQQUSuyzDSVL","datasetSize":18,'
        '"blockSize":65536,"filename":null,"mimetype":null,"protected":false}}'
    )


def test_debug_info_is_pretty_with_seven_keys(shared_node: CodexNode) -> None:
    body = raw_request(shared_node, "GET", "/debug/info").body.decode()
    info = json.loads(body)
    assert list(info) == ["id", "addrs", "repo", "spr", "announceAddresses", "table", "codex"]
    # secp256k1 peer IDs read 16Uiu2HAm… or 16Uiu2HAk… (the compressed key's parity byte).
    assert body.startswith('{\n  "id": "16Uiu2HA')
    assert info["id"][8] in "mk" and len(info["id"]) == 53
    assert info["spr"].startswith("spr:") and "=" not in info["spr"]
    assert info["addrs"][0].startswith("/ip4/127.0.0.1/tcp/")


def test_peerid_and_spr_follow_accept(shared_node: CodexNode) -> None:
    plain = raw_request(shared_node, "GET", "/peerid", headers={"Accept": "text/plain"})
    assert plain.getheader("Content-Type") == "text/plain"
    peer = plain.body.decode()
    as_json = raw_request(shared_node, "GET", "/peerid", headers={"Accept": "*/*"})
    assert json.loads(as_json.body) == {"id": peer}
    spr = raw_request(shared_node, "GET", "/spr")
    assert list(json.loads(spr.body)) == ["spr"]


def test_log_level_route(shared_node: CodexNode) -> None:
    assert raw_request(shared_node, "POST", "/debug/chronicles/loglevel").body == \
        b"Missing log level"
    bad = raw_request(shared_node, "POST", "/debug/chronicles/loglevel?level=loud")
    assert bad.status == 500
    # chronicles' topic directives name the level first: LEVEL:topic1,topic2.
    ok = raw_request(shared_node, "POST", "/debug/chronicles/loglevel?level=DEBUG;trace:codex")
    assert (ok.status, ok.getheader("Content-Type")) == (200, "text/plain")
    reversed_order = raw_request(shared_node, "POST",
                                 "/debug/chronicles/loglevel?level=DEBUG;codex:trace")
    assert (reversed_order.status, reversed_order.body) == (
        500, b"'codex' is not a recognized log level.")
    raw_request(shared_node, "POST", "/debug/chronicles/loglevel?level=info")


def test_preflight_and_marketplace(shared_node: CodexNode) -> None:
    assert raw_request(shared_node, "OPTIONS", "/data").status == 204
    market = raw_request(shared_node, "GET", "/sales/slots")
    assert (market.status, market.body) == (503, b"Persistence is not enabled")


def test_non_manifest_cids_on_manifest_routes(shared_node: CodexNode) -> None:
    data = os.urandom(1000)
    shared_node.client.upload(data)
    block = str(Cid.of_bytes(CODEX_BLOCK, data + bytes(65536 - 1000)))
    local = raw_request(shared_node, "GET", f"/data/{block}")
    assert (local.status, local.body) == (
        404, b"CID has invalid content type for manifest {$cid}")
    assert local.getheader("Content-Type") == "text/html; charset=utf-8"
    trigger = raw_request(shared_node, "POST", f"/data/{block}/network")
    assert trigger.status == 404


def test_unknown_cid_waits_for_the_retry_budget_then_fails(shared_node: CodexNode) -> None:
    cid = str(Cid.of_bytes(CODEX_MANIFEST, b"nobody has this"))
    started = time.monotonic()
    response = raw_request(shared_node, "GET", f"/data/{cid}/network/manifest")
    elapsed = time.monotonic() - started
    assert (response.status, response.body) == (404, b"Error retries exhausted")
    assert 2.5 <= elapsed < 10  # one round with --block-retries=1 lasts the 3 s discovery limit


def test_client_cancels_mid_download_and_node_keeps_serving(shared_node: CodexNode) -> None:
    data = os.urandom(8 * 1024 * 1024)
    cid = shared_node.client.upload(data)
    cancel = threading.Event()
    with pytest.raises(DownloadCancelledError):
        shared_node.client.download(cid, cancel=cancel,
                                    on_progress=lambda size: size > 65536 and cancel.set())
    assert shared_node.client.download_bytes(cid) == data


def test_client_errors_name_the_call_and_carry_status(shared_node: CodexNode) -> None:
    with pytest.raises(CodexError, match=r"^cid check failed with status 400: Incorrect Cid$"):
        shared_node.client.exists("not-a-cid")
    with pytest.raises(CodexError, match=r"^failed to check cid existence: "):
        CodexClient("http://127.0.0.1:9", timeout=2).exists("x")


def test_client_downloads_to_a_file(shared_node: CodexNode, tmp_path: Path) -> None:
    data = os.urandom(100_000)
    cid = shared_node.client.upload(data)
    result = shared_node.client.download(cid, tmp_path / "out.bin", network=True)
    assert (tmp_path / "out.bin").read_bytes() == data
    assert result.size == len(data)


def test_quota_failure_keeps_blocks_already_written(fleet: CodexFleet) -> None:
    node = fleet.start("small", options=NodeOptions(storage_quota=3 * 65536))
    with pytest.raises(CodexError) as caught:
        node.client.upload(os.urandom(5 * 65536))
    assert caught.value.status == 500
    assert caught.value.body.startswith("Unable to store block zDx")
    space = node.client.space()
    assert (space.total_blocks, space.quota_used_bytes) == (3, 3 * 65536)


def test_data_and_identity_survive_a_restart(fleet: CodexFleet) -> None:
    node = fleet.start("durable")
    data = os.urandom(300_000)
    cid = node.client.upload(data, filename="keep.bin")
    peer = node.client.peer_id()
    fleet.restart("durable")
    assert node.exit_codes == [0]
    assert node.client.download_bytes(cid) == data
    assert node.client.peer_id() == peer


def test_blocks_expire_with_a_short_ttl(fleet: CodexFleet) -> None:
    node = fleet.start("ephemeral", options=NodeOptions(block_ttl=1, block_maintenance_interval=1))
    cid = node.client.upload(b"short-lived")
    deadline = time.monotonic() + 10
    while node.client.exists(cid):
        assert time.monotonic() < deadline, "the data did not expire within 10 s"
        time.sleep(0.2)
    with pytest.raises(CodexError, match="status 404"):
        node.client.download_bytes(cid)


def test_concurrent_identical_uploads_converge(shared_node: CodexNode) -> None:
    data = os.urandom(500_000)
    results: list[str] = []

    def upload() -> None:
        results.append(CodexClient(shared_node.client.base_url).upload(data))

    threads = [threading.Thread(target=upload) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1 and len(results) == 8


def test_requests_session_reuse_after_download(shared_node: CodexNode) -> None:
    # Downloads close the connection (Connection: close); the next call must still work.
    cid = shared_node.client.upload(b"abc")
    assert shared_node.client.download_bytes(cid) == b"abc"
    assert shared_node.client.exists(cid)
    assert isinstance(shared_node.client.session, requests.Session)


def test_cors_headers_when_an_origin_is_configured(fleet: CodexFleet) -> None:
    node = fleet.start("cors")
    node.flags.append("--api-cors-origin=https://app.example")
    fleet.restart("cors")
    preflight = raw_request(node, "OPTIONS", "/data")
    assert preflight.status == 204
    assert preflight.getheader("Access-Control-Allow-Origin") == "https://app.example"
    assert preflight.getheader("Access-Control-Allow-Methods") == "POST, OPTIONS"
    assert preflight.getheader("Access-Control-Allow-Headers") == \
        "content-type, content-disposition"
    assert preflight.getheader("Access-Control-Max-Age") == "86400"
    cid_preflight = raw_request(node, "OPTIONS", f"/data/{Cid.of_bytes(CODEX_MANIFEST, b'x')}")
    assert cid_preflight.getheader("Access-Control-Allow-Methods") == "GET,DELETE, OPTIONS"
    cid = node.client.upload(b"cross-origin")
    download = raw_request(node, "GET", f"/data/{cid}")
    assert download.getheader("Access-Control-Allow-Methods") == "GET, OPTIONS"
    assert download.getheader("Access-Control-Headers") == "X-Requested-With"
    error = raw_request(node, "GET", "/data/not-a-cid/exists")
    assert error.getheader("Access-Control-Allow-Origin") == "https://app.example"
    normal = raw_request(node, "GET", "/space", headers={"Origin": "https://app.example"})
    assert normal.getheader("Access-Control-Allow-Origin") == "https://app.example"
    assert normal.getheader("Vary") == "Origin"


def test_no_cors_headers_by_default(shared_node: CodexNode) -> None:
    response = raw_request(shared_node, "OPTIONS", "/data")
    assert response.status == 204
    assert not [h for h, _ in response.getheaders() if h.lower().startswith("access-control")]


def test_headers_must_arrive_within_ten_seconds(shared_node: CodexNode) -> None:
    parts = urlsplit(shared_node.client.base_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(b"GET /api/codex/v1/space HTTP/1.1\r\n")
        started = time.monotonic()
        # chronos answers 408 (its sendErrorResponse) and closes the connection.
        assert sock.recv(1024).startswith(b"HTTP/1.1 408 Request Timeout\r\n")
        assert 9 <= time.monotonic() - started < 20
        assert sock.recv(1024) == b""


def test_a_refused_upload_does_not_poison_the_keep_alive_connection(
        shared_node: CodexNode) -> None:
    conn = connection(shared_node)
    for headers in ({"Content-Type": "image/made-up"},
                    {"Content-Disposition": 'filename="exam*ple.txt"'},
                    {"Content-Type": "not a type"}):
        conn.request("POST", API + "/data", body=os.urandom(50_000), headers=headers)
        refused = conn.getresponse()
        refused.read()
        assert refused.status in (415, 422)
        conn.request("GET", API + "/space")  # the same connection, right after
        answer = conn.getresponse()
        assert (answer.status, answer.getheader("Content-Type")) == (200, "application/json")
        answer.read()
    conn.close()
