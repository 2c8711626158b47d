"""Channel messages: sending (live, or from the past when backdating is on), paging, and taking
in what arrives live, from archives, or once a missing hash-ratchet key shows up."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Sequence
from dataclasses import replace

from emulators.community import errors, keys, responses, rpc
from emulators.community import wakuext_requests as req
from emulators.community.context import NodeContext, stored_message
from emulators.community.persistence.messenger import MessageRow
from emulators.community.seams import ENV_BACKDATING, env_flag
from emulators.community.transport import Envelope
from wire import ratchet
from wire.archive_codec import StoredMessage, chat_topic

TEXT_PLAIN = 1  # protobuf.ChatMessage_TEXT_PLAIN
log = logging.getLogger("emulators.community.chat_messages")
topic_of = functools.lru_cache(maxsize=4096)(chat_topic)


class ChatMessages:
    """Sending, paging and receiving channel messages."""

    def __init__(self, ctx: NodeContext) -> None:
        self._ctx = ctx

    # --- RPC ----------------------------------------------------------------------------------
    def send(self, values: object) -> dict:
        """sendChatMessage. With backdating on, a ``timestamp`` (Unix ms) makes it a message
        from the past: stored as it would have been then (the control node's raw Waku message
        too), never published."""
        request = req.ChatMessage.parse(values)
        ctx = self._ctx
        with ctx.lock:
            chat = ctx.store.chat(request.chat_id)
            if chat is None:
                raise rpc.RpcError(errors.CHAT_NOT_FOUND)
            row = ctx.community(chat.community_id)
            now_ms = ctx.now_ms()
            backdated = env_flag(ENV_BACKDATING) and request.timestamp > 0
            timestamp = request.timestamp if backdated else now_ms
            clock = max(chat.last_clock_value + 1, timestamp)
            plain = json.dumps({"type": "chat_message", "chatId": chat.id, "text": request.text,
                                "contentType": request.content_type,
                                "responseTo": request.response_to, "clock": clock,
                                "timestamp": timestamp,
                                "displayName": ctx.account.display_name}).encode()
            try:
                payload = ctx.keys.encrypt(row.id, plain) \
                    if responses.encrypted(row.description) else plain
            except ratchet.GroupKeyNotFoundError as exc:
                raise rpc.RpcError(str(exc)) from exc
            message = MessageRow(keys.message_id(ctx.me, plain), chat.id, ctx.me, request.text,
                                 request.content_type, request.response_to, clock, timestamp,
                                 timestamp, ctx.account.display_name, True, "sending")
            ctx.store.save_message(message)
            chat = replace(chat, last_clock_value=clock, last_message_id=message.id,
                           timestamp=now_ms)
            ctx.store.save_chat(chat)
            envelope = Envelope(chat_topic(chat.id), timestamp * 1_000_000, payload,
                                keys.public_bytes(ctx.account.private_key, compressed=False))
            response = responses.messenger_response(chats=[ctx.book.chat_json(chat)],
                                                    messages=[responses.message(message)])
        if not backdated:
            ctx.transport.publish(envelope)
        elif row.private_key is not None:
            ctx.archives.store_waku_message(stored_message(envelope))
        return response

    def page(self, chat_id: str, cursor: str, limit: int) -> dict:
        """chatMessages: ApplicationMessagesResponse, ``messages`` null when there are none."""
        with self._ctx.lock:
            if self._ctx.store.chat(chat_id) is None:
                raise rpc.RpcError(errors.CHAT_NOT_FOUND)
            rows, next_cursor = self._ctx.store.messages(chat_id, cursor, limit)
        return {"messages": [responses.message(row) for row in rows] or None,
                "cursor": next_cursor}

    # --- inbound ------------------------------------------------------------------------------
    def chat_of_topic(self, topic: bytes) -> str | None:
        """The chat whose channel topic this is, among this node's chats."""
        return next((chat.id for chat in self._ctx.store.chats() if topic_of(chat.id) == topic),
                    None)

    def receive(self, envelope: Envelope) -> None:
        message = self._take(envelope, from_archive=False)
        if message is not None:
            self._ctx.emit(self._response([message]))

    def from_archive(self, messages: Sequence[StoredMessage]) -> int:
        """Archived Waku messages through the same pipeline; one ``messages.new`` per call when
        anything is new, after the call's rows are committed together. Returns how many were."""
        new = []
        with self._ctx.lock:
            with self._ctx.store.batch():
                for stored in messages:
                    envelope = Envelope(stored.topic, stored.timestamp * 1_000_000_000,
                                        stored.payload, stored.sig)
                    try:
                        message = self._take(envelope, from_archive=True)
                    except ValueError as exc:
                        log.warning("skipping an archived message %s: %s", stored.hash, exc)
                        continue
                    if message is not None:
                        new.append(message)
            if new:
                self._ctx.emit(self._response(new))
        return len(new)

    def keys_arrived(self, community_id: str) -> None:
        """Messages that waited for a key: handled now (those still unreadable wait again)."""
        new = []
        for topic, timestamp, payload, signer in self._ctx.store.take_undecrypted(community_id):
            try:
                message = self._take(Envelope(topic, timestamp, payload, signer),
                                     from_archive=True)
            except ValueError as exc:
                log.warning("dropping a message that waited for its key: %s", exc)
                continue
            if message is not None:
                new.append(message)
        if new:
            self._ctx.emit(self._response(new))

    def _take(self, envelope: Envelope, from_archive: bool) -> MessageRow | None:
        """The control node keeps the raw Waku message of live ones; every joined node keeps
        the user message once (by ID). Returns it when it is new to this node."""
        ctx = self._ctx
        chat_id = self.chat_of_topic(envelope.content_topic)
        chat = ctx.store.chat(chat_id) if chat_id is not None else None
        row = ctx.book.get(chat.community_id) if chat is not None else None
        if chat is None or row is None or not row.joined:
            return None
        if row.private_key is not None and not from_archive:
            ctx.archives.store_waku_message(stored_message(envelope))
        try:
            plain = ctx.keys.decrypt(row.id, envelope.payload)
        except ratchet.GroupKeyNotFoundError:
            ctx.store.save_undecrypted(
                row.id, message_hash=envelope.hash, topic=envelope.content_topic,
                timestamp_ns=envelope.timestamp, payload=envelope.payload,
                signer=envelope.signer)
            return None
        except ratchet.DecryptionError as exc:
            raise ValueError(f"chat message in {chat.id} not readable: {exc}") from exc
        message = self._message(envelope, plain, chat.id)
        if not ctx.store.save_message(message):
            return None
        current = ctx.store.chat(chat.id)
        newest = current.last_message_id and ctx.store.message(current.last_message_id)
        if not newest or newest.clock_value <= message.clock_value:
            current = replace(current, last_message_id=message.id)
        ctx.store.save_chat(replace(
            current, last_clock_value=max(current.last_clock_value, message.clock_value),
            unviewed_message_count=current.unviewed_message_count + 1, timestamp=ctx.now_ms()))
        return message

    @staticmethod
    def _message(envelope: Envelope, plain: bytes, chat_id: str) -> MessageRow:
        body = json.loads(plain)
        if not isinstance(body, dict) or body.get("chatId") != chat_id:
            raise ValueError("chat message for another chat")
        clock, timestamp, text = body.get("clock"), body.get("timestamp"), body.get("text")
        if not (isinstance(clock, int) and isinstance(timestamp, int) and isinstance(text, str)):
            raise ValueError("chat message without clock, timestamp or text")
        author = NodeContext.signer(envelope)
        content_type = body.get("contentType")
        return MessageRow(keys.message_id(author, plain), chat_id, author, text,
                          content_type if isinstance(content_type, int) else TEXT_PLAIN,
                          str(body.get("responseTo") or ""), clock, timestamp,
                          envelope.timestamp // 1_000_000, str(body.get("displayName") or ""),
                          False, "")

    def _response(self, messages: list[MessageRow]) -> dict:
        chat_ids = dict.fromkeys(message.local_chat_id for message in messages)
        return responses.messenger_response(
            chats=[self._ctx.book.chat_json(self._ctx.store.chat(chat_id))
                   for chat_id in chat_ids],
            messages=[responses.message(message) for message in messages])
