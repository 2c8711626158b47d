"""A Status node for one identity, as far as community history archives go (archive.md).

Owner side: communities and channels, storing sent messages as the control node stores them,
``CreateHistoryArchive…FromDB`` following §1.3–1.6/§1.14 (uploading every archive and then the
index to its Codex node), and announcing the index CID to members. Member side: joining, keys,
downloading the index and the missing archives with go-codex-client's downloader semantics
(§3.3–3.4), decrypting where it holds the key, and the import loop (§4.3).
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from emulators.community.database import Database
from support.codex.client import CodexClient, CodexError, DownloadCancelledError
from wire import archive_codec as codec
from wire.pb.communities import communities_pb2 as pb
from wire.ratchet import (
    CommunityKey,
    DecryptionError,
    GroupKeyNotFoundError,
    is_wrapped,
)
from wire.ratchet import unwrap as ratchet_unwrap
from wire.ratchet import wrap as ratchet_wrap

ARCHIVE_FILENAME = "archive-data.bin"
POLLING_INTERVAL = 1.0
POLLING_TIMEOUT = 30.0
INDEX_TIMEOUT = 20.0
IMPORT_TICK = 0.1


class RpcError(Exception):
    """A call the node refuses; the message says why."""


@dataclass
class Signals:
    """Where signals go (the API's stream)."""

    emit: Callable[[str, dict[str, object]], None]


def _public_key(private: ec.EllipticCurvePrivateKey, compressed: bool) -> bytes:
    fmt = (serialization.PublicFormat.CompressedPoint if compressed
           else serialization.PublicFormat.UncompressedPoint)
    return private.public_key().public_bytes(serialization.Encoding.X962, fmt)


class CommunityNode:
    """One user's node: its database, its Codex node and its peers."""

    def __init__(self, db: Database, archive_dir: Path, *, codex_url: str, my_url: str,
                 peers: list[str], signals: Signals, key_retry: float) -> None:
        self.db = db
        self.archive_dir = archive_dir
        self.codex = CodexClient(codex_url, timeout=60)
        self.my_url = my_url
        self.peers = peers
        self.signals = signals
        self.key_retry = key_retry
        self.identity = ec.generate_private_key(ec.SECP256K1())
        self.installation_id = str(uuid.uuid4())
        self._tasks: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    # --- communities --------------------------------------------------------------------------
    def create_community(self, name: str, encrypted: bool) -> dict[str, object]:
        private = ec.generate_private_key(ec.SECP256K1())
        community_id = "0x" + _public_key(private, compressed=True).hex()
        secret = private.private_numbers().private_value.to_bytes(32, "big")
        self.db.execute("INSERT INTO communities VALUES (?, ?, ?, ?, 1, ?)",
                        (community_id, name, encrypted, self.my_url, secret))
        if encrypted:
            self._store_key(community_id, CommunityKey.generate(
                bytes.fromhex(community_id[2:]), int(time.time() * 1000)))
        return {"id": community_id, "name": name, "encrypted": encrypted}

    def create_chat(self, community_id: str, name: str) -> dict[str, object]:
        self._community(community_id, control=True)
        chat_id = community_id + str(uuid.uuid4())
        self.db.execute("INSERT INTO chats VALUES (?, ?, ?)", (chat_id, community_id, name))
        return {"id": chat_id, "name": name, "topic": codec.topic_text(codec.chat_topic(chat_id))}

    def _community(self, community_id: str, control: bool = False) -> tuple:
        rows = self.db.execute("SELECT id, name, encrypted, owner, control_node FROM communities "
                               "WHERE id = ?", (community_id,))
        if not rows:
            raise RpcError(f"community {community_id} not found")
        if control and not rows[0][4]:
            raise RpcError(f"this node does not control community {community_id}")
        return rows[0]

    def _chats(self, community_id: str) -> list[tuple[str, str]]:
        return [(r[0], r[1]) for r in self.db.execute(
            "SELECT id, name FROM chats WHERE community_id = ?", (community_id,))]

    def describe(self, community_id: str) -> dict[str, object]:
        _id, name, encrypted, owner, _control = self._community(community_id)
        return {"id": community_id, "name": name, "encrypted": bool(encrypted), "owner": owner,
                "chats": [{"id": c, "name": n} for c, n in self._chats(community_id)]}

    # --- keys ---------------------------------------------------------------------------------
    def _store_key(self, community_id: str, key: CommunityKey) -> None:
        self.db.execute("INSERT OR IGNORE INTO community_keys (community_id, key_id, key, "
                        "timestamp) VALUES (?, ?, ?, ?)",
                        (community_id, key.key_id, key.key, key.timestamp))

    def _keys(self, community_id: str) -> dict[bytes, CommunityKey]:
        group = bytes.fromhex(community_id[2:])
        rows = self.db.execute("SELECT key, timestamp FROM community_keys WHERE community_id = ?",
                               (community_id,))
        keys = [CommunityKey(group, bytes(r[0]), r[1]) for r in rows]
        return {k.key_id: k for k in keys}

    def _wrap(self, community_id: str, data: bytes) -> bytes:
        key = max(self._keys(community_id).values(), key=lambda k: k.timestamp)
        rows = self.db.execute("UPDATE community_keys SET seq_no = seq_no + 1 WHERE key_id = ? "
                               "RETURNING seq_no", (key.key_id,))
        return ratchet_wrap(data, key, rows[0][0], self.installation_id)

    # --- joining (member → owner), keys and announcements (owner → member) ----------------------
    def request_to_join(self, community_id: str) -> dict[str, object]:
        for peer in self.peers:
            try:
                answer = requests.post(f"{peer}/p2p", json={
                    "type": "requestToJoin", "communityId": community_id, "from": self.my_url},
                    timeout=10)
            except requests.RequestException:
                continue
            if answer.status_code == 200:
                community = answer.json()
                self.db.execute("INSERT OR REPLACE INTO communities VALUES (?, ?, ?, ?, 0, NULL)",
                                (community["id"], community["name"], community["encrypted"],
                                 community["owner"]))
                for chat in community["chats"]:
                    self.db.execute("INSERT OR IGNORE INTO chats VALUES (?, ?, ?)",
                                    (chat["id"], community["id"], chat["name"]))
                return community
        raise RpcError(f"no peer controls community {community_id}")

    def admit(self, community_id: str, member_url: str) -> dict[str, object]:
        """Owner: record the member and answer with the community description."""
        self._community(community_id, control=True)
        self.db.execute("INSERT OR IGNORE INTO community_members (community_id, url) "
                        "VALUES (?, ?)", (community_id, member_url))
        return self.describe(community_id)

    def share_key(self, community_id: str, member_url: str) -> None:
        """Owner: send the community key to a member who now satisfies the permission."""
        _id, _name, encrypted, _owner, _ = self._community(community_id, control=True)
        if not encrypted:
            raise RpcError("the community is not encrypted: there is no key to share")
        for key in self._keys(community_id).values():
            requests.post(f"{member_url}/p2p", json={
                "type": "communityKey", "communityId": community_id, "key": key.key.hex(),
                "timestamp": key.timestamp}, timeout=10).raise_for_status()
        self.db.execute("UPDATE community_members SET has_key = 1 WHERE community_id = ? AND "
                        "url = ?", (community_id, member_url))

    def receive_key(self, community_id: str, key_hex: str, timestamp: int) -> None:
        self._store_key(community_id, CommunityKey(bytes.fromhex(community_id[2:]),
                                                   bytes.fromhex(key_hex), timestamp))

    # --- messages -----------------------------------------------------------------------------
    def send_message(self, chat_id: str, text: str, timestamp: float | None) -> dict[str, object]:
        """Owner: a message on a channel, stored as the control node stores retrieved ones."""
        rows = self.db.execute("SELECT community_id FROM chats WHERE id = ?", (chat_id,))
        if not rows:
            raise RpcError(f"chat {chat_id} not found")
        self._community(rows[0][0], control=True)
        seconds = int(time.time() if timestamp is None else timestamp)
        payload = json.dumps({"chatId": chat_id, "text": text,
                              "author": _public_key(self.identity, True).hex()}).encode()
        message_hash = codec.keccak256(payload + seconds.to_bytes(8, "big")).hex()
        self.db.store_waku_message(codec.StoredMessage(
            _public_key(self.identity, compressed=False), seconds, codec.chat_topic(chat_id),
            payload, b"", message_hash))
        return {"hash": message_hash, "timestamp": seconds}

    def chat_messages(self, chat_id: str) -> list[dict[str, object]]:
        rows = self.db.execute("SELECT id, author, text, timestamp FROM user_messages "
                               "WHERE chat_id = ? ORDER BY timestamp, id", (chat_id,))
        return [{"id": r[0], "author": r[1], "text": r[2], "timestamp": r[3]} for r in rows]

    # --- creating archives (owner) ------------------------------------------------------------
    def create_archives(self, community_id: str, chat_ids: list[str], *, start: float, end: float,
                        partition: float, encrypt: bool) -> list[str]:
        """CreateHistoryArchiveCodexFromDB: returns the IDs of the archives created now."""
        self._community(community_id, control=True)
        topics = [codec.chat_topic(chat) for chat in chat_ids]
        self.signals.emit("community.creatingHistoryArchives", {"communityId": community_id})
        entries = self._previous_index(community_id, encrypt)
        created: list[str] = []
        last_from = start
        for window in codec.windows(start, end, partition):
            messages = self.db.waku_messages(window.start, window.end, topics)
            if messages:
                for chunk in codec.chunks(messages):
                    data = codec.encode_archive(window, topics, chunk)
                    if encrypt:
                        data = self._wrap(community_id, data)
                    cid = self.codex.upload(data, filename=ARCHIVE_FILENAME,
                                            mimetype="application/octet-stream")
                    meta = codec.metadata(window, topics)
                    archive_id = codec.codex_archive_id(meta, cid)
                    entries.archives[archive_id].CopyFrom(
                        pb.CodexWakuMessageArchiveIndexMetadata(metadata=meta, cid=cid))
                    created.append(archive_id)
            last_from = window.end
        period = {"communityId": community_id, "from": int(start), "to": int(end)}
        if created:
            index = entries.SerializeToString()
            if encrypt:
                index = self._wrap(community_id, index)
            index_cid = self.codex.upload(index, filename=ARCHIVE_FILENAME,
                                          mimetype="application/octet-stream")
            self.db.set_archive_info(community_id, last_index_cid=index_cid)
            self.signals.emit("community.historyArchivesCreated", period)
        else:
            self.signals.emit("community.noHistoryArchivesCreated", period)
        self.db.set_archive_info(community_id,
                                 last_message_archive_end_date=int(max(last_from, start)))
        return created

    def _previous_index(self, community_id: str, encrypt: bool) -> pb.CodexWakuMessageArchiveIndex:
        """The index whose CID was last published, if the local Codex node holds it."""
        index = pb.CodexWakuMessageArchiveIndex()
        cid = self.db.archive_info(community_id)["last_index_cid"]
        if not cid:
            return index
        try:
            if not self.codex.exists(str(cid)):
                return index
            data = self.codex.download_bytes(str(cid))
        except CodexError:
            return index
        index.ParseFromString(ratchet_unwrap(data, self._keys(community_id)) if encrypt else data)
        return index

    def announce_index(self, community_id: str) -> dict[str, object]:
        """Send ``CommunityMessageArchiveIndexCid{clock, cid}`` to every member."""
        self._community(community_id, control=True)
        cid = self.db.archive_info(community_id)["last_index_cid"]
        if not cid:
            raise RpcError("no index has been published for this community yet")
        clock = int(time.time() * 1000)
        self.db.set_archive_info(community_id, index_cid_clock=clock)
        members = [r[0] for r in self.db.execute(
            "SELECT url FROM community_members WHERE community_id = ?", (community_id,))]
        for member in members:
            requests.post(f"{member}/p2p", json={"type": "indexCid", "communityId": community_id,
                                                 "cid": cid, "clock": clock}, timeout=10)
        return {"cid": cid, "clock": clock, "members": len(members)}

    # --- downloading and importing (member) ----------------------------------------------------
    def receive_index_cid(self, community_id: str, cid: str, clock: int) -> bool:
        """Accept an announcement if it is for a joined community this node does not control,
        not older than the last one, and names a new index; then start a download task."""
        rows = self.db.execute("SELECT control_node FROM communities WHERE id = ?",
                               (community_id,))
        info = self.db.archive_info(community_id)
        if not rows or rows[0][0] or clock < int(info["index_cid_clock"] or 0) or \
                cid == info["last_index_cid"]:
            return False
        self.db.set_archive_info(community_id, index_cid_clock=clock)
        with self._lock:
            previous = self._tasks.get(community_id)
            if previous is not None:
                previous.set()
            cancel = self._tasks[community_id] = threading.Event()
        threading.Thread(target=self._download_and_import, args=(community_id, cid, cancel),
                         daemon=True).start()
        return True

    def cancel_download(self, community_id: str) -> bool:
        with self._lock:
            task = self._tasks.get(community_id)
        if task is None:
            return False
        task.set()
        return True

    def _download_and_import(self, community_id: str, index_cid: str,
                             cancel: threading.Event) -> None:
        try:
            index = self._download_index(community_id, index_cid, cancel)
        except (CodexError, GroupKeyNotFoundError, DecryptionError) as exc:
            self.signals.emit("community.downloadingHistoryArchivesFinished",
                              {"communityId": community_id, "error": str(exc)})
            return
        if index is None:
            return
        self.db.set_archive_info(community_id, last_index_cid=index_cid)
        self._download_archives(community_id, index, cancel)
        if not cancel.is_set():
            self._import(community_id, index, cancel)
        self.signals.emit("community.downloadingHistoryArchivesFinished",
                          {"communityId": community_id})

    def _download_index(self, community_id: str, cid: str,
                        cancel: threading.Event) -> pb.CodexWakuMessageArchiveIndex | None:
        item = self.codex.fetch_manifest(cid, timeout=INDEX_TIMEOUT)
        if item.cid != cid:
            raise CodexError("manifest CID mismatch")
        folder = self.archive_dir / community_id
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / "index"
        handle, temporary = tempfile.mkstemp(prefix=".codex-download-", suffix=".tmp",
                                             dir=folder)
        os.close(handle)
        try:
            self.codex.download(cid, Path(temporary), network=True, cancel=cancel,
                                timeout=INDEX_TIMEOUT)
            os.replace(temporary, target)
        except DownloadCancelledError:
            return None
        finally:
            Path(temporary).unlink(missing_ok=True)
        data = target.read_bytes()
        while True:
            try:
                plain = ratchet_unwrap(data, self._keys(community_id)) \
                    if is_wrapped(data) else data
                break
            except GroupKeyNotFoundError:
                # status-go pauses and tries again later (an hour); the emulator's pause is set.
                if cancel.wait(self.key_retry):
                    return None
        index = pb.CodexWakuMessageArchiveIndex()
        index.ParseFromString(plain)
        self.signals.emit("community.historyArchiveIndexDownloaded",
                          {"communityId": community_id, "archives": len(index.archives)})
        return index

    def _download_archives(self, community_id: str, index: pb.CodexWakuMessageArchiveIndex,
                           cancel: threading.Event) -> None:
        """CodexArchiveDownloader: skip stored IDs, newest first, trigger, poll ``exists``."""
        existing = self.db.archive_ids(community_id)
        pending = sorted(((aid, entry) for aid, entry in index.archives.items()
                          if aid not in existing),
                         key=lambda item: getattr(item[1].metadata, "from"), reverse=True)
        if not pending:
            return
        self.signals.emit("community.downloadingHistoryArchivesStarted",
                          {"communityId": community_id, "total": len(index.archives),
                           "downloaded": len(existing)})
        for archive_id, entry in pending:
            if cancel.is_set():
                return
            try:
                item = self.codex.trigger_download(entry.cid, timeout=30)
                if item.cid != entry.cid:
                    raise CodexError(f"manifest CID mismatch for {entry.cid}")
            except CodexError as exc:
                # go-codex-client gives up on this archive; the emulator also says so.
                self.signals.emit("community.historyArchiveDownloadFailed", {
                    "communityId": community_id, "archiveId": archive_id,
                    "from": getattr(entry.metadata, "from"), "to": entry.metadata.to,
                    "error": str(exc)})
                continue
            deadline = time.monotonic() + POLLING_TIMEOUT
            while not cancel.is_set() and time.monotonic() < deadline:
                try:
                    if self.codex.exists(entry.cid):
                        self.db.save_archive_id(community_id, archive_id)
                        self.signals.emit("community.historyArchiveDownloaded", {
                            "communityId": community_id,
                            "from": getattr(entry.metadata, "from"), "to": entry.metadata.to})
                        break
                except CodexError:
                    pass
                cancel.wait(POLLING_INTERVAL)

    def _import(self, community_id: str, index: pb.CodexWakuMessageArchiveIndex,
                cancel: threading.Event) -> None:
        """The import loop: the first unimported archive, again and again, until none is left."""
        topics = {codec.chat_topic(chat): chat for chat, _ in self._chats(community_id)}
        while not cancel.is_set():
            waiting = self.db.unimported_archive_ids(community_id)
            if not waiting:
                return
            archive_id = waiting[0]
            entry = index.archives.get(archive_id)
            try:
                data = self.codex.download_bytes(entry.cid) if entry is not None else b""
                if is_wrapped(data):
                    data = ratchet_unwrap(data, self._keys(community_id))
                archive = codec.decode_archive(data)
            except GroupKeyNotFoundError:
                cancel.wait(self.key_retry)
                continue
            except (CodexError, DecryptionError, ValueError) as exc:
                self.signals.emit("community.historyArchiveImportFailed",
                                  {"communityId": community_id, "archiveId": archive_id,
                                   "error": str(exc)})
                cancel.wait(IMPORT_TICK)
                continue
            self.signals.emit("community.importingHistoryArchiveMessages",
                              {"communityId": community_id})
            rows = []
            for message in archive.messages:
                chat = topics.get(message.topic)
                if chat is None:  # no local filter for this topic: ignored, as in status-go
                    continue
                body = json.loads(message.payload)
                rows.append((message.hash.hex(), chat, body.get("author", ""),
                             body.get("text", ""), message.timestamp))
            # Duplicates (the same message in overlapping archives) are skipped by its hash.
            self.db.execute_many("INSERT OR IGNORE INTO user_messages VALUES (?, ?, ?, ?, ?)",
                                 rows)
            self.db.mark_imported(archive_id)
