"""All of the node's SQL: one SQLite file per account, shared by the messenger's tables
(``persistence.messenger``) and the archive tables (``persistence.archives``)."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path


class Database:
    """A thread-safe handle (one connection, one lock). The file is 0600 in a 0700 folder: it holds
    the account's and the communities' private keys."""

    def __init__(self, path: Path, schema: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(path.parent, 0o700)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(fd)
        os.chmod(path, 0o600)
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.executescript("PRAGMA journal_mode=WAL;" + schema)
        for suffix in ("-wal", "-shm"):
            side = path.with_name(path.name + suffix)
            if side.exists():
                os.chmod(side, 0o600)
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

    def transaction(self, statements: Sequence[tuple[str, Sequence[object]]]) -> None:
        """Several statements, all or none."""
        with self._lock:
            try:
                for sql, params in statements:
                    self._db.execute(sql, params)
                self._db.commit()
            except BaseException:
                self._db.rollback()
                raise

    def close(self) -> None:
        with self._lock:
            self._db.close()
