"""Parse types the step patterns use; importing this module registers them with behave.

Every field of a step pattern has one of these types (or parse's ``d``), so a phrase the
feature misspells matches no step (the step gate reports it undefined) instead of reaching a
step function with text it cannot use."""

from __future__ import annotations

import re

import parse
from behave.matchers import register_type  # the stubs do not re-export it from behave
from parse_type import TypeBuilder

from support.archive.world import SCENARIO_DAY
from support.codex.world import CidRequest
from support.content import parse_size

_UNIT = r"(?:bytes?|KiB|MiB|GiB)"
_CHANNEL = r"#[\w-]+"
_CLOCK = r"\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?"
_CLOCK_PARTS = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2})(\.\d+)?)?")
_SECONDS_PER = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


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


@parse.with_pattern(r"\d+ (?:server|servers|gate|gates)")
def count(value: str) -> int:
    """``1 server``, ``4 servers``, ``2 gates`` → the number."""
    return int(value.split(maxsplit=1)[0])


@parse.with_pattern(r"\d+ archives?")
def archive_count(value: str) -> int:
    """``1 archive``, ``2 archives`` → the number."""
    return int(value.split(maxsplit=1)[0])


@parse.with_pattern(r"\d+ seconds?")
def seconds(value: str) -> int:
    """``1 second``, ``10 seconds`` → the number."""
    return int(value.split(maxsplit=1)[0])


@parse.with_pattern(r"\d{1,3}(?:,\d{3})+|\d+")
def number(value: str) -> int:
    """``68``, ``65536``, ``196,666`` (thousands set off by commas, as a reader writes them) → the
    number."""
    return int(value.replace(",", ""))


@parse.with_pattern(_CHANNEL)
def channel(value: str) -> str:
    """One channel: ``#general``."""
    return value


@parse.with_pattern(rf"{_CHANNEL}(?:(?:, | and ){_CHANNEL})*")
def channels(value: str) -> list[str]:
    """``#general``, ``#general and #random``, ``#a, #b and #c`` → the channels in order."""
    return re.findall(_CHANNEL, value)


@parse.with_pattern(_CLOCK)
def clock(value: str) -> float:
    """``10:00``, ``09:59:30.5`` (a time of the scenario day, UTC) → Unix seconds."""
    match = _CLOCK_PARTS.fullmatch(value)
    assert match is not None  # the pattern above admitted it
    hours, minutes, seconds, fraction = match.groups()
    return (SCENARIO_DAY.timestamp() + int(hours) * 3600 + int(minutes) * 60 + int(seconds or 0)
            + float(fraction or 0))


@parse.with_pattern(rf"\d+-(?:{'|'.join(_SECONDS_PER)})")
def partition(value: str) -> int:
    """``2-minute``, ``1-hour`` (a partition length) → seconds."""
    length, unit = value.split("-")
    return int(length) * _SECONDS_PER[unit]


cid_request = TypeBuilder.make_enum({request.phrase: request for request in CidRequest})

register_type(Size=size, Name=name, Text=text, Blocks=blocks, Count=count,
              ArchiveCount=archive_count, Seconds=seconds, Number=number, Channel=channel,
              Channels=channels, Clock=clock, Partition=partition, CidRequest=cid_request)
