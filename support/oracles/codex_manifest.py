"""The Codex manifest and its CID, with google.protobuf and a schema written out here.

The schema is nim-codex ``codex/manifest/coders.nim`` (its header comment and ``encode``) as
codex.md §3.4 pins it: a ``Header`` of proto2 optional fields, each one nim-codex writes set
explicitly (so written even when zero) in field-number order, inside field 1 of an outer message.
``filename`` and ``mimetype`` are strings on the wire; they are declared ``bytes`` here so the
exact header bytes a client sent survive.
"""

from __future__ import annotations

import os

from support.oracles import codex_cid
from support.oracles.protobuf_schema import message_classes

_CLASSES = message_classes("suite_oracle.codex.manifest", "proto2", {
    # 7 is the erasure-coding sub-message, never written for a plain upload.
    "Header": [("treeCid", 1, "bytes"), ("blockSize", 2, "uint32"),
               ("datasetSize", 3, "uint64"), ("codec", 4, "uint32"), ("hcodec", 5, "uint32"),
               ("version", 6, "uint32"), ("filename", 8, "bytes"), ("mimetype", 9, "bytes")],
    "Manifest": [("header", 1, "Header")],
})
_HEADER, _MANIFEST = _CLASSES["Header"], _CLASSES["Manifest"]
# The codec and hash codec a plain upload's manifest records (codex-block, sha2-256).
_BLOCK_CODEC = 0xCD02
_SHA2_256 = 0x12
# libp2p's CidVersion enum ordinal of CIDv1 (CIDvIncorrect, CIDv0, CIDv1), not the number 1.
_CIDV1_ORDINAL = 2


def manifest_bytes(tree_cid: str, dataset_size: int, filename: str | None = None,
                   mimetype: str | None = None) -> bytes:
    """The manifest block nim-codex stores for a plain upload."""
    header = _HEADER(treeCid=codex_cid.cid_bytes(tree_cid), blockSize=codex_cid.BLOCK_SIZE,
                     datasetSize=dataset_size, codec=_BLOCK_CODEC, hcodec=_SHA2_256,
                     version=_CIDV1_ORDINAL)
    for name, value in (("filename", filename), ("mimetype", mimetype)):
        if value is not None:  # nim-codex writes them only when the upload named them
            setattr(header, name, value.encode("utf-8", "surrogateescape"))
    return _MANIFEST(header=header).SerializeToString()


def manifest_cid_of_file(path: str | os.PathLike[str], filename: str | None = None,
                         mimetype: str | None = None) -> str:
    """The CID a Codex node answers when this file is uploaded with this name and type."""
    leaves: list[bytes] = []
    size = 0
    for digest, length in codex_cid.iter_block_digests(path):
        leaves.append(digest)
        size += length
    block = manifest_bytes(codex_cid.tree_cid(leaves), size, filename, mimetype)
    return codex_cid.content_cid(codex_cid.MANIFEST, block)
