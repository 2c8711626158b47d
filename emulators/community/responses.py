"""JSON as status-go marshals it: MessengerResponse, Community, Chat, common.Message and
RequestToJoin, with Go's field names, field order and omitempty rules.

A community's shared description (the emulator's CommunityDescription) is a dict whose keys are
the protobuf field names (``identity.display_name``, ``permissions.access``, ``members``,
``chats``, ``token_permissions`` …), which is also how Go's encoding/json writes protobuf structs.
"""

from __future__ import annotations

import base58

from emulators.community import keys
from emulators.community.persistence.messenger import ChatRow, CommunityRow, MessageRow, RequestRow

ROLE_OWNER = 1  # protobuf.CommunityMember_ROLE_OWNER
ROLE_NONE = 0
CHAT_TYPE_COMMUNITY = 6  # protocol.ChatTypeCommunityChat
MESSAGE_TYPE_COMMUNITY_CHAT = 5  # protobuf.MessageType_COMMUNITY_CHAT
ACCESS_AUTO_ACCEPT = 1
ACCESS_MANUAL_ACCEPT = 3
GO_ZERO_TIME = "0001-01-01T00:00:00Z"  # time.Time{} marshalled (omitempty never drops a struct)
PRIVILEGED_ROLES = {ROLE_OWNER, 2, 4}  # owner, admin, token master


def omit_empty(value: dict) -> dict:
    """Drop what Go's omitempty drops: false, 0, "", nil and empty maps and slices."""
    return {key: item for key, item in value.items() if item not in (None, False, 0, "", [], {})}


def proto_json(value: object) -> object:
    """A protobuf struct as encoding/json writes it: every field omitempty, recursively."""
    if isinstance(value, dict):
        return omit_empty({key: proto_json(item) for key, item in value.items()})
    if isinstance(value, list):
        return [proto_json(item) for item in value]
    return value


def members_json(members: dict | None) -> dict:
    """A ``map[string]*protobuf.CommunityMember``: every entry, each member omitempty."""
    return {key: proto_json(member) for key, member in (members or {}).items()}


def chat_proto(chat: dict) -> dict:
    """A ``*protobuf.CommunityChat`` as encoding/json writes it."""
    written = proto_json({key: value for key, value in chat.items() if key != "members"})
    members = members_json(chat.get("members"))
    return {"members": members, **written} if members else written


def compressed_key(public_hex: str) -> str:
    """multiformat.SerializeLegacyKey: base58btc of multicodec secp256k1-pub ‖ compressed key."""
    return "z" + base58.b58encode(b"\xe7\x01" + keys.compressed(public_hex)).decode()


def parsed_text(text: str) -> list[dict]:
    """The markdown AST status-go keeps as ``parsedText`` for plain text: one paragraph per
    block, its lines as literals."""
    blocks = [block for block in text.split("\n\n") if block]
    return [{"type": "paragraph", "children": [{"literal": block}]} for block in blocks]


def message(row: MessageRow) -> dict:
    """common.Message.MarshalJSON, extended with the author's key data."""
    return {
        "id": row.id, "whisperTimestamp": row.whisper_timestamp, "from": row.source,
        "alias": "", "identicon": "", "seen": row.seen,
        **({"outgoingStatus": row.outgoing_status} if row.outgoing_status else {}),
        "quotedMessage": None, "rtl": False, "parsedText": parsed_text(row.text),
        "lineCount": row.text.count("\n"), "text": row.text, "chatId": row.local_chat_id,
        "localChatId": row.local_chat_id, "clock": row.clock_value, "replace": "",
        "responseTo": row.response_to, "ensName": "", "displayName": row.display_name,
        "timestamp": row.timestamp, "contentType": row.content_type,
        "messageType": MESSAGE_TYPE_COMMUNITY_CHAT, "compressedKey": compressed_key(row.source),
    }


def _roles(description: dict, public_key: str) -> list[int]:
    member = (description.get("members") or {}).get(public_key)
    return list(member.get("roles") or []) if member is not None else []


