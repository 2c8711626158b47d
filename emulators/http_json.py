"""JSON the way the emulated Go programs (Goverse, status-go) write it, and the one JSON answer
the emulators' small HTTP servers all give."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler

_HTML_SAFE = (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
              ("\u2029", "\\u2029"))


def go_marshal(value: object) -> str:
    """``json.Marshal``'s text: compact, UTF-8 as is, ``<``, ``>`` and ``&`` escaped."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    for char, escaped in _HTML_SAFE:
        text = text.replace(char, escaped)
    return text


def send_json(handler: BaseHTTPRequestHandler, status: int, body: object) -> None:
    """Answer with ``body`` as JSON (status, Content-Type, Content-Length, then the bytes)."""
    payload = go_marshal(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(payload)))
    handler.end_headers()
    handler.wfile.write(payload)
