"""The node's libp2p identity: a secp256k1 key kept in the data dir, its peer ID and its SPR.

The key file holds a libp2p ``PrivateKey`` protobuf (created on first start, mode 0600), so the
peer ID stays the same for a data dir across restarts. The SPR is a libp2p signed envelope around a
``PeerRecord``, rendered ``spr:`` + base64url, which other emulated nodes accept as
``--bootstrap-node``.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

import base58
import sha3  # type: ignore[import-untyped]  # safe-pysha3: legacy Keccak, a cheap import
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from wire.cid import CidError, decode_varint, encode_varint
from wire.protowire import WireError, bytes_field, iter_fields, varint_field

_SECP256K1 = 2  # libp2p KeyType
_PEER_RECORD_PAYLOAD_TYPE = b"\x03\x01"
_PEER_RECORD_DOMAIN = b"libp2p-peer-record"
_MULTIADDR_IP4, _MULTIADDR_TCP, _MULTIADDR_UDP = 0x04, 0x06, 0x0111


class InvalidRecordError(ValueError):
    """An SPR that does not decode, or whose signature or peer ID does not check out."""


@dataclass(frozen=True)
class PeerRecord:
    """What a signed peer record says: who, which version, and where (protocol, host, port)."""

    peer_id: str
    node_id: str
    seq: int
    addresses: tuple[tuple[str, str, int], ...]

    def first(self, protocol: str) -> tuple[str, int] | None:
        for proto, host, port in self.addresses:
            if proto == protocol:
                return host, port
        return None


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


def parse_multiaddr(raw: bytes) -> tuple[str, str, int]:
    """Binary ``/ip4/<host>/<tcp|udp>/<port>`` → (protocol, host, port)."""
    code, offset = decode_varint(raw)
    if code != _MULTIADDR_IP4 or len(raw) < offset + 4:
        raise InvalidRecordError("only /ip4 addresses are supported")
    host = str(ipaddress.IPv4Address(raw[offset : offset + 4]))
    code, offset = decode_varint(raw, offset + 4)
    protocols = {_MULTIADDR_TCP: "tcp", _MULTIADDR_UDP: "udp"}
    if code not in protocols or len(raw) != offset + 2:
        raise InvalidRecordError("only tcp and udp ports are supported")
    return protocols[code], host, int.from_bytes(raw[offset:], "big")


def peer_id_of(public_key_protobuf: bytes) -> str:
    """The peer ID of a public key protobuf (identity multihash, base58btc)."""
    multihash = encode_varint(0) + encode_varint(len(public_key_protobuf)) + public_key_protobuf
    return base58.b58encode(multihash).decode("ascii")


def sec1_point(public_key: ec.EllipticCurvePublicKey, compressed: bool) -> bytes:
    """The key's SEC 1 (X9.62) encoding: ``02``/``03`` + x, or ``04`` + x + y (32 bytes each).
    Built from the coordinates, which spares the process cryptography's serialization package
    (a tenth of the node's start-up imports)."""
    numbers = public_key.public_numbers()
    x = numbers.x.to_bytes(32, "big")
    if compressed:
        return bytes([2 + (numbers.y & 1)]) + x
    return b"\x04" + x + numbers.y.to_bytes(32, "big")


def node_id_of(public_key: ec.EllipticCurvePublicKey) -> str:
    """The discovery node ID: keccak-256 of the uncompressed public key, in hex."""
    return str(sha3.keccak_256(sec1_point(public_key, compressed=False)[1:]).hexdigest())


def decode_spr(text: str) -> PeerRecord:
    """Decode an ``spr:`` text, checking the envelope's signature and the record's peer ID."""
    if not text.startswith("spr:"):
        raise InvalidRecordError("a signed peer record starts with 'spr:'")
    try:
        body = text[4:]
        envelope = dict(iter_fields(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))))
        public_key, payload_type = envelope[1], envelope[2]
        record, signature = envelope[3], envelope[5]
        key_fields = dict(iter_fields(public_key))  # type: ignore[arg-type]
        if key_fields.get(1) != _SECP256K1 or payload_type != _PEER_RECORD_PAYLOAD_TYPE:
            raise InvalidRecordError("not a secp256k1 peer record")
        point = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256K1(), key_fields[2])
        signed = b"".join(encode_varint(len(part)) + part  # type: ignore[arg-type]
                          for part in (_PEER_RECORD_DOMAIN, payload_type, record))
        point.verify(signature, signed, ec.ECDSA(hashes.SHA256()))  # type: ignore[arg-type]
        fields = list(iter_fields(record))  # type: ignore[arg-type]
        values = dict(fields)
        peer_id = base58.b58encode(values[1]).decode("ascii")  # type: ignore[arg-type]
        if peer_id != peer_id_of(public_key):  # type: ignore[arg-type]
            raise InvalidRecordError("the record's peer ID is not its signer's")
        addresses = tuple(parse_multiaddr(dict(iter_fields(info))[1])  # type: ignore[arg-type]
                          for number, info in fields if number == 3)
        return PeerRecord(peer_id, node_id_of(point), int(values.get(2, 0)), addresses)
    except InvalidRecordError:
        raise
    except InvalidSignature as exc:
        raise InvalidRecordError("the record's signature does not verify") from exc
    except KeyError as exc:
        raise InvalidRecordError(f"signed peer record without field {exc}") from exc
    except (ValueError, TypeError, CidError, WireError, binascii.Error) as exc:
        raise InvalidRecordError(f"undecodable signed peer record: {exc}") from exc


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
            handle.write(varint_field(1, _SECP256K1) + bytes_field(2, secret))
        return cls(key)

    @property
    def public_key_protobuf(self) -> bytes:
        point = sec1_point(self.private_key.public_key(), compressed=True)
        return varint_field(1, _SECP256K1) + bytes_field(2, point)

    @property
    def peer_id_bytes(self) -> bytes:
        """Identity multihash of the public key protobuf (it is shorter than 42 bytes)."""
        key = self.public_key_protobuf
        return encode_varint(0) + encode_varint(len(key)) + key

    @property
    def peer_id(self) -> str:
        return peer_id_of(self.public_key_protobuf)

    @property
    def node_id(self) -> str:
        return node_id_of(self.private_key.public_key())

    def signed_peer_record(self, addresses: list[bytes], seq: int) -> str:
        """``spr:`` + unpadded base64url of a signed envelope around a PeerRecord."""
        record = bytes_field(1, self.peer_id_bytes) + varint_field(2, seq)
        record += b"".join(bytes_field(3, bytes_field(1, address)) for address in addresses)
        unsigned = b"".join(
            encode_varint(len(part)) + part
            for part in (_PEER_RECORD_DOMAIN, _PEER_RECORD_PAYLOAD_TYPE, record)
        )
        signature = self.private_key.sign(unsigned, ec.ECDSA(hashes.SHA256()))
        envelope = (
            bytes_field(1, self.public_key_protobuf)
            + bytes_field(2, _PEER_RECORD_PAYLOAD_TYPE)
            + bytes_field(3, record)
            + bytes_field(5, signature)
        )
        return "spr:" + base64.urlsafe_b64encode(envelope).decode("ascii").rstrip("=")
