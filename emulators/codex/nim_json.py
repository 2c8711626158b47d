"""JSON text exactly as Nim's ``std/json`` writes it (``$`` and ``pretty``), as bytes.

Nim strings are bytes, and ``escapeJsonUnquoted`` escapes only ``"``, ``\\`` and the control
bytes (``\\n \\b \\f \\t \\r``, ``\\v`` as ``\\u000b``, 0–7 as ``\\u000N``, 14–31 as ``\\u00XX`` in
upper-case hex); every other byte, 0x7F and non-UTF-8 bytes included, is copied as it is. So a
filename that arrived as raw bytes goes back out as the same bytes. Python ``str`` values that
carry such bytes as surrogate escapes (``surrogateescape``) are turned back into those bytes
first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

_ESCAPES: dict[int, bytes] = {
    0x0A: b"\\n", 0x08: b"\\b", 0x0C: b"\\f", 0x09: b"\\t", 0x0B: b"\\u000b", 0x0D: b"\\r",
    0x22: b'\\"', 0x5C: b"\\\\",
    **{c: b"\\u000%d" % c for c in range(0, 8)},
    **{c: b"\\u00%02X" % c for c in range(14, 32)},
}
_TABLE = [_ESCAPES.get(c, bytes([c])) for c in range(256)]


def text_bytes(text: str | bytes) -> bytes:
    """The bytes Nim would hold for a string (raw bytes kept through ``surrogateescape``)."""
    if isinstance(text, bytes):
        return text
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def escape(text: str | bytes) -> bytes:
    """``escapeJson``: the quoted JSON string."""
    raw = text_bytes(text)
    return b'"' + b"".join(_TABLE[c] for c in raw) + b'"'


def dumps(value: object) -> bytes:
    """``$node`` (``toUgly``): compact, no spaces, keys in insertion order."""
    out: list[bytes] = []
    _ugly(value, out)
    return b"".join(out)


def pretty(value: object, indent: int = 2) -> bytes:
    """``pretty(node)``: one item per line, ``"key": value``, empty containers as ``{}``/``[]``."""
    out: list[bytes] = []
    _pretty(value, out, indent, 0, in_array=False)
    return b"".join(out)


def _scalar(value: object) -> bytes | None:
    if value is None:
        return b"null"
    if value is True:
        return b"true"
    if value is False:
        return b"false"
    if isinstance(value, int):
        return str(value).encode()
    if isinstance(value, float):
        return repr(value).encode()
    if isinstance(value, (str, bytes)):
        return escape(value)
    return None


def _ugly(value: object, out: list[bytes]) -> None:
    scalar = _scalar(value)
    if scalar is not None:
        out.append(scalar)
    elif isinstance(value, Mapping):
        out.append(b"{")
        for i, (key, item) in enumerate(value.items()):
            if i:
                out.append(b",")
            out.append(escape(key))
            out.append(b":")
            _ugly(item, out)
        out.append(b"}")
    elif isinstance(value, Sequence):
        out.append(b"[")
        for i, item in enumerate(value):
            if i:
                out.append(b",")
            _ugly(item, out)
        out.append(b"]")
    else:
        raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _pretty(value: object, out: list[bytes], indent: int, current: int, in_array: bool) -> None:
    if in_array:
        out.append(b" " * current)
    scalar = _scalar(value)
    if scalar is not None:
        out.append(scalar)
    elif isinstance(value, Mapping):
        if not value:
            out.append(b"{}")
            return
        out.append(b"{\n")
        for i, (key, item) in enumerate(value.items()):
            if i:
                out.append(b",\n")
            out.append(b" " * (current + indent))
            out.append(escape(key))
            out.append(b": ")
            _pretty(item, out, indent, current + indent, in_array=False)
        out.append(b"\n" + b" " * current + b"}")
    elif isinstance(value, Sequence):
        if not value:
            out.append(b"[]")
            return
        out.append(b"[\n")
        for i, item in enumerate(value):
            if i:
                out.append(b",\n")
            _pretty(item, out, indent, current + indent, in_array=True)
        out.append(b"\n" + b" " * current + b"]")
    else:
        raise TypeError(f"cannot write {type(value).__name__} as JSON")
