"""Community-archive checks in the words of a community's owner and members."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from support.expect import plural


def archives(count: int) -> str:
    """``1 archive``, ``3 archives``."""
    return plural(count, "archive")


def windows(rows: Sequence[Mapping[str, str]]) -> str:
    """Archive windows as a table would read: ``00:00 to 01:00 with 2 messages; …``."""
    return "; ".join(f"{row['from']} to {row['to']} with {_messages(row['messages'])}"
                     for row in rows) or "no window"


def _messages(count: str) -> str:
    """A window's message count as a table gives it: ``1 message``, ``2 messages``."""
    return plural(int(count), "message") if count.isdigit() else f"{count} messages"
