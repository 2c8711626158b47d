"""The request structs of status-go's wakuext methods (``protocol/requests``, the protobuf
structs and ``common.Message``): their fields as encoding/json fills them (Go field names,
case-insensitive; protobuf structs by their snake_case json tags), and their ``Validate`` texts.

A struct field of the wrong JSON kind is geth's ``-32602`` ``invalid argument N: json: cannot
unmarshal …``; a nil request is what a nil pointer does in Go: the handler crashes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from emulators.community import rpc

_KINDS = {str: "string", bool: "bool", int: "number", float: "number", list: "array",
          dict: "object"}
MAX_NAME_LENGTH = 30
MAX_DESCRIPTION_LENGTH = 140
MAX_INTRO_LENGTH = 1400
MAX_OUTRO_LENGTH = 80
MAX_TOKEN_CRITERIA = 5
SIGNATURE_LENGTH = 65


class InvalidArgumentError(rpc.RpcError):
    """geth's invalid-params answer for a value the Go type cannot hold."""

    code = -32602


class NilRequestError(RuntimeError):
    """A nil *request dereferenced: geth answers ``method handler crashed``."""


def _kind(value: object) -> str:
    return _KINDS.get(type(value), "value")


@dataclass(frozen=True)
class Struct:
    """One JSON object as the Go struct ``name`` (argument ``index``) decodes it."""

    name: str
    values: Mapping[str, object]
    index: int = 0

    @classmethod
    def of(cls, name: str, values: object, index: int = 0) -> Struct:
        if values is None:
            raise NilRequestError(f"nil *{name}")
        if not isinstance(values, Mapping):
            raise InvalidArgumentError(f"invalid argument {index}: json: cannot unmarshal "
                                       f"{_kind(values)} into Go value of type {name}")
        return cls(name, values, index)

    def _error(self, key: str, value: object, go_type: str) -> InvalidArgumentError:
        return InvalidArgumentError(
            f"invalid argument {self.index}: json: cannot unmarshal {_kind(value)} into Go "
            f"struct field {self.name.split('.')[-1]}.{key} of type {go_type}")

    def _get(self, key: str) -> object:
        return rpc.field(self.values, key)

    def text(self, key: str) -> str:
        value = self._get(key)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise self._error(key, value, "string")
        return value

    def flag(self, key: str) -> bool:
        value = self._get(key)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise self._error(key, value, "bool")
        return value

    def number(self, key: str, go_type: str = "int") -> int:
        value = self._get(key)
        if value is None:
            return 0
        if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
            raise self._error(key, value, go_type)
        if go_type.startswith("uint") and value < 0:
            raise self._error(key, value, go_type)
        return int(value)

    def hex_bytes(self, key: str) -> str:
        """A ``types.HexBytes`` field, as ``0x`` + lowercase hex ("" when absent or empty);
        hexutil's texts when it is not one."""
        value = self._get(key)
        if value is None:
            return ""
        where = f"into Go struct field {self.name.split('.')[-1]}.{key} of type types.HexBytes"
        if not isinstance(value, str):
            raise InvalidArgumentError(f"invalid argument {self.index}: json: cannot unmarshal "
                                       f"non-string {where}")
        if value[:2] not in ("0x", "0X"):
            problem = "hex string without 0x prefix"
        elif len(value) % 2:
            problem = "hex string of odd length"
        elif any(c not in "0123456789abcdefABCDEF" for c in value[2:]):
            problem = "invalid hex string"
        else:
            return "0x" + value[2:].lower() if len(value) > 2 else ""
        raise InvalidArgumentError(f"invalid argument {self.index}: json: cannot unmarshal "
                                   f"{problem} {where}")

    def texts(self, key: str) -> list[str]:
        value = self._get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self._error(key, value, "[]string")
        for item in value:
            if not isinstance(item, str):
                raise self._error(key, item, "string")
        return list(value)

    def child(self, key: str, name: str) -> Struct | None:
        value = self._get(key)
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise self._error(key, value, name)
        return Struct(name, value, self.index)

    def children(self, key: str, name: str) -> list[Struct]:
        value = self._get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self._error(key, value, f"[]*{name}")
        items = []
        for item in value:
            if not isinstance(item, Mapping):
                raise self._error(key, item, name)
            items.append(Struct(name, item, self.index))
        return items


def _byte_length(text: str) -> int:
    return len(text.encode("utf-8"))


