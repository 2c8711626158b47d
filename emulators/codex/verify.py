"""Verifying the blocks a peer sends for a dataset tree, at the cost of one sha256 per block.

Every block is checked as nim-codex checks it: its data hashes to the CID the peer named, and
that digest, along the block's Merkle proof, to the tree root. Two things make it cheaper in
Python than checking block by block with the general helpers:

- the CID text is computed two base58 digits per division (the ``base58`` package does one
  digit per division, about four times slower, and a fetch does it for every block);
- a block whose sibling in the tree was verified already is not walked up to the root again:
  its proof must name the sibling's digest, the sibling's proof its own, and the two proofs go
  on identically from their common parent, which is then the verified one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from emulators.codex.exchange import LeafReply
from wire.cid import CODEX_BLOCK, Cid
from wire.codex_manifest import BLOCK_SIZE, verify_proof

_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BASE58_PAIRS = [high + low for high in _BASE58 for low in _BASE58]
_PAIR_BASE = len(_BASE58) ** 2
# Everything of a block CID's binary form but the digest: version, codec, multihash head.
_BLOCK_CID_HEAD = Cid.v1(CODEX_BLOCK, bytes(32)).to_bytes()[:-32]
_SIBLING = b"\x01"  # a proof entry that carries the sibling's digest


def block_cid_text(digest: bytes) -> str:
    """``str(Cid.v1(CODEX_BLOCK, digest))``: ``z`` and the base58btc of the binary CID (which
    starts with 0x01, so no leading zero bytes to spell as ``1``)."""
    number = int.from_bytes(_BLOCK_CID_HEAD + digest, "big")
    pairs = []
    while number:
        number, pair = divmod(number, _PAIR_BASE)
        pairs.append(_BASE58_PAIRS[pair])
    text = "".join(reversed(pairs))
    return "z" + (text[1:] if text[0] == "1" else text)


def verified_leaves(root: bytes, leaves: Iterable[LeafReply]) -> list[LeafReply]:
    """Those of ``leaves`` whose data is a whole block hashing to its CID and, along its proof,
    to the tree's ``root`` digest."""
    good: list[LeafReply] = []
    seen: dict[int, tuple[bytes, bytes]] = {}  # index → (digest, proof) of verified blocks
    for leaf in leaves:
        if len(leaf.data) != BLOCK_SIZE:
            continue
        digest = hashlib.sha256(leaf.data).digest()
        if leaf.block_cid != block_cid_text(digest):
            continue
        proof, sibling = leaf.proof, seen.get(leaf.index ^ 1)
        if sibling is not None:
            sibling_digest, sibling_proof = sibling
            valid = (proof[:1] == sibling_proof[:1] == _SIBLING
                     and proof[1:33] == sibling_digest and sibling_proof[1:33] == digest
                     and proof[33:] == sibling_proof[33:])
        else:
            valid = verify_proof(digest, leaf.index, proof, root)
        if valid:
            seen[leaf.index] = (digest, proof)
            good.append(leaf)
    return good
