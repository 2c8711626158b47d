"""The Goverse error texts a client sees in more than one place, each written once: the gate's
HTTP API and the inspector's (``{"error": message, "code": code}``), the gRPC statuses of nodes,
gates and the inspector. Each is Goverse's (or Go's) text."""

from __future__ import annotations

from typing import Final

# --- HTTP: a request's method and path --------------------------------------------------------
METHOD_NOT_ALLOWED: Final = "METHOD_NOT_ALLOWED"
ONLY_GET: Final = "Only GET method is allowed"
ONLY_GET_SSE: Final = "Only GET method is allowed for SSE"
ONLY_POST: Final = "Only POST method is allowed"
INVALID_PATH: Final = "INVALID_PATH"
INVALID_PARAMETERS: Final = "INVALID_PARAMETERS"
TYPE_AND_ID_EMPTY: Final = "Type and ID must not be empty"
TYPE_ID_AND_METHOD_EMPTY: Final = "Type, ID, and method must not be empty"

# --- HTTP: a request's body and headers -------------------------------------------------------
INVALID_JSON: Final = "INVALID_JSON"
INVALID_BASE64 = "INVALID_BASE64"
UNAUTHENTICATED: Final = "UNAUTHENTICATED"

# --- gRPC statuses ----------------------------------------------------------------------------
OBJECT_TYPE_REQUIRED: Final = "object type is required"
NO_PERSISTENCE: Final = "no persistence provider configured"
ADVERTISE_ADDRESS_EMPTY: Final = "advertise address must not be empty"
NODE_NOT_REGISTERED: Final = "node not registered"


def path_must_be(action: str, parameters: str) -> str:
    """``action`` is ``call``, ``create`` or ``delete``; ``parameters`` e.g. ``{type}/{id}``."""
    return f"Path must be /api/v1/objects/{action}/{parameters}"


def json_failed(why: str) -> str:
    """``why``: encoding/json's error, e.g. from ``http_json.go_json_error``."""
    return f"Failed to parse JSON: {why}"


def json_type_mismatch(kind: str, into: str) -> str:
    """encoding/json's ``UnmarshalTypeError`` (``into``: ``Go value of type T`` or ``Go struct
    field S.f of type T``)."""
    return json_failed(f"json: cannot unmarshal {kind} into {into}")


def illegal_base64(index: int) -> str:
    return f"Failed to decode base64 request: illegal base64 data at input byte {index}"


def object_type_mismatch(expected: str, found: str, object_id: str) -> str:
    return f"object type mismatch: expected {expected}, got {found} for object {object_id}"
