"""``python -m emulators.community`` / ``status-backend-emulator``: an emulated status-go
``status-backend`` (``cmd/status-backend``), one community node per process.

``--address`` (default ``127.0.0.1:0``) and ``--pprof`` as the real binary takes them. The log
lines go to stderr as its zap logger writes them: ``status-backend started`` with the bound
address, or one ``failed to start server`` line and exit status 1 when it cannot listen.
SIGTERM/SIGINT log the running account out, then exit 0.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from emulators import goflag, netaddr
from emulators.community.backend import Backend
from emulators.community.server import VERSION, StatusBackendServer
from emulators.community.signals import SignalHub
from emulators.serving import StopSignals

_FLAGS = [goflag.Flag("address", "host:port to listen", "127.0.0.1:0"),
          goflag.Flag("pprof", "enable pprof", False)]
_GIT_COMMIT = "8b3f2a1e"
_SIGNAL_NAMES = {signal.SIGTERM: "terminated", signal.SIGINT: "interrupt"}
# status-backend's main logs the failure and returns: the process exits 0 (main.go @ 154bccb0).
LISTEN_FAILURE_STATUS = 0


class ListenError(Exception):
    """Why the address cannot be listened on, in Go's words."""


def log_line(level: str, caller: str, message: str, fields: dict[str, str]) -> None:
    """One line of zap's development console encoder (UTC ISO-8601 time, tab-separated)."""
    now = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"
    context = ", ".join(f"{json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}"
                        for k, v in fields.items())
    sys.stderr.write(f"{stamp}\t{level}\t{caller}\t{message}\t{{{context}}}\n")
    sys.stderr.flush()


def listen(address: str, backend: Backend, hub: SignalHub) -> StatusBackendServer:
    """``net.Listen("tcp", address)`` for the HTTP server, or ListenError in Go's words (an
    address ``net.SplitHostPort`` refuses is wrapped ``invalid address``, as status-backend's
    own check reports it)."""
    try:
        host, port_text = netaddr.split_host_port(address)
    except netaddr.NetError as error:
        raise ListenError(f"invalid address: {error}") from None
    try:
        port = netaddr.lookup_port(port_text)
        family, ip = (socket.AF_INET6, "::") if not host else netaddr.resolve_host(host, port)
    except netaddr.NetError as error:
        raise ListenError(f"listen tcp: {error}") from None
    try:
        return StatusBackendServer((ip, port), backend, hub, family)
    except OSError as error:
        raise ListenError(netaddr.bind_failure(ip, port, error)) from error


def _program() -> str:
    """``os.Args[0]``: the command as typed (``status-backend`` under ``python -m``)."""
    name = sys.argv[0] if sys.argv and sys.argv[0] else "status-backend"
    return "status-backend" if Path(name).suffix == ".py" or name == "-m" else name


def main(argv: Sequence[str] | None = None) -> None:
    values = goflag.parse(_program(), _FLAGS, list(sys.argv[1:] if argv is None else argv))
    hub = SignalHub()
    backend = Backend(hub)
    try:
        server = listen(str(values["address"]), backend, hub)
    except ListenError as error:
        log_line("ERROR", "status-backend/main.go:29", "failed to start server",
                 {"error": str(error)})
        sys.exit(LISTEN_FAILURE_STATUS)
    stop = StopSignals()
    host, port = server.server_address[:2]
    log_line("INFO", "server/serve.go:42", "status-backend started",
             {"address": netaddr.join_host_port(str(host), int(port)), "version": VERSION,
              "gitCommit": _GIT_COMMIT})
    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
    received = stop.wait()
    log_line("INFO", "server/serve.go:61", "interrupt signal received",
             {"signal": _SIGNAL_NAMES[received]})
    try:
        backend.shutdown()
        hub.close_all()
    finally:
        sys.stderr.flush()
        os._exit(0)
