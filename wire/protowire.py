"""The protobuf wire-format pieces Codex structures need: varint and length-delimited fields."""

from __future__ import annotations

from collections.abc import Iterator

from wire.cid import decode_varint, encode_varint


class WireError(ValueError):
    """Bytes that are not a well-formed protobuf message."""


def varint_field(number: int, value: int) -> bytes:
    return encode_varint(number << 3) + encode_varint(value)


def bytes_field(number: int, value: bytes) -> bytes:
    return encode_varint(number << 3 | 2) + encode_varint(len(value)) + value


def iter_fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """Yield (field number, value) for varint and length-delimited fields, in order."""
    offset = 0
    while offset < len(data):
        key, offset = decode_varint(data, offset)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value, offset = decode_varint(data, offset)
            yield number, value
        elif wire_type == 2:
            length, offset = decode_varint(data, offset)
            if offset + length > len(data):
                raise WireError("field overruns the message")
            yield number, data[offset : offset + length]
            offset += length
        else:
            raise WireError(f"unexpected wire type {wire_type}")
