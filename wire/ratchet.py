"""The community hash ratchet that wraps encrypted archives and indexes (archive.md §2.3).

- key_id = keccak256(group_id ‖ little-endian uint64 key timestamp ‖ 32-byte key);
- hash chain: h1 = keccak256(key), hn = keccak256(h(n-1)); message ``seq_no = n`` uses hn;
- AES-256-GCM, 12-byte random nonce, output = ciphertext ‖ tag ‖ nonce (nonce appended);
- framed as ``ProtocolMessage{installation_id, encrypted_message{"none": EncryptedMessageProtocol{
  HR_header{deprecated_key_id, seq_no, group_id, key_id}, payload}}}``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf.message import DecodeError

from wire.archive_codec import keccak256
from wire.pb.encryption import encryption_pb2 as pb

NONCE_SIZE = 12
MAX_CHAIN_STEPS = 100_000
ENVELOPE_KEY = "none"


class GroupKeyNotFoundError(Exception):
    """status-go's ErrHashRatchetGroupIDNotFound: no key for this community (or key id)."""


class DecryptionError(Exception):
    """The bytes are not a hash-ratchet message this key opens."""


@dataclass(frozen=True)
class CommunityKey:
    """A community-level hash-ratchet key."""

    group_id: bytes  # the community's 33-byte compressed public key
    key: bytes  # 32 bytes
    timestamp: int  # the key's timestamp

    @property
    def key_id(self) -> bytes:
        return keccak256(self.group_id + self.timestamp.to_bytes(8, "little") + self.key)

    def message_key(self, seq_no: int) -> bytes:
        """h(seq_no) of the hash chain."""
        if not 1 <= seq_no <= MAX_CHAIN_STEPS:
            raise DecryptionError(f"sequence number {seq_no} is outside the hash chain")
        value = self.key
        for _ in range(seq_no):
            value = keccak256(value)
        return value

    @classmethod
    def generate(cls, group_id: bytes, timestamp: int) -> CommunityKey:
        return cls(group_id, os.urandom(32), timestamp)


def wrap(plaintext: bytes, key: CommunityKey, seq_no: int, installation_id: str) -> bytes:
    """Encrypt ``plaintext`` as status-go's BuildHashRatchetMessage does; returns the marshalled
    ProtocolMessage."""
    nonce = os.urandom(NONCE_SIZE)
    sealed = AESGCM(key.message_key(seq_no)).encrypt(nonce, plaintext, None) + nonce
    header = pb.HRHeader(deprecated_key_id=key.timestamp & 0xFFFFFFFF, seq_no=seq_no,
                         group_id=key.group_id, key_id=key.key_id)
    message = pb.ProtocolMessage(installation_id=installation_id)
    message.encrypted_message[ENVELOPE_KEY].CopyFrom(
        pb.EncryptedMessageProtocol(HR_header=header, payload=sealed))
    return message.SerializeToString()


def is_wrapped(data: bytes) -> bool:
    """Whether ``data`` parses as a ProtocolMessage carrying a hash-ratchet entry (field 101)."""
    message = pb.ProtocolMessage()
    try:
        message.ParseFromString(data)
    except DecodeError:
        return False
    return any(entry.HasField("HR_header") for entry in message.encrypted_message.values())


def unwrap(data: bytes, keys: Mapping[bytes, CommunityKey]) -> bytes:
    """Decrypt a wrapped payload with the key its header names (keys by key id)."""
    message = pb.ProtocolMessage()
    try:
        message.ParseFromString(data)
    except DecodeError as exc:
        raise DecryptionError("not a ProtocolMessage") from exc
    entry = message.encrypted_message.get(ENVELOPE_KEY)
    if entry is None or not entry.HasField("HR_header"):
        raise DecryptionError("no hash-ratchet entry")
    header = entry.HR_header
    key = keys.get(header.key_id)
    if key is None or key.group_id != header.group_id:
        raise GroupKeyNotFoundError("hash ratchet group id not found")
    sealed, nonce = entry.payload[:-NONCE_SIZE], entry.payload[-NONCE_SIZE:]
    if len(nonce) != NONCE_SIZE:
        raise DecryptionError("ciphertext too short")
    try:
        return AESGCM(key.message_key(header.seq_no)).decrypt(nonce, sealed, None)
    except InvalidTag as exc:
        raise DecryptionError("authentication tag mismatch") from exc
