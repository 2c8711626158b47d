"""A small client of etcd's v3 JSON gateway (``POST /v3/...``), speaking HTTP/1.1 on plain
sockets: one keep-alive connection per thread, Nagle off.

A Goverse process talks to etcd before anything else it does, so this client imports as little
as it can: ``requests`` and ``etcd3gw`` cost each process more start-up time than ``grpc`` itself,
and even ``http.client`` brings ``ssl`` and ``email`` along. Keys and values are text here and
base64 on the wire, as the gateway wants them.
"""

from __future__ import annotations

import base64
import json
import select
import socket
import threading
from collections.abc import Iterator
from typing import Any, BinaryIO


class EtcdError(Exception):
    """etcd answered, but not with success (the message carries its status and text)."""


class BadResponseError(ValueError):
    """What came back is not an HTTP/1.1 answer this client understands."""


# What talking to etcd can fail with: its own refusal, the connection, or an answer that is not
# etcd's.
ETCD_ERRORS = (EtcdError, OSError, ValueError, KeyError)
_MAX_LINE = 64 * 1024


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def unb64(text: str) -> str:
    return base64.b64decode(text).decode()


def prefix_range(prefix: str) -> dict[str, str]:
    """The ``key``/``range_end`` pair selecting every key that starts with ``prefix``."""
    end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return {"key": b64(prefix), "range_end": b64(end)}


class _Connection:
    """One HTTP/1.1 connection to the gateway."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.host, self.port = host, port
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader: BinaryIO = self.sock.makefile("rb")

    def close(self) -> None:
        self.reader.close()
        self.sock.close()

    def idle_but_readable(self) -> bool:
        """Data or EOF on a connection with no request pending: etcd closed it."""
        return bool(select.select([self.sock], [], [], 0)[0])

    def post(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, str]]:
        """Send one request; the answer's status and headers (the body is left to read)."""
        payload = json.dumps(body).encode()
        head = (f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n")
        self.sock.sendall(head.encode() + payload)
        status_line = self._line()
        parts = status_line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise BadResponseError(f"not an HTTP answer: {status_line[:80]!r}")
        headers: dict[str, str] = {}
        while line := self._line().rstrip(b"\r\n"):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        return int(parts[1]), headers

    def body(self, headers: dict[str, str]) -> bytes:
        """The whole body of an answer (fixed length or chunked)."""
        if headers.get("transfer-encoding", "").lower() == "chunked":
            return b"".join(self.chunks())
        return self._exactly(int(headers.get("content-length", "0")))

    def chunks(self) -> Iterator[bytes]:
        """The chunks of a chunked body as they arrive, up to the last (empty) one."""
        while True:
            size = int(self._line().split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self._line().strip():  # trailers, then the blank line
                    pass
                return
            chunk = self._exactly(size)
            self._line()  # the CRLF after the chunk
            yield chunk

    def _line(self) -> bytes:
        line = self.reader.readline(_MAX_LINE)
        if not line:
            raise ConnectionResetError("etcd closed the connection")
        return line

    def _exactly(self, size: int) -> bytes:
        data = self.reader.read(size)
        if len(data) != size:
            raise ConnectionResetError("etcd closed the connection mid-answer")
        return data


class EtcdClient:
    """etcd's JSON gateway at ``host:port``; ``timeout`` bounds connecting and each answer."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self._local = threading.local()

    def _connection(self) -> _Connection:
        """This thread's connection, opened anew when etcd has closed it meanwhile."""
        connection: _Connection | None = getattr(self._local, "connection", None)
        if connection is not None and connection.idle_but_readable():
            connection.close()
            connection = None
        if connection is None:
            connection = self._local.connection = _Connection(self.host, self.port, self.timeout)
        return connection

    def call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /v3/<path>`` with ``body``; etcd's answer. A connection that fails is dropped
        (the next call opens another) and the error raised."""
        connection = self._connection()
        try:
            status, headers = connection.post(f"/v3/{path}", body)
            text = connection.body(headers)
        except (OSError, ValueError):
            self._local.connection = None
            connection.close()
            raise
        if headers.get("connection", "").lower() == "close":
            self._local.connection = None
            connection.close()
        if status != 200:
            raise EtcdError(f"etcd answered {status} to /v3/{path}: "
                            f"{text.decode('utf-8', 'replace').strip()}")
        answer: dict[str, Any] = json.loads(text)
        return answer

    # --- the calls a Goverse process makes ----------------------------------------------------
    def range_prefix(self, prefix: str) -> tuple[list[dict[str, Any]], int]:
        """Every key under ``prefix`` and the revision read at."""
        reply = self.call("kv/range", prefix_range(prefix))
        return reply.get("kvs", []), int(reply["header"]["revision"])

    def txn(self, request: dict[str, Any]) -> dict[str, Any]:
        return self.call("kv/txn", request)

    def put(self, key: str, value: str, lease: str | None = None) -> None:
        body = {"key": b64(key), "value": b64(value)}
        if lease is not None:
            body["lease"] = lease
        self.call("kv/put", body)

    def delete(self, key: str) -> None:
        self.call("kv/deleterange", {"key": b64(key)})

    def lease_grant(self, ttl: int) -> str:
        """A new lease's id."""
        return str(self.call("lease/grant", {"TTL": ttl})["ID"])

    def lease_refresh(self, lease: str) -> int:
        """Keep the lease alive once; its remaining TTL (0 or less once it has expired)."""
        reply = self.call("lease/keepalive", {"ID": lease})
        return int(reply.get("result", {}).get("TTL", 0))

    def lease_revoke(self, lease: str) -> None:
        self.call("lease/revoke", {"ID": lease})

    def watch(self, prefix: str, start_revision: int) -> Iterator[dict[str, Any]]:
        """The watch results for ``prefix`` from ``start_revision`` on, as etcd streams them
        (one JSON object a line), on a connection of their own with no read timeout: a quiet
        cluster sends nothing."""
        connection = _Connection(self.host, self.port, self.timeout)
        try:
            body = {"create_request": {**prefix_range(prefix), "start_revision": start_revision}}
            status, headers = connection.post("/v3/watch", body)
            if status != 200:
                raise EtcdError(f"etcd answered {status} to /v3/watch")
            if headers.get("transfer-encoding", "").lower() != "chunked":
                raise BadResponseError("etcd's watch answer is not a stream")
            connection.sock.settimeout(None)
            pending = b""
            for chunk in connection.chunks():
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if line.strip():
                        yield json.loads(line)["result"]
        finally:
            connection.close()
