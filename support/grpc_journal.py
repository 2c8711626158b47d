"""gRPC calls recorded in a scenario's journal: a client interceptor on the channel notes each
unary call (method, caller, status, duration, request and reply in brief), and for a stream
its start, each message received and its end with the status it ended in."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc
from google.protobuf import text_format
from google.protobuf.message import Message

from support.journal import Call, Journal, StreamEvent, excerpt

BRIEF = 300  # characters of a message in a gRPC entry


def brief(message: object) -> str:
    """A protobuf message on one line (an ``Any`` shown unpacked when its type is known), cut
    to a few hundred characters."""
    if isinstance(message, Message):
        return excerpt(text_format.MessageToString(message, as_one_line=True) or "(empty)",
                       BRIEF)
    return excerpt(repr(message), BRIEF)


def _status(call: grpc.Call) -> str:
    code = call.code()
    return code.name if code is not None else "UNKNOWN"


class _RecordedStream:
    """A response stream that records each message as the caller reads it; everything else
    (``cancel``, ``code``, …) is the call's."""

    def __init__(self, call: Any, on_message: Callable[[object], None]) -> None:
        self._call = call
        self._on_message = on_message

    def __iter__(self) -> Iterator[object]:
        return self

    def __next__(self) -> object:
        message = next(self._call)
        self._on_message(message)
        return message

    def __getattr__(self, name: str) -> Any:
        return getattr(self._call, name)


class JournalInterceptor(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor,
                         grpc.StreamUnaryClientInterceptor, grpc.StreamStreamClientInterceptor):
    """Records the calls of one caller (a person, or the suite looking inside) to ``target``."""

    def __init__(self, journal: Journal, caller: str, target: str) -> None:
        self.journal = journal
        self.caller = caller
        self.target = target

    def _unary(self, method: str, request: str, outcome: Any) -> Any:
        started, clock = time.time(), time.monotonic()

        def done(call: Any) -> None:
            status = _status(call)
            reply = brief(call.result()) if status == "OK" else excerpt(call.details() or "",
                                                                        BRIEF)
            self.journal.add(Call(started, method, self.caller, self.target, status,
                                  (time.monotonic() - clock) * 1000, request, reply))

        call = outcome()
        call.add_done_callback(done)
        return call

    def _stream(self, method: str, request: str, outcome: Any) -> _RecordedStream:
        clock = time.monotonic()
        received = 0

        def event(text: str) -> None:
            self.journal.add(StreamEvent(time.time(), method, self.caller, self.target, text))

        def message(item: object) -> None:
            nonlocal received
            received += 1
            event(f"message {received}: {brief(item)}")

        def ended() -> None:
            event(f"ended  ->  {_status(call)} after {(time.monotonic() - clock) * 1000:.0f} ms "
                  f"and {received} message(s)"
                  + (f": {excerpt(call.details(), BRIEF)}" if call.details() else ""))

        event(f"opened; request: {request}")
        call = outcome()
        if not call.add_callback(ended):  # already over (refused before it began)
            ended()
        return _RecordedStream(call, message)

    def intercept_unary_unary(self, continuation: Any, client_call_details: Any,
                              request: Any) -> Any:
        return self._unary(client_call_details.method, brief(request),
                           lambda: continuation(client_call_details, request))

    def intercept_stream_unary(self, continuation: Any, client_call_details: Any,
                               request_iterator: Any) -> Any:
        return self._unary(client_call_details.method, "(a stream of requests)",
                           lambda: continuation(client_call_details, request_iterator))

    def intercept_unary_stream(self, continuation: Any, client_call_details: Any,
                               request: Any) -> Any:
        return self._stream(client_call_details.method, brief(request),
                            lambda: continuation(client_call_details, request))

    def intercept_stream_stream(self, continuation: Any, client_call_details: Any,
                                request_iterator: Any) -> Any:
        return self._stream(client_call_details.method, "(a stream of requests)",
                            lambda: continuation(client_call_details, request_iterator))


def journaled_channel(target: str, journal: Journal | None, caller: str) -> grpc.Channel:
    """An insecure channel to ``target`` whose calls ``journal`` records as ``caller``'s."""
    channel = grpc.insecure_channel(target)
    if journal is None:
        return channel
    return grpc.intercept_channel(channel, JournalInterceptor(journal, caller, target))
