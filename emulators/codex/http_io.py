"""Request-body readers and header helpers for the node's HTTP/1.1 server."""

from __future__ import annotations

import io
import os
import re
import socket

# RFC 9110 media type: type "/" subtype *( OWS ";" OWS parameter ), as chronos parses it.
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_MEDIA_TYPE_RE = re.compile(
    rf"^\s*{_TOKEN}/{_TOKEN}(\s*;\s*{_TOKEN}=({_TOKEN}|\"([^\"\\]|\\.)*\"))*\s*$"
)


class BodyAbortedError(Exception):
    """The client stopped sending before the body was complete."""


class BadChunkedBodyError(Exception):
    """A chunked body that does not follow the chunked coding."""


class LengthReader:
    """Reads exactly Content-Length bytes, failing if the connection ends early."""

    def __init__(self, raw: io.BufferedIOBase, length: int) -> None:
        self._raw = raw
        self._remaining = length

    def read(self, size: int = -1) -> bytes:
        if self._remaining <= 0:
            return b""
        wanted = self._remaining if size < 0 else min(size, self._remaining)
        data = self._raw.read(wanted)
        if not data:
            raise BodyAbortedError(f"connection closed with {self._remaining} bytes missing")
        self._remaining -= len(data)
        return data

    def readinto(self, buffer: memoryview) -> int:
        """Fill ``buffer`` straight from the connection; fewer bytes only where the body ends."""
        wanted = min(len(buffer), self._remaining)
        got = self._raw.readinto(buffer[:wanted])
        self._remaining -= got
        if got < wanted:
            raise BodyAbortedError(f"connection closed with {self._remaining} bytes missing")
        return got

    def drain(self) -> None:
        while self.read(65536):
            pass


class ChunkedReader:
    """Decodes ``Transfer-Encoding: chunked`` as a stream."""

    def __init__(self, raw: io.BufferedIOBase) -> None:
        self._raw = raw
        self._chunk_left = 0
        self._done = False

    def _next_chunk(self) -> None:
        line = self._raw.readline(1024)
        if not line:
            raise BodyAbortedError("connection closed inside a chunked body")
        try:
            self._chunk_left = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError as exc:
            raise BadChunkedBodyError(f"bad chunk size line {line!r}") from exc
        if self._chunk_left == 0:
            while self._raw.readline(1024) not in (b"\r\n", b"\n", b""):
                pass  # trailers
            self._done = True

    def _chunk_ready(self) -> bool:
        """Whether bytes of a chunk are waiting to be read (reading the next size line if
        needed); False once the last chunk has been read."""
        if not self._done and self._chunk_left == 0:
            self._next_chunk()
        return not self._done

    def _chunk_read(self, got: int) -> None:
        if not got:
            raise BodyAbortedError("connection closed inside a chunk")
        self._chunk_left -= got
        if self._chunk_left == 0:
            self._raw.readline(8)  # CRLF after the chunk

    def read(self, size: int = -1) -> bytes:
        if not self._chunk_ready():
            return b""
        wanted = self._chunk_left if size < 0 else min(size, self._chunk_left)
        data = self._raw.read(wanted)
        self._chunk_read(len(data))
        return data

    def readinto(self, buffer: memoryview) -> int:
        """Fill ``buffer`` chunk after chunk; fewer bytes only where the body ends."""
        filled = 0
        while filled < len(buffer) and self._chunk_ready():
            wanted = min(len(buffer) - filled, self._chunk_left)
            got = self._raw.readinto(buffer[filled : filled + wanted])
            self._chunk_read(got)
            filled += got
        return filled

    def drain(self) -> None:
        while self.read(65536):
            pass


def send_file_range(sock: socket.socket, fd: int, offset: int, count: int) -> None:
    """Send ``count`` bytes of the open file ``fd`` from ``offset`` with ``sendfile``: the bytes
    go from the page cache to the socket without passing through Python. EOFError if the file
    ends first."""
    end = offset + count
    while offset < end:
        sent = os.sendfile(sock.fileno(), fd, offset, end - offset)
        if sent == 0:
            raise EOFError(f"the file ended {end - offset} bytes early")
        offset += sent


def is_valid_media_type(value: str) -> bool:
    """Whether a Content-Type value is syntactically a media type (else chronos answers 415)."""
    return bool(_MEDIA_TYPE_RE.match(value))


def prefers_plain_text(accept: str | None) -> bool:
    """True when the highest-q media type in ``Accept`` is exactly ``text/plain``."""
    if not accept:
        return False
    best, best_q = "", -1.0
    for item in accept.split(","):
        media, *params = (part.strip() for part in item.split(";"))
        quality = 1.0
        for param in params:
            name, _, number = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(number)
                except ValueError:
                    quality = 0.0
        if quality > best_q:
            best, best_q = media.lower(), quality
    return best == "text/plain"


def header_text(raw: str) -> str:
    """Header values arrive decoded as latin-1; recover the bytes the client sent as UTF-8."""
    return raw.encode("latin-1").decode("utf-8", "surrogateescape")


def header_bytes(text: str) -> bytes:
    """Encode a stored string back to the exact bytes the client sent."""
    return text.encode("utf-8", "surrogateescape")
