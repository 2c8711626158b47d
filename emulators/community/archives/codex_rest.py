"""A small client of the storage node's REST API (codex.md §2, status-backend.md §5.5).

Every call has a deadline, and calls that may wait on the network (stream, trigger) can also be
cancelled: the exchange runs over a plain socket read in short slices, so a node that holds the
request open (a CID nobody serves) never blocks the caller past its deadline or a cancel.
"""

from __future__ import annotations

import json
import select
import socket
import time
from typing import Protocol
from urllib.parse import quote, urlsplit

API = "/api/codex/v1"
ARCHIVE_FILENAME = "archive-data.bin"
REQUEST_TIMEOUT = 60.0  # go-codex-client's http.Client timeout
_SLICE = 0.1  # how often a waiting read looks at its cancel event


class Cancel(Protocol):
    """Anything with ``is_set()`` (a ``threading.Event``, or several of them)."""

    def is_set(self) -> bool: ...


class StorageError(Exception):
    """The node answered with an error status, or could not be reached."""


class StorageTimeoutError(StorageError):
    """The deadline passed (Go: context.DeadlineExceeded)."""


class StorageCancelledError(StorageError):
    """The caller cancelled (Go: context.Canceled)."""


class StorageClient:
    """The REST API of one node at ``http://host:port``."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.base_url = base_url.rstrip("/")
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 80

    # --- data --------------------------------------------------------------------------------
    def upload(self, data: bytes, filename: str = ARCHIVE_FILENAME) -> str:
        """``POST /data``: the bytes as one dataset; returns its CID."""
        status, body = self._call("POST", f"{API}/data", data, {
            "Content-Type": "application/octet-stream",
            "Content-Disposition": f'filename="{filename}"'})
        if status != 200:
            raise StorageError(f"codex upload failed with status {status}: {_text(body)}")
        return body.decode("utf-8", "replace").strip()

    def download(self, cid: str, *, local: bool, timeout: float = REQUEST_TIMEOUT,
                 cancel: Cancel | None = None) -> bytes:
        """``GET /data/{cid}`` (local) or ``GET /data/{cid}/network/stream``."""
        path = f"{API}/data/{quote(cid, safe='')}" + ("" if local else "/network/stream")
        status, body = self._call("GET", path, timeout=timeout, cancel=cancel)
        if status != 200:
            raise StorageError(f"codex download failed with status {status}: {_text(body)}")
        return body

    def exists(self, cid: str, timeout: float = REQUEST_TIMEOUT) -> bool:
        """``GET /data/{cid}/exists`` → ``{"<cid>": bool}``."""
        status, body = self._call("GET", f"{API}/data/{quote(cid, safe='')}/exists",
                                  timeout=timeout)
        if status != 200:
            raise StorageError(f"cid check failed with status {status}: {_text(body)}")
        try:
            answer = json.loads(body)
        except ValueError as exc:
            raise StorageError("failed to parse response") from exc
        if not isinstance(answer, dict) or cid not in answer:
            raise StorageError(f'response missing CID key "{cid}"')
        return bool(answer[cid])

    def trigger(self, cid: str, *, timeout: float = REQUEST_TIMEOUT,
                cancel: Cancel | None = None) -> dict[str, object]:
        """``POST /data/{cid}/network``: fetch in the background; returns the manifest JSON."""
        status, body = self._call("POST", f"{API}/data/{quote(cid, safe='')}/network",
                                  timeout=timeout, cancel=cancel)
        if status != 200:
            raise StorageError(f"codex async download failed with status {status}: "
                               f"{_text(body)}")
        return _manifest(body, "failed to parse download manifest")

    def delete(self, cid: str) -> None:
        """``DELETE /data/{cid}`` (204)."""
        status, body = self._call("DELETE", f"{API}/data/{quote(cid, safe='')}")
        if status != 204:
            raise StorageError(f"cid delete failed with status {status}: {_text(body)}")

    # --- node --------------------------------------------------------------------------------
    def debug_info(self, timeout: float = REQUEST_TIMEOUT) -> dict[str, object]:
        status, body = self._call("GET", f"{API}/debug/info", timeout=timeout)
        if status != 200:
            raise StorageError(f"debug info failed with status {status}: {_text(body)}")
        return dict(json.loads(body))

    def connect(self, peer_id: str, addrs: list[str]) -> None:
        """``GET /connect/{peerId}?addrs=…``."""
        query = "&".join(f"addrs={quote(a, safe='')}" for a in addrs)
        path = f"{API}/connect/{quote(peer_id, safe='')}" + (f"?{query}" if query else "")
        status, body = self._call("GET", path)
        if status != 200:
            raise StorageError(_text(body) or f"connect failed with status {status}")

    # --- transport ---------------------------------------------------------------------------
    def _call(self, method: str, path: str, body: bytes = b"",
              headers: dict[str, str] | None = None, *, timeout: float = REQUEST_TIMEOUT,
              cancel: Cancel | None = None) -> tuple[int, bytes]:
        deadline = time.monotonic() + timeout
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self._host}:{self._port}",
                 "Connection: close", f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        try:
            with socket.create_connection((self._host, self._port), timeout=timeout) as sock:
                sock.sendall(request)
                return _read_response(sock, deadline, cancel)
        except (StorageTimeoutError, StorageCancelledError):
            raise
        except OSError as exc:
            raise StorageError(f"failed to reach the storage node: {exc}") from exc


def _read_response(sock: socket.socket, deadline: float,
                   cancel: Cancel | None) -> tuple[int, bytes]:
    """Read one HTTP/1.1 response (Content-Length, or until close) within the deadline."""
    data = bytearray()
    head: tuple[int, int | None, int] | None = None  # status, length, body offset
    while True:
        if head is not None and head[1] is not None and len(data) - head[2] >= head[1]:
            return head[0], bytes(data[head[2]:head[2] + head[1]])
        if cancel is not None and cancel.is_set():
            raise StorageCancelledError("context canceled")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise StorageTimeoutError("context deadline exceeded")
        readable, _, _ = select.select([sock], [], [], min(_SLICE, remaining))
        if not readable:
            continue
        chunk = sock.recv(65536)
        if not chunk:
            if head is None:
                raise StorageError("the storage node closed the connection")
            return head[0], bytes(data[head[2]:])
        data.extend(chunk)
        if head is None and b"\r\n\r\n" in data:
            head = _parse_head(bytes(data))


def _parse_head(data: bytes) -> tuple[int, int | None, int]:
    end = data.index(b"\r\n\r\n")
    lines = data[:end].decode("latin-1").split("\r\n")
    try:
        status = int(lines[0].split(" ", 2)[1])
    except (IndexError, ValueError) as exc:
        raise StorageError(f"malformed status line {lines[0]!r}") from exc
    length = None
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length" and value.strip().isdigit():
            length = int(value.strip())
    return status, length, end + 4


def _manifest(body: bytes, error: str) -> dict[str, object]:
    try:
        answer = json.loads(body)
    except ValueError as exc:
        raise StorageError(error) from exc
    if not isinstance(answer, dict):
        raise StorageError(error)
    return answer


def _text(body: bytes) -> str:
    return body.decode("utf-8", "replace")
