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


# Go's names for JSON kinds, and its wording for where a text stops being JSON.
JSON_KINDS = {dict: "object", list: "array", str: "string", bool: "bool", int: "number",
               float: "number"}
_JSON_PROBLEMS = {
    "Expecting value": "looking for beginning of value",
    "Expecting property name enclosed in double quotes": "looking for beginning of object key "
                                                         "string",
    "Expecting ':' delimiter": "after object key",
    "Expecting ',' delimiter": "after object key:value pair",
    "Extra data": "after top-level value",
}


def go_json_error(body: str, error: json.JSONDecodeError) -> str:
    """What Go's encoding/json says about the text Python's parser stopped at."""
    if error.pos >= len(body.rstrip()):
        return "unexpected end of JSON input"
    char = body[error.pos]
    return f"invalid character {char!r} {_JSON_PROBLEMS.get(error.msg, 'looking for value')}"


def go_decode_struct(body: bytes, go_type: str, fields: dict[str, type]) -> dict[str, object]:
    """``json.NewDecoder(body).Decode(&v)`` into a struct of type ``go_type`` (``pkg.Name``):
    the first JSON value of the body (the rest is not read), field names matched
    case-insensitively, Go's zero value for what is missing. Raises ValueError with Go's text."""
    struct = go_type.rsplit(".", 1)[-1]
    stripped = body.decode("utf-8", "replace").lstrip()
    if not stripped:
        raise ValueError("EOF")
    try:
        value, _ = json.JSONDecoder().raw_decode(stripped)
    except json.JSONDecodeError as error:
        problem = go_json_error(stripped, error)
        raise ValueError("unexpected EOF" if problem.startswith("unexpected end") else problem
                         ) from error
    zero = {str: "", int: 0, bool: False}
    result: dict[str, object] = {name: zero[kind] for name, kind in fields.items()}
    if value is None:
        return result
    if not isinstance(value, dict):
        raise ValueError(f"json: cannot unmarshal {JSON_KINDS[type(value)]} into Go value of "
                         f"type {go_type}")
    for name, kind in fields.items():
        key = name if name in value else next((k for k in value if k.lower() == name), None)
        if key is None or value[key] is None:
            continue
        given = value[key]
        where = f"Go struct field {struct}.{name} of type {kind.__name__.replace('str', 'string')}"
        if kind is int and isinstance(given, float) and not isinstance(given, bool):
            raise ValueError(f"json: cannot unmarshal number {given} into {where}")
        if type(given) is not kind:
            raise ValueError(f"json: cannot unmarshal {JSON_KINDS[type(given)]} into {where}")
        result[name] = given
    return result


def send_json(handler: BaseHTTPRequestHandler, status: int, body: object) -> None:
    """Answer with ``body`` as JSON (status, Content-Type, Content-Length, then the bytes)."""
    payload = go_marshal(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(payload)))
    handler.end_headers()
    handler.wfile.write(payload)
