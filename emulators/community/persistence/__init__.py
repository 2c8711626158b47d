"""All of the node's SQL: one SQLite file per account, shared by the messenger's tables
(``persistence.messenger``) and the archive tables (``persistence.archives``)."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path


class Database:
    """A thread-safe handle (one connection, one lock). The file is 0600 in a 0700 folder: it holds
    the account's and the communities' private keys. Each statement commits on its own, unless
    it runs inside ``batch()``."""

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
        self._lock = threading.RLock()
        self._depth = 0  # batches open in the thread holding the lock

    @contextmanager
    def batch(self) -> Iterator[None]:
        """One transaction for every statement this thread runs inside the block (status-go's
        ``BEGIN … COMMIT`` around a save of many rows): committed when the block ends, rolled back
        if it raises. Other threads' statements wait for it. Blocks nest; the outermost commits."""
        with self._lock:
            self._depth += 1
            try:
                yield
            except BaseException:
                if self._depth == 1:
                    self._db.rollback()
                raise
            else:
                if self._depth == 1:
                    self._db.commit()
            finally:
                self._depth -= 1

    def _commit(self) -> None:
        if not self._depth:
            self._db.commit()

    def execute(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        with self._lock:
            rows = self._db.execute(sql, params).fetchall()
            self._commit()
            return rows

    def execute_many(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        """One statement over many rows, in one transaction."""
        with self._lock:
            self._db.executemany(sql, rows)
            self._commit()

    def transaction(self, statements: Sequence[tuple[str, Sequence[object]]]) -> None:
        """Several statements, all or none."""
        with self._lock:
            try:
                for sql, params in statements:
                    self._db.execute(sql, params)
                self._commit()
            except BaseException:
                if not self._depth:
                    self._db.rollback()
                raise

    def close(self) -> None:
        with self._lock:
            self._db.close()
