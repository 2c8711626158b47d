"""What the emulators' ``socketserver`` servers share: a serving loop that stops at once.

``serve_forever`` looks for ``shutdown()`` only between polls (0.5 s by default), so each server of
an emulated process added up to a poll interval to its stop; the real programs close their
listeners at once. ``PromptStop`` serves from a daemon thread and wakes its loop through a socket
pair when told to stop.
"""

from __future__ import annotations

import selectors
import socket
import socketserver
import threading


class PromptStop(socketserver.BaseServer):
    """A mix-in (before the server class): ``start_serving`` handles requests in a daemon thread
    until ``stop_serving``, which returns once the loop has ended (the listener stays open
    until ``server_close``)."""

    _waker: socket.socket
    _loop_ended: threading.Event

    def start_serving(self, name: str) -> None:
        self._waker, wake = socket.socketpair()
        self._loop_ended = threading.Event()
        threading.Thread(target=self._serve, args=(wake,), name=name, daemon=True).start()

    def stop_serving(self) -> None:
        self._waker.send(b"\0")
        self._loop_ended.wait()
        self._waker.close()

    def _serve(self, wake: socket.socket) -> None:
        try:
            with wake, selectors.DefaultSelector() as selector:
                selector.register(self, selectors.EVENT_READ)
                selector.register(wake, selectors.EVENT_READ)
                while all(key.fileobj is not wake for key, _ in selector.select()):
                    self._handle_request_noblock()
                    self.service_actions()
        finally:
            self._loop_ended.set()