@dataclass(frozen=True)
class CreateCommunity:
    name: str
    description: str
    intro_message: str
    outro_message: str
    color: str
    emoji: str
    membership: int
    ens_only: bool
    image: str
    history_archive_support_enabled: bool
    pin_message_all_members_enabled: bool
    tags: list[str]

    @classmethod
    def parse(cls, values: object) -> CreateCommunity:
        s = Struct.of("requests.CreateCommunity", values)
        return cls(s.text("name"), s.text("description"), s.text("introMessage"),
                   s.text("outroMessage"), s.text("color"), s.text("emoji"),
                   s.number("membership", "protobuf.CommunityPermissions_Access"),
                   s.flag("ensOnly"), s.text("image"), s.flag("historyArchiveSupportEnabled"),
                   s.flag("pinMessageAllMembersEnabled"), s.texts("tags"))

    def validate(self) -> None:
        if not self.name or _byte_length(self.name) > MAX_NAME_LENGTH:
            raise rpc.RpcError("create-community: invalid name")
        if not self.description or _byte_length(self.description) > MAX_DESCRIPTION_LENGTH:
            raise rpc.RpcError("create-community: invalid description")
        if _byte_length(self.intro_message) > MAX_INTRO_LENGTH:
            raise rpc.RpcError("create-community: invalid intro message")
        if _byte_length(self.outro_message) > MAX_OUTRO_LENGTH:
            raise rpc.RpcError("create-community: invalid outro message")
        if self.membership == 0:
            raise rpc.RpcError("create-community: invalid membership")
        if not self.color:
            raise rpc.RpcError("create-community: invalid color")
        if self.image and not os.path.exists(self.image):
            raise rpc.RpcError(f"open {self.image}: no such file or directory")


def community_chat(values: object, index: int) -> dict:
    """A ``*protobuf.CommunityChat`` as encoding/json fills it: by the protobuf json tags, so a
    camelCase ``displayName`` is not ``display_name`` and stays unset (as in status-go)."""
    s = Struct.of("protobuf.CommunityChat", values, index)
    identity = s.child("identity", "protobuf.ChatIdentity")
    if identity is None:  # Messenger.CreateCommunityChat sets c.Identity.FirstMessageTimestamp
        raise NilRequestError("nil *protobuf.ChatIdentity")
    permissions = s.child("permissions", "protobuf.CommunityPermissions")
    chat: dict[str, object] = {
        "identity": {"display_name": identity.text("display_name"),
                     "description": identity.text("description"),
                     "color": identity.text("color"), "emoji": identity.text("emoji"),
                     "first_message_timestamp": 1},  # FirstMessageTimestampNoMessage
        "permissions": None if permissions is None else {
            "access": permissions.number("access", "protobuf.CommunityPermissions_Access"),
            "ens_only": permissions.flag("ens_only")},
        "category_id": s.text("category_id"),
        "viewers_can_post_reactions": s.flag("viewers_can_post_reactions"),
        "hide_if_permissions_not_met": s.flag("hide_if_permissions_not_met"),
    }
    return chat


def validate_community_chat(description: dict, chat: dict) -> None:
    """communities.validateCommunityChat."""
    if chat.get("permissions") is None:
        raise rpc.RpcError("invalid community description no chat permissions")
    if chat["permissions"].get("access", 0) == 0:
        raise rpc.RpcError("invalid community description unknown chat access")
    if chat.get("category_id") and chat["category_id"] not in (description.get("categories")
                                                               or {}):
        raise rpc.RpcError("invalid community category in chat")


@dataclass(frozen=True)
class FetchCommunity:
    community_key: str
    try_database: bool
    wait_for_response: bool

    @classmethod
    def parse(cls, values: object) -> FetchCommunity:
        s = Struct.of("protocol.FetchCommunityRequest", values)
        return cls(s.text("communityKey"), s.flag("tryDatabase"), s.flag("waitForResponse"))

    def validate(self) -> str:
        """The community ID it names, ``0x`` + lowercase hex."""
        if len(self.community_key) <= 2:
            raise rpc.RpcError("invalid request: community key is too short")
        digits = self.community_key.removeprefix("0x")
        try:
            bytes.fromhex(digits)
        except ValueError as exc:
            raise rpc.RpcError("invalid request: invalid community key") from exc
        return "0x" + digits.lower()


