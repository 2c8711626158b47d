"""The emulated node's request-body readers filling an upload's buffer (``readinto``)."""

from __future__ import annotations

import io

import pytest

from emulators.codex.http_io import BodyAbortedError, ChunkedReader, LengthReader


def chunked(*parts: bytes) -> io.BytesIO:
    body = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in parts) + b"0\r\n\r\n"
    return io.BytesIO(body + b"GET /next")


def test_a_chunked_body_fills_the_buffer_across_chunks_and_stops_at_its_end() -> None:
    raw = chunked(b"ab", b"c", b"defgh", b"ij")
    reader = ChunkedReader(raw)
    buffer = memoryview(bytearray(4))
    assert reader.readinto(buffer) == 4 and bytes(buffer) == b"abcd"
    assert reader.readinto(buffer) == 4 and bytes(buffer) == b"efgh"
    assert reader.readinto(buffer) == 2 and bytes(buffer[:2]) == b"ij"
    assert reader.readinto(buffer) == 0
    assert raw.read() == b"GET /next"  # the next request stays unread


def test_a_length_body_fills_the_buffer_and_leaves_what_follows() -> None:
    raw = io.BytesIO(b"0123456789GET")
    reader = LengthReader(raw, 10)
    buffer = memoryview(bytearray(8))
    assert reader.readinto(buffer) == 8 and bytes(buffer) == b"01234567"
    assert reader.readinto(buffer) == 2 and bytes(buffer[:2]) == b"89"
    assert reader.readinto(buffer) == 0
    assert raw.read() == b"GET"


def test_a_body_cut_off_before_its_length_is_an_aborted_upload() -> None:
    reader = LengthReader(io.BytesIO(b"01234"), 10)
    with pytest.raises(BodyAbortedError):
        reader.readinto(memoryview(bytearray(8)))
