"""What the messenger's parts share: the account, its store and keys, the transport, the archive
service's hooks, the signal sink, the clock, and one lock over all of it."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from emulators.community import errors, keys, rpc
from emulators.community.communities import CommunityBook
from emulators.community.persistence.messenger import CommunityRow, MessengerStore
from emulators.community.seams import Account, Clock, SignalSink
from emulators.community.transport import Envelope, Transport
from wire.archive_codec import StoredMessage, chat_topic


class ArchiveHooks(Protocol):
    """The archive service's side of the messenger (``archives.service.ArchiveService``)."""

    def archive_link_received(self, community_id: str, link: str, clock: int) -> None: ...

    def joined_with_archive_link(self, community_id: str, link: str) -> None: ...

    def last_archive_link(self, community_id: str) -> str: ...

    def store_waku_message(self, message: StoredMessage) -> None: ...


def stored_message(envelope: Envelope) -> StoredMessage:
    """The ``waku_messages`` row of an envelope (archive.md §1.1): signer key, seconds."""
    return StoredMessage(envelope.signer, envelope.timestamp // 1_000_000_000,
                         envelope.content_topic, envelope.payload, b"", envelope.hash)


@dataclass
class NodeContext:
    """The state every part of one account's messenger works on, under ``lock``."""

    account: Account
    store: MessengerStore
    book: CommunityBook
    keys: keys.CommunityKeys
    transport: Transport
    archives: ArchiveHooks
    signals: SignalSink
    clock: Clock
    lock: threading.RLock = field(default_factory=threading.RLock)
    # Archive-service calls that may wait for its tasks: run once the lock is released.
    deferred: list[Callable[[], None]] = field(default_factory=list)

    @property
    def me(self) -> str:
        return self.account.public_key

    def now_ms(self) -> int:
        return int(self.clock.now() * 1000)

    def community(self, community_id: str) -> CommunityRow:
        row = self.book.get(community_id)
        if row is None:
            raise rpc.RpcError(errors.COMMUNITY_NOT_FOUND)
        return row

    def controlled(self, community_id: str) -> CommunityRow:
        row = self.community(community_id)
        if row.private_key is None:
            raise rpc.RpcError("not authorized")
        return row

    def publish(self, topic_id: str, body: dict, signer_secret: bytes | None = None) -> None:
        """One application message on ``chat_topic(topic_id)``, from the account's chat key or
        from the community key (``signer_secret``: the control node speaking)."""
        secret = signer_secret or self.account.private_key
        self.transport.publish(Envelope(chat_topic(topic_id), time.time_ns(),
                                        json.dumps(body).encode(),
                                        keys.public_bytes(secret, compressed=False)))

    def publish_description(self, row: CommunityRow) -> None:
        self.publish(row.id, {"type": "community_description", "communityId": row.id,
                              "description": row.description}, row.private_key)

    def emit(self, response: dict) -> None:
        self.signals.send("messages.new", response)

    @staticmethod
    def signer(envelope: Envelope) -> str:
        return "0x" + envelope.signer.hex()

    def from_community(self, envelope: Envelope, community_id: str) -> bool:
        """Whether the envelope is signed with the community key."""
        return keys.compressed(self.signer(envelope)).hex() == community_id.removeprefix("0x")
