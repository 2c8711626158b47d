"""The request head as nim-chronos' HTTP server reads it, and its answers when it cannot.

nim-codex serves its REST API with presto on chronos' ``HttpServerRef`` (``RestServerRef.new`` with
the defaults ``maxHeadersSize = 8192`` and ``httpHeadersTimeout = 10.seconds``). For every request
chronos (``chronos/apps/http/httpserver.nim``):

* reads until the first CR LF CR LF into a buffer of 8192 bytes (``readUntil``; the request line
  and the final CR LF CR LF count). No separator within 8192 bytes → ``431``; the whole head not
  in within 10 s → ``408``; the peer closing first → no answer at all;
* parses the head with nim-http-utils' ``parseRequest`` state machine (ported below: methods
  GET POST HEAD PUT DELETE TRACE OPTIONS CONNECT PATCH only, an ``HTTP/x.y`` version, header names
  of token characters, values of anything but CR/LF, CR LF line ends). Failure → ``400``;
* ``prepareRequest``: more than one Content-Type, Content-Length or Transfer-Encoding → ``400``;
  an absolute URI of another scheme → ``400``; unknown Content-/Transfer-Encoding → ``400``; a body
  (Content-Length ≠ 0, or chunked) whose Content-Type does not parse → ``415``;
* answers these failures with ``sendErrorResponse``: the status line, ``Date``,
  ``Content-Type: text/plain``, ``Content-Length: 0`` and ``Connection: close`` (no ``Server``
  header, no body), then closes the connection.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import BinaryIO

from emulators.codex.http_io import is_valid_media_type

MAX_HEADERS_SIZE = 8192
HEADERS_TIMEOUT = 10.0
HEADERS_MARK = b"\r\n\r\n"
REASONS = {400: "Bad Request", 408: "Request Timeout", 413: "Request Entity Too Large",
           415: "Unsupported Media Type", 431: "Request Header Fields Too Large"}
METHODS = frozenset({b"GET", b"POST", b"HEAD", b"PUT", b"DELETE", b"TRACE", b"OPTIONS",
                     b"CONNECT", b"PATCH"})
POST_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
_HIGH_INT = 2**63 - 1


class HeadError(Exception):
    """chronos answers ``code`` (``sendErrorResponse``) and closes the connection."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class PeerClosedError(Exception):
    """The peer went away before a whole head arrived: chronos answers nothing."""


def error_response(code: int) -> bytes:
    """``sendErrorResponse(HttpVersion11, code, keepAlive = false)``."""
    return (f"HTTP/1.1 {code} {REASONS[code]}\r\nDate: {formatdate(usegmt=True)}\r\n"
            "Content-Type: text/plain\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").encode()


def read_head(rfile: BinaryIO, sock: socket.socket, timeout: float = HEADERS_TIMEOUT,
              limit: int = MAX_HEADERS_SIZE) -> bytes:
    """``readUntil(buffer, maxHeadersSize, HeadersMark)`` within ``httpHeadersTimeout``.

    The separator is matched as chronos does it (a mismatch resets the match without looking at
    that byte again). Bytes after the head stay in ``rfile`` for the body.
    """
    deadline = time.monotonic() + timeout
    head = bytearray()
    state = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise HeadError(408)
        sock.settimeout(remaining)
        try:
            available = rfile.peek(1)  # type: ignore[attr-defined]
        except TimeoutError as exc:
            raise HeadError(408) from exc
        except OSError as exc:
            raise PeerClosedError() from exc
        if not available:
            raise PeerClosedError()
        used = 0
        for byte in available:
            if len(head) >= limit:
                rfile.read(used)
                raise HeadError(431)
            head.append(byte)
            used += 1
            if HEADERS_MARK[state] == byte:
                state += 1
                if state == len(HEADERS_MARK):
                    rfile.read(used)
                    return bytes(head)
            else:
                state = 0
        rfile.read(used)


# --- nim-http-utils parseRequest -----------------------------------------------------------------
_ALPHA = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_NUM = frozenset(b"0123456789")
_TOKEND = frozenset(b"!#$%&'*+-.^_`|~")
_URITOKEND = frozenset(b"-._~:/?#[]@!$&'()*+,;=%")
_DOT = frozenset(b".")
_TOKENURI = (_TOKEND & _URITOKEND) - _DOT
_TOKENONLY = _TOKEND - _URITOKEND - _DOT
_URIONLY = _URITOKEND - _TOKEND - frozenset(b":/.")


def _class_of(byte: int) -> int:
    if byte in _ALPHA:
        return 1
    if byte in _NUM:
        return 2
    if byte in _TOKENURI:
        return 3
    if byte in _TOKENONLY:
        return 4
    if byte in _URIONLY:
        return 5
    return {0x0D: 6, 0x0A: 7, 0x3A: 8, 0x2F: 9, 0x2E: 10, 0x20: 11, 0x09: 11}.get(byte, 0)


