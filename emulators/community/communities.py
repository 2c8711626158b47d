"""Communities as this node keeps them: the shared description (owner-made, members' copies),
chats, members, and the JSON views of them a client sees."""

from __future__ import annotations

import copy
import uuid
from dataclasses import replace

from emulators.community import responses
from emulators.community.persistence.messenger import ChatRow, CommunityRow, MessengerStore
from emulators.community.seams import CommunityInfo

GENERAL_CHAT = {"display_name": "general", "description": "General channel for the community",
                "first_message_timestamp": 1}  # FirstMessageTimestampNoMessage


def new_description(clock: int, identity: dict, access: int, ens_only: bool, owner: str) -> dict:
    """What Messenger.CreateCommunity puts in a new CommunityDescription."""
    return {"clock": clock, "identity": identity,
            "permissions": {"access": access, "ens_only": ens_only},
            "members": {owner: {"roles": [responses.ROLE_OWNER]}}, "chats": {}, "categories": {},
            "token_permissions": {}, "admin_settings": {}, "intro_message": "",
            "outro_message": "", "tags": []}


def next_clock(description: dict, now_ms: int) -> int:
    return max(int(description.get("clock", 0)) + 1, now_ms)


class CommunityBook:
    """Reading and changing communities and their chats in the store."""

    def __init__(self, store: MessengerStore, me: str) -> None:
        self.store = store
        self.me = me

    def get(self, community_id: str) -> CommunityRow | None:
        return self.store.community(community_id.lower())

    def controlled(self) -> list[CommunityRow]:
        return [row for row in self.store.communities() if row.private_key is not None]

    def info(self, row: CommunityRow) -> CommunityInfo:
        chat_ids = [row.id + chat_uuid for chat_uuid in row.description.get("chats") or {}]
        return CommunityInfo(row.id, responses.encrypted(row.description),
                             row.private_key is not None, row.joined,
                             row.history_archive_support_enabled, tuple(chat_ids), row.id)

    def update(self, row: CommunityRow, description: dict, now_ms: int) -> CommunityRow:
        """The control node's change: a new clock, saved."""
        description["clock"] = next_clock(row.description, now_ms)
        changed = replace(row, description=description)
        self.store.save_community(changed)
        return changed

    def add_chat(self, row: CommunityRow, chat: dict, now_ms: int,
                 chat_uuid: str | None = None) -> tuple[CommunityRow, str]:
        """Community.createChat: position last in its category, every member a chat member."""
        description = copy.deepcopy(row.description)
        chats = description.setdefault("chats", {})
        chat = dict(chat, position=sum(1 for c in chats.values()
                                       if c.get("category_id", "") == chat.get("category_id", "")),
                    members=copy.deepcopy(description.get("members") or {}))
        chat_uuid = chat_uuid or str(uuid.uuid4())
        chats[chat_uuid] = chat
        changed = self.update(row, description, now_ms)
        self.ensure_chat(changed.id + chat_uuid, changed.id, now_ms)
        return changed, chat_uuid

    def add_member(self, row: CommunityRow, public_key: str, now_ms: int) -> CommunityRow:
        description = copy.deepcopy(row.description)
        description.setdefault("members", {}).setdefault(public_key, {})
        for chat in (description.get("chats") or {}).values():
            chat.setdefault("members", {}).setdefault(public_key, {})
        return self.update(row, description, now_ms)

    def ensure_chat(self, chat_id: str, community_id: str, now_ms: int) -> tuple[ChatRow, bool]:
        """The local Chat of a community channel; True when it was created now."""
        existing = self.store.chat(chat_id)
        if existing is not None:
            return existing, False
        chat = ChatRow(chat_id, community_id, now_ms, now_ms, 0, "", 0)
        self.store.save_chat(chat)
        return chat, True

    def ensure_chats(self, row: CommunityRow, now_ms: int) -> list[ChatRow]:
        """Local chats for every channel of a joined community; returns the new ones."""
        created = []
        for chat_uuid in row.description.get("chats") or {}:
            chat, new = self.ensure_chat(row.id + chat_uuid, row.id, now_ms)
            if new:
                created.append(chat)
        return created

    # --- JSON views ---------------------------------------------------------------------------
    def community_json(self, row: CommunityRow) -> dict:
        return responses.community(row, self.me)

    def chat_json(self, chat: ChatRow) -> dict:
        row = self.store.community(chat.community_id)
        description = row.description if row is not None else {}
        last = self.store.message(chat.last_message_id) if chat.last_message_id else None
        return responses.chat(chat, description, responses.message(last) if last else None)
