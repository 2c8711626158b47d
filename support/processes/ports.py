"""Port reservations that two suite runs on one machine never share.

A reservation is an exclusive ``flock`` on ``<tmp>/acceptance-ports-<uid>/<port>.lock``, held until
the server it was made for has stopped (or the runner dies, when the kernel drops the lock).
Candidates come from port-for (free and not IANA-registered) below the kernel's ephemeral range,
so outgoing connections of other programs cannot take them either.
"""

from __future__ import annotations

import fcntl
import os
import socket
import tempfile
from pathlib import Path

import port_for

_LOCK_DIR = Path(tempfile.gettempdir()) / f"acceptance-ports-{os.getuid()}"
_CANDIDATES = frozenset(range(20000, 32000))
_ATTEMPTS = 200


class PortReservationError(RuntimeError):
    """No free port could be reserved."""


class PortReservation:
    """A port held for this run until ``release()``."""

    def __init__(self, port: int, lock_fd: int) -> None:
        self.port = port
        self._fd: int | None = lock_fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __repr__(self) -> str:
        return f"PortReservation({self.port})"


def _udp_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def reserve_port(udp: bool = False) -> PortReservation:
    """Reserve a loopback port free for TCP (and for UDP too when ``udp``)."""
    _LOCK_DIR.mkdir(mode=0o700, exist_ok=True)
    refused: set[int] = set()
    for _ in range(_ATTEMPTS):
        try:
            port = port_for.select_random(ports=set(_CANDIDATES - refused))
        except port_for.PortForException:
            break
        refused.add(port)
        fd = os.open(_LOCK_DIR / f"{port}.lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        if udp and not _udp_free(port):
            os.close(fd)
            continue
        return PortReservation(port, fd)
    raise PortReservationError(
        f"no free port to reserve among {len(_CANDIDATES)} candidates after {len(refused)} tries"
    )
