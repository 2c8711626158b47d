"""Codex datasets byte for byte: blocks, the keyed Merkle tree and the manifest (codex.md §3).

An upload is cut into 64 KiB blocks (the last one zero-padded), each block's sha256 is a leaf of a
keyed Merkle tree whose root is the ``treeCid``, and a protobuf manifest describing the dataset is
itself a block whose CID is the one an upload returns.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from wire.cid import CODEX_BLOCK, CODEX_MANIFEST, CODEX_ROOT, SHA2_256, Cid, CidError
from wire.protowire import WireError, bytes_field, iter_fields, varint_field

BLOCK_SIZE = 65536
_ZERO_DIGEST = bytes(32)
# Key bytes of the tree (codex.md §3.3): (pair, odd) for the bottom layer and for higher layers.
_BOTTOM_KEYS = (b"\x01", b"\x03")
_UPPER_KEYS = (b"\x00", b"\x02")
# libp2p's CidVersion enum ordinal of CIDv1, which the manifest stores as ``version``.
_MANIFEST_VERSION = 2


class ManifestError(ValueError):
    """Bytes that do not decode as a Codex manifest."""


def pad_block(chunk: bytes) -> bytes:
    """Zero-pad a final partial chunk to the block size."""
    return chunk + bytes(BLOCK_SIZE - len(chunk)) if len(chunk) < BLOCK_SIZE else chunk


def iter_blocks(stream: BinaryIO, block_size: int = BLOCK_SIZE) -> Iterator[tuple[bytes, int]]:
    """Yield (padded block, number of real bytes in it) as data arrives from ``stream``."""
    while True:
        chunk = _read_exactly(stream, block_size)
        if not chunk:
            return
        yield pad_block(chunk), len(chunk)
        if len(chunk) < block_size:
            return


def _read_exactly(stream: BinaryIO, size: int) -> bytes:
    parts: list[bytes] = []
    missing = size
    while missing:
        part = stream.read(missing)
        if not part:
            break
        parts.append(part)
        missing -= len(part)
    return b"".join(parts)


def block_cid(padded_block: bytes) -> Cid:
    """CID of one stored data block."""
    return Cid.of_bytes(CODEX_BLOCK, padded_block)


def merkle_layers(leaves: Sequence[bytes]) -> list[list[bytes]]:
    """Every layer of Codex's keyed sha256 Merkle tree, leaves first, root last."""
    if not leaves:
        raise ValueError("Empty leaves")
    layers = [list(leaves)]
    keys = _BOTTOM_KEYS
    while True:
        layers.append(_reduce_layer(layers[-1], keys))
        keys = _UPPER_KEYS
        if len(layers[-1]) == 1:
            return layers


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """Root of Codex's keyed sha256 Merkle tree over 32-byte leaves (never empty)."""
    return merkle_layers(leaves)[-1][0]


def merkle_proof(layers: Sequence[Sequence[bytes]], index: int) -> bytes:
    """The path from leaf ``index`` to the root, encoded: per layer ``0x01`` + the sibling's
    digest, or ``0x00`` where the node is the odd last one (hashed with zeros)."""
    proof = bytearray()
    for layer in layers[:-1]:
        sibling = index ^ 1
        if sibling < len(layer):
            proof += b"\x01" + layer[sibling]
        else:
            proof += b"\x00"
        index //= 2
    return bytes(proof)


def verify_proof(leaf: bytes, index: int, proof: bytes, root: bytes) -> bool:
    """Whether ``leaf`` at ``index`` hashes up to ``root`` along ``proof``."""
    node, offset, keys = leaf, 0, _BOTTOM_KEYS
    while offset < len(proof):
        pair_key, odd_key = keys
        if proof[offset] == 0:
            if index % 2:
                return False
            node = hashlib.sha256(node + _ZERO_DIGEST + odd_key).digest()
            offset += 1
        else:
            sibling = proof[offset + 1 : offset + 33]
            if len(sibling) != 32:
                return False
            pair = node + sibling if index % 2 == 0 else sibling + node
            node = hashlib.sha256(pair + pair_key).digest()
            offset += 33
        index //= 2
        keys = _UPPER_KEYS
    return index == 0 and node == root


