"""How Go's ``net/http`` answers, for the Goverse emulators' HTTP servers.

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
    _chunked = False

    def log_message(self, *args: object) -> None:
        pass

    # --- dispatch: every method goes to route(), as Go handlers see every method --------------
    def route(self, method: str) -> None:
        """Answer one request; subclasses route by path. ServeMux's 404 by default."""
        self.read_body()
        self.not_found()

    def do_GET(self) -> None:
        self.route("GET")

    def do_POST(self) -> None:
        self.route("POST")

    def do_PUT(self) -> None:
        self.route("PUT")

    def do_DELETE(self) -> None:
        self.route("DELETE")

    def do_OPTIONS(self) -> None:
        self.route("OPTIONS")

    def send_response(self, code: int, message: str | None = None) -> None:
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())

    def read_body(self) -> bytes:
        """The request body (by Content-Length), read so the connection can be reused."""
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def send_body(self, status: int, body: bytes, content_type: str,
                  headers: dict[str, str] | None = None) -> None:
        """One complete answer: Content-Length up to 2048 bytes, chunked beyond."""
        self.send_response(status)
        for name, value in sorted({**(headers or {}), "Content-Type": content_type}.items()):
            self.send_header(name, value)
        if len(body) <= CHUNKING_THRESHOLD:
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.start_chunked()
        self.write_chunk(body)
        self.end_chunked()

    def send_go_json(self, status: int, value: object,
                     headers: dict[str, str] | None = None) -> None:
        self.send_body(status, go_json(value), "application/json", headers)

    def go_error(self, status: int, message: str) -> None:
        """``http.Error``: the message and a newline, as plain text."""
        self.send_body(status, (message + "\n").encode(), "text/plain; charset=utf-8",
                       {"X-Content-Type-Options": "nosniff"})

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