def member_role(description: dict, public_key: str) -> int:
    roles = _roles(description, public_key)
    return max(roles) if roles else ROLE_NONE


def _privileged(description: dict, public_key: str) -> bool:
    return bool(PRIVILEGED_ROLES.intersection(_roles(description, public_key)))


def _community_chat(chat_uuid: str, chat: dict, description: dict, me: str) -> dict:
    identity = chat.get("identity") or {}
    is_member = me in (chat.get("members") or {}) or _privileged(description, me)
    return {
        "id": chat_uuid, "name": identity.get("display_name", ""),
        "color": identity.get("color", ""), "emoji": identity.get("emoji", ""),
        "description": identity.get("description", ""),
        "members": members_json(chat.get("members")) or None,
        "permissions": proto_json(chat.get("permissions")), "canPost": is_member,
        "canView": is_member,
        "canPostReactions": is_member,
        "viewersCanPostReactions": bool(chat.get("viewers_can_post_reactions")),
        "position": chat.get("position", 0), "categoryID": chat.get("category_id", ""),
        "tokenGated": False,
        "hideIfPermissionsNotMet": bool(chat.get("hide_if_permissions_not_met")),
        "missingEncryptionKey": False,
    }


def token_permission(permission: dict) -> dict:
    """communities.CommunityTokenPermission: the protobuf fields (omitempty) and ``state``."""
    return omit_empty({key: permission.get(key) for key in
                       ("id", "type", "token_criteria", "chat_ids", "is_private")})


def encrypted(description: dict) -> bool:
    """Community.Encrypted: at least one BECOME_MEMBER token permission."""
    return any(permission.get("type") == keys.BECOME_MEMBER
               for permission in (description.get("token_permissions") or {}).values())


def community(row: CommunityRow, me: str) -> dict:
    """communities.Community.MarshalJSON as seen by the node whose chat key is ``me``."""
    description = row.description
    identity = description.get("identity") or {}
    access = (description.get("permissions") or {}).get("access", 0)
    is_member = me in (description.get("members") or {})
    control = row.private_key is not None
    return {
        "id": row.id, "memberRole": member_role(description, me), "isControlNode": control,
        "verified": row.verified, "joined": row.joined, "joinedAt": row.joined_at,
        "spectated": row.spectated, "requestedAccessAt": 0,
        "name": identity.get("display_name", ""), "description": identity.get("description", ""),
        "introMessage": description.get("intro_message", ""),
        "outroMessage": description.get("outro_message", ""),
        "tags": [{"name": tag, "emoji": ""} for tag in description.get("tags") or []] or None,
        "chats": {chat_uuid: _community_chat(chat_uuid, chat, description, me)
                  for chat_uuid, chat in (description.get("chats") or {}).items()},
        "categories": {}, "images": None,
        "permissions": proto_json(description.get("permissions")),
        "members": members_json(description.get("members")),
        "canRequestAccess": not is_member and access == ACCESS_MANUAL_ACCEPT,
        "canManageUsers": _privileged(description, me),
        "canDeleteMessageForEveryone": _privileged(description, me),
        "canJoin": not row.joined and (is_member or access == ACCESS_AUTO_ACCEPT),
        "color": identity.get("color", ""),
        **({"requestedToJoinAt": row.requested_to_join_at} if row.requested_to_join_at else {}),
        "isMember": is_member, "muted": row.muted, "muteTill": GO_ZERO_TIME,
        "adminSettings": {"pinMessageAllMembersEnabled": bool(
            (description.get("admin_settings") or {}).get("pin_message_all_members_enabled"))},
        "encrypted": encrypted(description), "pendingAndBannedMembers": {},
        "tokenPermissions": {key: token_permission(value) for key, value in
                             (description.get("token_permissions") or {}).items()},
        "communityTokensMetadata": None, "activeMembersCount": 0, "pubsubTopic": "",
        "pubsubTopicKey": "", "shard": None, "lastOpenedAt": 0,
    }


