"""A person's signals: the websocket ``/signals`` of their status-backend (contract §1.4, §4).

status-backend keeps no backlog, so the listener connects before ``InitializeApplication`` and
reconnects by itself if the connection drops. Waits work as status-go's ``expect_signal``: a
predicate over the frames received, from the first (``start="beginning"``) or from an index
(``start=<mark()>``) on; on timeout the message says which signals did arrive.

status-backend never reads its websocket connections (its ``/signals`` handler upgrades, keeps
the connection and returns), and gorilla answers a close frame only while the application reads
(``doc.go``: "The application must read the connection to process close, ping and pong
messages"). So no close reply ever comes: closing sends the close frame and shuts the socket,
which ends the reading thread at once, instead of waiting for a reply.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import websocket

from support.journal import Journal

_RECONNECT_AFTER = 0.5  # seconds between reconnection attempts
# A state check (``until``) runs again when a signal arrives, and at least this often: the node
# reports its progress in signals, but not every change of state comes with one.
RECHECK = 0.25
T = TypeVar("T")


@dataclass(frozen=True)
class Signal:
    """One frame: ``{"type": …, "event": …}``."""

    type: str
    event: Any
    arrived: float

    def about(self, community_id: str) -> bool:
        return isinstance(self.event, dict) and self.event.get("communityId") == community_id


Start = Literal["beginning"] | int


class SignalListener:
    """Receives every signal of one status-backend; ``owner`` names whose node it is."""

    def __init__(self, url: str, owner: str, journal: Journal | None) -> None:
        self.url = url
        self.owner = owner
        self._journal = journal
        self._cond = threading.Condition()
        self._signals: list[Signal] = []
        self._open = False
        self._closing = False
        self._app: websocket.WebSocketApp | None = None
        self._thread: threading.Thread | None = None

    # --- connection -----------------------------------------------------------------------------
    def connect(self, within: float) -> None:
        """Start listening (once) and wait until the websocket is open."""
        if self._thread is None:
            self._app = websocket.WebSocketApp(self.url, on_open=self._on_open,
                                               on_message=self._on_message,
                                               on_close=self._on_close, on_error=self._on_error)
            self._thread = threading.Thread(target=self._run, name=f"signals of {self.owner}",
                                            daemon=True)
            self._thread.start()
        self.ensure_connected(within)

    def ensure_connected(self, within: float) -> None:
        """Wait until the websocket is open (e.g. before a login, whose outcome is a signal)."""
        deadline = time.monotonic() + within
        with self._cond:
            while not self._open:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"{self.owner}'s node did not accept a signals "
                                         f"connection at {self.url} within {within:.0f} s")
                self._cond.wait(remaining)

    def _run(self) -> None:
        assert self._app is not None
        while not self._closing:
            self._app.run_forever(skip_utf8_validation=False)
            if self._closing:
                return
            with self._cond:
                self._cond.wait(_RECONNECT_AFTER)

    def _on_open(self, _app: websocket.WebSocketApp) -> None:
        with self._cond:
            self._open = True
            if self._closing:  # connected while being closed: hang up at once
                self._hang_up()
            self._cond.notify_all()

    def _on_close(self, _app: websocket.WebSocketApp, *_args: object) -> None:
        with self._cond:
            self._open = False
            self._cond.notify_all()

    def _on_error(self, _app: websocket.WebSocketApp, _error: Exception) -> None:
        with self._cond:
            self._open = False
            self._cond.notify_all()

    def _on_message(self, _app: websocket.WebSocketApp, text: str) -> None:
        if self._journal is not None:
            self._journal.record_frame(self.url, text)
        try:
            frame = json.loads(text)
        except json.JSONDecodeError:
            frame = {"type": "(not JSON)", "event": text}
        if not isinstance(frame, dict):
            frame = {"type": "(not an object)", "event": frame}
        signal = Signal(str(frame.get("type")), frame.get("event"), time.time())
        with self._cond:
            self._signals.append(signal)
            self._cond.notify_all()

    def close(self, within: float) -> None:
        """Close the websocket and wait up to ``within`` seconds for its thread to end."""
        with self._cond:
            self._closing = True
            hung_up = self._hang_up()
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=within)
            if hung_up is not None and not self._thread.is_alive():
                hung_up.close()  # the reader has let go of it: release the descriptor

    def _hang_up(self) -> socket.socket | None:
        """Send the close frame and shut the socket, waking the reader (with ``_cond`` held);
        returns the socket, if a connection was open."""
        connection = self._app.sock if self._app is not None else None
        raw: socket.socket | None = connection.sock if connection is not None else None
        if connection is None or raw is None or not connection.connected:
            return None
        with contextlib.suppress(websocket.WebSocketException, OSError):
            connection.send_close()
        with contextlib.suppress(OSError):
            raw.shutdown(socket.SHUT_RDWR)
        return raw

    # --- what arrived ---------------------------------------------------------------------------
    def mark(self) -> int:
        """An index: pass it as ``start`` to consider only signals arriving after now."""
        with self._cond:
            return len(self._signals)

    def since(self, start: Start = "beginning") -> list[Signal]:
        with self._cond:
            return list(self._signals[0 if start == "beginning" else start:])

    def seen(self, start: Start = "beginning") -> str:
        """What arrived, for failure messages: ``node.login, messages.new ×3, …``."""
        counts = Counter(signal.type for signal in self.since(start))
        if not counts:
            return "no signal at all"
        return ", ".join(name if n == 1 else f"{name} ×{n}" for name, n in counts.items())

    def until(self, check: Callable[[], T], within: float) -> T:
        """Call ``check`` until it stops raising AssertionError: again as soon as a signal
        arrives, and at least every ``RECHECK`` seconds; after ``within`` seconds the last
        AssertionError (which says what the check last saw) propagates."""
        deadline = time.monotonic() + within
        while True:
            seen = self.mark()
            try:
                return check()
            except AssertionError:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise
            with self._cond:
                if len(self._signals) == seen:
                    self._cond.wait(min(RECHECK, remaining))

    def _matching(self, signal_type: str, within: float, first: int,
                  matches: Callable[[Signal], bool],
                  enough: Callable[[list[Signal]], bool]) -> list[Signal]:
        """The signals of ``signal_type`` from index ``first`` on that match, looked at again as
        each arrives, until they are ``enough`` or ``within`` seconds have passed."""
        deadline = time.monotonic() + within
        with self._cond:
            while True:
                found = [s for s in self._signals[first:]
                         if s.type == signal_type and matches(s)]
                remaining = deadline - time.monotonic()
                if enough(found) or remaining <= 0:
                    return found
                self._cond.wait(remaining)

    def wait_for(self, signal_type: str, within: float, *, start: Start = "beginning",
                 matches: Callable[[Signal], bool] = lambda _: True, count: int = 1,
                 expected: str = "") -> list[Signal]:
        """The first ``count`` signals of ``signal_type`` (from ``start`` on) that match;
        ``expected`` says in the domain's words what was waited for."""
        first = 0 if start == "beginning" else start
        found = self._matching(signal_type, within, first, matches,
                               lambda found: len(found) >= count)
        if len(found) >= count:
            return found[:count]
        what = expected or f"{count} {signal_type} signal(s)"
        got = f"{len(found)} of {count} so far; " if count > 1 else ""
        raise AssertionError(f"{self.owner}'s node did not report {what} within {within:g} s "
                             f"({got}it sent {self.seen(first)})")

    def stays_without(self, signal_type: str, within: float, *, start: Start = "beginning",
                      matches: Callable[[Signal], bool] = lambda _: True,
                      unexpected: str = "") -> None:
        """Observe for ``within`` seconds that no matching signal arrives (fails at once if one
        does)."""
        found = self._matching(signal_type, within, 0 if start == "beginning" else start,
                               matches, bool)
        if found:
            what = unexpected or f"a {signal_type} signal"
            raise AssertionError(f"{self.owner}'s node reported {what} "
                                 f"({signal_type}: {json.dumps(found[0].event)[:300]})")
