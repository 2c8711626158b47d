"""What every Goverse emulator program does around its work: parse its command line as Go's
``flag.CommandLine`` does (a bad flag → Go's one-line message and the usage on stderr, exit 2;
``-h``/``-help`` → the usage, exit 0), report a start failure the way its ``main.go`` does (a Go
panic, exit 2, or a FATAL log line, exit 1), run until SIGTERM or SIGINT, and then shut down in
one order.

No Python traceback reaches the terminal: the programs fail only in these Go ways.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import NoReturn, Protocol, TypeVar

import grpc

from emulators import goflag
from emulators.goverse.config import ConfigError
from emulators.goverse.logs import GoverseLogger
from emulators.serving import StopSignals

S = TypeVar("S")


def stop_requested() -> StopSignals:
    """SIGTERM and SIGINT, caught from now on (call from the main thread)."""
    return StopSignals()


class Stoppable(Protocol):
    """A part of a program that runs beside its gRPC server until the program stops."""

    def stop(self) -> None: ...


def serve_until_stopped(stop: StopSignals, server: grpc.Server,
                        parts: Iterable[Stoppable | None], *,
                        stopping: threading.Event | None = None) -> int:
    """Wait for ``stop`` (SIGTERM or SIGINT), then shut down as every Goverse program does: mark
    the process ``stopping``, stop the gRPC server at once (no grace: open streams end), then
    each part that runs, in order. Returns the exit status, 0."""
    stop.wait()
    if stopping is not None:
        stopping.set()
    server.stop(grace=None)
    for part in parts:
        if part is not None:
            part.stop()
    return 0


Frames = Sequence[tuple[str, str]]  # (function, file:line), innermost first


def _stack(frames: Frames) -> str:
    return "goroutine 1 [running]:\n" + "".join(
        f"{function}\n\t{where} +0x{0x45 + 0x1d * index:x}\n"
        for index, (function, where) in enumerate(frames))


def go_panic(message: str, frames: Frames) -> NoReturn:
    """An unrecovered ``panic(v)``: Go's report on stderr and exit status 2."""
    sys.stdout.flush()
    sys.stderr.write(f"panic: {message}\n\n{_stack(frames)}")
    sys.stderr.flush()
    os._exit(2)  # like Go: no deferred clean-up runs


_FATAL_FRAMES = (
    ("runtime/debug.Stack()", "/usr/local/go/src/runtime/debug/stack.go:26"),
    ("github.com/xiaonanln/goverse/util/logger.(*Logger).log(...)",
     "/goverse/util/logger/logger.go:98"),
    ("github.com/xiaonanln/goverse/util/logger.(*Logger).Fatalf(...)",
     "/goverse/util/logger/logger.go:128"),
)


def go_fatal(log: GoverseLogger, message: str, frames: Frames) -> NoReturn:
    """Goverse's ``logger.Fatalf``: the FATAL line, then the goroutine's stack, on stdout;
    exit status 1."""
    log.fatal(message)
    sys.stdout.write(_stack([*_FATAL_FRAMES, *frames]) + "\n")
    sys.stdout.flush()
    os._exit(1)  # os.Exit(1): no deferred clean-up runs


def run(program: str, flags: Sequence[goflag.Flag], parse: Callable[[Sequence[str]], S], *,
        config_failed: Callable[[str], NoReturn], serve: Callable[[S], int],
        argv: Sequence[str] | None) -> NoReturn:
    """Parse the arguments (``program`` is ``os.Args[0]`` in the usage), serve, and exit with
    serve's code. ``config_failed`` reports a problem the loader found after the flags parsed."""
    try:
        settings = parse(sys.argv[1:] if argv is None else argv)
    except (goflag.FlagError, goflag.HelpRequested) as problem:
        goflag.exit_on_error(program, flags, problem)
    except ConfigError as problem:
        config_failed(str(problem))
    code = serve(settings)
    # main returns and the Go runtime exits at once: no waiting on the threads grpcio and the
    # HTTP servers leave behind, nor on the interpreter's clean-up (a fifth of a second).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
