"""The node's block repository: block files on disk, metadata in SQLite.

Mirrors nim-codex's RepoStore: every block is stored once by CID; datasets reference their blocks
through (treeCid, index) leaf entries, which hold a reference count on the block; the quota counts
the bytes of every stored block; blocks carry an expiry that a maintenance sweep enforces.
"""

from __future__ import annotations

import math
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from emulators.codex import errors

_SCHEMA = """
CREATE TABLE IF NOT EXISTS blocks (
    cid TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    refcount INTEGER NOT NULL DEFAULT 0,
    expiry REAL NOT NULL,
    is_manifest INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS blocks_expiry ON blocks (expiry);
CREATE TABLE IF NOT EXISTS leaves (
    tree TEXT NOT NULL,
    idx INTEGER NOT NULL,
    block TEXT NOT NULL,
    proof BLOB NOT NULL,
    PRIMARY KEY (tree, idx)
);
CREATE INDEX IF NOT EXISTS leaves_block ON leaves (block);
"""


class QuotaExceededError(Exception):
    """Storing the block would take the repo past its quota."""

    def __init__(self, cid: str, used: int, limit: int) -> None:
        super().__init__(cid)
        self.cid = cid
        self.quota_message = errors.quota_exceeded(used, limit)


class BlockInUseError(Exception):
    """A block that a dataset still references cannot be deleted directly."""


@dataclass(frozen=True)
class Space:
    """The numbers ``GET /space`` reports."""

    total_blocks: int
    quota_max_bytes: int
    quota_used_bytes: int
    quota_reserved_bytes: int = 0


