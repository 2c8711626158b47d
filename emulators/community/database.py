"""The community node's SQLite database: status-go's archive tables (archive.md §6) plus the few
tables the emulated node needs for communities, chats, keys and the messages a user sees."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

from wire.archive_codec import StoredMessage, topic_text

_SCHEMA = """
CREATE TABLE IF NOT EXISTS waku_messages (
    sig BLOB NOT NULL, timestamp INT NOT NULL, topic TEXT NOT NULL, payload BLOB NOT NULL,
    padding BLOB NOT NULL, hash TEXT PRIMARY KEY NOT NULL, third_party_id TEXT DEFAULT ""
);
CREATE INDEX IF NOT EXISTS waku_messages_timestamp_topic ON waku_messages (timestamp, topic);
CREATE TABLE IF NOT EXISTS community_message_archive_hashes (
    community_id TEXT NOT NULL, hash TEXT PRIMARY KEY NOT NULL, imported BOOL DEFAULT FALSE
);
CREATE TABLE IF NOT EXISTS communities_archive_info (
    community_id TEXT PRIMARY KEY ON CONFLICT REPLACE,
    magnetlink_clock INT NOT NULL DEFAULT 0,
    last_message_archive_end_date INT NOT NULL DEFAULT 0,
    last_magnetlink_uri TEXT DEFAULT "",
    last_index_cid TEXT DEFAULT "",
    index_cid_clock INTEGER DEFAULT 0
);
CREATE TABLE IF NOT EXISTS communities (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, encrypted BOOL NOT NULL, owner TEXT NOT NULL,
    control_node BOOL NOT NULL, private_key BLOB
);
CREATE TABLE IF NOT EXISTS chats (
    id TEXT PRIMARY KEY, community_id TEXT NOT NULL, name TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS community_keys (
    community_id TEXT NOT NULL, key_id BLOB PRIMARY KEY, key BLOB NOT NULL,
    timestamp INT NOT NULL, seq_no INT NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS community_members (
    community_id TEXT NOT NULL, url TEXT NOT NULL, has_key BOOL NOT NULL DEFAULT FALSE,
    PRIMARY KEY (community_id, url)
);
CREATE TABLE IF NOT EXISTS user_messages (
    id TEXT PRIMARY KEY, chat_id TEXT NOT NULL, author TEXT NOT NULL, text TEXT NOT NULL,
    timestamp INT NOT NULL
);
"""


class Database:
    """A thread-safe handle (one connection, one lock) on ``<data-dir>/status.db``."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.executescript("PRAGMA journal_mode=WAL;" + _SCHEMA)
        self._lock = threading.Lock()

    def execute(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        with self._lock:
            rows = self._db.execute(sql, params).fetchall()
            self._db.commit()
            return rows

    def execute_many(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        """One statement over many rows, in one transaction."""
        with self._lock:
            self._db.executemany(sql, rows)
            self._db.commit()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- waku_messages ------------------------------------------------------------------------
    def store_waku_message(self, message: StoredMessage) -> None:
        self.execute("INSERT OR REPLACE INTO waku_messages VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (message.sig, message.timestamp, topic_text(message.topic),
                      message.payload, message.padding, message.hash, message.third_party_id))

    def waku_messages(self, start: int, end: int, topics: Iterable[bytes]) -> list[StoredMessage]:
        """status-go's window query: ``timestamp >= start AND timestamp < end`` on the topics."""
        topic_list = [topic_text(t) for t in topics]
        if not topic_list:
            raise ValueError("no topics to archive")
        marks = " OR ".join("topic = ?" for _ in topic_list)
        rows = self.execute(
            "SELECT sig, timestamp, topic, payload, padding, hash, third_party_id "
            f"FROM waku_messages WHERE timestamp >= ? AND timestamp < ? AND ({marks})",
            (start, end, *topic_list))
        return [StoredMessage(r[0], r[1], bytes.fromhex(r[2][2:]), r[3], r[4], r[5], r[6] or "")
                for r in rows]

    # --- archive bookkeeping --------------------------------------------------------------------
    def archive_info(self, community_id: str) -> dict[str, object]:
        rows = self.execute("SELECT magnetlink_clock, last_message_archive_end_date, "
                            "last_magnetlink_uri, last_index_cid, index_cid_clock "
                            "FROM communities_archive_info WHERE community_id = ?",
                            (community_id,))
        keys = ("magnetlink_clock", "last_message_archive_end_date", "last_magnetlink_uri",
                "last_index_cid", "index_cid_clock")
        return dict(zip(keys, rows[0], strict=True)) if rows else dict.fromkeys(keys, 0)

    def set_archive_info(self, community_id: str, **values: object) -> None:
        current = self.archive_info(community_id)
        current.update(values)
        self.execute("INSERT INTO communities_archive_info (community_id, magnetlink_clock, "
                     "last_message_archive_end_date, last_magnetlink_uri, last_index_cid, "
                     "index_cid_clock) VALUES (?, ?, ?, ?, ?, ?)",
                     (community_id, current["magnetlink_clock"],
                      current["last_message_archive_end_date"],
                      current["last_magnetlink_uri"] or "", current["last_index_cid"] or "",
                      current["index_cid_clock"]))

    def archive_ids(self, community_id: str) -> dict[str, bool]:
        rows = self.execute("SELECT hash, imported FROM community_message_archive_hashes "
                            "WHERE community_id = ?", (community_id,))
        return {row[0]: bool(row[1]) for row in rows}

    def save_archive_id(self, community_id: str, archive_id: str) -> None:
        self.execute("INSERT OR IGNORE INTO community_message_archive_hashes "
                      "(community_id, hash) VALUES (?, ?)", (community_id, archive_id))

    def unimported_archive_ids(self, community_id: str) -> list[str]:
        rows = self.execute("SELECT hash FROM community_message_archive_hashes "
                            "WHERE community_id = ? AND NOT imported", (community_id,))
        return [row[0] for row in rows]

    def mark_imported(self, archive_id: str) -> None:
        self.execute("UPDATE community_message_archive_hashes SET imported = 1 WHERE hash = ?",
                     (archive_id,))
