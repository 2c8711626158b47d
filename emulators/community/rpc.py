"""JSON-RPC as status-go serves it through ``CallRPC`` (geth's RPC server over the node's
services): positional params decoded into the Go method's argument types, Go error texts.

A service declares each method as a ``Method``: the Python function and the Go types of its
arguments, in order. ``Param.go_type`` is the Go type as written in status-go (``string``,
``bool``, ``int``, ``time.Duration``, ``[]string``, ``map[string]string``,
``*requests.CreateCommunity``, ``types.HexBytes``, ``json.RawMessage`` …); decoding follows
encoding/json into that type and geth's argument rules, and the function receives plain Python
values (a struct arrives as its JSON object, a nil pointer as ``None``).
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from emulators.http_json import JSON_KINDS, go_json_error


@dataclass(frozen=True)
class Param:
    go_type: str
    optional: bool = False  # geth: trailing pointer/optional arguments may be left out (nil)


@dataclass(frozen=True)
class Method:
    fn: Callable[..., object]
    params: tuple[Param, ...] = ()


class RpcError(Exception):
    """A Go error returned by the method: ``{"code": -32000, "message": <text>}``."""

    code = -32000


def field(obj: Mapping[str, object] | None, name: str, default: object = None) -> object:
    """A struct field as encoding/json finds it: the exact key, else a case-insensitive match."""
    if not obj:
        return default
    if name in obj:
        return obj[name]
    lowered = name.lower()
    for key, value in obj.items():
        if key.lower() == lowered:
            return value
    return default


# --- decoding and dispatch: status-go's rpc.Client.CallRaw over geth's server ------------------

_INVALID_MESSAGE = -32700  # status-go's errInvalidMessageCode: the body is not a request
_METHOD_NOT_FOUND = -32601
_INVALID_PARAMS = -32602
_PANIC = -32603  # geth's errcodePanic: "method handler crashed"
_DEFAULT_ID = 0  # status-go's defaultMsgID, when the request had no usable id
_OPAQUE = ("json.RawMessage", "interface{}", "any")  # any JSON value, passed as is
_INT_RANGES = {"int": (-(2**63), 2**63 - 1), "int64": (-(2**63), 2**63 - 1),
               "time.Duration": (-(2**63), 2**63 - 1), "int32": (-(2**31), 2**31 - 1),
               "uint": (0, 2**64 - 1), "uint64": (0, 2**64 - 1), "uint32": (0, 2**32 - 1)}
_ZERO: dict[str, object] = {"string": "", "bool": False, "float64": 0.0,
                            **dict.fromkeys(_INT_RANGES, 0)}

_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")  # an invalid UTF-8 byte (surrogateescape)

_log = logging.getLogger(__name__)


class _DecodeError(Exception):
    """A Go error text met while decoding; ``code`` is what the reply carries."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def call_raw(body: bytes, methods: Mapping[str, Method]) -> object:
    """The JSON-RPC reply to one ``CallRPC`` body (a batch gets a list of replies)."""
    try:
        message = go_unmarshal(body)
    except ValueError as error:
        return _error_reply(_DEFAULT_ID, _INVALID_MESSAGE, str(error))
    if isinstance(message, list):
        return [_call_single(element, methods) for element in message]
    return _call_single(message, methods)


def go_unmarshal(body: bytes) -> object:
    """``json.Unmarshal`` into ``interface{}``: ValueError with Go's syntax error text; invalid
    UTF-8 in strings becomes U+FFFD, as Go decodes it."""
    try:
        text, clean = body.decode("utf-8"), True
    except UnicodeDecodeError:
        text, clean = body.decode("utf-8", "surrogateescape"), False
    try:
        value = json.loads(text, parse_constant=_reject_constant, parse_float=LiteralFloat)
    except json.JSONDecodeError as error:
        raise ValueError(_syntax_error(text, error)) from error
    # Only invalid bytes or \u escapes (a lone surrogate) can leave surrogates in the strings:
    # a clean body without escapes skips the walk (a 30 MiB text costs a scan, not a copy).
    return value if clean and "\\u" not in text else _replace_surrogates(value)


