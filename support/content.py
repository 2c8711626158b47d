"""Test content: sizes written as people write them, and files of random bytes with their digest."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from Crypto.Cipher import AES

_UNITS = {"byte": 1, "bytes": 1, "b": 1, "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30}
_TERM = re.compile(r"^\s*(\d+)\s*(bytes?|B|KiB|MiB|GiB)\s*$", re.IGNORECASE)
_WRITE_CHUNK = 1 << 20


def parse_size(text: str) -> int:
    """``"1 byte"``, ``"64 KiB"``, ``"64 KiB + 1 byte"``, ``"10 MiB"`` → bytes."""
    total = 0
    for term in text.split("+"):
        match = _TERM.match(term)
        if not match:
            raise ValueError(f"not a size: {text!r} (try e.g. '64 KiB + 1 byte' or '10 MiB')")
        total += int(match.group(1)) * _UNITS[match.group(2).lower()]
    return total


def describe_size(size: int) -> str:
    """Bytes as people write them (the words ``parse_size`` reads): ``130 KiB``, ``64 KiB + 1
    byte``, ``10 MiB``, ``0 bytes``; the largest unit that leaves a whole number, then the rest."""
    for unit, name in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if size >= unit:
            whole, rest = divmod(size, unit)
            return f"{whole} {name}" + (f" + {describe_size(rest)}" if rest else "")
    return f"{size} byte" if size == 1 else f"{size} bytes"


@dataclass(frozen=True)
class LocalFile:
    """A file on disk the suite made, with its size and SHA-256."""

    path: Path
    size: int
    sha256: str


_NO_ZERO = bytes.maketrans(b"\x00", b"\xff")


def write_random_file(path: Path, size: int, seed: int | str) -> LocalFile:
    """Write ``size`` pseudo-random bytes (reproducible from ``seed``) and hash them on the way.

    The bytes are never 0x00, so a zero-padded last block can never equal a block of zeros
    another scenario stored: space accounting stays exact even on a shared running node.
    """
    # An AES-CTR keystream keyed by the seed: reproducible, and five times faster than
    # random.randbytes (large files are written in many scenarios).
    key = hashlib.sha256(str(seed).encode()).digest()[:16]
    keystream = AES.new(key, AES.MODE_CTR, nonce=b"")
    zeros = bytes(_WRITE_CHUNK)
    digest = hashlib.sha256()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        remaining = size
        while remaining:
            chunk = keystream.encrypt(zeros[: min(remaining, _WRITE_CHUNK)]).translate(_NO_ZERO)
            handle.write(chunk)
            digest.update(chunk)
            remaining -= len(chunk)
    return LocalFile(path, size, digest.hexdigest())


def write_bytes_file(path: Path, content: bytes) -> LocalFile:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return LocalFile(path, len(content), hashlib.sha256(content).hexdigest())