@dataclass(frozen=True)
class RequestToJoin:
    community_id: str
    ens_name: str
    addresses: list[str]
    signatures: list[str]
    airdrop_address: str

    @classmethod
    def parse(cls, values: object) -> RequestToJoin:
        s = Struct.of("requests.RequestToJoinCommunity", values)
        signatures = s._get("signatures")
        signature_list = []
        if signatures is not None:
            if not isinstance(signatures, list):
                raise s._error("signatures", signatures, "[]types.HexBytes")
            signature_list = [Struct(s.name, {"signatures": item}, s.index).hex_bytes("signatures")
                              for item in signatures]
        return cls(s.hex_bytes("communityId"), s.text("ensName"), s.texts("addressesToReveal"),
                   signature_list, s.text("airdropAddress"))

    def validate(self) -> None:
        """Validate(full = len(addressesToReveal) > 0), as Messenger.RequestToJoinCommunity."""
        if not self.community_id:
            raise rpc.RpcError("request-to-join-community: invalid community id")
        if not self.addresses:
            return
        if not self.airdrop_address:
            raise rpc.RpcError("request-to-join-community: airdropAddress is necessary when "
                               "sending a list of addresses")
        if self.airdrop_address not in self.addresses:
            raise rpc.RpcError("request-to-join-community: airdropAddress must be in the set of "
                               "addresses to reveal")
        for signature in self.signatures:
            length = (len(signature) - 2) // 2 if signature else 0
            if length and length != SIGNATURE_LENGTH:
                raise rpc.RpcError("request-to-join-community: invalid signature")


def required_id(values: object, name: str, key: str, message: str) -> str:
    """The one ``types.HexBytes`` field ``key`` of the request struct ``name`` (``id`` of
    Accept/DeclineRequestToJoinCommunity, ``communityId`` of e.g.
    ReevaluateCommunityMembersPermissions); empty, its ``Validate`` fails with ``message``."""
    value = Struct.of(name, values).hex_bytes(key)
    if not value:
        raise rpc.RpcError(message)
    return value


@dataclass(frozen=True)
class ChatMessage:
    chat_id: str
    text: str
    content_type: int
    response_to: str
    timestamp: int

    @classmethod
    def parse(cls, values: object) -> ChatMessage:
        s = Struct.of("common.Message", values)
        return cls(s.text("chatId"), s.text("text"),
                   s.number("contentType", "protobuf.ChatMessage_ContentType"),
                   s.text("responseTo"), s.number("timestamp", "uint64"))


@dataclass(frozen=True)
class TokenPermission:
    community_id: str
    type: int
    token_criteria: list[dict]
    chat_ids: list[str]
    is_private: bool

    @classmethod
    def parse(cls, values: object) -> TokenPermission:
        s = Struct.of("requests.CreateCommunityTokenPermission", values)
        criteria = []
        for c in s.children("tokenCriteria", "protobuf.TokenCriteria"):
            addresses = c._get("contract_addresses")
            if addresses is not None and not isinstance(addresses, Mapping):
                raise c._error("contract_addresses", addresses, "map[uint64]string")
            criteria.append({
                "contract_addresses": dict(addresses or {}),
                "type": c.number("type", "protobuf.CommunityTokenType"),
                "symbol": c.text("symbol"), "name": c.text("name"), "amount": c.text("amount"),
                "ens_pattern": c.text("ens_pattern"), "decimals": c.number("decimals", "uint64"),
                "amountInWei": c.text("amountInWei")})
        return cls(s.hex_bytes("communityId"),
                   s.number("type", "protobuf.CommunityTokenPermission_Type"), criteria,
                   s.texts("chat_ids"), s.flag("isPrivate"))

    def validate(self) -> None:
        if not self.community_id:
            raise rpc.RpcError("create community token permission needs a valid community id")
        if len(self.token_criteria) > MAX_TOKEN_CRITERIA:
            raise rpc.RpcError("too many token criteria")
        if self.type == 0:
            raise rpc.RpcError("invalid community token permission type")
        for criteria in self.token_criteria:
            addresses = criteria["contract_addresses"]
            if (not criteria["ens_pattern"] and not addresses) or (addresses and not (
                    _positive(criteria["amount"]) or _positive(criteria["amountInWei"]))):
                raise rpc.RpcError("invalid community permission token criteria data")


def _positive(amount: str) -> bool:
    try:
        return float(amount) > 0
    except ValueError:
        return False

