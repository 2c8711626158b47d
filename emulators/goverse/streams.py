"""A gRPC server stream fed from a queue: what a node's ``RegisterGate`` and a gate's
``Register`` send after their first message."""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator
from typing import Final

import grpc

STOPPED: Final = object()  # put on a stream's queue to end that stream
_POLL = 0.5  # seconds between looks at the caller and the process while the queue is empty


def drain(channel: queue.Queue[object], context: grpc.ServicerContext,
          stopped: threading.Event) -> Iterator[object]:
    """Yield what arrives on ``channel`` while the caller is connected and the process runs;
    ``STOPPED`` ends the stream. The end of the call (the caller gone, or the server stopping)
    wakes the stream at once, so that the server's threads are free when the process exits."""

    def wake() -> None:
        with contextlib.suppress(queue.Full):
            channel.put_nowait(STOPPED)

    context.add_callback(wake)
    while context.is_active() and not stopped.is_set():
        try:
            item = channel.get(timeout=_POLL)
        except queue.Empty:
            continue
        if item is STOPPED:
            return
        yield item
