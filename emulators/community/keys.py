"""Keys: secp256k1 identities, the community hash ratchet over ``wire.ratchet`` (keys kept in the
account's database), sealing a key for one recipient, and the token-ledger eligibility check."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from emulators.community.persistence.messenger import MessengerStore
from emulators.community.seams import ENV_TOKEN_LEDGER
from wire import ratchet
from wire.archive_codec import keccak256

_SEAL_INFO = b"status-emulator community key"
_NONCE = 12
BECOME_MEMBER = 1  # protobuf.CommunityTokenPermission_BECOME_MEMBER


def private_key(secret: bytes) -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(int.from_bytes(secret, "big"), ec.SECP256K1())


def new_secret() -> bytes:
    key = ec.generate_private_key(ec.SECP256K1())
    return key.private_numbers().private_value.to_bytes(32, "big")


def public_bytes(secret: bytes, compressed: bool) -> bytes:
    fmt = (serialization.PublicFormat.CompressedPoint if compressed
           else serialization.PublicFormat.UncompressedPoint)
    return private_key(secret).public_key().public_bytes(serialization.Encoding.X962, fmt)


def _point(public_hex: str) -> ec.EllipticCurvePublicKey:
    return ec.EllipticCurvePublicKey.from_encoded_point(
        ec.SECP256K1(), bytes.fromhex(public_hex.removeprefix("0x")))


@functools.lru_cache(maxsize=1024)  # once per author, not per message
def compressed(public_hex: str) -> bytes:
    return _point(public_hex).public_bytes(serialization.Encoding.X962,
                                           serialization.PublicFormat.CompressedPoint)


def _box_key(shared: bytes) -> bytes:
    return HKDF(hashes.SHA256(), 32, salt=None, info=_SEAL_INFO).derive(shared)


def seal(recipient_public_hex: str, plaintext: bytes) -> str:
    """ECDH with an ephemeral key, then AES-256-GCM: only the recipient can open it. Hex of
    ephemeral key (65 bytes) ‖ nonce ‖ ciphertext."""
    ephemeral = ec.generate_private_key(ec.SECP256K1())
    shared = ephemeral.exchange(ec.ECDH(), _point(recipient_public_hex))
    nonce = os.urandom(_NONCE)
    sealed = AESGCM(_box_key(shared)).encrypt(nonce, plaintext, None)
    head = ephemeral.public_key().public_bytes(serialization.Encoding.X962,
                                               serialization.PublicFormat.UncompressedPoint)
    return (head + nonce + sealed).hex()


def unseal(secret: bytes, sealed_hex: str) -> bytes:
    """Open what ``seal`` made for this key; raises ValueError (or InvalidTag) otherwise."""
    data = bytes.fromhex(sealed_hex)
    head, nonce, sealed = data[:65], data[65:65 + _NONCE], data[65 + _NONCE:]
    peer = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256K1(), head)
    shared = private_key(secret).exchange(ec.ECDH(), peer)
    return AESGCM(_box_key(shared)).decrypt(nonce, sealed, None)


class CommunityKeys:
    """``seams.CommunityCrypto``: the community-level hash ratchet, keys in the database."""

    def __init__(self, store: MessengerStore, installation_id: str) -> None:
        self._store = store
        self._installation_id = installation_id

    def all(self, community_id: str) -> list[ratchet.CommunityKey]:
        group = bytes.fromhex(community_id.removeprefix("0x"))
        return [ratchet.CommunityKey(group, key, timestamp)
                for key, timestamp in self._store.keys(community_id)]

    def add(self, community_id: str, key: bytes, timestamp: int) -> None:
        group = bytes.fromhex(community_id.removeprefix("0x"))
        self._store.save_key(community_id, ratchet.CommunityKey(group, key, timestamp).key_id,
                             key, timestamp)

    def generate(self, community_id: str, timestamp_ms: int) -> None:
        self.add(community_id, os.urandom(32), timestamp_ms)

    def encrypt(self, community_id: str, data: bytes) -> bytes:
        keys = self.all(community_id)
        if not keys:
            raise ratchet.GroupKeyNotFoundError("hash ratchet group id not found")
        key = keys[-1]
        return ratchet.wrap(data, key, self._store.next_seq_no(key.key_id),
                            self._installation_id)

    def decrypt(self, community_id: str, data: bytes) -> bytes:
        if not ratchet.is_wrapped(data):
            return data
        return ratchet.unwrap(data, {key.key_id: key for key in self.all(community_id)})


def ledger_holdings() -> dict[str, set[str]]:
    """The token ledger (env ``STATUS_EMULATOR_TOKEN_LEDGER``), re-read at every check: address
    (lowercase) → token symbols held. No file, or an unreadable one, means nobody holds anything."""
    path = os.environ.get(ENV_TOKEN_LEDGER, "")
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(address).lower(): {str(symbol) for symbol in symbols}
            for address, symbols in data.items() if isinstance(symbols, list)}


def eligible_for_key(permissions: Mapping[str, Mapping], addresses: Iterable[str]) -> bool:
    """Whether revealed ``addresses`` satisfy a BECOME_MEMBER permission: one permission is
    enough; within it every token criterion's symbol must be held by a revealed address."""
    holdings = ledger_holdings()
    held = set().union(*(holdings.get(address.lower(), set()) for address in addresses))
    for permission in permissions.values():
        if permission.get("type") != BECOME_MEMBER:
            continue
        criteria = permission.get("token_criteria") or []
        symbols = [criterion.get("symbol", "") for criterion in criteria]
        if all(symbol in held for symbol in symbols):
            return True
    return False


def message_id(author_public_hex: str, payload: bytes) -> str:
    """status-go's message ID: keccak256(compressed author key ‖ unencrypted payload)."""
    return "0x" + keccak256(compressed(author_public_hex) + payload).hex()