def _syntax_error(text: str, error: json.JSONDecodeError) -> str:
    """Go's text, the offending byte quoted as Go quotes it (a non-UTF-8 byte as its Latin-1
    rune, ``'\\''`` for a quote)."""
    if error.pos >= len(text.rstrip()):
        return "unexpected end of JSON input"
    char = text[error.pos]
    message = go_json_error(text, error)
    byte = chr(ord(char) - 0xDC00) if "\udc80" <= char <= "\udcff" else char
    quoted = "'\\''" if byte == "'" else "'" + json.dumps(byte, ensure_ascii=False)[1:-1] + "'"
    return message.replace(repr(char), quoted, 1)


class LiteralFloat(float):
    """A JSON number with a fraction or exponent, remembering how it was written."""

    literal: str

    def __new__(cls, text: str) -> LiteralFloat:
        number = super().__new__(cls, text)
        number.literal = text
        return number


def _reject_constant(name: str) -> object:
    """Go has no NaN or Infinity literals."""
    if name.startswith("-"):
        raise ValueError("invalid character 'I' in numeric literal")
    raise ValueError(f"invalid character '{name[0]}' looking for beginning of value")


def _replace_surrogates(value: object) -> object:
    if isinstance(value, str):
        return _ESCAPED_BYTE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_replace_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {_replace_surrogates(k): _replace_surrogates(v) for k, v in value.items()}
    return value


def _call_single(message: object, methods: Mapping[str, Method]) -> dict[str, object]:
    try:
        name, params, call_id = _request_parts(message)
    except _DecodeError as error:
        return _error_reply(_DEFAULT_ID, error.code, str(error))
    method = methods.get(name)
    if method is None:
        return _error_reply(call_id, _METHOD_NOT_FOUND,
                            f"the method {name} does not exist/is not available")
    try:
        args = _positional_arguments(params, method.params)
    except _DecodeError as error:
        return _error_reply(call_id, error.code, str(error))
    try:
        result = method.fn(*args)
    except RpcError as error:
        return _error_reply(call_id, error.code, str(error))
    except Exception as error:  # geth recovers a crashed handler and answers for it
        _log.error("RPC method %s crashed: %r", name, error)
        return _error_reply(call_id, _PANIC, "method handler crashed")
    return {"jsonrpc": "2.0", "id": call_id, "result": result}


def _request_parts(message: object) -> tuple[str, list[object], object]:
    """status-go's ``methodAndParamsFromBody``: the method, the params as ``[]interface{}``
    (floats, as Go holds JSON numbers there) and the raw id (0 when absent)."""
    if message is not None and not isinstance(message, dict):
        raise _DecodeError(_INVALID_MESSAGE, f"json: cannot unmarshal {json_kind(message)} into Go "
                                             "value of type rpc.jsonrpcRequest")
    fields = message or {}
    for name in ("jsonrpc", "method"):
        value = field(fields, name)
        if value is not None and not isinstance(value, str):
            raise _DecodeError(_INVALID_MESSAGE, f"json: cannot unmarshal {json_kind(value)} into "
                                                 f"Go struct field jsonrpcRequest.{name} of type "
                                                 "string")
    params = field(fields, "params")
    if params is not None and not isinstance(params, list):
        raise _DecodeError(_INVALID_MESSAGE, f"json: cannot unmarshal {json_kind(params)} into Go "
                                             "value of type []interface {}")
    has_id = any(key.lower() == "id" for key in fields)
    return (str(field(fields, "method") or ""), _as_go_values(params or []),
            field(fields, "id") if has_id else _DEFAULT_ID)


def _as_go_values(value: object) -> object:
    """JSON numbers as ``interface{}`` holds them (float64), re-marshalled by geth's client."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if math.isinf(number):
            literal = getattr(value, "literal", value)
            raise _DecodeError(_INVALID_MESSAGE, f"json: cannot unmarshal number {literal} into "
                                                 "Go value of type float64")
        return _GoNumber(_go_float_text(number))
    if isinstance(value, list):
        return [_as_go_values(item) for item in value]
    if isinstance(value, dict):
        return {key: _as_go_values(item) for key, item in value.items()}
    return value


class _GoNumber(str):
    """A JSON number as the text Go's ``json.Marshal`` wrote for its float64."""


def _go_float_text(number: float) -> str:
    """``json.Marshal(float64)``: shortest digits, plain from 1e-6 up to 1e21, else an exponent
    (``1e+21``, ``1e-7``)."""
    if number == 0 or 1e-6 <= abs(number) < 1e21:
        return format(Decimal(repr(number)).normalize(), "f")
    text = repr(number)
    return re.sub(r"e-0(\d)$", r"e-\1", text)


