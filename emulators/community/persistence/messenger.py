"""The messenger's SQL: communities (the shared description plus this node's own flags), their
chats, requests to join, hash-ratchet keys (and the messages waiting for one), the user messages
a client reads, and settings.

A community's shared state (what its control node publishes: identity, members, chats, token
permissions, clock) is kept as one JSON document, the emulator's CommunityDescription.
"""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from dataclasses import dataclass

from emulators.community.persistence import Database

SCHEMA = """
CREATE TABLE IF NOT EXISTS communities_communities (
    id TEXT PRIMARY KEY, description TEXT NOT NULL, private_key BLOB,
    joined BOOL NOT NULL DEFAULT FALSE, joined_at INT NOT NULL DEFAULT 0,
    spectated BOOL NOT NULL DEFAULT FALSE, requested_to_join_at INT NOT NULL DEFAULT 0,
    verified BOOL NOT NULL DEFAULT FALSE, muted BOOL NOT NULL DEFAULT FALSE,
    history_archive_support_enabled BOOL NOT NULL DEFAULT FALSE, settings_clock INT DEFAULT 0
);
CREATE TABLE IF NOT EXISTS chats (
    id TEXT PRIMARY KEY, community_id TEXT NOT NULL, timestamp INT NOT NULL,
    joined INT NOT NULL, last_clock_value INT NOT NULL DEFAULT 0, last_message_id TEXT DEFAULT "",
    unviewed_message_count INT NOT NULL DEFAULT 0, active BOOL NOT NULL DEFAULT TRUE
);
CREATE TABLE IF NOT EXISTS communities_requests_to_join (
    id TEXT PRIMARY KEY, public_key TEXT NOT NULL, clock INT NOT NULL, ens_name TEXT DEFAULT "",
    chat_id TEXT DEFAULT "", community_id TEXT NOT NULL, state INT NOT NULL,
    our BOOL NOT NULL DEFAULT FALSE, revealed_accounts TEXT NOT NULL DEFAULT "[]"
);
CREATE TABLE IF NOT EXISTS hash_ratchet_encryption (
    community_id TEXT NOT NULL, key_id BLOB PRIMARY KEY, key BLOB NOT NULL,
    key_timestamp INT NOT NULL, seq_no INT NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS community_keys_sent (
    community_id TEXT NOT NULL, public_key TEXT NOT NULL, key_id BLOB NOT NULL,
    PRIMARY KEY (community_id, public_key, key_id)
);
CREATE TABLE IF NOT EXISTS user_messages (
    id TEXT PRIMARY KEY, local_chat_id TEXT NOT NULL, source TEXT NOT NULL, text TEXT NOT NULL,
    content_type INT NOT NULL, response_to TEXT DEFAULT "", clock_value INT NOT NULL,
    timestamp INT NOT NULL, whisper_timestamp INT NOT NULL, display_name TEXT DEFAULT "",
    seen BOOL NOT NULL DEFAULT FALSE, outgoing_status TEXT DEFAULT ""
);
CREATE INDEX IF NOT EXISTS user_messages_chat_clock ON user_messages (local_chat_id, clock_value);
CREATE TABLE IF NOT EXISTS hash_ratchet_encrypted_messages (
    hash TEXT PRIMARY KEY, community_id TEXT NOT NULL, topic BLOB NOT NULL, timestamp INT NOT NULL,
    payload BLOB NOT NULL, signer BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS messenger_settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class CommunityRow:
    """One community as this node stores it."""

    id: str
    description: dict
    private_key: bytes | None
    joined: bool
    joined_at: int
    spectated: bool
    requested_to_join_at: int
    verified: bool
    muted: bool
    history_archive_support_enabled: bool


@dataclass(frozen=True)
class ChatRow:
    id: str
    community_id: str
    timestamp: int  # ms
    joined: int  # ms
    last_clock_value: int
    last_message_id: str
    unviewed_message_count: int


@dataclass(frozen=True)
class RequestRow:
    id: str
    public_key: str
    clock: int  # Unix seconds, as status-go's
    ens_name: str
    chat_id: str
    community_id: str
    state: int
    our: bool
    revealed_accounts: list[dict]


@dataclass(frozen=True)
class MessageRow:
    id: str
    local_chat_id: str
    source: str  # 0x04… author key
    text: str
    content_type: int
    response_to: str
    clock_value: int
    timestamp: int  # ms
    whisper_timestamp: int  # ms
    display_name: str
    seen: bool
    outgoing_status: str


_COMMUNITY_COLUMNS = ("id, description, private_key, joined, joined_at, spectated, "
                      "requested_to_join_at, verified, muted, history_archive_support_enabled")
_MESSAGE_COLUMNS = ("id, local_chat_id, source, text, content_type, response_to, clock_value, "
                    "timestamp, whisper_timestamp, display_name, seen, outgoing_status")
_REQUEST_COLUMNS = ("id, public_key, clock, ens_name, chat_id, community_id, state, our, "
                    "revealed_accounts")


def _community(row: tuple) -> CommunityRow:
    return CommunityRow(row[0], json.loads(row[1]), bytes(row[2]) if row[2] else None,
                        bool(row[3]), row[4], bool(row[5]), row[6], bool(row[7]), bool(row[8]),
                        bool(row[9]))


def _request(row: tuple) -> RequestRow:
    return RequestRow(row[0], row[1], row[2], row[3], row[4], row[5], row[6], bool(row[7]),
                      json.loads(row[8]))


def _message(row: tuple) -> MessageRow:
    return MessageRow(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8],
                      row[9], bool(row[10]), row[11])


def message_cursor(clock_value: int, message_id: str) -> str:
    """status-go's paging cursor: the clock zero-padded to 64 digits, then the message ID."""
    return f"{clock_value:064d}{message_id}"


