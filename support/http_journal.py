"""A record of a scenario's HTTP exchanges (and websocket frames), attached to the report when
the scenario fails."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

import requests

_BODY_EXCERPT = 2048


@dataclass(frozen=True)
class Exchange:
    """One request and its response, as far as they can be shown without consuming streams."""

    started: float
    method: str
    url: str
    request_headers: dict[str, str]
    request_body: str
    status: int
    response_headers: dict[str, str]
    response_body: str
    elapsed_ms: float

    def render(self) -> str:
        def headers(values: dict[str, str]) -> str:
            return "".join(f"  {name}: {value}\n" for name, value in values.items())

        stamp = time.strftime("%H:%M:%S", time.localtime(self.started))
        return (
            f"[{stamp}] {self.method} {self.url}  ->  {self.status} ({self.elapsed_ms:.0f} ms)\n"
            f"{headers(self.request_headers)}  {self.request_body}\n"
            f"response:\n{headers(self.response_headers)}  {self.response_body}\n"
        )


@dataclass(frozen=True)
class Frame:
    """One websocket text frame a client received (e.g. a status-backend signal)."""

    received: float
    url: str
    text: str

    def render(self) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(self.received))
        excerpt = self.text[:_BODY_EXCERPT]
        more = f" … ({len(self.text)} characters)" if len(self.text) > _BODY_EXCERPT else ""
        return f"[{stamp}] frame from {self.url}\n  {excerpt}{more}\n"


def _header_text(value: str | bytes) -> str:
    """A request header as sent: requests passes bytes values (raw UTF-8) through as they are."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


@dataclass(frozen=True)
class Note:
    """What a person of the scenario did, between the exchanges it caused."""

    noted: float
    text: str

    def render(self) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(self.noted))
        return f"[{stamp}] --- {self.text}\n"


def _describe_body(body: object) -> str:
    if body is None:
        return "(no body)"
    if isinstance(body, bytes | str):
        raw = body.encode() if isinstance(body, str) else body
        excerpt = raw[:_BODY_EXCERPT].decode("utf-8", "replace")
        more = f" … ({len(raw)} bytes)" if len(raw) > _BODY_EXCERPT else ""
        return f"body: {excerpt!r}{more}"
    return f"body: streamed from {type(body).__name__}"


class HttpJournal:
    """Keeps the last ``capacity`` exchanges of every session it is attached to."""

    def __init__(self, capacity: int = 200) -> None:
        self._entries: deque[Exchange | Frame | Note] = deque(maxlen=capacity)
        self._lock = threading.Lock()

    def attach(self, session: requests.Session) -> None:
        session.hooks["response"].append(self._record)

    def _record(self, response: requests.Response, *args: object, **kwargs: object) -> None:
        request = response.request
        if kwargs.get("stream"):
            body = "(streamed response, not captured)"
        else:
            body = _describe_body(response.content)
        entry = Exchange(
            started=time.time() - response.elapsed.total_seconds(),
            method=request.method or "",
            url=request.url or "",
            request_headers={name: _header_text(value) for name, value in request.headers.items()},
            request_body=_describe_body(request.body),
            status=response.status_code,
            response_headers=dict(response.headers),
            response_body=body,
            elapsed_ms=response.elapsed.total_seconds() * 1000,
        )
        with self._lock:
            self._entries.append(entry)

    def record_frame(self, url: str, text: str) -> None:
        """Keep a websocket frame, in arrival order with the exchanges."""
        with self._lock:
            self._entries.append(Frame(time.time(), url, text))

    def note(self, text: str) -> None:
        """Keep a line saying who does what (``Alice uploads …``) before the exchanges."""
        with self._lock:
            self._entries.append(Note(time.time(), text))

    def entries(self) -> list[Exchange | Frame | Note]:
        with self._lock:
            return list(self._entries)

    def render(self) -> str:
        return "\n".join(entry.render() for entry in self.entries()) or "(no HTTP exchanges)"
