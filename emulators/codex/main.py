"""``codex-emulator`` / ``python -m emulators.codex``: start a node from the real command line."""

from __future__ import annotations

import os
import socket
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from emulators.codex.api import CodexHttpServer
from emulators.codex.cli import NodeConfig, parse_args
from emulators.codex.exchange import ExchangeServer
from emulators.codex.identity import NodeIdentity, UnsafeKeyFileError
from emulators.codex.logs import ChroniclesLogger
from emulators.codex.node import CodexNode
from emulators.serving import StopSignals


def _bind_discovery(config: NodeConfig) -> socket.socket:
    """The UDP discovery port, bound as the real node binds it."""
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind((config.listen_addrs[0][0], config.disc_port))
    return udp


def _prepare_data_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)


def run(config: NodeConfig, logger: ChroniclesLogger) -> int:
    """Run the node until SIGTERM or SIGINT; returns the process exit code."""
    _prepare_data_dir(config.data_dir)
    identity = NodeIdentity.load_or_create(config.data_dir / "key")
    node = CodexNode(config, identity, logger)
    exchanges = [ExchangeServer(address, node.store, node.describe)
                 for address in config.listen_addrs]
    udp = _bind_discovery(config)
    node.start_network([server.server_address[:2] for server in exchanges], udp)
    for exchange in exchanges:
        exchange.start()
    stop = StopSignals()
    server = CodexHttpServer(node)
    threading.Thread(target=node.run_maintenance, name="maintenance", daemon=True).start()
    server.start_serving("rest")
    host, port = server.server_address[:2]
    logger.info("Started codex node", topics="codex node", id=identity.peer_id)
    logger.notice("REST service started", topics="", address=f"{host}:{port}")
    stop.wait()
    logger.notice("Stopping Codex", topics="codex")
    server.stop_serving()
    server.server_close()
    for exchange in exchanges:
        exchange.stop_serving()
        exchange.server_close()
    node.stop()
    udp.close()
    logger.notice("Exited codex", topics="codex")
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    config = parse_args(sys.argv[1:] if argv is None else argv)
    logger = ChroniclesLogger(config.log_level)
    try:
        code = run(config, logger)
    except UnsafeKeyFileError as exc:
        logger.warn(str(exc), topics="codex")
        code = 1
    except (OSError, ValueError) as exc:
        logger.log("fatal", "Unable to start Codex node", topics="codex", error=exc)
        code = 1
    # The node has closed everything it opened: exit at once, as the real binary does, without
    # the interpreter's clean-up (tens of milliseconds) or waiting on threads still parked.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
