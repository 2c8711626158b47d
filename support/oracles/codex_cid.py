"""Codex CIDs, blocks and the dataset tree, by the multiformats library and nim-codex's rules.

- CIDs (codex.md §3.1): CIDv1, sha2-256 multihash, base58btc, made and read by ``multiformats``
  with the three codecs nim-codex registers with libp2p added to its table by name and code.
- Blocks (§3.2): 64 KiB chunks of the upload, the last one zero-padded; a block's CID is
  ``codex-block`` over the sha256 of the padded chunk.
- The tree (§3.3; nim-codex ``merkletree.nim`` ``merkleTreeWorker`` and ``codex/codex.nim``
  ``compress``): a node is ``sha256(left ‖ right ‖ key)``, the key byte saying whether the layer
  is the bottom one and whether the node is a lone last one (paired with 32 zero bytes); the
  bottom layer is always reduced, even when it holds one leaf.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from multiformats import CID, multicodec, multihash
from multiformats.multicodec import Multicodec

# nim-codex codextypes.nim: the codecs it registers with libp2p (codex.md §3.1).
MANIFEST = "codex-manifest"
BLOCK = "codex-block"
ROOT = "codex-root"
_CODEX_CODECS = {MANIFEST: 0xCD01, BLOCK: 0xCD02, ROOT: 0xCD03}
# nim-codex DefaultBlockSize (codex.md §3.2).
BLOCK_SIZE = 65536
# nim-codex ByteTreeKey: the last byte hashed into every node of the tree.
KEY_NONE = 0x0
KEY_BOTTOM_LAYER = 0x1
KEY_ODD = 0x2
KEY_ODD_AND_BOTTOM_LAYER = 0x3
_DIGEST_SIZE = 32


def _register_codex_codecs() -> None:
    """multiformats' table predates the Codex codecs: add them, or check the table's own."""
    for name, code in _CODEX_CODECS.items():
        if not multicodec.exists(name) and not multicodec.exists(code=code):
            multicodec.register(Multicodec(name, "ipld", code, "draft", "nim-codex"))
        if multicodec.get(name).code != code:
            raise RuntimeError(f"multiformats knows {name} by another code than 0x{code:x}")


_register_codex_codecs()


@dataclass(frozen=True)
class CidFacts:
    """What a CID string says about itself."""

    version: int
    codec: str  # the multicodec name, e.g. "codex-manifest"
    hash: str  # the multihash function name, e.g. "sha2-256"
    digest: bytes
    base: str  # the multibase name, e.g. "base58btc"


def describe_cid(text: str) -> CidFacts:
    """Read a CID string with multiformats; ValueError if it is not one."""
    try:
        cid = CID.decode(text)
    except (ValueError, LookupError) as exc:  # multiformats raises both kinds
        raise ValueError(f"{text!r} is not a CID: {exc}") from exc
    return CidFacts(cid.version, cid.codec.name, cid.hashfun.name, bytes(cid.raw_digest),
                    cid.base.name)


def codex_cid(codec: str, digest: bytes) -> str:
    """The text of a Codex CID of ``codec`` over a sha256 ``digest``."""
    return str(CID("base58btc", 1, codec, multihash.wrap(digest, "sha2-256")))


def content_cid(codec: str, content: bytes) -> str:
    """The Codex CID of ``codec`` over ``content``."""
    return codex_cid(codec, hashlib.sha256(content).digest())


def cid_bytes(text: str) -> bytes:
    """The binary form of a CID (version ‖ codec ‖ multihash)."""
    return bytes(CID.decode(text))


def iter_block_digests(path: str | os.PathLike[str]) -> Iterator[tuple[bytes, int]]:
    """(sha256 of the padded block, bytes of content in it) for each block of a file."""
    with open(path, "rb") as handle:
        while chunk := handle.read(BLOCK_SIZE):
            padded = chunk.ljust(BLOCK_SIZE, b"\0")
            yield hashlib.sha256(padded).digest(), len(chunk)


def iter_block_cids(path: str | os.PathLike[str]) -> Iterator[str]:
    """The CID of each block of a file, in order."""
    for digest, _length in iter_block_digests(path):
        yield codex_cid(BLOCK, digest)


def _compress(left: bytes, right: bytes, key: int) -> bytes:
    return hashlib.sha256(left + right + bytes([key])).digest()


def tree_root(leaves: Sequence[bytes], bottom_layer: bool = True) -> bytes:
    """The root of the keyed sha256 tree over 32-byte leaves (nim-codex merkleTreeWorker)."""
    if not leaves:
        raise ValueError("a Codex tree has at least one leaf")
    if not bottom_layer and len(leaves) == 1:
        return leaves[0]
    pairs = len(leaves) // 2
    pair_key = KEY_BOTTOM_LAYER if bottom_layer else KEY_NONE
    parents = [_compress(leaves[2 * i], leaves[2 * i + 1], pair_key) for i in range(pairs)]
    if len(leaves) % 2:
        odd_key = KEY_ODD_AND_BOTTOM_LAYER if bottom_layer else KEY_ODD
        parents.append(_compress(leaves[-1], bytes(_DIGEST_SIZE), odd_key))
    return tree_root(parents, bottom_layer=False)


def tree_cid(leaves: Sequence[bytes]) -> str:
    """The ``treeCid`` of a dataset from its block digests."""
    return codex_cid(ROOT, tree_root(leaves))
