"""Block exchange between emulated nodes, on the node's libp2p TCP listen address.

Real nodes speak libp2p block exchange there; emulated nodes never meet real ones, so they use
a small HTTP/1.1 protocol instead:

- ``GET /peer``: the node's peer ID and its two signed records;
- ``GET /block/<cid>``: one stored block (manifests included);
- ``GET /leaves/<tree>/<start>/<count>``: the blocks of a dataset tree in that range that the node
  holds, each framed with its index, CID and Merkle proof, so the fetcher can verify every block
  against the tree root before storing or serving it. A frame is ``!IHHI`` (index, CID length,
  proof length, data length) followed by the CID, the proof and the data.

A fetching node keeps one connection per peer address open and pipelines its requests on it, as
libp2p keeps one stream per peer and sends want-lists on it without waiting: several want-lists
are in flight per peer at once, and a reader thread takes the answers in order, each body read
in one piece straight into the buffer its frames are then sliced from (no copies). The serving
node sends each block's bytes from its pack file with ``sendfile``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import struct
import sys
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from emulators.codex.http_io import send_file_range
from emulators.codex.store import RepoStore
from emulators.serving import PromptStop

_BLOCK = re.compile(r"^/block/([A-Za-z0-9]+)$")
_LEAVES = re.compile(r"^/leaves/([A-Za-z0-9]+)/(\d+)/(\d+)$")
_FRAME = struct.Struct("!IHHI")
MAX_LEAVES_PER_REQUEST = 64
# A peer that does not answer within one retry interval is passed over for this round, as
# nim-codex's engine waits ``handle or sleepAsync(retryInterval)`` (2 s, pendingblocks.nim) and
# then asks again: a hung peer (frozen, its sockets still open) slows a download, never stalls it.
# On a pipelined connection this is the longest silence allowed while an answer is owed.
CONNECT_TIMEOUT = 2.0
READ_TIMEOUT = 2.0
_MAX_HEAD = 16 * 1024
_RECV_CHUNK = 16 * 1024  # reads of answer heads; bodies go straight into their buffer


class PeerUnreachableError(Exception):
    """The peer did not answer (gone, hung, or not an exchange endpoint)."""


@dataclass(frozen=True)
class LeafReply:
    """One block of a dataset tree as a peer sent it (not yet verified); ``data`` may be a view
    into the body it arrived in."""

    index: int
    block_cid: str
    proof: bytes
    data: bytes | memoryview


def encode_leaves(leaves: list[LeafReply]) -> bytes:
    return b"".join(frame_head(leaf.index, leaf.block_cid, leaf.proof, len(leaf.data))
                    + leaf.data for leaf in leaves)


def decode_leaves(body: bytes | bytearray | memoryview) -> list[LeafReply]:
    """Frames back to leaves (their data views into ``body``); a truncated or malformed tail is
    dropped."""
    view = memoryview(body)
    leaves, offset = [], 0
    while offset + _FRAME.size <= len(view):
        index, cid_len, proof_len, data_len = _FRAME.unpack_from(view, offset)
        offset += _FRAME.size
        end = offset + cid_len + proof_len + data_len
        if end > len(view):
            break
        cid = bytes(view[offset : offset + cid_len]).decode("ascii", "replace")
        proof = bytes(view[offset + cid_len : offset + cid_len + proof_len])
        leaves.append(LeafReply(index, cid, proof, view[offset + cid_len + proof_len : end]))
        offset = end
    return leaves


def frame_head(index: int, block_cid: str, proof: bytes, size: int) -> bytes:
    """What precedes a block's data in a frame."""
    cid = block_cid.encode()
    return _FRAME.pack(index, len(cid), len(proof), size) + cid + proof


@dataclass(frozen=True)
class _StoredFrame:
    """A frame to send: its head, then ``size`` bytes of the pack file ``path`` at ``offset``."""

    head: bytes
    path: Path
    offset: int
    size: int


