"""Emulated Codex nodes as a network: records, discovery, verified block exchange."""

from __future__ import annotations

import base64
import json
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from emulators.codex.exchange import (
    ExchangeClient,
    LeafReply,
    PeerUnreachableError,
    decode_leaves,
    encode_leaves,
)
from emulators.codex.identity import (
    InvalidRecordError,
    NodeIdentity,
    decode_spr,
    multiaddr_bytes,
)
from support.codex.nodes import CodexFleet, CodexNode, NodeOptions
from support.waiting import eventually


def identity(tmp_path: Path, name: str = "key") -> NodeIdentity:
    return NodeIdentity.load_or_create(tmp_path / name)


def test_spr_round_trip(tmp_path: Path) -> None:
    me = identity(tmp_path)
    spr = me.signed_peer_record([multiaddr_bytes("127.0.0.1", 8090, "udp"),
                                 multiaddr_bytes("127.0.0.1", 4040, "tcp")], seq=42)
    record = decode_spr(spr)
    assert (record.peer_id, record.node_id, record.seq) == (me.peer_id, me.node_id, 42)
    assert record.addresses == (("udp", "127.0.0.1", 8090), ("tcp", "127.0.0.1", 4040))
    assert record.first("tcp") == ("127.0.0.1", 4040)
    assert "=" not in spr and spr.startswith("spr:")


def test_spr_with_a_flipped_bit_is_refused(tmp_path: Path) -> None:
    spr = identity(tmp_path).signed_peer_record([multiaddr_bytes("127.0.0.1", 1, "udp")], seq=1)
    raw = bytearray(base64.urlsafe_b64decode(spr[4:] + "=" * (-len(spr[4:]) % 4)))
    raw[-80] ^= 0x01  # inside the signed record
    tampered = "spr:" + base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    with pytest.raises(InvalidRecordError, match=r"signature|undecodable"):
        decode_spr(tampered)


@pytest.mark.parametrize("text", ["enr:abc", "spr:", "spr:!!!", "spr:" + "A" * 40])
def test_garbage_records_are_refused(text: str) -> None:
    with pytest.raises(InvalidRecordError):
        decode_spr(text)


def test_leaf_frames_round_trip() -> None:
    leaves = [LeafReply(3, "zDx" + "a" * 49, b"\x01" * 33, os.urandom(100)),
              LeafReply(4, "zDx" + "b" * 49, b"\x00", b"")]
    assert decode_leaves(encode_leaves(leaves)) == leaves
    assert decode_leaves(encode_leaves(leaves)[:-5]) == leaves[:1]  # truncated tail dropped


def test_discovery_is_transitive(fleet: CodexFleet) -> None:
    fleet.start_network(["A", "B", "C"], bootstrap={"B": ["A"], "C": ["B"]})
    ids = {name: fleet.node(name).client.peer_id() for name in "ABC"}

    def all_known() -> None:
        for name in "ABC":
            table = fleet.node(name).client.debug_info()["table"]["nodes"]
            assert {e["peerId"] for e in table} == {ids[o] for o in "ABC" if o != name}

    eventually(all_known, within=10)


class DishonestPeer:
    """A peer that announces itself properly but serves every block with a flipped byte."""

    def __init__(self, tmp_path: Path, honest: CodexNode) -> None:
        self.identity = identity(tmp_path, "dishonest-key")
        self.honest = ExchangeClient()
        self.honest_address = _exchange_address(honest)
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.served = 0
        peer = self

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), _corrupting_handler(peer))
        self.http.daemon_threads = True
        tcp = self.http.server_address
        self.dht = self.identity.signed_peer_record(
            [multiaddr_bytes("127.0.0.1", self.udp.getsockname()[1], "udp")], seq=1)
        self.announce = self.identity.signed_peer_record(
            [multiaddr_bytes("127.0.0.1", tcp[1], "tcp")], seq=1)
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        threading.Thread(target=self._answer_greetings, daemon=True).start()

    def _answer_greetings(self) -> None:
        while True:
            try:
                data, address = self.udp.recvfrom(65507)
            except OSError:
                return
            if json.loads(data).get("type") == "hello":
                welcome = {"type": "welcome", "dht": self.dht, "announce": self.announce,
                           "peers": []}
                try:
                    self.udp.sendto(json.dumps(welcome).encode(), address)
                except OSError:  # closed while answering: the test is over
                    return

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()
        self.udp.close()


def _exchange_address(node: CodexNode) -> tuple[str, int]:
    parts = node.client.debug_info()["addrs"][0].split("/")
    return parts[2], int(parts[4])


