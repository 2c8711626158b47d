"""Block exchange between emulated nodes, on the node's libp2p TCP listen address.

Real nodes speak libp2p block exchange there; emulated nodes never meet real ones, so they use
a small HTTP protocol instead:

- ``GET /peer``: the node's peer ID and its two signed records;
- ``GET /block/<cid>``: one stored block (manifests included);
- ``GET /leaves/<tree>/<start>/<count>``: the blocks of a dataset tree in that range that the node
  holds, each framed with its index, CID and Merkle proof, so the fetcher can verify every block
  against the tree root before storing or serving it. A frame is ``!IHHI`` (index, CID length,
  proof length, data length) followed by the CID, the proof and the data.
"""

from __future__ import annotations

import json
import re
import socket
import struct
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

from emulators.codex.store import RepoStore

_BLOCK = re.compile(r"^/block/([A-Za-z0-9]+)$")
_LEAVES = re.compile(r"^/leaves/([A-Za-z0-9]+)/(\d+)/(\d+)$")
_FRAME = struct.Struct("!IHHI")
MAX_LEAVES_PER_REQUEST = 64
# A peer that does not answer within one retry interval is passed over for this round, as
# nim-codex's engine waits ``handle or sleepAsync(retryInterval)`` (2 s, pendingblocks.nim) and
# then asks again: a hung peer (frozen, its sockets still open) slows a download, never stalls it.
CONNECT_TIMEOUT = 2.0
READ_TIMEOUT = 2.0


class PeerUnreachableError(Exception):
    """The peer did not answer (gone, or not an exchange endpoint)."""


@dataclass(frozen=True)
class LeafReply:
    """One block of a dataset tree as a peer sent it (not yet verified)."""

    index: int
    block_cid: str
    proof: bytes
    data: bytes


def encode_leaves(leaves: list[LeafReply]) -> bytes:
    return b"".join(
        _FRAME.pack(leaf.index, len(leaf.block_cid), len(leaf.proof), len(leaf.data))
        + leaf.block_cid.encode() + leaf.proof + leaf.data
        for leaf in leaves
    )


def decode_leaves(body: bytes) -> list[LeafReply]:
    """Frames back to leaves; a truncated or malformed tail is dropped."""
    leaves, offset = [], 0
    while offset + _FRAME.size <= len(body):
        index, cid_len, proof_len, data_len = _FRAME.unpack_from(body, offset)
        offset += _FRAME.size
        end = offset + cid_len + proof_len + data_len
        if end > len(body):
            break
        cid = body[offset : offset + cid_len].decode("ascii", "replace")
        proof = body[offset + cid_len : offset + cid_len + proof_len]
        leaves.append(LeafReply(index, cid, proof, body[offset + cid_len + proof_len : end]))
        offset = end
    return leaves


class _ExchangeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ExchangeServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self._headers_buffer.extend([b"\r\n", body])  # one write for headers and body
        self.flush_headers()

    def do_GET(self) -> None:
        store = self.server.store
        if self.path == "/peer":
            self._reply(200, json.dumps(self.server.describe()).encode())
        elif match := _BLOCK.match(self.path):
            data = store.read(match.group(1))
            self._reply(404) if data is None else self._reply(200, data)
        elif match := _LEAVES.match(self.path):
            tree, start = match.group(1), int(match.group(2))
            count = min(int(match.group(3)), MAX_LEAVES_PER_REQUEST)
            held = []
            for index in range(start, start + count):
                leaf = store.leaf(tree, index)
                data = store.read(leaf[0]) if leaf else None
                if leaf is not None and data is not None:
                    held.append(LeafReply(index, leaf[0], leaf[1], data))
            self._reply(200, encode_leaves(held)) if held else self._reply(404)
        else:
            self._reply(404)


class ExchangeServer(ThreadingHTTPServer):
    """Serves this node's blocks to its peers."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], store: RepoStore,
                 describe: Callable[[], dict[str, str]]) -> None:
        self.store = store
        self.describe = describe
        super().__init__(address, _ExchangeHandler)

    def start(self) -> None:
        threading.Thread(target=self.serve_forever, name="exchange", daemon=True).start()

    def handle_error(self, request: object, client_address: object) -> None:
        """A peer that gave up on an answer (closed mid-reply) is routine, not a traceback."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class ExchangeClient:
    """Fetches from peers; one requests session per thread (sessions are not thread-safe)."""

    def __init__(self) -> None:
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def _get(self, address: tuple[str, int], path: str) -> requests.Response | None:
        url = f"http://{address[0]}:{address[1]}{path}"
        try:
            response = self._session().get(url, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT))
        except requests.RequestException as exc:
            raise PeerUnreachableError(f"{url}: {exc.__class__.__name__}") from exc
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise PeerUnreachableError(f"{url} answered {response.status_code}")
        return response

    def identify(self, address: tuple[str, int]) -> dict[str, str]:
        response = self._get(address, "/peer")
        if response is None:
            raise PeerUnreachableError(f"{address} is not a Codex exchange endpoint")
        return response.json()

    def block(self, address: tuple[str, int], cid: str) -> bytes | None:
        response = self._get(address, f"/block/{cid}")
        return None if response is None else response.content

    def leaves(self, address: tuple[str, int], tree: str, start: int,
               count: int) -> list[LeafReply]:
        """The blocks ``start … start + count - 1`` of ``tree`` that the peer holds."""
        response = self._get(address, f"/leaves/{tree}/{start}/{count}")
        return [] if response is None else decode_leaves(response.content)