_CLASSES = bytes(_class_of(b) for b in range(256))
# *     ALPHA NUM   TO^UR TOON  URON  CR    LF    COLON SLASH DOT   SPACE
_REQUEST_SM = [
    [0xC0, 0x81, 0xC0, 0xC0, 0xC0, 0xC0, 0xC0, 0xC0, 0xC0, 0xC0, 0xC0, 0xC0],  # first method char
    [0xC1, 0x01, 0xC1, 0xC1, 0xC1, 0xC1, 0xC1, 0xC1, 0xC1, 0xC1, 0xC1, 0x82],  # method
    [0xC2, 0x83, 0x83, 0x83, 0xC2, 0x83, 0xC2, 0xC2, 0x83, 0x83, 0x83, 0xC2],  # first uri char
    [0xC2, 0x03, 0x03, 0x03, 0xC2, 0x03, 0xC2, 0xC2, 0x03, 0x03, 0x03, 0x84],  # uri
    [0xC3, 0x85, 0xC3, 0xC3, 0xC3, 0xC3, 0xC3, 0xC3, 0xC3, 0xC3, 0xC3, 0xC3],  # first version char
    [0xC3, 0x05, 0x05, 0xC3, 0xC3, 0xC3, 0x86, 0xC3, 0xC3, 0x05, 0x05, 0xC3],  # version
    [0xC4, 0xC4, 0xC4, 0xC4, 0xC4, 0xC4, 0xC4, 0x87, 0xC4, 0xC4, 0xC4, 0xC4],  # LF
    [0xC5, 0x88, 0x88, 0x88, 0x88, 0xC5, 0x8D, 0xC5, 0xC5, 0xC5, 0x88, 0xC5],  # first token char
    [0xC5, 0x08, 0x08, 0x08, 0x08, 0xC5, 0xC5, 0xC5, 0x89, 0xC5, 0x08, 0xC5],  # header name
    [0x8B, 0x8B, 0x8B, 0x8B, 0x8B, 0x8B, 0x8C, 0xC6, 0x8B, 0x8B, 0x8B, 0x8A],  # first header char
    [0x8B, 0x8B, 0x8B, 0x8B, 0x8B, 0x8B, 0x8C, 0xC6, 0x8B, 0x8B, 0x8B, 0x0A],  # 1st space
    [0x0B, 0x0B, 0x0B, 0x0B, 0x0B, 0x0B, 0x8C, 0xC7, 0x0B, 0x0B, 0x0B, 0x0B],  # header value
    [0xC7, 0xC7, 0xC7, 0xC7, 0xC7, 0xC7, 0xC7, 0x87, 0xC7, 0xC7, 0xC7, 0xC7],  # header LF
    [0xC8, 0xC8, 0xC8, 0xC8, 0xC8, 0xC8, 0xC8, 0x8E, 0xC8, 0xC8, 0xC8, 0xC8],  # last LF
]
_VERSIONS = {b"HTTP/1.0": "HTTP/1.0", b"HTTP/1.1": "HTTP/1.1", b"HTTP/0.9": "HTTP/0.9",
             b"HTTP/2.0": "HTTP/2.0"}


@dataclass
class RequestHead:
    method: str
    target: str  # latin-1 text of the raw request URI
    version: str
    headers: list[tuple[str, str]] = field(default_factory=list)  # latin-1 text, as received

    def get_all(self, name: str) -> list[str]:
        lower = name.lower()
        return [value for key, value in self.headers if key.lower() == lower]

    def get(self, name: str) -> str | None:
        """chronos' ``getString``: repeated headers joined with ``,``; None when absent."""
        values = self.get_all(name)
        return ",".join(values) if values else None


def parse_request(data: bytes) -> RequestHead | None:
    """nim-http-utils ``parseRequest``; None where it reports ``Failure``."""
    state = 0
    start = -1
    method = target = version = b""
    name = b""
    headers: list[tuple[str, str]] = []
    for index, byte in enumerate(data):
        ps = _REQUEST_SM[state][_CLASSES[byte]]
        state = ps & 0x0F
        if ps in (0x81, 0x83, 0x85, 0x88, 0x8B):
            start = index
        elif ps == 0x82:
            method = data[start:index]
            if start == -1 or method not in METHODS:
                return None
            start = -1
        elif ps == 0x84:
            if start == -1:
                return None
            target, start = data[start:index], -1
        elif ps == 0x86:
            version = data[start:index]
            if start == -1 or version not in _VERSIONS:
                return None
            start = -1
        elif ps == 0x89:
            if start == -1:
                return None
            name, start = data[start:index], -1
        elif ps == 0x8C:
            value = b"" if start == -1 else data[start:index]
            headers.append((name.decode("latin-1"), value.decode("latin-1")))
            start = -1
        elif ps == 0x8E:
            return RequestHead(method.decode(), target.decode("latin-1"),
                               _VERSIONS[version], headers)
        elif ps >= 0xC0:
            return None
    return None


