"""``python -m emulators.community`` / ``community-node``: one Status identity's node.

HTTP API modelled on status-backend: ``POST /statusgo/CallRPC`` (JSON-RPC 2.0 ``wakuext_*``
methods), ``GET /signals`` (a server-sent-events stream of ``{"type": <signal>, "event": {…}}``),
and ``POST /p2p`` where community nodes deliver control messages to each other (join requests,
the community key, index-CID announcements) — never relayed by the test suite.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from emulators.community.database import Database
from emulators.community.node import CommunityNode, RpcError, Signals
from emulators.http_json import go_marshal, send_json


class SignalLog:
    """Every signal so far, and a condition to wait for new ones."""

    def __init__(self) -> None:
        self.items: list[dict[str, object]] = []
        self.cond = threading.Condition()

    def emit(self, name: str, event: dict[str, object]) -> None:
        with self.cond:
            self.items.append({"type": name, "event": event})
            self.cond.notify_all()


def _rpc_methods(node: CommunityNode) -> dict[str, Callable[..., Any]]:
    return {
        "wakuext_createCommunity": lambda p: node.create_community(p["name"],
                                                                   bool(p["encrypted"])),
        "wakuext_createCommunityChat": lambda p: node.create_chat(p["communityId"], p["name"]),
        "wakuext_requestToJoinCommunity": lambda p: node.request_to_join(p["communityId"]),
        "wakuext_shareCommunityKey": lambda p: node.share_key(p["communityId"], p["memberUrl"]),
        "wakuext_sendChatMessage": lambda p: node.send_message(p["chatId"], p["text"],
                                                               p.get("timestamp")),
        "wakuext_createHistoryArchiveCodexFromDB": lambda p: node.create_archives(
            p["communityId"], p["chatIds"], start=p["start"], end=p["end"],
            partition=p["partition"], encrypt=bool(p["encrypt"])),
        "wakuext_announceArchiveIndex": lambda p: node.announce_index(p["communityId"]),
        "wakuext_cancelArchiveDownload": lambda p: node.cancel_download(p["communityId"]),
        "wakuext_chatMessages": lambda p: node.chat_messages(p["chatId"]),
        "wakuext_archiveIDs": lambda p: node.db.archive_ids(p["communityId"]),
        "wakuext_archiveInfo": lambda p: node.db.archive_info(p["communityId"]),
        "wakuext_describeCommunity": lambda p: node.describe(p["communityId"]),
    }


def _handler(node: CommunityNode, log: SignalLog) -> type[BaseHTTPRequestHandler]:
    methods = _rpc_methods(node)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _json(self, status: int, body: object) -> None:
            send_json(self, status, body)

        def _body(self) -> dict[str, Any]:
            length = int(self.headers.get("Content-Length") or 0)
            return json.loads(self.rfile.read(length) or b"{}")

        def do_POST(self) -> None:
            try:
                body = self._body()
            except json.JSONDecodeError as exc:
                self._json(400, {"error": f"invalid JSON: {exc}"})
                return
            if self.path == "/statusgo/CallRPC":
                self._rpc(body)
            elif self.path == "/p2p":
                self._peer(body)
            else:
                self._json(404, {"error": "not found"})

        def _rpc(self, body: dict[str, Any]) -> None:
            call_id, name = body.get("id"), body.get("method")
            params = (body.get("params") or [{}])[0]
            method = methods.get(str(name))
            if method is None:
                self._json(200, {"jsonrpc": "2.0", "id": call_id,
                                 "error": {"code": -32601, "message": f"the method {name} does "
                                           "not exist/is not available"}})
                return
            try:
                result = method(params)
            except (RpcError, KeyError, ValueError) as exc:
                message = f"missing parameter {exc}" if isinstance(exc, KeyError) else str(exc)
                self._json(200, {"jsonrpc": "2.0", "id": call_id,
                                 "error": {"code": -32000, "message": message}})
                return
            self._json(200, {"jsonrpc": "2.0", "id": call_id, "result": result})

        def _peer(self, body: dict[str, Any]) -> None:
            kind = body.get("type")
            try:
                if kind == "requestToJoin":
                    self._json(200, node.admit(body["communityId"], body["from"]))
                elif kind == "communityKey":
                    node.receive_key(body["communityId"], body["key"], int(body["timestamp"]))
                    self._json(200, {"ok": True})
                elif kind == "indexCid":
                    accepted = node.receive_index_cid(body["communityId"], body["cid"],
                                                      int(body["clock"]))
                    self._json(200, {"accepted": accepted})
                else:
                    self._json(400, {"error": f"unknown message type {kind!r}"})
            except (RpcError, KeyError) as exc:
                self._json(404, {"error": str(exc)})

        def do_GET(self) -> None:
            if self.path != "/signals":
                self._json(404, {"error": "not found"})
                return
            self.close_connection = True
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            sent = 0
            try:
                while True:
                    with log.cond:
                        log.cond.wait_for(lambda seen=sent: len(log.items) > seen, timeout=15)
                        fresh = log.items[sent:]
                    sent += len(fresh)
                    for item in fresh:
                        self.wfile.write(f"data: {go_marshal(item)}\n\n".encode())
                    if not fresh:
                        self.wfile.write(b": keep-alive\n\n")
                    self.wfile.flush()
            except OSError:
                return

    return Handler


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="community-node", description=__doc__)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--listen", required=True, help="host:port of the API")
    parser.add_argument("--codex-url", required=True, help="this node's Codex REST base URL")
    parser.add_argument("--peer", action="append", default=[],
                        help="another community node's API URL (repeatable)")
    parser.add_argument("--key-retry", type=float, default=3600.0,
                        help="seconds to wait before retrying an archive that needs a key this "
                             "node lacks (status-go: one hour)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    host, _, port = args.listen.rpartition(":")
    log = SignalLog()
    db = Database(args.data_dir / "status.db")
    node = CommunityNode(db, args.data_dir / "archives", codex_url=args.codex_url,
                         my_url=f"http://{host}:{port}", peers=args.peer,
                         signals=Signals(log.emit), key_retry=args.key_retry)
    server = ThreadingHTTPServer((host, int(port)), _handler(node, log))
    server.daemon_threads = True
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"community node listening on {host}:{port}", flush=True)
    stop.wait()
    server.shutdown()
    db.close()
    sys.exit(0)
