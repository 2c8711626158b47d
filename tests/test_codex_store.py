"""The emulated node's block repository on its own: packs, batches, the row as commit point."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from emulators.codex import store as store_module
from emulators.codex.store import QuotaExceededError, RepoStore

BLOCK = 65536


def block(fill: int) -> bytes:
    return bytes([fill]) * BLOCK


def packs(data_dir: Path) -> list[str]:
    return sorted(path.name for path in (data_dir / "repo").glob("*.pack"))


def test_a_batch_comes_back_block_by_block_and_as_one_run(tmp_path: Path) -> None:
    repo = RepoStore(tmp_path, quota_bytes=1 << 30, block_ttl=0)
    repo.put_blocks([(f"b{i}", block(i)) for i in range(1, 4)])
    repo.add_leaves("tree", [(f"b{i}", b"proof") for i in range(1, 4)])
    assert repo.read("b2") == block(2)
    run = repo.local_run("tree", 0, limit=10)
    assert run is not None and (run.count, run.length) == (3, 3 * BLOCK)
    with open(run.path, "rb") as handle:
        handle.seek(run.offset)
        assert handle.read(run.length) == block(1) + block(2) + block(3)
    assert repo.local_run("tree", 3, limit=10) is None
    repo.close()


def test_a_block_repeated_in_a_batch_is_stored_once(tmp_path: Path) -> None:
    repo = RepoStore(tmp_path, quota_bytes=1 << 30, block_ttl=0)
    repo.put_blocks([("same", block(7)), ("same", block(7)), ("other", block(8))])
    space = repo.space()
    assert (space.total_blocks, space.quota_used_bytes) == (2, 2 * BLOCK)
    repo.close()


def test_a_quota_failure_keeps_the_blocks_before_it(tmp_path: Path) -> None:
    repo = RepoStore(tmp_path, quota_bytes=2 * BLOCK, block_ttl=0)
    with pytest.raises(QuotaExceededError) as refused:
        repo.put_blocks([("b1", block(1)), ("b2", block(2)), ("b3", block(3))])
    assert refused.value.cid == "b3"
    assert repo.read("b1") == block(1) and repo.read("b2") == block(2)
    assert repo.read("b3") is None
    repo.close()


def test_bytes_without_a_row_are_ignored_and_their_pack_removed(tmp_path: Path) -> None:
    repo = RepoStore(tmp_path, quota_bytes=1 << 30, block_ttl=0)
    repo.put("kept", block(1))
    repo.close()
    # A crash after writing a pack but before committing its rows leaves a pack nothing names.
    (tmp_path / "repo" / "9.pack").write_bytes(block(2))
    reopened = RepoStore(tmp_path, quota_bytes=1 << 30, block_ttl=0)
    assert packs(tmp_path) == ["1.pack"]
    assert reopened.read("kept") == block(1)
    reopened.put("new", block(3))
    assert packs(tmp_path) == ["1.pack", "10.pack"]
    assert reopened.space().total_blocks == 2
    reopened.close()


def test_a_pack_goes_once_no_block_in_it_is_left(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "PACK_BYTES", 2 * BLOCK)
    repo = RepoStore(tmp_path, quota_bytes=1 << 30, block_ttl=0)
    repo.put_blocks([(f"b{i}", block(i)) for i in range(1, 5)])  # two full packs
    repo.add_leaves("tree", [(f"b{i}", b"proof") for i in range(1, 5)])
    repo.put("manifest", b"m", manifest=True)  # a third pack, the one being written
    assert packs(tmp_path) == ["1.pack", "2.pack", "3.pack"]
    repo.delete_dataset("manifest", "tree", 4)
    assert packs(tmp_path) == ["3.pack"]
    assert repo.space().quota_used_bytes == 0
    repo.close()


def test_a_run_stops_where_the_blocks_stop_lying_back_to_back(tmp_path: Path) -> None:
    repo = RepoStore(tmp_path, quota_bytes=1 << 30, block_ttl=0)
    repo.put_blocks([("b1", block(1)), ("x", block(9)), ("b2", block(2))])
    repo.add_leaves("tree", [("b1", b"p"), ("b2", b"p")])
    run = repo.local_run("tree", 0, limit=10)
    assert run is not None and run.count == 1
    second = repo.local_run("tree", 1, limit=10)
    assert second is not None and second.offset == 2 * BLOCK
    assert os.path.getsize(second.path) == 3 * BLOCK
    repo.close()


def test_fetched_blocks_are_stored_with_their_leaves_a_batch_at_a_time(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "PACK_BYTES", 2 * BLOCK)  # the batch spans two packs
    repo = RepoStore(tmp_path, quota_bytes=1 << 30, block_ttl=0)
    fetched = [(0, "b1", b"p0", block(1)), (1, "same", b"p1", block(7)),
               (2, "same", b"p2", block(7)), (3, "b3", b"p3", block(3))]
    repo.put_dataset_blocks("tree", fetched)
    repo.put_dataset_blocks("tree", fetched[:1])  # delivered twice: one leaf, one reference
    assert repo.leaf_range("tree", 1, 2) == {1: ("same", b"p1"), 2: ("same", b"p2")}
    assert repo.leaf("tree", 3) == ("b3", b"p3") and repo.read("b3") == block(3)
    assert (repo.space().total_blocks, repo.space().quota_used_bytes) == (3, 3 * BLOCK)
    repo.put("manifest", b"m", manifest=True)
    repo.delete_dataset("manifest", "tree", 4)
    assert (repo.space().total_blocks, repo.space().quota_used_bytes) == (0, 0)
    repo.close()
