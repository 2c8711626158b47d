"""A record of a scenario's exchanges with the systems under test, attached to the report when
the scenario fails: HTTP requests and their responses (or why none came), the websocket and
event-stream frames received, gRPC calls and the messages their streams brought, and notes of
who did what in between.

The journal is bounded: it keeps the last ``capacity`` entries (saying how many earlier ones
it left out), bodies and messages are cut to an excerpt, a streamed body is never read, and a
run of identical answers to the same request (a poll) is kept as one entry with a count.
Entries come from many threads (signal and push readers, parallel downloads); all recording
goes through one lock.
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol

import requests

ATTACHMENT = "Exchanges (HTTP, gRPC, signals)"  # the attachment's name in the report
CAPACITY = 500
EXCERPT = 2048  # characters of a body, frame or message
_RPC_ID = re.compile(r'"id": ?\d+')  # a JSON-RPC call's number: a poll's calls differ only in it
_RPC_METHOD = re.compile(r'"jsonrpc": ?"2.0", ?"id": ?\d+, ?"method": ?"([^"]+)"')


def excerpt(text: str, limit: int = EXCERPT) -> str:
    """``text`` cut to ``limit`` characters, saying how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]} … ({len(text)} characters)"


def _stamp(when: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(when)) + f".{int(when * 1000) % 1000:03d}"


class Entry(Protocol):
    """What the journal keeps: when it began (``at``, seconds since the epoch), a few lines to
    show, and a ``key`` that tells a repeat of the entry before (None: never folded)."""

    @property
    def at(self) -> float: ...

    @property
    def key(self) -> tuple[object, ...] | None: ...

    def render(self) -> str: ...


class _NeverFolded:
    """An entry that stands on its own even when the one before says the same."""

    @property
    def key(self) -> None:
        return None


@dataclass(frozen=True)
class Exchange:
    """One HTTP request and its response, as far as they can be shown without consuming
    streams; ``status`` 0 with ``error`` set when no response came."""

    at: float
    method: str
    url: str
    request_headers: dict[str, str]
    request_body: str
    status: int
    response_headers: dict[str, str]
    response_body: str
    elapsed_ms: float
    error: str = ""

    @property
    def key(self) -> tuple[object, ...]:
        return ("http", self.method, self.url, _RPC_ID.sub("", self.request_body), self.status,
                _RPC_ID.sub("", self.response_body), self.error)

    def render(self) -> str:
        def headers(values: dict[str, str]) -> str:
            return "".join(f"  {name}: {value}\n" for name, value in values.items())

        outcome = f"{self.status}" if not self.error else f"no answer: {self.error}"
        rpc = _RPC_METHOD.search(self.request_body)  # CallRPC: name the method called
        call = f" {rpc.group(1)}" if rpc else ""
        head = (f"[{_stamp(self.at)}] {self.method} {self.url}{call}  ->  {outcome} "
                f"({self.elapsed_ms:.0f} ms)\n{headers(self.request_headers)}"
                f"  {self.request_body}\n")
        if self.error:
            return head
        return head + f"response:\n{headers(self.response_headers)}  {self.response_body}\n"


@dataclass(frozen=True)
class Frame(_NeverFolded):
    """One frame a client received: a websocket text frame (a status-backend signal) or a
    server-sent event (a chat push)."""

    at: float
    url: str
    text: str
    kind: str = "websocket frame"

    def render(self) -> str:
        return f"[{_stamp(self.at)}] {self.kind} from {self.url}\n  {self.text}\n"


@dataclass(frozen=True)
class Call:
    """One unary gRPC call: who made it, on which server, its status and what it carried."""

    at: float
    method: str
    caller: str
    target: str
    status: str
    elapsed_ms: float
    request: str
    response: str  # the reply, or the status details when the call failed

    @property
    def key(self) -> tuple[object, ...]:
        return ("grpc", self.method, self.caller, self.target, self.request, self.status,
                self.response)

    def render(self) -> str:
        return (f"[{_stamp(self.at)}] gRPC {self.method} by {self.caller} on "
                f"{self.target}  ->  {self.status} ({self.elapsed_ms:.0f} ms)\n"
                f"  request: {self.request}\n  {'response' if self.status == 'OK' else 'details'}"
                f": {self.response}\n")


@dataclass(frozen=True)
class StreamEvent(_NeverFolded):
    """A gRPC stream's start, one message it brought, or its end (with status and duration)."""

    at: float
    method: str
    caller: str
    target: str
    text: str

    def render(self) -> str:
        return (f"[{_stamp(self.at)}] gRPC stream {self.method} of {self.caller} on "
                f"{self.target}: {self.text}\n")


