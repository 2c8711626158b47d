"""Server-sent events parsed from a stream as it arrives."""

from __future__ import annotations

import io
from types import SimpleNamespace

from support.sse import server_sent_events


def _events(stream: bytes) -> list[tuple[str, str]]:
    response = SimpleNamespace(raw=io.BytesIO(stream))
    return list(server_sent_events(response))  # type: ignore[arg-type]


def test_named_and_unnamed_events_with_their_data() -> None:
    stream = (b'event: register\ndata: {"clientId":"a/b"}\n\n'
              b'data: {"type":"x"}\n\n'
              b"event: heartbeat\ndata: {}\r\n\r\n")
    assert _events(stream) == [("register", '{"clientId":"a/b"}'), ("message", '{"type":"x"}'),
                               ("heartbeat", "{}")]


def test_data_lines_join_and_an_unfinished_event_is_not_delivered() -> None:
    assert _events(b"data: one\ndata: two\n\nevent: cut\ndata: half") == [("message", "one\ntwo")]
