"""The gate's HTTP client API (``-http-listen`` / YAML ``http_addr``; goverse.md §2.2.3).

``POST /api/v1/objects/call/{type}/{id}/{method}`` with ``{"request": <base64 Any>}``,
``POST /api/v1/objects/create/{type}/{id}``, ``POST /api/v1/objects/delete/{type}/{id}`` and the
``GET /api/v1/events/stream`` server-sent events, with Goverse's CORS headers, error codes and the
HTTP server's 30 s write timeout, which also ends an event stream after 30 s.
"""

from __future__ import annotations

import base64
import binascii
import json
import queue
import time
from typing import TYPE_CHECKING
from urllib.parse import unquote

from google.protobuf.any_pb2 import Any
from google.protobuf.message import DecodeError

from emulators.gohttp import GoHandler
from emulators.goverse import errors
from emulators.goverse.gate_errors import DEFAULT_CALL_TIMEOUT, AuthError, GateCallError
from emulators.goverse.health import HttpService
from emulators.http_json import JSON_KINDS, go_json_error

if TYPE_CHECKING:
    from emulators.goverse.gate import GateRuntime

CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, PUT, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, X-Client-ID, Authorization, X-Goverse-Auth",
    "Access-Control-Max-Age": "86400",
}
WRITE_TIMEOUT = 30.0
IDLE_TIMEOUT = 120.0
HEARTBEAT = 30.0
_STOP_POLL = 0.5


class HttpError(Exception):
    """An answer in Goverse's error shape: ``{"error": message, "code": code}``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def request_field(body: bytes) -> str:
    """The ``request`` string of ``{"request": …}``, decoded as Go's ``json.Unmarshal`` would."""
    text = body.decode("utf-8", "replace")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise HttpError(400, errors.INVALID_JSON,
                        errors.json_failed(go_json_error(text, error))) from error
    if value is None:
        return ""
    if not isinstance(value, dict):
        raise HttpError(400, errors.INVALID_JSON, errors.json_type_mismatch(
            JSON_KINDS[type(value)], "Go value of type gateserver.HTTPRequest"))
    key = "request" if "request" in value else next(
        (k for k in value if k.lower() == "request"), None)
    field = value.get(key) if key is not None else None
    if field is None:
        return ""
    if not isinstance(field, str):
        raise HttpError(400, errors.INVALID_JSON, errors.json_type_mismatch(
            JSON_KINDS[type(field)], "Go struct field HTTPRequest.request of type string"))
    return field


def decode_any(encoded: str) -> Any:
    """Standard base64 of a serialised ``google.protobuf.Any``."""
    alphabet = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
    for index, char in enumerate(encoded):
        if char not in alphabet and char != "=":
            raise HttpError(400, errors.INVALID_BASE64, errors.illegal_base64(index))
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as error:
        position = len(encoded) - len(encoded) % 4 if len(encoded) % 4 else len(encoded)
        raise HttpError(400, errors.INVALID_BASE64, errors.illegal_base64(position)) from error
    try:
        return Any.FromString(raw)
    except DecodeError as error:
        raise HttpError(400, "INVALID_PROTOBUF", "Failed to unmarshal protobuf Any: proto: "
                        "cannot parse invalid wire-format data") from error


def _status_of_call_error(error: GateCallError) -> HttpError:
    if "not found" in str(error):
        return HttpError(404, "OBJECT_NOT_FOUND", str(error))
    return HttpError(500, "CALL_FAILED", str(error))


class HttpGate(HttpService):
    """Serves the client API on its own port next to the gate's gRPC port."""

    def __init__(self, address: str, runtime: GateRuntime) -> None:
        super().__init__(address, _handler(runtime))


