"""What every Goverse emulator program does around its work: parse its command line (bad flags →
the message and exit code 2, as Go's flag package) and run until SIGTERM or SIGINT."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

from emulators.goverse.config import ConfigError

S = TypeVar("S")


def stop_requested() -> threading.Event:
    """An event set by the first SIGTERM or SIGINT (install from the main thread)."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    return stop


def run(parse: Callable[[Sequence[str]], S], serve: Callable[[S], int],
        argv: Sequence[str] | None) -> None:
    """Parse the arguments, serve, and exit with serve's code."""
    try:
        settings = parse(sys.argv[1:] if argv is None else argv)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        sys.exit(2)
    sys.exit(serve(settings))
