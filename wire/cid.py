"""Content identifiers as Codex mints and parses them (contract codex.md §3.1).

Codex CIDs are CIDv1 with a sha2-256 multihash, rendered in base58btc (``z…``). Parsing accepts
what libp2p accepts: several multibases, 46-character ``Qm…`` CIDv0, and only the content codecs
libp2p knows plus the Codex ones.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

import base58

CODEX_MANIFEST = 0xCD01
CODEX_BLOCK = 0xCD02
CODEX_ROOT = 0xCD03
SHA2_256 = 0x12
DAG_PB = 0x70
IDENTITY = 0x00

# libp2p's ContentIdsList (nim-libp2p cid.nim) by multicodec code, plus the codecs nim-codex
# registers: manifest, block, root, slot-root, proving-root, slot-cell and the poseidon2 hashes.
ALLOWED_CODECS: frozenset[int] = frozenset(
    {
        0x55, 0x70, 0x71, 0x0129, 0x72, 0x78,  # raw, dag-pb/-cbor/-json, libp2p-key, git-raw
        0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98,  # eth-*
        0xB0, 0xB1, 0xC0, 0xC1, 0xD0, 0xD1, 0xE0, 0xE1, 0xF0, 0xF1,  # bitcoin/zcash/stellar/...
        0x7B, 0x7C, 0xED,  # torrent-info, torrent-file, ed25519-pub
        0xCD01, 0xCD02, 0xCD03, 0xCD04, 0xCD05, 0xCD06,  # the codex codecs
    }
)

# Multihash codes libp2p (with nim-codex's poseidon2 additions) validates, with their digest
# length (None: any length).
_MULTIHASH_LENGTHS: dict[int, int | None] = {
    0x00: None, 0x11: 20, 0x12: 32, 0x13: 64, 0x14: 64, 0x15: 48, 0x16: 32, 0x17: 28,
    0x18: 32, 0x19: 64, 0x1A: 28, 0x1B: 32, 0x1C: 48, 0x1D: 64, 0x56: 32,
    0xCD10: 32, 0xCD11: 32,
    **{code: code - 0xB200 for code in range(0xB201, 0xB241)},  # blake2b-8 … blake2b-512
    **{code: code - 0xB240 for code in range(0xB241, 0xB261)},  # blake2s-8 … blake2s-256
}


class CidError(ValueError):
    """A CID that libp2p refuses. ``Cid.init(string)`` only ever fails with ``Incorrect``, which
    nim-codex renders as ``Incorrect Cid``; ``detail`` says what was wrong, for humans."""

    message = "Incorrect Cid"

    def __init__(self, detail: str) -> None:
        super().__init__(f"{self.message}: {detail}")
        self.detail = detail


def encode_varint(value: int) -> bytes:
    """Unsigned LEB128, as multiformats and protobuf write integers."""
    if value < 0:
        raise ValueError("varints are unsigned")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def decode_varint(data: bytes, offset: int = 0) -> tuple[int, int]:
    """Read an unsigned LEB128 at ``offset``; returns (value, next offset)."""
    value = 0
    shift = 0
    for index in range(offset, min(len(data), offset + 10)):
        byte = data[index]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, index + 1
        shift += 7
    raise CidError("truncated varint")


_FLICKR_ALPHABET = b"123456789abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ"


def _b32(text: str, alphabet: bytes | None = None) -> bytes:
    padded = text.upper() + "=" * (-len(text) % 8)
    if alphabet is None:
        return base64.b32decode(padded)
    return base64.b32hexdecode(padded)


def _b64(text: str, urlsafe: bool) -> bytes:
    padded = text.rstrip("=") + "=" * (-len(text.rstrip("=")) % 4)
    return base64.urlsafe_b64decode(padded) if urlsafe else base64.b64decode(padded, validate=True)


def multibase_decode(text: str) -> bytes:
    """Decode a multibase string with the bases libp2p can decode (not base16: its decoder is a
    stub that always fails)."""
    if not text:
        raise CidError("empty string")
    prefix, body = text[0], text[1:]
    try:
        if prefix == "z":
            return base58.b58decode(body.encode("ascii"))
        if prefix == "Z":
            return base58.b58decode(body.encode("ascii"), alphabet=_FLICKR_ALPHABET)
        if prefix in "bB":
            if (prefix == "b" and body != body.lower()) or (prefix == "B" and body != body.upper()):
                raise ValueError("mixed case base32")
            return _b32(body)
        if prefix in "cC":
            return _b32(body.rstrip("="))
        if prefix in "vV":
            return _b32(body, alphabet=b"hex")
        if prefix == "\x00":
            return body.encode("latin-1")
        if prefix in "mM":
            return _b64(body, urlsafe=False)
        if prefix in "uU":
            return _b64(body, urlsafe=True)
    except (ValueError, binascii.Error) as exc:
        raise CidError(str(exc)) from exc
    raise CidError(f"unknown multibase prefix {prefix!r}")


@dataclass(frozen=True)
class Cid:
    """A parsed content identifier (version, codec and multihash)."""

    version: int
    codec: int
    hash_code: int
    digest: bytes

    @classmethod
    def v1(cls, codec: int, digest: bytes) -> Cid:
        """A CIDv1 with a sha2-256 digest, as Codex mints them."""
        return cls(1, codec, SHA2_256, digest)

    @classmethod
    def of_bytes(cls, codec: int, content: bytes) -> Cid:
        """The CIDv1 of ``content`` hashed with sha2-256."""
        return cls.v1(codec, hashlib.sha256(content).digest())

    @property
    def multihash(self) -> bytes:
        return encode_varint(self.hash_code) + encode_varint(len(self.digest)) + self.digest

    def to_bytes(self) -> bytes:
        """Binary form: version ‖ codec ‖ multihash (v0: the multihash alone)."""
        if self.version == 0:
            return self.multihash
        return encode_varint(1) + encode_varint(self.codec) + self.multihash

    def __str__(self) -> str:
        if self.version == 0:
            return base58.b58encode(self.multihash).decode("ascii")
        return "z" + base58.b58encode(self.to_bytes()).decode("ascii")

    @classmethod
    def from_bytes(cls, data: bytes) -> Cid:
        """Parse the binary form; raises CidError with libp2p's error kind."""
        if not data:
            raise CidError("empty")
        version, offset = decode_varint(data)
        if version != 1:
            raise CidError(f"unsupported CID version {version}")
        codec, offset = decode_varint(data, offset)
        if codec not in ALLOWED_CODECS:
            raise CidError(f"codec 0x{codec:x}")
        hash_code, digest = _parse_multihash(data[offset:])
        return cls(1, codec, hash_code, digest)

    @classmethod
    def parse(cls, text: str) -> Cid:
        """Parse a CID string as libp2p's ``Cid.init(string)`` does."""
        if len(text) < 2:
            raise CidError("too short")
        try:
            text.encode("ascii")
        except UnicodeEncodeError as exc:
            raise CidError("non-ASCII characters") from exc
        if len(text) == 46 and text.startswith("Qm"):
            try:
                raw = base58.b58decode(text.encode("ascii"))
            except ValueError as exc:
                raise CidError(str(exc)) from exc
            if len(raw) == 34 and raw[:2] == b"\x12\x20":
                return cls(0, DAG_PB, SHA2_256, raw[2:])
        raw = multibase_decode(text)
        if raw[:1] == b"\x12":
            raise CidError("a CIDv0 multihash inside a multibase string")
        return cls.from_bytes(raw)


def _parse_multihash(data: bytes) -> tuple[int, bytes]:
    code, offset = decode_varint(data)
    length, offset = decode_varint(data, offset)
    if code not in _MULTIHASH_LENGTHS:
        raise CidError(f"unknown multihash 0x{code:x}")
    expected = _MULTIHASH_LENGTHS[code]
    if offset + length > len(data) or (expected is not None and length != expected):
        raise CidError("malformed multihash")
    # libp2p ignores bytes after the digest.
    return code, data[offset : offset + length]
