"""status-backend's HTTP face (``cmd/status-backend/server``): a Go ``ServeMux`` with
``/health``, ``/signals`` (the signal websocket) and one ``/statusgo/<Function>`` route per
function of ``mobile/status.go``; any other path is ServeMux's 404.

Each connection is served by its own thread; an upgraded ``/signals`` connection keeps its
thread, which only watches for the client going away. status-backend never reads its websocket
connections (``signals`` upgrades, keeps the connection and returns), and gorilla processes
control frames only for a reader: pings go unanswered, and so does a close.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import socket
import threading
from http import HTTPStatus
from http.server import ThreadingHTTPServer
from urllib.parse import urlsplit

from wsproto.connection import Connection, ConnectionState, ConnectionType
from wsproto.events import TextMessage

from emulators.community import endpoints
from emulators.community.backend import Backend
from emulators.community.signals import SignalHub
from emulators.gohttp import GoHandler
from emulators.http_json import go_marshal

VERSION = "v10.30.1"  # what /health reports (version.Version(), from the release tag)
WRITE_DEADLINE = 5.0  # seconds: signalHandler's SetWriteDeadline
_WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_BAD_HANDSHAKE = "websocket: the client is not using the websocket protocol: "
_STATUSGO = "/statusgo/"
_BAD_REQUEST = (HTTPStatus.BAD_REQUEST.value, HTTPStatus.BAD_REQUEST.phrase)  # http.StatusText


class WebSocket:
    """One upgraded ``/signals`` connection: wsproto's post-handshake ``Connection`` over the
    socket. Writes are serialised and bounded by the write deadline."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._ws = Connection(ConnectionType.SERVER)
        self._lock = threading.Lock()
        sock.settimeout(WRITE_DEADLINE)

    def send_text(self, text: str) -> None:
        with self._lock:
            if self._ws.state is not ConnectionState.OPEN:
                raise OSError("websocket closed")
            self._sock.sendall(self._ws.send(TextMessage(data=text)))

    def close(self) -> None:
        with self._lock, contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)

    def serve(self) -> None:
        """Wait until the client goes away; what it sends (a close included) goes unread, as
        nothing reads a status-backend connection."""
        while self._client_there():
            pass

    def _client_there(self) -> bool:
        try:
            return bool(self._sock.recv(65536))
        except TimeoutError:
            return True
        except OSError:
            return False


def _tokens(values: list[str] | None) -> set[str]:
    """gorilla's ``tokenListContainsValue``: comma-separated, case-insensitive tokens."""
    return {token.strip().lower() for value in values or () for token in value.split(",")}


def _valid_key(key: str) -> bool:
    """gorilla's ``isValidChallengeKey``: base64 of 16 bytes."""
    try:
        return len(base64.b64decode(key.encode(), validate=True)) == 16
    except (ValueError, UnicodeEncodeError):
        return False


def _clean_path(path: str) -> str:
    """ServeMux's ``cleanPath``: rooted, no ``.``/``..``/empty elements, trailing slash kept."""
    parts: list[str] = []
    for part in path.split("/"):
        if part == "..":
            if parts:
                parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    cleaned = "/" + "/".join(parts)
    if path.endswith("/") and cleaned != "/":
        cleaned += "/"
    return cleaned


def handler_class(backend: Backend, hub: SignalHub) -> type[GoHandler]:
    """The request handler of one status-backend."""

    class StatusBackendHandler(GoHandler):
        def route(self, method: str) -> None:
            target = self.path if self.path.startswith("/") else urlsplit(self.path).path
            path, _, query = target.partition("?")
            path = path or "/"
            if _clean_path(path) != path:
                self.read_body()
                self._redirect(_clean_path(path) + (f"?{query}" if query else ""))
            elif path == "/health":
                self.read_body()
                self.send_go_json(200, {"version": VERSION} if VERSION else {})
            elif path == "/signals":
                self._signals(method)
            elif path.startswith(_STATUSGO) and self._statusgo(path[len(_STATUSGO):]):
                return
            else:
                self.read_body()
                self.not_found()

        def _redirect(self, location: str) -> None:
            """ServeMux's 301 to the cleaned path."""
            body = b""
            if self.command in ("GET", "HEAD"):
                body = f'<a href="{location}">Moved Permanently</a>.\n\n'.encode()
            self.send_body(301, body, "text/html; charset=utf-8", {"Location": location})

        def _statusgo(self, name: str) -> bool:
            """One ``/statusgo/<name>`` endpoint; False if status-backend has no such route."""
            if name in endpoints.UNSUPPORTED:
                self.read_body()
                self.send_body(501, b"", None)
                return True
            if name not in endpoints.WITH_REQUEST and name not in endpoints.WITHOUT_REQUEST:
                return False
            body = self.read_body()
            with_request, without_request = backend.with_request(), backend.without_request()
            if name in with_request:
                answer = with_request[name](body)
            elif name in without_request:
                answer = without_request[name]()
            else:
                answer = go_marshal({"error": f"{name} is not implemented by this emulated "
                                              "status-backend"})
            headers = {"Deprecation": "true"} if name in endpoints.DEPRECATED else None
            self.send_body(200, answer.encode(), "application/json", headers)
            return True

        def _signals(self, method: str) -> None:
            refusal = self._handshake_refusal(method)
            if refusal is not None:
                status, reason = refusal
                self.read_body()
                self.go_error(status, reason, {"Sec-Websocket-Version": "13"})
                return
            accept = base64.b64encode(hashlib.sha1(
                (self.headers["Sec-WebSocket-Key"].strip() + _WS_GUID).encode()).digest())
            handshake = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                         b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
            self.close_connection = True
            connection = WebSocket(self.connection)
            if not hub.attach(connection, handshake, self.connection.sendall):
                return
            try:
                connection.serve()
            finally:
                hub.detach(connection)

        def _handshake_refusal(self, method: str) -> tuple[int, str] | None:
            """gorilla's ``Upgrader.Upgrade`` checks, in its order: (status, status text)."""
            if "upgrade" not in _tokens(self.headers.get_all("Connection")):
                return _BAD_REQUEST
            if "websocket" not in _tokens(self.headers.get_all("Upgrade")):
                return _BAD_REQUEST
            if method != "GET":
                return HTTPStatus.METHOD_NOT_ALLOWED.value, HTTPStatus.METHOD_NOT_ALLOWED.phrase
            if "13" not in _tokens(self.headers.get_all("Sec-Websocket-Version")):
                return _BAD_REQUEST
            if not _valid_key((self.headers.get("Sec-Websocket-Key") or "").strip()):
                return _BAD_REQUEST
            return None

    return StatusBackendHandler


class StatusBackendServer(ThreadingHTTPServer):
    """The listening server; every connection on its own daemon thread."""

    daemon_threads = True
    allow_reuse_address = False
    # Large enough for a burst of clients; Go's listener backlog is the kernel's somaxconn.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], backend: Backend, hub: SignalHub,
                 family: socket.AddressFamily = socket.AF_INET) -> None:
        self.address_family = family
        super().__init__(address, handler_class(backend, hub))

    def server_bind(self) -> None:
        """Go listens dual-stack on an IPv6 wildcard."""
        if self.address_family == socket.AF_INET6:
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()

