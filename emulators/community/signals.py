"""status-backend's signal fan-out: every signal goes, as one websocket text frame
``{"type": …, "event": …}``, to every connection of ``/signals`` open at that moment (no
subscription, no backlog); a connection that cannot take a frame within the write deadline is
dropped (``server.go``, ``signalHandler``)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

from emulators.http_json import go_marshal


class SignalConnection(Protocol):
    def send_text(self, text: str) -> None:
        """Write one text frame (within the deadline) or raise OSError."""
        ...

    def close(self) -> None: ...


class SignalHub:
    """The ``seams.SignalSink`` of the node: one lock orders registrations and broadcasts, as
    status-backend's ``Server.lock`` does."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connections: list[SignalConnection] = []

    def attach(self, connection: SignalConnection, handshake: bytes,
               write_handshake: Callable[[bytes], None]) -> bool:
        """Write the upgrade answer and register the connection in one step, so that no signal
        falls between the two; False if the answer could not be written."""
        with self._lock:
            try:
                write_handshake(handshake)
            except OSError:
                return False
            self._connections.append(connection)
            return True

    def detach(self, connection: SignalConnection) -> None:
        with self._lock:
            if connection in self._connections:
                self._connections.remove(connection)

    def send(self, signal_type: str, event: object) -> None:
        frame = go_marshal({"type": signal_type, "event": event})
        with self._lock:
            for connection in list(self._connections):
                try:
                    connection.send_text(frame)
                except OSError:
                    self._connections.remove(connection)
                    connection.close()

    def close_all(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()

