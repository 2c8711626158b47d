"""The node's libp2p identity: a secp256k1 key kept in the data dir, its peer ID and its SPR.

The key file holds a libp2p ``PrivateKey`` protobuf (created on first start, mode 0600), so the
peer ID stays the same for a data dir across restarts. The SPR is a libp2p signed envelope around a
``PeerRecord``, rendered ``spr:`` + base64url, which other emulated nodes accept as
``--bootstrap-node``.
"""

from __future__ import annotations

import base64
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

import base58
from Crypto.Hash import keccak
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from support.codex.cid import encode_varint

_SECP256K1 = 2  # libp2p KeyType
_PEER_RECORD_PAYLOAD_TYPE = b"\x03\x01"
_PEER_RECORD_DOMAIN = b"libp2p-peer-record"
_MULTIADDR_IP4, _MULTIADDR_TCP, _MULTIADDR_UDP = 0x04, 0x06, 0x0111


def _field(number: int, value: bytes) -> bytes:
    return encode_varint(number << 3 | 2) + encode_varint(len(value)) + value


def _uint_field(number: int, value: int) -> bytes:
    return encode_varint(number << 3) + encode_varint(value)


def multiaddr_bytes(host: str, port: int, protocol: str) -> bytes:
    """Binary multiaddr ``/ip4/<host>/<tcp|udp>/<port>``."""
    code = _MULTIADDR_TCP if protocol == "tcp" else _MULTIADDR_UDP
    return (
        encode_varint(_MULTIADDR_IP4)
        + ipaddress.IPv4Address(host).packed
        + encode_varint(code)
        + port.to_bytes(2, "big")
    )


class UnsafeKeyFileError(Exception):
    """The key file is readable or writable by others; nim-codex refuses to start."""


@dataclass(frozen=True)
class NodeIdentity:
    """A node's key pair and the identifiers derived from it."""

    private_key: ec.EllipticCurvePrivateKey

    @classmethod
    def load_or_create(cls, key_path: Path) -> NodeIdentity:
        """Read the key file, or create it (0600) on first start."""
        if key_path.exists():
            if key_path.stat().st_mode & 0o077:
                raise UnsafeKeyFileError("The network private key file is not safe, aborting")
            raw = key_path.read_bytes()
            if len(raw) != 36 or raw[:4] != b"\x08\x02\x12\x20":
                raise ValueError(f"{key_path} is not a secp256k1 libp2p private key")
            secret = int.from_bytes(raw[4:], "big")
            return cls(ec.derive_private_key(secret, ec.SECP256K1()))
        key = ec.generate_private_key(ec.SECP256K1())
        secret = key.private_numbers().private_value.to_bytes(32, "big")
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(_uint_field(1, _SECP256K1) + _field(2, secret))
        return cls(key)

    def _public_bytes(self, compressed: bool) -> bytes:
        encoding = (
            serialization.PublicFormat.CompressedPoint
            if compressed
            else serialization.PublicFormat.UncompressedPoint
        )
        return self.private_key.public_key().public_bytes(serialization.Encoding.X962, encoding)

    @property
    def public_key_protobuf(self) -> bytes:
        return _uint_field(1, _SECP256K1) + _field(2, self._public_bytes(compressed=True))

    @property
    def peer_id_bytes(self) -> bytes:
        """Identity multihash of the public key protobuf (it is shorter than 42 bytes)."""
        key = self.public_key_protobuf
        return encode_varint(0) + encode_varint(len(key)) + key

    @property
    def peer_id(self) -> str:
        return base58.b58encode(self.peer_id_bytes).decode("ascii")

    @property
    def node_id(self) -> str:
        """The discovery node ID: keccak-256 of the uncompressed public key, in hex."""
        digest = keccak.new(digest_bits=256, data=self._public_bytes(compressed=False)[1:])
        return digest.hexdigest()

    def signed_peer_record(self, addresses: list[bytes], seq: int) -> str:
        """``spr:`` + unpadded base64url of a signed envelope around a PeerRecord."""
        record = _field(1, self.peer_id_bytes) + _uint_field(2, seq)
        record += b"".join(_field(3, _field(1, address)) for address in addresses)
        unsigned = b"".join(
            encode_varint(len(part)) + part
            for part in (_PEER_RECORD_DOMAIN, _PEER_RECORD_PAYLOAD_TYPE, record)
        )
        signature = self.private_key.sign(unsigned, ec.ECDSA(hashes.SHA256()))
        envelope = (
            _field(1, self.public_key_protobuf)
            + _field(2, _PEER_RECORD_PAYLOAD_TYPE)
            + _field(3, record)
            + _field(5, signature)
        )
        return "spr:" + base64.urlsafe_b64encode(envelope).decode("ascii").rstrip("=")