def _reduce_layer(layer: list[bytes], keys: tuple[bytes, bytes]) -> list[bytes]:
    pair_key, odd_key = keys
    reduced = []
    for index in range(0, len(layer) - 1, 2):
        reduced.append(hashlib.sha256(layer[index] + layer[index + 1] + pair_key).digest())
    if len(layer) % 2:
        reduced.append(hashlib.sha256(layer[-1] + _ZERO_DIGEST + odd_key).digest())
    return reduced


def tree_cid(leaves: Sequence[bytes]) -> Cid:
    """The ``treeCid`` of a dataset from its block digests."""
    return Cid.v1(CODEX_ROOT, merkle_root(leaves))


@dataclass(frozen=True)
class Manifest:
    """What a manifest block records about a dataset."""

    tree_cid: Cid
    dataset_size: int
    block_size: int = BLOCK_SIZE
    filename: str | None = None
    mimetype: str | None = None
    codec: int = CODEX_BLOCK
    hcodec: int = SHA2_256
    version: int = _MANIFEST_VERSION
    protected: bool = False

    @property
    def blocks_count(self) -> int:
        return -(-self.dataset_size // self.block_size)

    def encode(self) -> bytes:
        """The manifest block bytes (proto2 style: every header field written, in order)."""
        header = b"".join(
            [
                bytes_field(1, self.tree_cid.to_bytes()),
                varint_field(2, self.block_size),
                varint_field(3, self.dataset_size),
                varint_field(4, self.codec),
                varint_field(5, self.hcodec),
                varint_field(6, self.version),
                b"" if self.filename is None else bytes_field(8, _text_bytes(self.filename)),
                b"" if self.mimetype is None else bytes_field(9, _text_bytes(self.mimetype)),
            ]
        )
        return bytes_field(1, header)

    def cid(self) -> Cid:
        """The manifest CID, the one an upload returns."""
        return Cid.of_bytes(CODEX_MANIFEST, self.encode())

    @classmethod
    def decode(cls, data: bytes) -> Manifest:
        """Parse manifest block bytes; raises ManifestError on anything else."""
        try:
            outer = dict(iter_fields(data))
            header = outer[1]
            if not isinstance(header, bytes):
                raise ManifestError("header is not a message")
            fields = dict(iter_fields(header))
            tree = fields[1]
            if not isinstance(tree, bytes):
                raise ManifestError("treeCid is not bytes")
            return cls(
                tree_cid=Cid.from_bytes(tree),
                block_size=int(fields[2]),
                dataset_size=int(fields[3]),
                codec=int(fields[4]),
                hcodec=int(fields[5]),
                version=int(fields[6]),
                filename=_text(fields.get(8)),
                mimetype=_text(fields.get(9)),
                protected=7 in fields,
            )
        except (KeyError, CidError, WireError, IndexError, TypeError) as exc:
            raise ManifestError("Unable to decode as manifest") from exc

    def to_json(self) -> dict[str, object]:
        """The manifest object of the REST API, keys in the node's order (codex.md §4)."""
        return {
            "treeCid": str(self.tree_cid),
            "datasetSize": self.dataset_size,
            "blockSize": self.block_size,
            "filename": self.filename,
            "mimetype": self.mimetype,
            "protected": self.protected,
        }


def _text_bytes(text: str) -> bytes:
    # surrogateescape keeps header bytes that are not UTF-8 exactly as the client sent them.
    return text.encode("utf-8", "surrogateescape")


def _text(value: int | bytes | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, bytes):
        raise ManifestError("string field is not bytes")
    return value.decode("utf-8", "surrogateescape")


def manifest_for_file(path: str | os.PathLike[str], filename: str | None = None,
                      mimetype: str | None = None) -> Manifest:
    """The manifest a Codex node builds when this file is uploaded with this name and type."""
    leaves: list[bytes] = []
    size = 0
    with open(path, "rb") as stream:
        for padded, length in iter_blocks(stream):
            leaves.append(hashlib.sha256(padded).digest())
            size += length
    return Manifest(tree_cid=tree_cid(leaves), dataset_size=size, filename=filename,
                    mimetype=mimetype)
