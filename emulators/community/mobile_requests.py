"""status-go's ``protocol/requests`` for the ``mobile`` functions the node implements
(InitializeApplication, CreateAccountAndLogin, LoginAccount): each request decoded as
``json.Unmarshal`` decodes it into its Go struct, and its ``Validate`` texts.

A struct is declared as its JSON field names and Go types (``string``, ``bool``, ``int``, a
pointer ``*T`` that stays ``None`` when null or absent, ``pkg.Name`` for a nested struct); decoding
returns each field's value, Go's zero value where the JSON has none.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from emulators.community.rpc import field, go_unmarshal, json_kind

INITIALIZE_APPLICATION = {"dataDir": "string", "logDir": "string", "logEnabled": "bool",
                          "logLevel": "string", "apiLoggingEnabled": "bool",
                          "wakuFleetsConfigFilePath": "string",
                          "pushFleetsConfigFilePath": "string", "mediaServerEnableTLS": "*bool"}
# The untagged pointer fields keep their Go names (encoding/json matches them case-insensitively).
CREATE_ACCOUNT = {"backupDisabledDataDir": "string", "rootDataDir": "string",
                  "kdfIterations": "int", "deviceName": "string", "displayName": "string",
                  "password": "string", "imagePath": "string", "customizationColor": "string",
                  "emoji": "string", "wakuV2LightClient": "bool", "wakuV2Fleet": "string",
                  "logLevel": "*string", "logEnabled": "bool", "networkId": "*uint64",
                  "apiConfig": "*requests.APIConfig", "TorrentConfigEnabled": "*bool",
                  "TorrentConfigPort": "*int", "LogosStorageConfigEnabled": "*bool",
                  "LogosStorageConfigBootstrapNode": "*string", "ImportInitialDelay": "*int",
                  "MessageArchiveInterval": "*int"}
LOGIN = {"password": "string", "keyUid": "string", "kdfIterations": "int",
         "runtimeLogLevel": "string", "wakuV2Nameserver": "string"}

_ZERO: dict[str, object] = {"string": "", "bool": False, "int": 0}
_PYTHON = {"string": str, "bool": bool, "int": int, "uint64": int}
_INT64 = (-(2**63), 2**63 - 1)
_MIN_NAME, _MAX_NAME = 5, 24
# Go's regexp: \w and \s are ASCII classes.
_DISPLAY_NAME = re.compile(r"[0-9A-Za-z_\-\t\n\f\r ]{5,24}")


def decode_request(body: bytes, struct: str, fields: Mapping[str, str]) -> dict[str, object]:
    """``json.Unmarshal(body, &requests.<struct>{})``; ValueError with Go's first error."""
    value = go_unmarshal(body)
    if value is not None and not isinstance(value, dict):
        raise ValueError(f"json: cannot unmarshal {json_kind(value)} into Go value of "
                         f"type requests.{struct}")
    decoded: dict[str, object] = {}
    for name, go_type in fields.items():
        given = field(value, name)
        base = go_type.lstrip("*")
        if given is None:
            decoded[name] = None if go_type.startswith("*") else _ZERO.get(base)
            continue
        decoded[name] = _field_value(given, struct, name, base)
    return decoded


def _field_value(given: object, struct: str, name: str, go_type: str) -> object:
    where = f"Go struct field {struct}.{name} of type {go_type}"
    out_of_range = isinstance(given, int) and not _INT64[0] <= given <= _INT64[1]
    if go_type in ("int", "uint64") and (isinstance(given, float) or out_of_range):
        literal = getattr(given, "literal", given)
        raise ValueError(f"json: cannot unmarshal number {literal} into {where}")
    expected = _PYTHON.get(go_type, dict)  # a nested struct: its fields are not read here
    if not isinstance(given, expected) or (expected is int and isinstance(given, bool)):
        raise ValueError(f"json: cannot unmarshal {json_kind(given)} into {where}")
    return given


def validate_create_account(request: dict[str, object]) -> str:
    """``CreateAccount.Validate`` (display name required): the error text, or "" when valid.
    Trims the display name and fills ``rootDataDir`` from the deprecated
    ``backupDisabledDataDir``, as status-go does."""
    invalid_name = "create-account: invalid display name"
    if not request["displayName"]:
        return invalid_name
    name = str(request["displayName"]).strip(" \t\n\v\f\r")
    if name and not _MIN_NAME <= len(name.encode()) <= _MAX_NAME:
        return f"length must be between {_MIN_NAME} and {_MAX_NAME} characters: {invalid_name}"
    if name and not _DISPLAY_NAME.fullmatch(name):
        return f"only letters, numbers, underscores and hyphens allowed: {invalid_name}"
    if name.endswith(("_eth", ".eth", "-eth")):
        return f'usernames ending with "eth" are not allowed: {invalid_name}'
    request["displayName"] = name
    if not request["password"]:
        return "create-account: invalid password"
    if not request["customizationColor"]:
        return "create-account: invalid customization color"
    if not request["rootDataDir"]:
        if not request["backupDisabledDataDir"]:
            return "create-account: invalid root data directory"
        request["rootDataDir"] = request["backupDisabledDataDir"]
    return ""


def validate_login(request: dict[str, object]) -> str:
    """``Login.Validate``."""
    return "" if request["keyUid"] else "login: invalid key-uid"


def validate_initialize_application(request: dict[str, object]) -> str:
    """``InitializeApplication.Validate``."""
    return "" if request["dataDir"] else "initialize-centralized-metric: no dataDir"