# --- chronos prepareRequest ----------------------------------------------------------------------
def bytes_to_dec(text: str) -> int:
    """chronos ``bytesToDec``: the leading decimal digits (0 if none; overflow → high(uint64))."""
    value = 0
    for char in text:
        if not "0" <= char <= "9":
            return value
        value = value * 10 + ord(char) - 48
        if value > 2**64 - 1:
            return 2**64 - 1
    return value


@dataclass
class Body:
    """How the request body is framed, as chronos decides it."""

    length: int = 0  # BoundBody when > 0
    chunked: bool = False  # UnboundBody

    @property
    def present(self) -> bool:
        return self.length > 0 or self.chunked


def prepare_request(head: RequestHead) -> Body:
    """The checks of ``prepareRequest``/``updateRequest``; raises HeadError."""
    for name in ("Content-Type", "Content-Length", "Transfer-Encoding"):
        if len(head.get_all(name)) > 1:
            raise HeadError(400)
    if head.target != "*":
        scheme = uri_scheme(head.target)
        if scheme not in ("http", "https", ""):
            raise HeadError(400)
    for name, known in (("Content-Encoding", {"identity", "br", "compress", "deflate", "gzip"}),
                        ("Transfer-Encoding", {"identity", "chunked", "compress", "deflate",
                                               "gzip"})):
        for value in head.get_all(name):
            for item in value.split(","):
                if item.strip().lower() not in known:
                    raise HeadError(400)
    body = Body()
    length_header = head.get("Content-Length")
    if length_header is not None:
        length = bytes_to_dec(length_header)
        if length != 0:
            if head.method == "TRACE":
                raise HeadError(400)
            if length > _HIGH_INT:
                raise HeadError(413)
            body.length = length
    elif any("chunked" in {item.strip().lower() for item in value.split(",")}
             for value in head.get_all("Transfer-Encoding")):
        if head.method == "TRACE":
            raise HeadError(400)
        body.chunked = True
    content_type = head.get("Content-Type")
    if body.present and content_type is not None and not is_valid_media_type(content_type):
        raise HeadError(415)
    return body


# --- std/uri and presto's path handling ----------------------------------------------------------
_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.")


def _parse_uri(target: str) -> tuple[str, str, str]:
    """std/uri ``parseUri``, reduced to (scheme, path, query)."""
    double_slash = target.startswith("//")
    i = 0
    scheme = ""
    if not (target.startswith("/") and not double_slash):
        while i < len(target) and target[i] in _SCHEME_CHARS:
            i += 1
        scheme = target[:i]
        if (i >= len(target) or target[i] != ":") and not double_slash:
            i, scheme = 0, ""
        else:
            if not double_slash:
                i += 1
            if target[i:i + 2] == "//":
                i += 2
                while i < len(target) and target[i] not in "/?#":
                    i += 1
    rest = target[i:]
    path_end = min([k for k in (rest.find("?"), rest.find("#")) if k >= 0], default=len(rest))
    path, query = rest[:path_end], ""
    if rest[path_end:path_end + 1] == "?":
        query = rest[path_end + 1:].split("#", 1)[0]
    return scheme, path, query


def uri_scheme(target: str) -> str:
    return _parse_uri(target)[0]


def split_target(target: str) -> tuple[str, str]:
    """``request.uri``: (path, query) of the raw request target."""
    _scheme, path, query = _parse_uri(target)
    return path, query


def decode_url(text: str, decode_plus: bool = True) -> str:
    """std/uri ``decodeUrl`` on latin-1 text: ``%xx`` → that byte, ``+`` → space, bad escapes
    kept as they are."""
    out = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "%" and i + 2 < len(text) and _is_hex(text[i + 1:i + 3]):
            out.append(chr(int(text[i + 1:i + 3], 16)))
            i += 3
            continue
        out.append(" " if char == "+" and decode_plus else char)
        i += 1
    return "".join(out)


def _is_hex(pair: str) -> bool:
    return len(pair) == 2 and all(c in "0123456789abcdefABCDEF" for c in pair)


def query_params(query: str) -> dict[str, list[str]]:
    """chronos ``queryParams`` into an ``HttpTable`` (keys lower-cased, empty keys skipped)."""
    table: dict[str, list[str]] = {}
    for pair in query.split("&"):
        key, _, value = pair.partition("=")
        if key:
            table.setdefault(decode_url(key).lower(), []).append(decode_url(value))
    return table
