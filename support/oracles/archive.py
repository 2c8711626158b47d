"""Status community history archives as a reader outside status-go sees them (archive.md §1–3).

Decoding is google.protobuf's, over a schema written out here from status-go's
``protocol/protobuf/communities.proto`` and go-codex-client's ``communities.proto`` (archive.md
§2; proto3). The rules:

- a channel's content topic is the first 4 bytes of Keccak-256 (legacy Keccak, not SHA3) of its
  UTF-8 chat ID, written ``0x`` + 8 lowercase hex characters where status-go stores it (§1.1);
- an archive's ID is ``0x`` + Keccak-256 of the proto3 encoding of its index entry
  ``CodexWakuMessageArchiveIndexMetadata{metadata, cid}``, zero values left out (§1.14, §2.1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from Crypto.Hash import keccak
from google.protobuf.message import DecodeError, Message

from support.oracles.protobuf_schema import message_classes

_CLASSES = message_classes("suite_oracle.status.communities", "proto3", {
    "WakuMessage": [("sig", 1, "bytes"), ("timestamp", 2, "uint64"), ("topic", 3, "bytes"),
                    ("payload", 4, "bytes"), ("padding", 5, "bytes"), ("hash", 6, "bytes"),
                    ("thirdPartyId", 7, "string")],
    "WakuMessageArchiveMetadata": [("version", 1, "uint32"), ("from", 2, "uint64"),
                                   ("to", 3, "uint64"),
                                   ("contentTopic", 4, "bytes", "repeated")],
    "WakuMessageArchive": [("version", 1, "uint32"),
                           ("metadata", 2, "WakuMessageArchiveMetadata"),
                           ("messages", 3, "WakuMessage", "repeated")],
    "CodexWakuMessageArchiveIndexMetadata": [("version", 1, "uint32"),
                                             ("metadata", 2, "WakuMessageArchiveMetadata"),
                                             ("cid", 3, "string")],
    "CodexWakuMessageArchiveIndex": [
        ("archives", 1, "CodexWakuMessageArchiveIndexMetadata", "map")],
})


def keccak256(data: bytes) -> bytes:
    """Legacy Keccak-256, as Ethereum and status-go use it."""
    return keccak.new(digest_bits=256, data=data).digest()


def content_topic(chat_id: str) -> str:
    """The content topic of a channel as status-go stores and queries it: ``0x`` + 8 hex."""
    return "0x" + keccak256(chat_id.encode("utf-8"))[:4].hex()


@dataclass(frozen=True)
class IndexEntry:
    """One archive as the index describes it."""

    start: int  # Unix seconds
    end: int
    topics: tuple[bytes, ...]
    cid: str


def _parse(kind: str, data: bytes) -> Any:
    message: Message = _CLASSES[kind]()
    message.ParseFromString(data)
    return message


def archive_id(entry: IndexEntry) -> str:
    """The ID status-go gives the archive of this index entry."""
    metadata = _CLASSES["WakuMessageArchiveMetadata"](
        **{"from": entry.start, "to": entry.end, "contentTopic": list(entry.topics)})
    encoded = _CLASSES["CodexWakuMessageArchiveIndexMetadata"](metadata=metadata, cid=entry.cid)
    return "0x" + keccak256(encoded.SerializeToString()).hex()


def read_index(data: bytes) -> dict[str, IndexEntry] | None:
    """The archives of an index by ID, or None unless the bytes are a non-empty index whose every
    entry names a CID and carries the ID the rule gives it."""
    try:
        index = _parse("CodexWakuMessageArchiveIndex", data)
    except DecodeError:
        return None
    entries = {}
    for key, value in index.archives.items():
        metadata = value.metadata
        entry = IndexEntry(int(getattr(metadata, "from")), int(metadata.to),
                           tuple(bytes(t) for t in metadata.contentTopic), str(value.cid))
        if not entry.cid or archive_id(entry) != key:
            return None
        entries[str(key)] = entry
    return entries or None


def count_messages(data: bytes) -> int:
    """The number of messages an unencrypted archive holds; DecodeError if it is not one."""
    return len(_parse("WakuMessageArchive", data).messages)
