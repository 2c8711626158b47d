"""Log lines in the shape of nim-chronicles' text output, filtered like ``--log-level``.

``NOT 2026-11-21 22:01:38.123+00:00 REST service started     topics="codex restapi" tid=1 …``
"""

from __future__ import annotations

import sys
import threading
from datetime import UTC, datetime
from typing import TextIO

LEVELS = {"trace": 0, "debug": 1, "info": 2, "notice": 3, "warn": 4, "error": 5, "fatal": 6}
_ABBREVIATIONS = ("TRC", "DBG", "INF", "NOT", "WRN", "ERR", "FAT")
_MESSAGE_WIDTH = 42


def _format_value(value: object) -> str:
    text = str(value)
    if not text or any(ch in text for ch in ' "='):
        return '"' + text.replace('"', '\\"') + '"'
    return text


class ChroniclesLogger:
    """A thread-safe logger with a global level and per-topic overrides (``LEVEL;topic:LEVEL``)."""

    def __init__(self, level_spec: str, out: TextIO = sys.stdout) -> None:
        self._out = out
        self._lock = threading.Lock()
        self.set_level(level_spec)

    def set_level(self, spec: str) -> None:
        """Apply ``LEVEL[;topic:LEVEL…]`` (already validated by the caller)."""
        default = LEVELS["info"]
        topics: dict[str, int] = {}
        for part in spec.split(";"):
            if ":" in part:
                topic, level = part.split(":", 1)
                topics[topic.strip()] = LEVELS[level.strip().lower()]
            elif part.strip():
                default = LEVELS[part.strip().lower()]
        self._default, self._topics = default, topics

    def _enabled(self, level: int, topics: str) -> bool:
        threshold = min(
            (self._topics[t] for t in topics.split() if t in self._topics), default=self._default
        )
        return level >= threshold

    def log(self, level: str, message: str, topics: str, **fields: object) -> None:
        number = LEVELS[level]
        if not self._enabled(number, topics):
            return
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "+00:00"
        head = {"topics": topics} if topics else {}
        pairs = " ".join(
            f"{key}={_format_value(value)}"
            for key, value in {**head, "tid": threading.get_native_id(), **fields}.items()
        )
        line = f"{_ABBREVIATIONS[number]} {stamp} {message:<{_MESSAGE_WIDTH}} {pairs}\n"
        with self._lock:
            self._out.write(line)
            self._out.flush()

    def trace(self, message: str, topics: str = "codex", **fields: object) -> None:
        self.log("trace", message, topics, **fields)

    def debug(self, message: str, topics: str = "codex", **fields: object) -> None:
        self.log("debug", message, topics, **fields)

    def info(self, message: str, topics: str = "codex", **fields: object) -> None:
        self.log("info", message, topics, **fields)

    def notice(self, message: str, topics: str = "codex", **fields: object) -> None:
        self.log("notice", message, topics, **fields)

    def warn(self, message: str, topics: str = "codex", **fields: object) -> None:
        self.log("warn", message, topics, **fields)

    def error(self, message: str, topics: str = "codex", **fields: object) -> None:
        self.log("error", message, topics, **fields)