def community_settings(row: CommunityRow) -> dict:
    """communities.CommunitySettings (its clock only moves on sync, which is not emulated)."""
    return {"communityId": row.id,
            "historyArchiveSupportEnabled": row.history_archive_support_enabled, "clock": 0}


def chat(row: ChatRow, description: dict, last_message: dict | None) -> dict:
    """protocol.Chat for a community channel."""
    chat_uuid = row.id[len(row.community_id):]
    entry = (description.get("chats") or {}).get(chat_uuid) or {}
    identity = entry.get("identity") or {}
    return {
        "id": row.id, "name": identity.get("display_name", ""),
        "description": identity.get("description", ""), "color": identity.get("color", ""),
        "emoji": identity.get("emoji", ""), "active": True, "chatType": CHAT_TYPE_COMMUNITY,
        "timestamp": row.timestamp, "lastClockValue": row.last_clock_value,
        "deletedAtClockValue": 0, "ReadMessagesAtClockValue": 0,
        "unviewedMessagesCount": row.unviewed_message_count, "unviewedMentionsCount": 0,
        "lastMessage": last_message, "members": None, "membershipUpdateEvents": None,
        "identicon": "", "muted": False, "muteTill": GO_ZERO_TIME,
        "communityId": row.community_id,
        **({"categoryId": entry["category_id"]} if entry.get("category_id") else {}),
        "joined": row.joined,
        **({"firstMessageTimestamp": identity["first_message_timestamp"]}
           if identity.get("first_message_timestamp") else {}),
        "viewersCanPostReactions": bool(entry.get("viewers_can_post_reactions")),
        "hideIfPermissionsNotMet": bool(entry.get("hide_if_permissions_not_met")),
    }


def request_to_join(row: RequestRow) -> dict:
    """communities.RequestToJoin."""
    return {
        "id": row.id, "publicKey": row.public_key, "clock": row.clock,
        **({"ensName": row.ens_name} if row.ens_name else {}), "chatId": row.chat_id,
        "communityId": row.community_id, "state": row.state, "our": row.our, "deleted": False,
        **({"revealedAccounts": row.revealed_accounts} if row.revealed_accounts else {}),
        "shareFutureAddresses": False,
    }


def messenger_response(*, chats: list[dict] | None = None, messages: list[dict] | None = None,
                       community_changes: list[dict] | None = None,
                       requests: list[dict] | None = None,
                       communities: list[dict] | None = None,
                       settings: list[dict] | None = None) -> dict:
    """MessengerResponse.MarshalJSON: every list omitempty except ``notifications`` (always
    there, ``null`` when empty) and ``discordOldestMessageTimestamp`` (always there)."""
    response: dict[str, object] = {}
    for key, value in (("chats", chats), ("messages", messages),
                       ("communityChanges", community_changes),
                       ("requestsToJoinCommunity", requests)):
        if value:
            response[key] = value
    response["notifications"] = None
    for key, value in (("communities", communities), ("communitiesSettings", settings)):
        if value:
            response[key] = value
    response["discordOldestMessageTimestamp"] = 0
    return response


def community_changes(community_json: dict, **changed: dict) -> dict:
    """communities.CommunityChanges with everything empty but ``changed`` (Go field names)."""
    base: dict[str, object] = {
        "community": community_json, "controlNodeChanged": None, "membersAdded": {},
        "membersRemoved": {}, "membersBanned": {}, "membersUnbanned": {},
        "tokenPermissionsAdded": {}, "tokenPermissionsModified": {},
        "tokenPermissionsRemoved": {}, "chatsRemoved": {}, "chatsAdded": {},
        "chatsModified": {}, "categoriesRemoved": [], "categoriesAdded": {},
        "categoriesModified": {}, "memberWalletsRemoved": [], "memberWalletsAdded": {},
        "memberAdded": False, "memberRemoved": False, "memberSoftRemoved": False,
    }
    base.update(changed)
    return base