def held_frames(store: RepoStore, tree: str, start: int, count: int) -> list[_StoredFrame]:
    """The frames of the blocks ``start … start + count - 1`` of ``tree`` stored here."""
    frames, index, end = [], start, start + count
    leaves = store.leaf_range(tree, start, count)
    while index < end:
        run = store.local_run(tree, index, end - index)
        if run is None or run.length % run.count:
            index += 1
            continue
        size = run.length // run.count
        for offset in range(run.offset, run.offset + run.length, size):
            leaf = leaves.get(index)
            if leaf is not None:
                frames.append(_StoredFrame(frame_head(index, leaf[0], leaf[1], size),
                                           run.path, offset, size))
            index += 1
    return frames


class _ExchangeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # small answers leave at once, not after a delayed ACK
    server: ExchangeServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _reply(self, status: int, body: bytes = b"") -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self._headers_buffer.extend([b"\r\n", body])  # one write for headers and body
        self.flush_headers()

    def _send_frames(self, frames: list[_StoredFrame]) -> None:
        """A 200 whose body is ``frames``, each block's bytes sent from its pack file by
        ``sendfile``; corked, so heads and data leave in full-sized segments. A pack that
        shrank meanwhile cuts the answer short and closes the connection."""
        self.send_response(200)
        self.send_header("Content-Length", str(sum(len(f.head) + f.size for f in frames)))
        self._headers_buffer.append(b"\r\n")
        sock, fds = self.connection, {}
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
        try:
            sock.sendall(b"".join(self._headers_buffer))
            self._headers_buffer = []
            for frame in frames:
                if frame.path not in fds:
                    fds[frame.path] = os.open(frame.path, os.O_RDONLY)
                sock.sendall(frame.head)
                send_file_range(sock, fds[frame.path], frame.offset, frame.size)
        except (FileNotFoundError, EOFError):
            self.close_connection = True
        finally:
            for fd in fds.values():
                os.close(fd)
            if not self.close_connection:
                with contextlib.suppress(OSError):  # a peer that left: routine
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)

    def do_GET(self) -> None:
        store = self.server.store
        if self.path == "/peer":
            self._reply(200, json.dumps(self.server.describe()).encode())
        elif match := _BLOCK.match(self.path):
            data = store.read(match.group(1))
            self._reply(404) if data is None else self._reply(200, data)
        elif match := _LEAVES.match(self.path):
            count = min(int(match.group(3)), MAX_LEAVES_PER_REQUEST)
            frames = held_frames(store, match.group(1), int(match.group(2)), count)
            self._send_frames(frames) if frames else self._reply(404)
        else:
            self._reply(404)


class ExchangeServer(PromptStop, ThreadingHTTPServer):
    """Serves this node's blocks to its peers."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], store: RepoStore,
                 describe: Callable[[], dict[str, str]]) -> None:
        self.store = store
        self.describe = describe
        super().__init__(address, _ExchangeHandler)

    def start(self) -> None:
        self.start_serving("exchange")

    def handle_error(self, request: object, client_address: object) -> None:
        """A peer that gave up on an answer (closed mid-reply) is routine, not a traceback."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@dataclass(frozen=True)
class _Answer:
    status: int
    body: bytearray


