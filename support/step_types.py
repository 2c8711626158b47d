"""Parse types the step patterns use; importing this module registers them with behave."""

from __future__ import annotations

import parse
from behave import register_type

from support.content import parse_size

_UNIT = r"(?:bytes?|KiB|MiB|GiB)"


@parse.with_pattern(rf"\d+\s*{_UNIT}(?:\s*\+\s*\d+\s*{_UNIT})*")
def size(text: str) -> int:
    """``1 byte``, ``64 KiB + 1 byte``, ``10 MiB`` → bytes."""
    return parse_size(text)


@parse.with_pattern(r"[A-Za-z][A-Za-z0-9_-]*")
def name(text: str) -> str:
    """One word: a person (Alice, she) or a node (A, B, Q)."""
    return text


@parse.with_pattern(r'[^"]*')
def text(value: str) -> str:
    """The inside of a quoted value (never runs past the closing quote)."""
    return value


@parse.with_pattern(r"\d+ blocks?")
def blocks(value: str) -> int:
    """``1 block``, ``160 blocks`` → the number."""
    return int(value.split(maxsplit=1)[0])


register_type(Size=size, Name=name, Text=text, Blocks=blocks)


@parse.with_pattern(r"\d+ (?:server|servers|gate|gates)")
def count(value: str) -> int:
    """``1 server``, ``4 servers``, ``2 gates`` → the number."""
    return int(value.split(maxsplit=1)[0])


register_type(Count=count)
