"""What the emulated programs share about stopping: a serving loop that stops at once, and
SIGTERM/SIGINT caught without a Python signal handler.

``serve_forever`` looks for ``shutdown()`` only between polls (0.5 s by default), so each server of
an emulated process added up to a poll interval to its stop; the real programs close their
listeners at once. ``PromptStop`` serves from a daemon thread and wakes its loop through a socket
pair when told to stop.
"""

from __future__ import annotations

import selectors
import signal
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


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopSignals:
    """SIGTERM and SIGINT, caught from construction on (make it in the main thread, where a real
    program's ``signal.Notify`` would be); ``wait`` blocks until the first one and returns it.

    The Python-level handler does nothing: Python's own C-level handler writes the signal's
    number to a socket that ``wait`` reads, whichever thread the kernel delivered it to. A
    handler that sets a ``threading.Event`` can deadlock the process for good when the signal
    lands while the main thread holds the event's lock (entering ``Event.wait`` as another
    thread takes the GIL), which a busy machine makes likely enough to see.
    """

    def __init__(self) -> None:
        self._read, self._write = socket.socketpair()
        self._write.setblocking(False)
        signal.set_wakeup_fd(self._write.fileno(), warn_on_full_buffer=False)
        for signum in STOP_SIGNALS:
            signal.signal(signum, _noted_by_the_wakeup_socket)

    def wait(self) -> signal.Signals:
        """The first stop signal. Later ones change nothing (as a Go program's buffered
        ``signal.Notify`` channel drops them while it shuts down): they are ignored from here on,
        so none can write to a socket this object no longer holds."""
        while True:
            for number in self._read.recv(64):
                if number in STOP_SIGNALS:
                    for signum in STOP_SIGNALS:
                        signal.signal(signum, signal.SIG_IGN)
                    signal.set_wakeup_fd(-1)
                    self._read.close()
                    self._write.close()
                    return signal.Signals(number)


def _noted_by_the_wakeup_socket(_signum: int, _frame: object) -> None:
    """The Python-level handler does nothing: the C-level one has written to the socket."""
