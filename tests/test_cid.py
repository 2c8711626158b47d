"""CIDs, trees and manifests against the contract's vector and hand-built expectations."""

from __future__ import annotations

import base64
import hashlib
import io

import base58
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wire.cid import CODEX_BLOCK, CODEX_MANIFEST, CODEX_ROOT, Cid, CidError
from wire.codex_manifest import (
    BLOCK_SIZE,
    Manifest,
    ManifestError,
    iter_blocks,
    merkle_root,
    tree_cid,
)

# nim-codex testupdownload.nim: "some file contents" → this tree CID (codex.md §3.5).
VECTOR_TREE = "zDzSvJTezk7bJNQqFq8k1iHXY84psNuUfZVusA5bBQQUSuyzDSVL"


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def leaves_of(data: bytes) -> list[bytes]:
    return [sha(block) for block, _ in iter_blocks(io.BytesIO(data))]


def test_reference_vector_tree_cid() -> None:
    assert str(tree_cid(leaves_of(b"some file contents"))) == VECTOR_TREE


def test_reference_vector_manifest_is_56_bytes() -> None:
    manifest = Manifest(tree_cid=Cid.parse(VECTOR_TREE), dataset_size=18)
    assert len(manifest.encode()) == 56  # 65592 - 65536 in the nim-codex /space test


def test_manifest_bytes_spelled_out() -> None:
    tree = Cid.parse(VECTOR_TREE)
    expected_header = (
        b"\x0a\x26" + tree.to_bytes()
        + b"\x10\x80\x80\x04"  # blockSize 65536
        + b"\x18\x12"  # datasetSize 18
        + b"\x20\x82\x9a\x03"  # codec codex-block
        + b"\x28\x12"  # hcodec sha2-256
        + b"\x30\x02"  # version: CIDv1's enum ordinal
        + b"\x42\x05hello"  # filename
        + b"\x4a\x0atext/plain"  # mimetype
    )
    manifest = Manifest(tree_cid=tree, dataset_size=18, filename="hello", mimetype="text/plain")
    assert manifest.encode() == b"\x0a" + bytes([len(expected_header)]) + expected_header
    assert manifest.cid() == Cid.v1(CODEX_MANIFEST, sha(manifest.encode()))


def test_single_leaf_root_uses_odd_key_of_bottom_layer() -> None:
    leaf = sha(b"x".ljust(BLOCK_SIZE, b"\0"))
    assert merkle_root([leaf]) == sha(leaf + bytes(32) + b"\x03")


def test_two_and_three_leaf_roots_by_hand() -> None:
    l0, l1, l2 = sha(b"a"), sha(b"b"), sha(b"c")
    assert merkle_root([l0, l1]) == sha(l0 + l1 + b"\x01")
    a = sha(l0 + l1 + b"\x01")
    b = sha(l2 + bytes(32) + b"\x03")
    assert merkle_root([l0, l1, l2]) == sha(a + b + b"\x00")


def test_five_leaf_root_by_hand() -> None:
    leaves = [sha(bytes([i])) for i in range(5)]
    bottom = [sha(leaves[0] + leaves[1] + b"\x01"), sha(leaves[2] + leaves[3] + b"\x01"),
              sha(leaves[4] + bytes(32) + b"\x03")]
    middle = [sha(bottom[0] + bottom[1] + b"\x00"), sha(bottom[2] + bytes(32) + b"\x02")]
    assert merkle_root(leaves) == sha(middle[0] + middle[1] + b"\x00")


