"""``python -m emulators.waku_relay --address 127.0.0.1:PORT`` (``waku-relay-emulator``).

Every text or binary message a connected node sends goes to every connected node, the sender
included, in one order for all; nothing is stored. One line on stdout once listening; SIGTERM or
SIGINT stops it with exit 0; an address it cannot listen on is one line on stderr and exit 1.
"""

from __future__ import annotations

import argparse
import concurrent.futures.thread  # noqa: F401 (shutdown() imports it late, at exit too late)
import sys
import threading
from collections.abc import Sequence

from websockets.exceptions import WebSocketException
from websockets.sync.server import Server, ServerConnection, serve

from emulators.serving import StopSignals

MAX_FRAME = 1 << 25


class Relay:
    """The set of connected nodes and the fan-out."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connections: set[ServerConnection] = set()

    def handle(self, connection: ServerConnection) -> None:
        with self._lock:
            self._connections.add(connection)
        try:
            for message in connection:
                self._broadcast(message)
        except (WebSocketException, OSError):
            pass
        finally:
            with self._lock:
                self._connections.discard(connection)

    def _broadcast(self, message: str | bytes) -> None:
        with self._lock:
            for connection in list(self._connections):
                try:
                    connection.send(message)
                except (WebSocketException, OSError):
                    self._connections.discard(connection)


def _split_address(address: str) -> tuple[str, int]:
    """Go's net.SplitHostPort + port parsing, with its wording on failure."""
    host, sep, port = address.rpartition(":")
    if not sep:
        raise ValueError(f"listen tcp: address {address}: missing port in address")
    if not port.isdigit() or int(port) > 65535:
        raise ValueError(f"listen tcp: lookup port {port}: unknown port")
    return host.strip("[]"), int(port)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="waku-relay-emulator", description=__doc__)
    parser.add_argument("--address", default="127.0.0.1:0", help="host:port to listen on")
    args = parser.parse_args(argv)
    relay = Relay()
    try:
        host, port = _split_address(args.address)
        server: Server = serve(relay.handle, host, port, max_size=MAX_FRAME)
    except ValueError as exc:
        print(exc, file=sys.stderr, flush=True)
        return 1
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        print(f"listen tcp {args.address}: bind: {reason}", file=sys.stderr, flush=True)
        return 1

    stop = StopSignals()
    bound = server.socket.getsockname()
    print(f"waku relay listening on ws://{bound[0]}:{bound[1]}", flush=True)
    serving = threading.Thread(target=server.serve_forever, name="relay", daemon=True)
    serving.start()
    stop.wait()
    server.shutdown()
    serving.join()
    return 0