class _Link:
    """One persistent, pipelined connection to a peer's exchange address: requests go out as
    they are made; a reader thread completes their futures in order. A silence of
    ``READ_TIMEOUT`` while an answer is owed, or any connection error, fails every request still
    owed and closes the link for good."""

    def __init__(self, address: tuple[str, int]) -> None:
        self.address = address
        self._sock = socket.create_connection(address, timeout=CONNECT_TIMEOUT)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock.settimeout(READ_TIMEOUT)
        self._owed: deque[Future[_Answer]] = deque()
        self._cond = threading.Condition()
        self._closed: str | None = None
        self._buffer = bytearray()
        threading.Thread(target=self._read_answers, name="exchange-link", daemon=True).start()

    @property
    def closed(self) -> bool:
        return self._closed is not None

    def request(self, path: str) -> Future[_Answer]:
        """Send ``GET path`` now; the future completes with the answer (or PeerUnreachableError)."""
        future: Future[_Answer] = Future()
        head = f"GET {path} HTTP/1.1\r\nHost: {self.address[0]}:{self.address[1]}\r\n\r\n"
        with self._cond:
            if self._closed is not None:
                future.set_exception(PeerUnreachableError(self._closed))
                return future
            try:
                self._sock.sendall(head.encode())
            except OSError as exc:
                self._fail_locked(f"{self.address}: {exc.__class__.__name__}")
                future.set_exception(PeerUnreachableError(self._closed))
                return future
            self._owed.append(future)
            self._cond.notify()
        return future

    def close(self) -> None:
        with self._cond:
            self._fail_locked(f"{self.address}: link closed")

    def _fail_locked(self, reason: str) -> None:
        if self._closed is None:
            self._closed = reason
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)
            self._sock.close()
        while self._owed:
            self._owed.popleft().set_exception(PeerUnreachableError(reason))
        self._cond.notify_all()

    def _read_answers(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._owed or self._closed is not None)
                if self._closed is not None:
                    return
            try:
                answer, last = self._read_answer()
            except Exception as exc:  # a broken or foreign answer ends the link, never a waiter
                with self._cond:
                    self._fail_locked(f"{self.address}: {exc.__class__.__name__} {exc}".strip())
                return
            with self._cond:
                if self._owed:
                    self._owed.popleft().set_result(answer)
                if last:
                    self._fail_locked(f"{self.address}: the peer closed the connection")
                    return

    def _fill(self) -> None:
        chunk = self._sock.recv(_RECV_CHUNK)
        if not chunk:
            raise ConnectionResetError("the peer closed the connection")
        self._buffer += chunk

    def _read_answer(self) -> tuple[_Answer, bool]:
        """The next answer, and whether the peer closes the connection after it."""
        while (end := self._buffer.find(b"\r\n\r\n")) < 0:
            if len(self._buffer) > _MAX_HEAD:
                raise ValueError("answer head too long")
            self._fill()
        lines = bytes(self._buffer[:end]).decode("latin-1").split("\r\n")
        del self._buffer[: end + 4]
        status = int(lines[0].split(" ", 2)[1])
        headers = {name.strip().lower(): value.strip()
                   for name, _, value in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        body = bytearray(length)
        view = memoryview(body)
        filled = min(length, len(self._buffer))
        view[:filled] = self._buffer[:filled]
        del self._buffer[:filled]
        while filled < length:
            received = self._sock.recv_into(view[filled:])
            if not received:
                raise ConnectionResetError("the peer closed the connection mid-answer")
            filled += received
        return _Answer(status, body), headers.get("connection", "").lower() == "close"


class ExchangeClient:
    """Fetches from peers over one pipelined connection per peer address, shared by every
    thread of the node."""

    def __init__(self) -> None:
        self._links: dict[tuple[str, int], _Link] = {}
        self._lock = threading.Lock()

    def _link(self, address: tuple[str, int]) -> _Link:
        with self._lock:
            link = self._links.get(address)
            if link is not None and not link.closed:
                return link
        try:
            fresh = _Link(address)
        except OSError as exc:
            raise PeerUnreachableError(f"{address}: {exc.__class__.__name__}") from exc
        with self._lock:
            link = self._links.get(address)
            if link is not None and not link.closed:
                fresh.close()  # another thread connected first
                return link
            self._links[address] = fresh
            return fresh

    def close(self) -> None:
        with self._lock:
            links, self._links = list(self._links.values()), {}
        for link in links:
            link.close()

    def _get(self, address: tuple[str, int], path: str) -> bytearray | None:
        answer = self._link(address).request(path).result()
        if answer.status == 404:
            return None
        if answer.status != 200:
            raise PeerUnreachableError(f"{address}{path} answered {answer.status}")
        return answer.body

    def identify(self, address: tuple[str, int]) -> dict[str, str]:
        body = self._get(address, "/peer")
        if body is None:
            raise PeerUnreachableError(f"{address} is not a Codex exchange endpoint")
        try:
            described: dict[str, str] = json.loads(body)
        except ValueError as exc:
            raise PeerUnreachableError(f"{address} is not a Codex exchange endpoint") from exc
        return described

    def block(self, address: tuple[str, int], cid: str) -> bytes | None:
        body = self._get(address, f"/block/{cid}")
        return None if body is None else bytes(body)

    def leaves(self, address: tuple[str, int], tree: str, start: int,
               count: int) -> list[LeafReply]:
        """The blocks ``start … start + count - 1`` of ``tree`` that the peer holds."""
        body = self._get(address, f"/leaves/{tree}/{start}/{count}")
        return [] if body is None else decode_leaves(body)
