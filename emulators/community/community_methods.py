"""Communities: creating one (with its default ``general`` channel), channels, token
permissions, fetching a description from its control node, and keeping members' copies of it."""

from __future__ import annotations

import copy
import threading
import uuid
from dataclasses import replace

from emulators.community import keys, responses, rpc
from emulators.community import wakuext_requests as req
from emulators.community.communities import GENERAL_CHAT, new_description
from emulators.community.context import NodeContext
from emulators.community.joining import Joining
from emulators.community.persistence.messenger import CommunityRow
from emulators.community.transport import Envelope

FETCH_TIMEOUT = 10.0  # how long fetchCommunity waits for the control node's answer


class Communities:
    """The community and channel methods, and the descriptions that arrive."""

    def __init__(self, ctx: NodeContext, joining: Joining) -> None:
        self._ctx = ctx
        self._joining = joining
        self._described = threading.Condition(ctx.lock)
        self._descriptions_seen: dict[str, int] = {}
        self.fetching: set[str] = set()  # community IDs asked for: their topic is listened to
        self._announce: set[str] = set()  # fetched without waiting: ``community.found`` due

    def chats(self) -> list[dict] | None:
        """Messenger.Chats: every chat, ``null`` when there is none."""
        with self._ctx.lock:
            return [self._ctx.book.chat_json(chat) for chat in self._ctx.store.chats()] or None

    def create(self, values: object) -> dict:
        """CreateCommunity(request, createDefaultChannel=true)."""
        request = req.CreateCommunity.parse(values)
        request.validate()
        ctx = self._ctx
        with ctx.lock:
            secret = keys.new_secret()
            community_id = "0x" + keys.public_bytes(secret, compressed=True).hex()
            now_ms = ctx.now_ms()
            identity = {"display_name": request.name, "description": request.description,
                        "color": request.color, "emoji": request.emoji}
            description = new_description(now_ms, identity, request.membership,
                                          request.ens_only, ctx.me)
            description.update(intro_message=request.intro_message,
                               outro_message=request.outro_message, tags=request.tags,
                               admin_settings={"pin_message_all_members_enabled":
                                               request.pin_message_all_members_enabled})
            row = CommunityRow(community_id, description, secret, True, now_ms // 1000, False,
                               0, True, False, request.history_archive_support_enabled)
            ctx.store.save_community(row)
            general = {"identity": dict(GENERAL_CHAT, color=request.color, emoji=""),
                       "permissions": {"access": responses.ACCESS_AUTO_ACCEPT}}
            row, chat_uuid = ctx.book.add_chat(row, general, now_ms)
            response = responses.messenger_response(
                chats=[ctx.book.chat_json(ctx.store.chat(community_id + chat_uuid))],
                communities=[ctx.book.community_json(row)],
                settings=[responses.community_settings(row)])
            ctx.publish_description(row)
        return response

    def create_chat(self, community_id: str, values: object) -> dict:
        chat = req.community_chat(values, 1)
        ctx = self._ctx
        with ctx.lock:
            row = ctx.controlled(community_id.lower())
            req.validate_community_chat(row.description, chat)
            name = chat["identity"]["display_name"]
            if any((c.get("identity") or {}).get("display_name", "") == name
                   for c in (row.description.get("chats") or {}).values()):
                raise rpc.RpcError("invalid community chat name, duplicated")
            row, chat_uuid = ctx.book.add_chat(row, chat, ctx.now_ms())
            community_json = ctx.book.community_json(row)
            response = responses.messenger_response(
                chats=[ctx.book.chat_json(ctx.store.chat(row.id + chat_uuid))],
                community_changes=[responses.community_changes(
                    community_json,
                    chatsAdded={chat_uuid: responses.chat_proto(row.description["chats"]
                                                                [chat_uuid])})],
                communities=[community_json])
            ctx.publish_description(row)
        return response

    def fetch(self, values: object) -> dict | None:
        """FetchCommunity: from the database when asked and known, else from its control node
        (waiting for the answer when asked to); ``null`` when nothing came."""
        request = req.FetchCommunity.parse(values)
        community_id = request.validate()
        ctx = self._ctx
        with ctx.lock:
            row = ctx.book.get(community_id)
            if request.try_database and row is not None:
                if not request.wait_for_response:
                    ctx.signals.send("community.found", ctx.book.community_json(row))
                return ctx.book.community_json(row)
            seen = self._descriptions_seen.get(community_id, 0)
            self.fetching.add(community_id)
            ctx.publish(community_id, {"type": "community_request", "communityId": community_id})
            if not request.wait_for_response:
                self._announce.add(community_id)
                return None
            self._described.wait_for(
                lambda: self._descriptions_seen.get(community_id, 0) > seen, FETCH_TIMEOUT)
            row = ctx.book.get(community_id)
            return ctx.book.community_json(row) if row is not None else None

    def create_token_permission(self, values: object) -> dict:
        """A BECOME_MEMBER permission makes the community encrypted: its first hash-ratchet key
        is made, and eligible members get it."""
        request = req.TokenPermission.parse(values)
        request.validate()
        ctx = self._ctx
        with ctx.lock:
            row = ctx.controlled(request.community_id)
            permission_id = str(uuid.uuid4())
            permission = {"id": permission_id, "type": request.type,
                          "token_criteria": [responses.proto_json(c)
                                             for c in request.token_criteria],
                          "chat_ids": request.chat_ids, "is_private": request.is_private}
            description = copy.deepcopy(row.description)
            description.setdefault("token_permissions", {})[permission_id] = permission
            row = ctx.book.update(row, description, ctx.now_ms())
            if request.type == keys.BECOME_MEMBER and not ctx.keys.all(row.id):
                ctx.keys.generate(row.id, ctx.now_ms())
            ctx.publish_description(row)
            self._joining.share_keys(row)
            community_json = ctx.book.community_json(row)
            return responses.messenger_response(
                community_changes=[responses.community_changes(
                    community_json,
                    tokenPermissionsAdded={permission_id: responses.token_permission(permission)})],
                communities=[community_json])

    def reevaluate(self, values: object) -> dict:
        community_id = req.required_id(
            values, "requests.ReevaluateCommunityMembersPermissions", "communityId",
            "reevaluate community members permissions does not contain communityID")
        with self._ctx.lock:
            row = self._ctx.controlled(community_id)
            self._joining.share_keys(row)
            return responses.messenger_response(communities=[self._ctx.book.community_json(row)])

    # --- inbound ------------------------------------------------------------------------------
    def on_description(self, envelope: Envelope, body: dict) -> None:
        """A control node's description: kept when newer; a joined member gets its new
        channels and a ``messages.new``."""
        ctx = self._ctx
        community_id, description = body["communityId"], body.get("description")
        if not isinstance(description, dict) or not ctx.from_community(envelope, community_id):
            raise ValueError("community description not from its control node")
        self._descriptions_seen[community_id] = self._descriptions_seen.get(community_id, 0) + 1
        self._described.notify_all()
        row = ctx.book.get(community_id)
        if row is not None and (row.private_key is not None or
                                description.get("clock", 0) <= row.description.get("clock", 0)):
            if community_id in self._announce:
                self._announce.discard(community_id)
                ctx.signals.send("community.found", ctx.book.community_json(row))
            return
        row = replace(row, description=description) if row is not None else CommunityRow(
            community_id, description, None, False, 0, False, 0, False, False, False)
        ctx.store.save_community(row)
        if community_id in self._announce:
            self._announce.discard(community_id)
            ctx.signals.send("community.found", ctx.book.community_json(row))
        if row.joined:
            created = ctx.book.ensure_chats(row, ctx.now_ms())
            ctx.emit(responses.messenger_response(
                chats=[ctx.book.chat_json(chat) for chat in created] or None,
                communities=[ctx.book.community_json(row)]))

    def on_community_request(self, _envelope: Envelope, body: dict) -> None:
        """Someone fetches a community this node controls: the description, again."""
        row = self._ctx.book.get(body["communityId"])
        if row is not None and row.private_key is not None:
            self._ctx.publish_description(row)