def _handler(runtime: GateRuntime) -> type[GoHandler]:
    class Handler(GoHandler):
        timeout = IDLE_TIMEOUT

        # --- routing ----------------------------------------------------------------------------
        def route(self, method: str) -> None:
            path = unquote(self.path.split("?", 1)[0])
            routes = {"/api/v1/objects/call/": self._call, "/api/v1/objects/create/": self._create,
                      "/api/v1/objects/delete/": self._delete}
            if path == "/api/v1/events/stream":
                action, rest = self._events, ""
            else:
                prefix = next((p for p in routes if path.startswith(p)), None)
                if prefix is None:
                    self.read_body()
                    self.not_found()
                    return
                action, rest = routes[prefix], path[len(prefix):]
            if method == "OPTIONS":
                self.read_body()
                self.send_response(204)
                for name, value in sorted(CORS.items()):
                    self.send_header(name, value)
                self.end_headers()
                return
            try:
                action(method, rest)
            except HttpError as error:
                self.send_go_json(error.status, {"error": str(error), "code": error.code}, CORS)

        @staticmethod
        def _only_post(method: str) -> None:
            if method != "POST":
                raise HttpError(405, errors.METHOD_NOT_ALLOWED, errors.ONLY_POST)

        # --- objects ----------------------------------------------------------------------------
        def _call(self, method: str, rest: str) -> None:
            body = self.read_body()
            self._only_post(method)
            parts = rest.split("/", 2)
            if len(parts) != 3:
                raise HttpError(400, errors.INVALID_PATH,
                                errors.path_must_be("call", "{type}/{id}/{method}"))
            object_type, object_id, object_method = parts
            if not object_type or not object_id or not object_method:
                raise HttpError(400, errors.INVALID_PARAMETERS, errors.TYPE_ID_AND_METHOD_EMPTY)
            request = decode_any(request_field(body))
            user = self._authorise()
            client_id = self.headers.get("X-Client-ID") or ""
            try:
                response = runtime.call(object_type, object_id, object_method, request,
                                        client_id=client_id, user=user,
                                        timeout=DEFAULT_CALL_TIMEOUT)
            except GateCallError as error:
                raise _status_of_call_error(error) from error
            encoded = base64.b64encode(response.SerializeToString()).decode()
            self.send_go_json(200, {"response": encoded}, CORS)

        def _authorise(self) -> str | None:
            """The chat gate authorises every HTTP call from ``X-Goverse-Auth`` (a JSON object
            of strings); the generic gate has no handler and lets everyone through."""
            if runtime.authorise is None:
                return None
            raw = self.headers.get("X-Goverse-Auth") or "{}"
            try:
                fields = json.loads(raw)
            except json.JSONDecodeError as error:
                raise HttpError(401, errors.UNAUTHENTICATED,
                                f"invalid X-Goverse-Auth header: {go_json_error(raw, error)}"
                                ) from error
            if not isinstance(fields, dict) or not all(isinstance(v, str) for v in fields.values()):
                raise HttpError(401, errors.UNAUTHENTICATED, "invalid X-Goverse-Auth header: json: "
                                "cannot unmarshal into Go value of type map[string]string")
            try:
                return runtime.authorise({key: [value] for key, value in fields.items()})
            except AuthError as error:
                raise HttpError(401, errors.UNAUTHENTICATED, str(error)) from error

        def _type_and_id(self, method: str, rest: str, action: str) -> tuple[str, str]:
            """A create's or delete's ``{type}/{id}``, after Goverse's method and path checks."""
            self.read_body()
            self._only_post(method)
            parts = rest.split("/", 1)
            if len(parts) != 2:
                raise HttpError(400, errors.INVALID_PATH,
                                errors.path_must_be(action, "{type}/{id}"))
            if not parts[0] or not parts[1]:
                raise HttpError(400, errors.INVALID_PARAMETERS, errors.TYPE_AND_ID_EMPTY)
            return parts[0], parts[1]

        def _create(self, method: str, rest: str) -> None:
            object_type, object_id = self._type_and_id(method, rest, "create")
            try:
                created = runtime.create(object_type, object_id, DEFAULT_CALL_TIMEOUT)
            except GateCallError as error:
                raise HttpError(500, "CREATE_FAILED", str(error)) from error
            self.send_go_json(200, {"id": created}, CORS)

        def _delete(self, method: str, rest: str) -> None:
            object_type, object_id = self._type_and_id(method, rest, "delete")
            try:
                runtime.delete(object_type, object_id, DEFAULT_CALL_TIMEOUT)
            except GateCallError as error:
                raise HttpError(500, "DELETE_FAILED", str(error)) from error
            self.send_go_json(200, {"success": True}, CORS)

        # --- pushes -----------------------------------------------------------------------------
        def _events(self, method: str, _rest: str) -> None:
            self.read_body()
            if method != "GET":
                raise HttpError(405, errors.METHOD_NOT_ALLOWED, errors.ONLY_GET_SSE)
            # The server's WriteTimeout counts from the request: no write succeeds after it.
            deadline = time.monotonic() + WRITE_TIMEOUT
            client = runtime.register_anonymous()
            try:
                self.send_response(200)
                for name, value in sorted({**CORS, "Cache-Control": "no-cache",
                                           "Connection": "keep-alive",
                                           "Content-Type": "text/event-stream"}.items()):
                    self.send_header(name, value)
                self.start_chunked()
                self.send_event("register", {"clientId": client.client_id})
                next_heartbeat = time.monotonic() + HEARTBEAT
                while not runtime.stopped.is_set():
                    try:
                        item = client.channel.get(timeout=_STOP_POLL)
                    except queue.Empty:
                        if time.monotonic() < next_heartbeat:
                            continue
                        next_heartbeat += HEARTBEAT
                        item = None
                    if time.monotonic() >= deadline:
                        break  # Go's write would fail here: the connection is dropped
                    if item is None:
                        self.send_event("heartbeat", {})
                    elif isinstance(item, Any):
                        self.send_event("message", {
                            "type": item.type_url,
                            "payload": base64.b64encode(item.SerializeToString()).decode()})
            except OSError:
                pass
            finally:
                runtime.unregister(client)
                self.close_connection = True

    return Handler

