"""Log lines in the shape of nim-chronicles' text output, filtered like ``--log-level``.

``NOT 2026-11-21 22:01:38.123+00:00 REST service started     topics="codex restapi" tid=1 …``
"""

from __future__ import annotations

import sys
import threading
from datetime import UTC, datetime
from typing import TextIO

from emulators.codex import errors

LEVELS = {"trace": 0, "debug": 1, "info": 2, "notice": 3, "warn": 4, "error": 5, "fatal": 6}
# chronicles' LogLevel enum, in order (NONE lets everything through at run time).
_ENUM = {"NONE": -1, "TRACE": 0, "DEBUG": 1, "INFO": 2, "NOTICE": 3, "WARN": 4, "ERROR": 5,
         "FATAL": 6}
# chronicles/helpers.nim parseTopicDirectives: the level names a topic directive may use.
_TOPIC_LEVELS = {"trc": 0, "trace": 0, "dbg": 1, "debug": 1, "inf": 2, "info": 2, "not": 3,
                 "notice": 3, "wrn": 4, "warn": 4, "err": 5, "error": 5, "fat": 6, "fatal": 6,
                 "disabled": 99}
_NIM_WHITESPACE = " \t\v\r\n\f"
_ABBREVIATIONS = ("TRC", "DBG", "INF", "NOT", "WRN", "ERR", "FAT")
_MESSAGE_WIDTH = 42


class LogLevelError(ValueError):
    """What nim-codex's ``updateLogLevel`` raises; ``applied`` is the global level it had already
    set before failing (chronicles sets it before it parses the topic directives)."""

    def __init__(self, message: str, applied: int | None = None) -> None:
        super().__init__(message)
        self.applied = applied


def _nim_ident_normalize(text: str) -> str:
    return text[:1] + text[1:].lower().replace("_", "")


def parse_log_level(spec: str) -> tuple[int, dict[str, int]]:
    """nim-codex ``updateLogLevel``: ``LEVEL[;LEVEL:topic1,topic2…]`` → (level, topic levels).

    The first directive goes through ``parseEnum[LogLevel](s.toUpperAscii)`` (style-insensitive:
    ``d_e_b_u_g`` is DEBUG, ``NONE`` is accepted); the others are chronicles'
    ``parseTopicDirectives``, level first, then the topics. Raises LogLevelError with the text the
    node answers.
    """
    directives = spec.split(";")
    wanted = _nim_ident_normalize(directives[0].upper())
    default = next((number for name, number in _ENUM.items()
                    if _nim_ident_normalize(name) == wanted), None)
    if default is None or not wanted:
        raise LogLevelError(errors.LEVEL_ERROR)
    topics: dict[str, int] = {}
    for directive in directives[1:]:
        parts = directive.split(":")
        if len(parts) != 2:
            raise LogLevelError(errors.DIRECTIVE_ERROR, applied=default)
        level = parts[0].strip(_NIM_WHITESPACE).lower()
        if level == "required":
            continue
        if level not in _TOPIC_LEVELS:
            raise LogLevelError(errors.unrecognized_level(parts[0]), applied=default)
        for name in parts[1].split(","):
            topics[name.strip(_NIM_WHITESPACE)] = _TOPIC_LEVELS[level]
    return default, topics


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
        """Apply ``LEVEL[;LEVEL:topic1,topic2…]`` as nim-codex's ``updateLogLevel`` does: topic
        settings are added to the earlier ones; a failure after the global level keeps that
        level (LogLevelError is raised either way)."""
        try:
            default, topics = parse_log_level(spec)
        except LogLevelError as exc:
            if exc.applied is not None:
                self._default = exc.applied
            raise
        self._default = default
        self._topics = {**getattr(self, "_topics", {}), **topics}

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
        # Raw (non-UTF-8) bytes carried as surrogate escapes must not stop the node logging.
        line = line.encode("utf-8", "backslashreplace").decode("utf-8")
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
