"""The account database's batches: one transaction for many statements, committed at the end of
the block (what another connection, or a restart, sees), rolled back when the block raises."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from emulators.community.persistence import Database

SCHEMA = "CREATE TABLE IF NOT EXISTS rows (value INT PRIMARY KEY);"


def committed(path: Path) -> list[int]:
    """What a second connection (another process, or the node after a crash) reads."""
    with sqlite3.connect(path) as other:
        return [row[0] for row in other.execute("SELECT value FROM rows ORDER BY value")]


def test_a_statement_outside_a_batch_commits_on_its_own(tmp_path: Path) -> None:
    db = Database(tmp_path / "status.db", SCHEMA)
    db.execute("INSERT INTO rows VALUES (1)")
    assert committed(tmp_path / "status.db") == [1]


def test_a_batch_commits_its_statements_together_at_its_end(tmp_path: Path) -> None:
    db = Database(tmp_path / "status.db", SCHEMA)
    with db.batch():
        db.execute("INSERT INTO rows VALUES (1)")
        with db.batch():  # nested: the outermost block commits
            db.execute_many("INSERT INTO rows VALUES (?)", [(2,), (3,)])
        db.transaction([("INSERT INTO rows VALUES (?)", (4,))])
        assert committed(tmp_path / "status.db") == [], "rows visible before the batch ended"
        assert db.execute("SELECT COUNT(*) FROM rows") == [(4,)]
    assert committed(tmp_path / "status.db") == [1, 2, 3, 4]


def test_a_batch_that_raises_leaves_nothing_behind(tmp_path: Path) -> None:
    db = Database(tmp_path / "status.db", SCHEMA)
    db.execute("INSERT INTO rows VALUES (1)")
    with pytest.raises(sqlite3.IntegrityError), db.batch():
        db.execute("INSERT INTO rows VALUES (2)")
        db.execute("INSERT INTO rows VALUES (1)")
    assert committed(tmp_path / "status.db") == [1]
    assert db.execute("SELECT value FROM rows") == [(1,)]


def test_another_thread_waits_for_a_batch_instead_of_committing_half_of_it(
        tmp_path: Path) -> None:
    db = Database(tmp_path / "status.db", SCHEMA)
    inside, done = threading.Event(), threading.Event()

    def other_thread() -> None:
        inside.wait(5)
        db.execute("INSERT INTO rows VALUES (9)")  # commits: must not take the batch's rows
        done.set()

    worker = threading.Thread(target=other_thread)
    worker.start()
    with db.batch():
        db.execute("INSERT INTO rows VALUES (1)")
        inside.set()
        assert not done.wait(0.2), "another thread's statement ran inside the batch"
        assert committed(tmp_path / "status.db") == []
    worker.join(5)
    assert committed(tmp_path / "status.db") == [1, 9]