def _positional_arguments(params: list[object], declared: tuple[Param, ...]) -> list[object]:
    """geth's ``parsePositionalArguments``: one value per declared argument, in order."""
    if len(params) > len(declared):
        raise _DecodeError(_INVALID_PARAMS, f"too many arguments, want at most {len(declared)}")
    args = []
    for index, param in enumerate(declared):
        if index >= len(params):
            if not (param.optional or param.go_type.startswith("*")):
                raise _DecodeError(_INVALID_PARAMS,
                                   f"missing value for required argument {index}")
            args.append(None)
            continue
        try:
            args.append(_decode(params[index], param.go_type))
        except ValueError as error:
            raise _DecodeError(_INVALID_PARAMS, f"invalid argument {index}: {error}") from error
    return args


def _decode(value: object, go_type: str) -> object:
    """One JSON value decoded into ``go_type`` as encoding/json does; ValueError with Go's text."""
    if go_type.startswith("*"):
        return None if value is None else _decode(value, go_type[1:])
    if value is None:
        return _zero(go_type)
    if go_type == "string" or go_type in _INT_RANGES or go_type in ("bool", "float64"):
        return _decode_scalar(value, go_type)
    if go_type == "types.HexBytes":
        return _decode_hex(value)
    if go_type.startswith("[]"):
        if not isinstance(value, list):
            raise _type_error(value, go_type)
        return [_decode(item, go_type[2:]) for item in value]
    if go_type.startswith("map[string]"):
        if not isinstance(value, dict):
            raise _type_error(value, go_type)
        return {key: _decode(item, go_type[len("map[string]"):]) for key, item in value.items()}
    if go_type in _OPAQUE:
        return _plain(value)
    if not isinstance(value, dict):  # a struct: its fields are the method's to read
        raise _type_error(value, go_type)
    return _plain(value)



def _zero(go_type: str) -> object:
    """What decoding JSON null leaves in a Go value of ``go_type``: its zero value (nil for
    slices, maps, byte strings and interfaces; an empty struct)."""
    if go_type in _ZERO:
        return _ZERO[go_type]
    if go_type.startswith(("[]", "map[")) or go_type in (*_OPAQUE, "types.HexBytes"):
        return None
    return {}


def _decode_scalar(value: object, go_type: str) -> object:
    if go_type == "string":
        if not isinstance(value, str) or isinstance(value, _GoNumber):
            raise _type_error(value, go_type)
        return value
    if go_type == "bool":
        if not isinstance(value, bool):
            raise _type_error(value, go_type)
        return value
    if not isinstance(value, _GoNumber):
        raise _type_error(value, go_type)
    if go_type == "float64":
        return float(value)
    low, high = _INT_RANGES[go_type]
    if not value.lstrip("-").isdigit() or not low <= int(value) <= high:
        raise ValueError(f"json: cannot unmarshal number {value} into Go value of type {go_type}")
    return int(value)


def _decode_hex(value: object) -> str:
    where = "into Go value of type types.HexBytes"
    if not isinstance(value, str) or isinstance(value, _GoNumber):
        raise ValueError(f"json: cannot unmarshal non-string {where}")
    if value[:2] not in ("0x", "0X"):
        raise ValueError(f"json: cannot unmarshal hex string without 0x prefix {where}")
    digits = value[2:]
    if len(digits) % 2:
        raise ValueError(f"json: cannot unmarshal hex string of odd length {where}")
    if any(c not in "0123456789abcdefABCDEF" for c in digits):
        raise ValueError(f"json: cannot unmarshal invalid hex string {where}")
    return value


def _type_error(value: object, go_type: str) -> ValueError:
    return ValueError(f"json: cannot unmarshal {json_kind(value)} into Go value of type "
                      f"{go_type.lstrip('*')}")


def json_kind(value: object) -> str:
    """Go's name for a JSON value's kind, as its ``UnmarshalTypeError`` says it."""
    if isinstance(value, _GoNumber):
        return "number"
    for python, kind in JSON_KINDS.items():
        if isinstance(value, python):
            return "bool" if isinstance(value, bool) else kind
    return "null"


def _plain(value: object) -> object:
    """Numbers back to Python ints/floats for the method (a struct arrives as its object)."""
    if isinstance(value, _GoNumber):
        return int(value) if value.lstrip("-").isdigit() else float(value)
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _error_reply(call_id: object, code: int, message: str) -> dict[str, object]:
    return {"jsonrpc": "2.0", "id": call_id, "error": {"code": code, "message": message}}
