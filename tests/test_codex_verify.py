"""How the emulated node checks the blocks a peer sends for a dataset tree."""

from __future__ import annotations

import hashlib

from emulators.codex.exchange import LeafReply
from emulators.codex.verify import block_cid_text, verified_leaves
from wire.cid import CODEX_BLOCK, Cid
from wire.codex_manifest import BLOCK_SIZE, merkle_layers, merkle_proof

BLOCKS = 7  # an odd count: the last block has no sibling


def blocks() -> list[bytes]:
    return [bytes([index + 1]) * BLOCK_SIZE for index in range(BLOCKS)]


def tree() -> tuple[bytes, list[LeafReply]]:
    """The root digest and every block of a small tree, as an honest peer sends them."""
    data = blocks()
    digests = [hashlib.sha256(block).digest() for block in data]
    layers = merkle_layers(digests)
    leaves = [LeafReply(index, str(Cid.v1(CODEX_BLOCK, digests[index])),
                        merkle_proof(layers, index), data[index]) for index in range(BLOCKS)]
    return layers[-1][0], leaves


def indexes(leaves: list[LeafReply]) -> list[int]:
    return [leaf.index for leaf in leaves]


def test_block_cid_text_is_the_cid_string() -> None:
    for seed in range(500):
        digest = hashlib.sha256(seed.to_bytes(4, "big")).digest()
        assert block_cid_text(digest) == str(Cid.v1(CODEX_BLOCK, digest))
    for digest in (bytes(32), b"\xff" * 32):
        assert block_cid_text(digest) == str(Cid.v1(CODEX_BLOCK, digest))


def test_every_block_of_an_honest_peer_is_accepted() -> None:
    root, leaves = tree()
    assert indexes(verified_leaves(root, leaves)) == list(range(BLOCKS))
    assert indexes(verified_leaves(root, leaves[::-1])) == list(range(BLOCKS))[::-1]


def test_a_block_that_does_not_match_is_refused_even_beside_a_verified_sibling() -> None:
    root, leaves = tree()
    first, second = leaves[0], leaves[1]
    wrong_data = LeafReply(1, second.block_cid, second.proof, bytes(BLOCK_SIZE))
    wrong_cid = LeafReply(1, first.block_cid, second.proof, second.data)
    wrong_proof = LeafReply(1, second.block_cid, first.proof, second.data)
    wrong_path = LeafReply(1, second.block_cid, second.proof[:-1] + b"\x00", second.data)
    short = LeafReply(1, second.block_cid, second.proof, bytes(second.data[:-1]))
    for bad in (wrong_data, wrong_cid, wrong_proof, wrong_path, short):
        assert indexes(verified_leaves(root, [first, bad])) == [0]
        assert indexes(verified_leaves(root, [bad])) == []


def test_blocks_of_another_tree_are_refused() -> None:
    _root, leaves = tree()
    assert verified_leaves(hashlib.sha256(b"another").digest(), leaves) == []
