"""Test content helpers: sizes in words and generated files."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from support.content import describe_size, parse_size, write_random_file


@pytest.mark.parametrize(("text", "size"), [
    ("1 byte", 1), ("64 KiB", 65536), ("64 KiB + 1 byte", 65537), ("10 MiB", 10485760),
    ("2 bytes", 2), ("1 GiB", 1 << 30),
])
def test_sizes_in_words(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize(("size", "words"), [
    (0, "0 bytes"), (1, "1 byte"), (2, "2 bytes"), (1023, "1023 bytes"), (65536, "64 KiB"),
    (65537, "64 KiB + 1 byte"), (133120, "130 KiB"), (10485760, "10 MiB"),
    ((1 << 30) + (1 << 20) + 3, "1 GiB + 1 MiB + 3 bytes"),
])
def test_sizes_are_described_as_people_write_them(size: int, words: str) -> None:
    assert describe_size(size) == words
    assert parse_size(words) == size


@pytest.mark.parametrize("text", ["", "ten MiB", "5 KB", "1 MiB +"])
def test_bad_sizes_are_named(text: str) -> None:
    with pytest.raises(ValueError, match="not a size"):
        parse_size(text)


def test_random_files_are_reproducible_hashed_and_free_of_zero_bytes(tmp_path: Path) -> None:
    first = write_random_file(tmp_path / "a.bin", 300_000, seed="s")
    second = write_random_file(tmp_path / "b.bin", 300_000, seed="s")
    data = first.path.read_bytes()
    assert data == second.path.read_bytes()
    assert first.sha256 == hashlib.sha256(data).hexdigest()
    assert 0 not in data