def _corrupting_handler(peer: DishonestPeer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            parts = self.path.split("/")
            body = b""
            if self.path.startswith("/leaves/"):
                leaves = peer.honest.leaves(peer.honest_address, parts[2], int(parts[3]),
                                            int(parts[4]))
                bad = [LeafReply(leaf.index, leaf.block_cid, leaf.proof,
                                  bytes([leaf.data[0] ^ 0xFF]) + leaf.data[1:])
                       for leaf in leaves]
                peer.served += len(bad)
                body = encode_leaves(bad)
            self.send_response(200 if body else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def test_blocks_that_fail_verification_are_fetched_elsewhere(fleet: CodexFleet,
                                                            tmp_path: Path) -> None:
    holder = fleet.start("A")
    liar = DishonestPeer(tmp_path, holder)
    try:
        # B knows both; it asks them in random order for the manifest and each chunk of blocks,
        # so one download may never reach the liar: fresh files until it has (20 at most; each
        # download asks at least twice, so all 20 miss it with a chance of 1 in 4^20).
        node = fleet.start("B", bootstrap=["A"])
        node.flags.append(f"--bootstrap-node={liar.dht}")
        fleet.restart("B")
        eventually(lambda: _assert_peers(node, 2), within=10)
        for _download in range(20):
            data = os.urandom(1024 * 1024)
            cid = holder.client.upload(data)
            assert node.client.download_bytes(cid, network=True) == data
            if liar.served:
                break
        assert liar.served > 0, "the dishonest peer was never asked in 20 downloads"
        assert node.process is not None
        assert "Block failed verification" in node.process.log_path.read_text()
    finally:
        liar.close()


def _assert_peers(node: CodexNode, count: int) -> None:
    assert len(node.client.debug_info()["table"]["nodes"]) == count


def test_background_download_makes_the_node_a_full_holder(fleet: CodexFleet) -> None:
    a, b = fleet.start_network(["A", "B"])
    data = os.urandom(3 * 1024 * 1024 + 17)
    cid = a.client.upload(data, filename="bg.bin")
    item = b.client.trigger_download(cid)
    assert (item.cid, item.manifest.filename) == (cid, "bg.bin")
    assert b.client.exists(cid)  # the manifest is local when the call returns
    blocks = 49 + 1  # 3 MiB + 17 bytes = 49 blocks, plus the manifest
    eventually(lambda: _assert_blocks(b, blocks), within=20)
    fleet.stop("A")
    assert b.client.download_bytes(cid) == data


def _assert_blocks(node: CodexNode, count: int) -> None:
    assert node.client.space().total_blocks == count


def test_retries_exhausted_after_the_configured_rounds(fleet: CodexFleet) -> None:
    _a, b = fleet.start_network(["A", "B"], options=NodeOptions(block_retries=2))
    started = time.monotonic()
    response = b.client.raw("GET", "/data/zDvZRwzm5vTeyaGa3pp9Bs6myLFaxNfa4ETnVYNLYBqjKy298ZvG"
                                   "/network/manifest")
    elapsed = time.monotonic() - started
    assert (response.status_code, response.text) == (404, "Error retries exhausted")
    assert 5 <= elapsed < 15  # two rounds of about 3 s (the discovery rate limit)


def test_network_stream_of_an_unknown_cid_fails_after_two_full_rounds(fleet: CodexFleet) -> None:
    node = fleet.start("A", options=NodeOptions(block_retries=1))
    started = time.monotonic()
    response = node.client.raw("GET", "/data/zDvZRwzm5vTeyaGa3pp9Bs6myLFaxNfa4ETnVYNLYBqjKy298ZvG"
                                      "/network/stream")
    assert response.status_code == 500
    assert response.text == "Error retries exhausted"
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert time.monotonic() - started >= 5  # the manifest fetch, then the block fallback


def test_connect_by_address_and_by_known_peer(fleet: CodexFleet) -> None:
    a = fleet.start("A")
    b = fleet.start("B")
    a_id = a.client.peer_id()
    host, port = _exchange_address(a)
    unknown = b.client.raw("GET", f"/connect/{a_id}")
    assert (unknown.status_code, unknown.text) == (400, "Unable to find Peer!")
    dialled = b.client.raw("GET", f"/connect/{a_id}", params={"addrs": f"/ip4/{host}/tcp/{port}"})
    assert (dialled.status_code, dialled.text) == (200, "Successfully connected to peer")
    known = b.client.raw("GET", f"/connect/{a_id}")
    assert known.status_code == 200
    bad = b.client.raw("GET", "/connect/not-a-peer")
    assert (bad.status_code, bad.text) == (400, "peerid: incorrect PeerId string")
    nobody = b.client.raw("GET", f"/connect/{a_id}", params={"addrs": "/ip4/127.0.0.1/tcp/9"})
    assert (nobody.status_code, nobody.text) == (400, "Unable to dial peer")
    data = os.urandom(200_000)
    cid = a.client.upload(data)
    assert b.client.download_bytes(cid, network=True) == data


def test_a_peer_that_never_answers_is_passed_over_within_a_retry_interval() -> None:
    """A hung holder accepts the connection (its kernel does) but answers nothing; nim-codex asks
    again after its retry interval (2 s, nim-codex pendingblocks.nim ``DefaultRetryInterval``),
    so the fetch must not wait on such a peer any longer."""
    retry_interval, slack = 2.0, 2.0
    with socket.create_server(("127.0.0.1", 0)) as hung:
        address = hung.getsockname()[:2]
        started = time.monotonic()
        with pytest.raises(PeerUnreachableError):
            ExchangeClient().leaves(address, "zDzSvJTtree", 0, 16)
        assert time.monotonic() - started < retry_interval + slack