@dataclass(frozen=True)
class Note(_NeverFolded):
    """What a person of the scenario did, between the exchanges it caused."""

    at: float
    text: str

    def render(self) -> str:
        return f"[{_stamp(self.at)}] --- {self.text}\n"


@dataclass
class _Slot:
    entry: Entry
    repeats: int = 0
    last: float = field(default_factory=time.time)

    def render(self) -> str:
        if not self.repeats:
            return self.entry.render()
        return (self.entry.render()
                + f"  (then {self.repeats} more time(s) alike, the last at {_stamp(self.last)})\n")


_DEFAULT_HEADERS = requests.utils.default_headers()


def _request_headers(request: requests.PreparedRequest) -> dict[str, str]:
    """The headers a request was sent with, but those requests sends on every request alike
    (``User-Agent``, ``Accept``, …); bytes values (raw UTF-8) shown as text."""
    return {name: value.decode("utf-8", "replace") if isinstance(value, bytes) else value
            for name, value in request.headers.items() if _DEFAULT_HEADERS.get(name) != value}


def _describe_body(body: object) -> str:
    if body is None:
        return "(no body)"
    if isinstance(body, bytes | str):
        raw = body.encode() if isinstance(body, str) else body
        text = raw[:EXCERPT].decode("utf-8", "replace")
        more = f" … ({len(raw)} bytes)" if len(raw) > EXCERPT else ""
        return f"body: {text!r}{more}"
    return f"body: streamed from {type(body).__name__}"


class Journal:
    """Keeps the last ``capacity`` entries of every client recording into it."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self._slots: deque[_Slot] = deque(maxlen=capacity)
        self._left_out = 0
        self._lock = threading.Lock()

    # --- recording ------------------------------------------------------------------------------
    def add(self, entry: Entry) -> None:
        """Keep an entry; a repeat of the one before only counts it."""
        now = time.time()
        with self._lock:
            last = self._slots[-1] if self._slots else None
            if last is not None and entry.key is not None and entry.key == last.entry.key:
                last.repeats += 1
                last.last = now
                return
            if len(self._slots) == self._slots.maxlen:
                self._left_out += 1 + self._slots[0].repeats
            self._slots.append(_Slot(entry, last=now))

    def attach(self, session: requests.Session) -> None:
        """Record every request ``session`` sends: its response, or the error it ended in."""
        session.hooks["response"].append(self._record_response)
        send = session.send

        def send_recorded(request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
            started = time.time()
            try:
                return send(request, **kwargs)
            except requests.RequestException as exc:
                self._record_failure(request, started, exc)
                raise

        session.send = send_recorded  # type: ignore[method-assign]

    def _record_response(self, response: requests.Response, *args: object,
                         **kwargs: object) -> None:
        request = response.request
        if kwargs.get("stream"):
            body = "(streamed response, not captured)"
        else:
            body = _describe_body(response.content)
        elapsed = response.elapsed.total_seconds()
        self.add(Exchange(
            at=time.time() - elapsed, method=request.method or "", url=request.url or "",
            request_headers=_request_headers(request),
            request_body=_describe_body(request.body), status=response.status_code,
            response_headers=dict(response.headers), response_body=body,
            elapsed_ms=elapsed * 1000))

    def _record_failure(self, request: requests.PreparedRequest, started: float,
                        error: requests.RequestException) -> None:
        self.add(Exchange(
            at=started, method=request.method or "", url=request.url or "",
            request_headers=_request_headers(request),
            request_body=_describe_body(request.body), status=0, response_headers={},
            response_body="", elapsed_ms=(time.time() - started) * 1000,
            error=excerpt(f"{error.__class__.__name__}: {error}", 300)))

    def record_frame(self, url: str, text: str, kind: str = "websocket frame") -> None:
        """Keep a frame a client received, in arrival order with the exchanges."""
        self.add(Frame(time.time(), url, excerpt(text), kind))

    def note(self, text: str) -> None:
        """Keep a line saying who does what (``Alice uploads …``) before the exchanges."""
        self.add(Note(time.time(), text))

    # --- reading --------------------------------------------------------------------------------
    def entries(self) -> list[Entry]:
        with self._lock:
            return [slot.entry for slot in self._slots]

    def render(self) -> str:
        """The entries in the order they began (an exchange or call is recorded when it ends)."""
        with self._lock:  # a slot's count may still grow
            left_out = self._left_out
            lines = [slot.render() for slot in sorted(self._slots, key=lambda s: s.entry.at)]
        if left_out:
            lines.insert(0, f"({left_out} earlier entries left out: the journal keeps the last "
                            f"{len(lines)})\n")
        return "\n".join(lines) or "(no exchanges)"
