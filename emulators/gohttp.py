"""How Go's ``net/http`` answers, for the emulated Go programs' HTTP servers.

No ``Server`` header (Go sends none); HTTP/1.1 keep-alive; a body of up to 2048 bytes written at
once gets a ``Content-Length``, a longer or streamed one goes out chunked; unknown paths get
``ServeMux``'s plain-text ``404 page not found``; JSON is written as ``json.Encoder`` writes it
(compact, ``<``, ``>`` and ``&`` escaped, a trailing newline).
"""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler

from emulators.http_json import go_marshal

# net/http buffers this much of a handler's output before it falls back to chunked encoding.
CHUNKING_THRESHOLD = 2048


def go_json(value: object) -> bytes:
    """``json.NewEncoder(w).Encode(value)``'s bytes: ``json.Marshal`` plus a newline."""
    return (go_marshal(value) + "\n").encode()


class GoHandler(BaseHTTPRequestHandler):
    """A request handler that answers with Go's framing and headers."""

    protocol_version = "HTTP/1.1"
    # Go's net package sets TCP_NODELAY on every TCP connection (net/tcpsock.go). Without it,
    # headers and body (separate writes) meet Nagle and the client's delayed ACK: ~40 ms a call.
    disable_nagle_algorithm = True
    _chunked = False

    def log_message(self, *args: object) -> None:
        pass

    # --- dispatch: every method goes to route(), as Go handlers see every method --------------
    def route(self, method: str) -> None:
        """Answer one request; subclasses route by path. ServeMux's 404 by default."""
        self.read_body()
        self.not_found()

    def handle_one_request(self) -> None:
        """Read one request and hand it to ``route`` whatever its method; a request Go's server
        cannot read is refused as Go refuses it, and the connection closed."""
        try:
            self.raw_requestline = self.rfile.readline(65537)
            if not self.raw_requestline:
                self.close_connection = True
                return
            if len(self.raw_requestline) > 65536:
                self.refuse(431, "Request Header Fields Too Large")
                return
            if not self.parse_request():
                return
            if not self._body_framing_ok():
                self.refuse(400, "Bad Request")
                return
            self.route(self.command)
            self.wfile.flush()
        except (TimeoutError, ConnectionError):
            self.close_connection = True

    def _body_framing_ok(self) -> bool:
        """Go's readTransfer: one Content-Length, a non-negative decimal (else ``bad
        Content-Length``)."""
        lengths = set(self.headers.get_all("Content-Length") or ())
        if not lengths:
            return True
        if len(lengths) > 1:
            return False
        value = next(iter(lengths)).strip(" \t")
        return value.isdigit() and value.isascii()

    def send_error(self, code: int, message: str | None = None,
                   explain: str | None = None) -> None:
        """What Go's server writes for a request it could not parse (no handler runs)."""
        self.refuse(code, self.responses.get(code, ("Bad Request",))[0])

    def refuse(self, code: int, reason: str) -> None:
        """Go's raw refusal: ``HTTP/1.1 <code> <reason>``, plain text, ``Connection: close``,
        the status line again as the body."""
        status = f"{code} {reason}"
        self.wfile.write(f"HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\n"
                         f"Connection: close\r\n\r\n{status}".encode())
        self.wfile.flush()
        self.close_connection = True

    def send_response(self, code: int, message: str | None = None) -> None:
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())

    def read_body(self) -> bytes:
        """The request body (by Content-Length, or chunked), read so the connection can be
        reused."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked(self) -> bytes:
        body = bytearray()
        while True:
            size_line = self.rfile.readline(1024).split(b";", 1)[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                self.close_connection = True
                return bytes(body)
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return bytes(body)
            body += self.rfile.read(size)
            self.rfile.readline(1024)

    def send_body(self, status: int, body: bytes, content_type: str | None,
                  headers: dict[str, str] | None = None) -> None:
        """One complete answer: Content-Length up to 2048 bytes, chunked beyond; no
        Content-Type when ``content_type`` is None (a bare ``WriteHeader``)."""
        self.send_response(status)
        typed = {"Content-Type": content_type} if content_type is not None else {}
        for name, value in sorted({**(headers or {}), **typed}.items()):
            self.send_header(name, value)
        if len(body) <= CHUNKING_THRESHOLD:
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            return
        self.start_chunked()
        self.write_chunk(body)
        self.end_chunked()

    def send_go_json(self, status: int, value: object,
                     headers: dict[str, str] | None = None) -> None:
        self.send_body(status, go_json(value), "application/json", headers)

    def go_error(self, status: int, message: str,
                 headers: dict[str, str] | None = None) -> None:
        """``http.Error``: the message and a newline, as plain text (after ``headers`` the
        handler had set)."""
        self.send_body(status, (message + "\n").encode(), "text/plain; charset=utf-8",
                       {**(headers or {}), "X-Content-Type-Options": "nosniff"})

    def not_found(self) -> None:
        """``http.NotFound``: what ServeMux answers for a path no route takes."""
        self.send_body(404, b"404 page not found\n", "text/plain; charset=utf-8",
                       {"X-Content-Type-Options": "nosniff"})

    # --- streamed bodies ------------------------------------------------------------------------
    def start_chunked(self) -> None:
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self._chunked = True

    def write_chunk(self, data: bytes) -> None:
        if data:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

    def send_event(self, name: str, data: object) -> None:
        """One server-sent event, its data as ``json.Marshal`` writes it."""
        self.write_chunk(f"event: {name}\ndata: {go_marshal(data)}\n\n".encode())

    def end_chunked(self) -> None:
        if self._chunked:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
            self._chunked = False