class MessengerStore:
    """Every messenger statement, over the account's shared database."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def batch(self) -> AbstractContextManager[None]:
        """The statements run inside the block, as one transaction (``Database.batch``)."""
        return self._db.batch()

    # --- communities --------------------------------------------------------------------------
    def save_community(self, community: CommunityRow) -> None:
        self._db.execute(
            f"INSERT OR REPLACE INTO communities_communities ({_COMMUNITY_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (community.id, json.dumps(community.description), community.private_key,
             community.joined, community.joined_at, community.spectated,
             community.requested_to_join_at, community.verified, community.muted,
             community.history_archive_support_enabled))

    def community(self, community_id: str) -> CommunityRow | None:
        rows = self._db.execute(f"SELECT {_COMMUNITY_COLUMNS} FROM communities_communities "
                                "WHERE id = ?", (community_id,))
        return _community(rows[0]) if rows else None

    def communities(self) -> list[CommunityRow]:
        rows = self._db.execute(f"SELECT {_COMMUNITY_COLUMNS} FROM communities_communities "
                                "ORDER BY rowid")
        return [_community(row) for row in rows]

    # --- chats --------------------------------------------------------------------------------
    def save_chat(self, chat: ChatRow) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO chats (id, community_id, timestamp, joined, last_clock_value, "
            "last_message_id, unviewed_message_count) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (chat.id, chat.community_id, chat.timestamp, chat.joined, chat.last_clock_value,
             chat.last_message_id, chat.unviewed_message_count))

    def chat(self, chat_id: str) -> ChatRow | None:
        rows = self._db.execute("SELECT id, community_id, timestamp, joined, last_clock_value, "
                                "last_message_id, unviewed_message_count FROM chats WHERE id = ?",
                                (chat_id,))
        return ChatRow(*rows[0]) if rows else None

    def chats(self) -> list[ChatRow]:
        rows = self._db.execute("SELECT id, community_id, timestamp, joined, last_clock_value, "
                                "last_message_id, unviewed_message_count FROM chats "
                                "WHERE active ORDER BY rowid")
        return [ChatRow(*row) for row in rows]

    # --- requests to join ---------------------------------------------------------------------
    def save_request(self, request: RequestRow) -> None:
        self._db.execute(
            f"INSERT OR REPLACE INTO communities_requests_to_join ({_REQUEST_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (request.id, request.public_key, request.clock, request.ens_name, request.chat_id,
             request.community_id, request.state, request.our,
             json.dumps(request.revealed_accounts)))

    def request(self, request_id: str) -> RequestRow | None:
        rows = self._db.execute(f"SELECT {_REQUEST_COLUMNS} FROM communities_requests_to_join "
                                "WHERE id = ?", (request_id,))
        return _request(rows[0]) if rows else None

    def requests(self, community_id: str | None = None,
                 state: int | None = None) -> list[RequestRow]:
        """Requests of one community (or all), with one state (or any), oldest first."""
        where, params = [], []
        if community_id is not None:
            where.append("community_id = ?")
            params.append(community_id)
        if state is not None:
            where.append("state = ?")
            params.append(state)
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        rows = self._db.execute(f"SELECT {_REQUEST_COLUMNS} FROM communities_requests_to_join "
                                f"{clause}ORDER BY clock, rowid", params)
        return [_request(row) for row in rows]

    # --- hash-ratchet keys --------------------------------------------------------------------
    def save_key(self, community_id: str, key_id: bytes, key: bytes, timestamp: int) -> None:
        self._db.execute("INSERT OR IGNORE INTO hash_ratchet_encryption (community_id, key_id, "
                         "key, key_timestamp) VALUES (?, ?, ?, ?)",
                         (community_id, key_id, key, timestamp))

    def keys(self, community_id: str) -> list[tuple[bytes, int]]:
        """(key, timestamp) pairs, oldest first."""
        rows = self._db.execute("SELECT key, key_timestamp FROM hash_ratchet_encryption "
                                "WHERE community_id = ? ORDER BY key_timestamp, rowid",
                                (community_id,))
        return [(bytes(row[0]), row[1]) for row in rows]

    def next_seq_no(self, key_id: bytes) -> int:
        rows = self._db.execute("UPDATE hash_ratchet_encryption SET seq_no = seq_no + 1 "
                                "WHERE key_id = ? RETURNING seq_no", (key_id,))
        return int(rows[0][0])

    def mark_keys_sent(self, community_id: str, public_key: str, key_ids: list[bytes]) -> None:
        self._db.execute_many("INSERT OR IGNORE INTO community_keys_sent VALUES (?, ?, ?)",
                              [(community_id, public_key, key_id) for key_id in key_ids])

    def keys_sent(self, community_id: str, public_key: str) -> set[bytes]:
        rows = self._db.execute("SELECT key_id FROM community_keys_sent WHERE community_id = ? "
                                "AND public_key = ?", (community_id, public_key))
        return {bytes(row[0]) for row in rows}

    def save_undecrypted(self, community_id: str, *, message_hash: str, topic: bytes,
                         timestamp_ns: int, payload: bytes, signer: bytes) -> None:
        """A message waiting for the hash-ratchet key that opens it."""
        self._db.execute("INSERT OR IGNORE INTO hash_ratchet_encrypted_messages VALUES "
                         "(?, ?, ?, ?, ?, ?)",
                         (message_hash, community_id, topic, timestamp_ns, payload, signer))

    def take_undecrypted(self, community_id: str) -> list[tuple[bytes, int, bytes, bytes]]:
        """(topic, timestamp ns, payload, signer) of the waiting messages, now forgotten."""
        rows = self._db.execute("DELETE FROM hash_ratchet_encrypted_messages WHERE "
                                "community_id = ? RETURNING topic, timestamp, payload, signer",
                                (community_id,))
        return [(bytes(r[0]), r[1], bytes(r[2]), bytes(r[3])) for r in rows]

    # --- user messages ------------------------------------------------------------------------
    def save_message(self, message: MessageRow) -> bool:
        """Insert unless a message with this ID exists; True when it was new."""
        rows = self._db.execute(
            f"INSERT OR IGNORE INTO user_messages ({_MESSAGE_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (message.id, message.local_chat_id, message.source, message.text,
             message.content_type, message.response_to, message.clock_value, message.timestamp,
             message.whisper_timestamp, message.display_name, message.seen,
             message.outgoing_status))
        return bool(rows)

    def message(self, message_id: str) -> MessageRow | None:
        rows = self._db.execute(f"SELECT {_MESSAGE_COLUMNS} FROM user_messages WHERE id = ?",
                                (message_id,))
        return _message(rows[0]) if rows else None

    def messages(self, chat_id: str, cursor: str, limit: int) -> tuple[list[MessageRow], str]:
        """status-go's MessageByChatID: newest first by cursor; ``limit + 1`` rows are read and
        the extra one's cursor is the next page's (``""`` on the last page)."""
        where = "AND substr(printf('%064d', clock_value), 1, 64) || id <= ? " if cursor else ""
        params: list[object] = [chat_id, *([cursor] if cursor else []), max(limit, 0) + 1]
        rows = self._db.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM user_messages WHERE local_chat_id = ? {where}"
            "ORDER BY printf('%064d', clock_value) || id DESC LIMIT ?", params)
        result = [_message(row) for row in rows]
        if len(result) > limit:
            extra = result[limit]
            return result[:limit], message_cursor(extra.clock_value, extra.id)
        return result, ""

    # --- settings -----------------------------------------------------------------------------
    def setting(self, name: str) -> str | None:
        rows = self._db.execute("SELECT value FROM messenger_settings WHERE name = ?", (name,))
        return rows[0][0] if rows else None

    def set_setting(self, name: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO messenger_settings VALUES (?, ?)", (name, value))