class RepoStore:
    """Thread-safe block store: blocks in ``<data-dir>/repo``, metadata in ``<data-dir>/meta``."""

    def __init__(self, data_dir: Path, quota_bytes: int, block_ttl: float) -> None:
        self._blocks_dir = data_dir / "repo"
        self._blocks_dir.mkdir(parents=True, exist_ok=True)
        meta_dir = data_dir / "meta"
        meta_dir.mkdir(parents=True, exist_ok=True)
        self._quota = quota_bytes
        self._ttl = block_ttl
        self._lock = threading.Lock()
        self._known_dirs: set[Path] = set()
        self._db = sqlite3.connect(meta_dir / "repo.sqlite3", check_same_thread=False)
        self._db.executescript("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;" + _SCHEMA)
        self._used = self._db.execute("SELECT COALESCE(SUM(size), 0) FROM blocks").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _path(self, cid: str) -> Path:
        return self._blocks_dir / cid[-1] / cid  # 58 folders, created once each

    def _expiry(self) -> float:
        return math.inf if self._ttl <= 0 else time.time() + self._ttl

    def has(self, cid: str) -> bool:
        with self._lock:
            row = self._db.execute("SELECT 1 FROM blocks WHERE cid = ?", (cid,)).fetchone()
        return row is not None

    def put(self, cid: str, data: bytes, *, manifest: bool = False) -> None:
        """Store a block once; storing it again only extends its expiry."""
        with self._lock:
            try:
                self._put_locked(cid, data, manifest)
            finally:
                self._db.commit()

    def put_dataset_blocks(self, tree: str, blocks: list[tuple[int, str, bytes, bytes]]) -> None:
        """Store fetched blocks of ``tree`` — (index, CID, proof, data) — with their leaves, in
        one transaction; on a quota failure the blocks stored before it stay."""
        with self._lock:
            try:
                for index, cid, proof, data in blocks:
                    self._put_locked(cid, data, manifest=False)
                    self._add_leaf_locked(tree, index, cid, proof)
            finally:
                self._db.commit()

    def _put_locked(self, cid: str, data: bytes, manifest: bool) -> None:
        expiry = self._expiry()
        if self._db.execute("SELECT 1 FROM blocks WHERE cid = ?", (cid,)).fetchone():
            self._db.execute(
                "UPDATE blocks SET expiry = MAX(expiry, ?) WHERE cid = ?", (expiry, cid)
            )
            return
        if self._used + len(data) > self._quota:
            raise QuotaExceededError(cid, self._used + len(data), self._quota)
        path = self._path(cid)
        if path.parent not in self._known_dirs:  # one mkdir per folder, not per block
            path.parent.mkdir(exist_ok=True)
            self._known_dirs.add(path.parent)
        # The row below is the commit point: a file without a row (a crash mid-write) is ignored
        # and simply overwritten when the block is stored again.
        path.write_bytes(data)
        self._db.execute(
            "INSERT INTO blocks (cid, size, expiry, is_manifest) VALUES (?, ?, ?, ?)",
            (cid, len(data), expiry, int(manifest)),
        )
        self._used += len(data)

    def read(self, cid: str) -> bytes | None:
        """The block's bytes, or None when it is not stored."""
        if not self.has(cid):
            return None
        try:
            return self._path(cid).read_bytes()
        except FileNotFoundError:
            return None

    def add_leaves(self, tree: str, leaves: list[tuple[str, bytes]], start: int = 0) -> None:
        """Record that block ``start + i`` of ``tree`` is ``leaves[i]`` = (block CID, Merkle
        proof); each new leaf holds one reference on its block."""
        with self._lock:
            for index, (block, proof) in enumerate(leaves, start):
                self._add_leaf_locked(tree, index, block, proof)
            self._db.commit()

    def _add_leaf_locked(self, tree: str, index: int, block: str, proof: bytes) -> None:
        inserted = self._db.execute(
            "INSERT OR IGNORE INTO leaves (tree, idx, block, proof) VALUES (?, ?, ?, ?)",
            (tree, index, block, proof),
        ).rowcount
        if inserted:
            self._db.execute("UPDATE blocks SET refcount = refcount + 1 WHERE cid = ?", (block,))

    def leaf(self, tree: str, index: int) -> tuple[str, bytes] | None:
        """(block CID, Merkle proof) of block ``index`` of ``tree``, if known here."""
        with self._lock:
            row = self._db.execute(
                "SELECT block, proof FROM leaves WHERE tree = ? AND idx = ?", (tree, index)
            ).fetchone()
        return (row[0], bytes(row[1])) if row else None

    def delete_dataset(self, manifest_cid: str, tree: str, blocks_count: int) -> None:
        """Drop every leaf of ``tree`` (deleting blocks no longer referenced), then the manifest."""
        with self._lock:
            for index in range(blocks_count):
                row = self._db.execute(
                    "SELECT block FROM leaves WHERE tree = ? AND idx = ?", (tree, index)
                ).fetchone()
                if row is None:
                    continue
                self._db.execute("DELETE FROM leaves WHERE tree = ? AND idx = ?", (tree, index))
                self._db.execute(
                    "UPDATE blocks SET refcount = refcount - 1 WHERE cid = ?", (row[0],)
                )
                self._delete_if_unreferenced(row[0])
            self._delete_block_locked(manifest_cid)
            self._db.commit()

    def delete_block(self, cid: str) -> None:
        """Delete one block; absent blocks are fine, referenced ones raise BlockInUseError."""
        with self._lock:
            row = self._db.execute(
                "SELECT refcount, expiry FROM blocks WHERE cid = ?", (cid,)
            ).fetchone()
            if row is None:
                return
            if row[0] > 0 and row[1] >= time.time():
                raise BlockInUseError(cid)
            self._delete_block_locked(cid)
            self._db.commit()

    def _delete_if_unreferenced(self, cid: str) -> None:
        """nim-codex's tryDeleteBlock: delete when nothing references it or it has expired."""
        row = self._db.execute(
            "SELECT refcount, expiry FROM blocks WHERE cid = ?", (cid,)
        ).fetchone()
        if row is not None and (row[0] <= 0 or row[1] < time.time()):
            self._delete_block_locked(cid)

    def _delete_block_locked(self, cid: str) -> None:
        row = self._db.execute("SELECT size FROM blocks WHERE cid = ?", (cid,)).fetchone()
        if row is None:
            return
        self._db.execute("DELETE FROM blocks WHERE cid = ?", (cid,))
        self._used -= row[0]
        self._path(cid).unlink(missing_ok=True)

    def manifest_cids(self) -> list[str]:
        with self._lock:
            rows = self._db.execute("SELECT cid FROM blocks WHERE is_manifest = 1").fetchall()
        return [row[0] for row in rows]

    def space(self) -> Space:
        with self._lock:
            total = self._db.execute("SELECT COUNT(*) FROM blocks").fetchone()[0]
            return Space(total, self._quota, self._used)

    def sweep_expired(self, limit: int) -> int:
        """Delete up to ``limit`` expired blocks (and the leaves that pointed at them)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT cid FROM blocks WHERE expiry < ? LIMIT ?", (time.time(), limit)
            ).fetchall()
            for (cid,) in rows:
                self._db.execute("DELETE FROM leaves WHERE block = ?", (cid,))
                self._delete_block_locked(cid)
            self._db.commit()
        return len(rows)
