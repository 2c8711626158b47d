"""Progress lines on the console for long steps (large transfers, cluster start-up).

They go to the process's real stderr, past behave's output capture and outside the report, at
most one line every few seconds per transfer, and to whoever listens (the feed a worker writes for
the runner's live console, ``support.scenario_feed``).
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable
from typing import BinaryIO

MIB = 1024 * 1024
LARGE = 32 * MIB  # transfers at least this big report progress
_EVERY = 2.0
_listeners: list[Callable[[str], None]] = []


def listen(listener: Callable[[str], None]) -> Callable[[], None]:
    """Hand every progress message to ``listener`` too (from any thread), until the function
    this returns is called (calling it again does nothing)."""
    _listeners.append(listener)

    def remove() -> None:
        with contextlib.suppress(ValueError):
            _listeners.remove(listener)
    return remove


def note(message: str) -> None:
    stream = sys.__stderr__
    if stream is not None:
        stream.write(f"  [progress] {message}\n")
        stream.flush()
    for listener in list(_listeners):  # one may stop listening meanwhile
        listener(message)


class Transfer:
    """Reports ``label`` bytes done of ``total`` now and then; ``done()`` reports the rate."""

    def __init__(self, label: str, total: int) -> None:
        self.label = label
        self.total = total
        self.started = time.monotonic()
        self._last = self.started

    def update(self, done: int) -> None:
        now = time.monotonic()
        if now - self._last >= _EVERY:
            self._last = now
            note(f"{self.label}: {done / MIB:.0f} of {self.total / MIB:.0f} MiB "
                 f"({now - self.started:.1f} s)")

    def finish(self) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        note(f"{self.label}: {self.total / MIB:.0f} MiB in {elapsed:.1f} s "
             f"({self.total / MIB / elapsed:.0f} MiB/s)")


class CountingReader:
    """A file wrapper that reports upload progress as the HTTP client reads it."""

    def __init__(self, handle: BinaryIO, transfer: Transfer) -> None:
        self._handle = handle
        self._transfer = transfer
        self._done = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self._handle.read(size)
        self._done += len(chunk)
        self._transfer.update(self._done)
        return chunk

    def __len__(self) -> int:  # lets requests send a Content-Length
        return self._transfer.total
