"""Status community history archives, byte-compatible with status-go (archive.md §1–2).

Time windows (§1.3), size chunking (§1.5), archive encoding (§1.6), archive IDs (§1.8: ``0x`` +
Keccak-256 of the encoded index entry), and the Codex index (§3.2).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from Crypto.Hash import keccak

from wire.pb.communities import communities_pb2 as pb

MAX_ARCHIVE_SIZE = 30_000_000  # decimal bytes; measured as len(payload) + len(sig)


def keccak256(data: bytes) -> bytes:
    """Legacy Keccak-256 (what Ethereum and status-go use), not SHA3-256."""
    return keccak.new(digest_bits=256, data=data).digest()


def chat_topic(chat_id: str) -> bytes:
    """A channel's 4-byte Waku content topic: the first 4 bytes of keccak256(chat id)."""
    return keccak256(chat_id.encode("utf-8"))[:4]


def topic_text(topic: bytes) -> str:
    """How ``waku_messages.topic`` stores a topic: ``0x`` + 8 lowercase hex characters."""
    return "0x" + topic.hex()


@dataclass(frozen=True)
class StoredMessage:
    """A row of ``waku_messages``."""

    sig: bytes
    timestamp: int  # seconds
    topic: bytes  # 4 bytes
    payload: bytes
    padding: bytes
    hash: str  # lowercase hex, no 0x
    third_party_id: str = ""

    @property
    def size(self) -> int:
        """What the 30 MB chunking counts: payload and sig only."""
        return len(self.payload) + len(self.sig)

    def to_proto(self) -> pb.WakuMessage:
        return pb.WakuMessage(sig=self.sig, timestamp=self.timestamp, topic=self.topic,
                              payload=self.payload, padding=self.padding,
                              hash=bytes.fromhex(self.hash), thirdPartyId=self.third_party_id)

    @classmethod
    def from_proto(cls, message: pb.WakuMessage) -> StoredMessage:
        return cls(message.sig, message.timestamp, message.topic, message.payload,
                   message.padding, message.hash.hex(), message.thirdPartyId)


@dataclass(frozen=True)
class Window:
    """One partition: messages with ``start <= timestamp < end`` (whole seconds)."""

    start: int
    end: int

    def holds(self, timestamp: int) -> bool:
        return self.start <= timestamp < self.end


def windows(start: float, end: float, partition: float) -> Iterator[Window]:
    """status-go's partition loop: full-precision times, bounds truncated to whole seconds, the
    last window clamped to ``end``; nothing when ``end <= start``."""
    if partition <= 0:
        raise ValueError("the partition must be positive")
    current, upper = start, min(start + partition, end)
    while current < end:
        yield Window(math.floor(current), math.floor(upper))
        current, upper = upper, min(upper + partition, end)


def chunks(messages: Iterable[StoredMessage]) -> list[list[StoredMessage]]:
    """Greedy 30 MB chunks; a message measuring more than 30 MB is dropped. The last chunk is
    always kept, so a window whose messages were all dropped still yields one empty archive."""
    result: list[list[StoredMessage]] = []
    current: list[StoredMessage] = []
    size = 0
    for message in messages:
        if message.size > MAX_ARCHIVE_SIZE:
            continue
        if size + message.size > MAX_ARCHIVE_SIZE:
            result.append(current)
            current, size = [], 0
        current.append(message)
        size += message.size
    result.append(current)
    return result


def metadata(window: Window, topics: Sequence[bytes]) -> pb.WakuMessageArchiveMetadata:
    """The archive metadata: the window and every requested topic, in request order."""
    # "from" is a Python keyword, so the generated stub takes it only through untyped **kwargs.
    bounds: dict[str, Any] = {"from": window.start, "to": window.end}
    meta = pb.WakuMessageArchiveMetadata(**bounds)
    meta.contentTopic.extend(topics)
    return meta


def encode_archive(window: Window, topics: Sequence[bytes],
                   messages: Sequence[StoredMessage]) -> bytes:
    archive = pb.WakuMessageArchive(metadata=metadata(window, topics),
                                    messages=[m.to_proto() for m in messages])
    return archive.SerializeToString()


def decode_archive(data: bytes) -> pb.WakuMessageArchive:
    archive = pb.WakuMessageArchive()
    archive.ParseFromString(data)
    return archive


def codex_archive_id(meta: pb.WakuMessageArchiveMetadata, cid: str) -> str:
    """``0x`` + keccak256 of the encoded CodexWakuMessageArchiveIndexMetadata{metadata, cid}."""
    entry = pb.CodexWakuMessageArchiveIndexMetadata(metadata=meta, cid=cid)
    return "0x" + keccak256(entry.SerializeToString()).hex()


def decode_codex_index(data: bytes) -> pb.CodexWakuMessageArchiveIndex:
    index = pb.CodexWakuMessageArchiveIndex()
    index.ParseFromString(data)
    return index