def test_empty_tree_is_refused() -> None:
    with pytest.raises(ValueError, match="Empty leaves"):
        merkle_root([])


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=1, max_value=4 * BLOCK_SIZE + 3))
def test_block_boundaries(size: int) -> None:
    data = bytes(i % 251 for i in range(size))
    blocks = list(iter_blocks(io.BytesIO(data)))
    assert len(blocks) == -(-size // BLOCK_SIZE)
    assert all(len(block) == BLOCK_SIZE for block, _ in blocks)
    assert sum(length for _, length in blocks) == size
    last, length = blocks[-1]
    assert last[length:] == bytes(BLOCK_SIZE - length)  # zero padding


@settings(max_examples=40, deadline=None)
@given(st.binary(min_size=1, max_size=3000), st.text(min_size=1, max_size=20),
       st.text(min_size=1, max_size=20))
def test_metadata_changes_manifest_cid_not_tree(data: bytes, name: str, other: str) -> None:
    tree = tree_cid(leaves_of(data))
    plain = Manifest(tree_cid=tree, dataset_size=len(data))
    named = Manifest(tree_cid=tree, dataset_size=len(data), filename=name)
    typed = Manifest(tree_cid=tree, dataset_size=len(data), mimetype=name)
    assert len({plain.cid(), named.cid(), typed.cid()}) == 3
    assert {m.tree_cid for m in (plain, named, typed)} == {tree}
    if name != other:
        assert Manifest(tree_cid=tree, dataset_size=len(data), filename=other).cid() != named.cid()


@settings(max_examples=30, deadline=None)
@given(st.binary(min_size=1, max_size=200), st.one_of(st.none(), st.text(max_size=30)),
       st.one_of(st.none(), st.text(max_size=30)))
def test_manifest_round_trip(data: bytes, filename: str | None, mimetype: str | None) -> None:
    manifest = Manifest(tree_cid=tree_cid(leaves_of(data)), dataset_size=len(data),
                        filename=filename, mimetype=mimetype)
    assert Manifest.decode(manifest.encode()) == manifest


def test_manifest_decode_refuses_other_bytes() -> None:
    with pytest.raises(ManifestError):
        Manifest.decode(b"\x0a\x02\x08\x01")


@pytest.mark.parametrize(("codec", "prefix"), [(CODEX_MANIFEST, "zDvZRwz"),
                                                (CODEX_BLOCK, "zDxWB8E"), (CODEX_ROOT, "zDzSvJT")])
def test_codex_cid_strings(codec: int, prefix: str) -> None:
    text = str(Cid.of_bytes(codec, b"anything"))
    assert len(text) == 52
    assert text.startswith(prefix)
    assert Cid.parse(text) == Cid.of_bytes(codec, b"anything")


def test_other_multibases_parse_to_the_same_cid() -> None:
    cid = Cid.of_bytes(CODEX_MANIFEST, b"x")
    raw = cid.to_bytes()
    b32 = base64.b32encode(raw).decode().rstrip("=")
    for text in ("b" + b32.lower(), "B" + b32, "m" + base64.b64encode(raw).decode().rstrip("="),
                 "u" + base64.urlsafe_b64encode(raw).decode().rstrip("=")):
        assert Cid.parse(text) == cid
        assert str(Cid.parse(text)).startswith("z")


def test_cidv0_parses_as_dag_pb() -> None:
    cid = Cid.parse("QmaozNR7DZHQK1ZcU9p7QdrshMvXqWK6gpu5rmrkPdT3L4")
    assert (cid.version, cid.codec) == (0, 0x70)


@pytest.mark.parametrize("text", [
    "zDvZRwzmNonExistentCID123456789",  # 'I' is not base58 (the Go client's test value)
    "",
    "z",
    "hello",
    "f" + Cid.of_bytes(CODEX_MANIFEST, b"x").to_bytes().hex(),  # libp2p cannot decode base16
    "z" + base58.b58encode(b"\x12\x20" + bytes(32)).decode(),  # a v0 multihash in a multibase
    "z" + base58.b58encode(b"\x01\x99\x01\x12\x20" + bytes(32)).decode(),  # unknown codec
    "z" + base58.b58encode(b"\x01\x81\x9a\x03\x12\x20" + bytes(31)).decode(),  # short digest
    "z" + base58.b58encode(b"\x02\x81\x9a\x03\x12\x20" + bytes(32)).decode(),  # CID version 2
])
def test_malformed_cids_are_incorrect(text: str) -> None:
    with pytest.raises(CidError, match=r"^Incorrect Cid"):
        Cid.parse(text)


def test_bytes_after_the_digest_are_ignored_as_libp2p_does() -> None:
    cid = Cid.of_bytes(CODEX_BLOCK, b"x")
    assert Cid.parse("z" + base58.b58encode(cid.to_bytes() + b"\x00").decode()) == cid
