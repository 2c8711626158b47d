"""The archive side's SQL (archive.md §6): raw Waku messages the control node keeps, the archive
IDs a member downloaded, the per-community archive bookkeeping, and the saved storage config.

Columns added to status-go's ``communities_archive_info`` for the logos-storage revision:
``last_seen_archive_link`` (GetLastSeenArchiveLink / UpdateLastSeenArchiveLink: the index CID)
and ``archive_link_clock`` (Get/UpdateArchiveLinkMessageClock). ``logos_storage_config`` stands
for the ``node-config`` setting that enableLogosStorage… saves.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from emulators.community.persistence import Database
from wire.archive_codec import StoredMessage, topic_text

SCHEMA = """
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
    index_cid_clock INTEGER DEFAULT 0,
    last_seen_archive_link TEXT DEFAULT "",
    archive_link_clock INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS logos_storage_config (
    id INTEGER PRIMARY KEY CHECK (id = 1), enabled BOOL NOT NULL, overrides TEXT NOT NULL
);
"""


class ArchiveStore:
    """Every archive-side statement, over the account's shared database."""

    def __init__(self, db: Database) -> None:
        self._db = db

    # --- waku_messages ------------------------------------------------------------------------
    def store_waku_message(self, message: StoredMessage) -> None:
        self._db.execute("INSERT OR REPLACE INTO waku_messages VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (message.sig, message.timestamp, topic_text(message.topic),
                          message.payload, message.padding, message.hash,
                          message.third_party_id))

    def waku_messages(self, start: int, end: int, topics: Sequence[bytes]) -> list[StoredMessage]:
        """GetWakuMessagesByFilterTopic: ``timestamp >= start AND timestamp < end``, no order."""
        if not topics:
            raise ValueError("no topics to archive")
        marks = " OR ".join("topic = ?" for _ in topics)
        rows = self._db.execute(
            "SELECT sig, timestamp, topic, payload, padding, hash, third_party_id "
            f"FROM waku_messages WHERE timestamp >= ? AND timestamp < ? AND ({marks})",
            (start, end, *(topic_text(t) for t in topics)))
        return [StoredMessage(bytes(r[0]), r[1], bytes.fromhex(r[2][2:]), bytes(r[3]),
                              bytes(r[4]), r[5], r[6] or "") for r in rows]

    def oldest_waku_message_timestamp(self, topics: Sequence[bytes]) -> int:
        if not topics:
            return 0
        marks = ", ".join("?" for _ in topics)
        rows = self._db.execute(f"SELECT MIN(timestamp) FROM waku_messages WHERE topic IN "
                                f"({marks})", tuple(topic_text(t) for t in topics))
        return int(rows[0][0] or 0)

    # --- communities_archive_info ------------------------------------------------------------
    def _info(self, community_id: str, column: str) -> object:
        rows = self._db.execute(f"SELECT {column} FROM communities_archive_info "
                                "WHERE community_id = ?", (community_id,))
        return rows[0][0] if rows else None

    def _set_info(self, community_id: str, column: str, value: object) -> None:
        self._db.transaction([
            ("INSERT OR IGNORE INTO communities_archive_info (community_id) VALUES (?)",
             (community_id,)),
            (f"UPDATE communities_archive_info SET {column} = ? WHERE community_id = ?",
             (value, community_id)),
        ])

    def last_message_archive_end_date(self, community_id: str) -> int:
        return int(self._info(community_id, "last_message_archive_end_date") or 0)

    def set_last_message_archive_end_date(self, community_id: str, end: int) -> None:
        self._set_info(community_id, "last_message_archive_end_date", end)

    def last_seen_archive_link(self, community_id: str) -> str:
        return str(self._info(community_id, "last_seen_archive_link") or "")

    def set_last_seen_archive_link(self, community_id: str, link: str) -> None:
        self._set_info(community_id, "last_seen_archive_link", link)

    def archive_link_clock(self, community_id: str) -> int:
        return int(self._info(community_id, "archive_link_clock") or 0)

    def set_archive_link_clock(self, community_id: str, clock: int) -> None:
        self._set_info(community_id, "archive_link_clock", clock)

    # --- community_message_archive_hashes ------------------------------------------------------
    def downloaded_archive_ids(self, community_id: str) -> list[str]:
        rows = self._db.execute("SELECT hash FROM community_message_archive_hashes "
                                "WHERE community_id = ?", (community_id,))
        return [row[0] for row in rows]

    def archive_ids_to_import(self, community_id: str) -> list[str]:
        rows = self._db.execute("SELECT hash FROM community_message_archive_hashes "
                                "WHERE community_id = ? AND NOT(imported)", (community_id,))
        return [row[0] for row in rows]

    def communities_with_archives_to_import(self) -> list[str]:
        rows = self._db.execute("SELECT DISTINCT community_id FROM "
                                "community_message_archive_hashes WHERE NOT(imported)")
        return [row[0] for row in rows]

    def save_archive_id(self, community_id: str, archive_id: str) -> None:
        self._db.execute("INSERT INTO community_message_archive_hashes (community_id, hash) "
                         "VALUES (?, ?)", (community_id, archive_id))

    def set_imported(self, community_id: str, archive_id: str, imported: bool) -> None:
        self._db.execute("UPDATE community_message_archive_hashes SET imported = ? "
                         "WHERE community_id = ? AND hash = ?",
                         (imported, community_id, archive_id))

    # --- logos_storage_config ----------------------------------------------------------------
    def storage_config(self) -> tuple[bool, dict[str, str]]:
        """Whether the protocol was enabled, and the overrides it was enabled with."""
        rows = self._db.execute("SELECT enabled, overrides FROM logos_storage_config")
        if not rows:
            return False, {}
        return bool(rows[0][0]), dict(json.loads(rows[0][1]))

    def save_storage_config(self, enabled: bool, overrides: Mapping[str, str]) -> None:
        self._db.execute("INSERT OR REPLACE INTO logos_storage_config VALUES (1, ?, ?)",
                         (enabled, json.dumps(dict(overrides))))
