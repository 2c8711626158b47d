"""The node's accounts (status-go's multiaccounts): one folder per account under the root data
directory, ``<root>/<key-uid>/`` (0700), holding ``account.json`` (0600: the identity's keys and
the password check) next to the messenger's database.

Keys are fresh secp256k1 keys from ``cryptography``: a master key whose uncompressed public key
gives the key UID as status-go derives it (``0x`` + hex SHA-256 of the master public key,
``generator.Account.ToAccountInfo``), a chat key (``public-key``) and wallet keys for the
addresses. They are independent random keys, not a BIP32 tree under the mnemonic.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from Crypto.Hash import keccak
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from emulators.community import errors
from emulators.community.seams import Account

_FILE = "account.json"
_PASSWORD_ROUNDS = 1000
# Twelve words from BIP39's English list; the phrase carries no checksum and derives
# nothing (a known difference).
_WORD_TEXT = ("abandon ability able about above absent absorb abstract absurd abuse access "
          "accident "
          "account accuse achieve acid acoustic acquire across act action actor actress actual "
          "adapt add addict address adjust admit adult advance advice aerobic affair afford "
          "afraid again age agent agree ahead aim air airport aisle alarm album alcohol alert "
          "alien all alley allow almost alone alpha already also alter always amateur amazing "
          "among amount amused analyst anchor ancient anger angle angry animal ankle announce "
          "annual another answer antenna antique anxiety any apart apology appear apple approve "
          "april arch arctic area arena argue arm armed armor army around arrange arrest arrive "
          "arrow art artefact artist artwork ask aspect assault asset assist assume asthma "
          "athlete atom attack attend attitude attract auction audit august aunt author auto "
          "autumn average avocado avoid awake aware away awesome awful awkward axis")
_WORDS = _WORD_TEXT.split()


class AccountError(Exception):
    """Why an account could not be opened (status-go's error text)."""


@dataclass(frozen=True)
class StoredAccount:
    """What ``account.json`` holds."""

    folder: Path
    record: dict[str, object]

    @property
    def key_uid(self) -> str:
        return str(self.record["keyUid"])

    def account(self) -> Account:
        return Account(key_uid=self.key_uid, display_name=str(self.record["name"]),
                       private_key=bytes.fromhex(str(self.record["chatPrivateKey"])),
                       public_key=str(self.record["publicKey"]))

    def multiaccount(self) -> dict[str, object]:
        """``multiaccounts.Account``'s JSON, as InitializeApplication and node.login give it."""
        record = self.record
        return {"name": record["name"], "timestamp": record["timestamp"], "identicon": "",
                "colorHash": None, "colorId": 0,
                "customizationColor": record["customizationColor"], "keycard-pairing": "",
                "key-uid": record["keyUid"], "images": None,
                "kdfIterations": record["kdfIterations"], "hasAcceptedTerms": False}

    def settings(self) -> dict[str, object]:
        """The account's ``settings.Settings`` JSON (the fields a login reports)."""
        record = self.record
        return {"address": record["address"], "currency": "usd",
                "customization-color": record["customizationColor"],
                "dapps-address": record["walletAddress"], "device-name": "",
                "display-name": record["name"], "eip1581-address": record["eip1581Address"],
                "fleet": record["config"]["fleet"],
                "installation-id": record["installationId"], "key-uid": record["keyUid"],
                "latest-derived-path": 0, "log-level": record["config"]["logLevel"],
                "mnemonic": record["mnemonic"], "name": record["name"],
                "networks/current-network": "mainnet_rpc", "preview-privacy": False,
                "public-key": record["publicKey"], "signing-phrase": record["signingPhrase"],
                "wallet-root-address": record["walletRootAddress"]}


def _public(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.X962,
                                         serialization.PublicFormat.UncompressedPoint)


def _address(key: ec.EllipticCurvePrivateKey) -> str:
    digest = keccak.new(digest_bits=256, data=_public(key)[1:]).hexdigest()
    return _checksummed(digest[-40:])


def _checksummed(hex_address: str) -> str:
    """EIP-55 mixed-case checksum, as go-ethereum's ``Address.Hex``."""
    digest = keccak.new(digest_bits=256, data=hex_address.encode()).hexdigest()
    return "0x" + "".join(c.upper() if int(digest[i], 16) >= 8 else c
                          for i, c in enumerate(hex_address))


def _password_check(password: str, salt: bytes) -> str:
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, _PASSWORD_ROUNDS).hex()


def _write_private(path: Path, data: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(data)
    os.chmod(path, 0o600)


class AccountStore:
    """The accounts under one root data directory."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def all(self) -> list[StoredAccount]:
        """Every account, oldest first."""
        if not self.root.is_dir():
            return []
        found = [self._read(path.parent) for path in self.root.glob(f"*/{_FILE}")]
        return sorted(found, key=lambda stored: (stored.record["timestamp"], stored.key_uid))

    def create(self, name: str, password: str, color: str, kdf_iterations: int,
               config: dict[str, object]) -> StoredAccount:
        """A new identity, saved; ``config`` is what a later LoginAccount starts the node with."""
        master, chat, wallet, root, eip = (ec.generate_private_key(ec.SECP256K1())
                                           for _ in range(5))
        key_uid = "0x" + hashlib.sha256(_public(master)).hexdigest()
        salt = secrets.token_bytes(16)
        record: dict[str, object] = {
            "keyUid": key_uid, "name": name, "timestamp": int(time.time()),
            "customizationColor": color, "kdfIterations": kdf_iterations,
            "publicKey": "0x" + _public(chat).hex(),
            "chatPrivateKey": chat.private_numbers().private_value.to_bytes(32, "big").hex(),
            "address": _address(master), "walletAddress": _address(wallet),
            "walletRootAddress": _address(root), "eip1581Address": _address(eip),
            "mnemonic": " ".join(secrets.choice(_WORDS) for _ in range(12)),
            "signingPhrase": " ".join(secrets.choice(_WORDS) for _ in range(3)),
            "installationId": secrets.token_hex(16), "passwordSalt": salt.hex(),
            "passwordCheck": _password_check(password, salt), "config": config}
        folder = self.root / key_uid
        _write_private(folder / _FILE, json.dumps(record))
        return StoredAccount(folder, record)

    def open(self, key_uid: str, password: str) -> StoredAccount:
        """The account, if the password opens it (status-go's database errors otherwise)."""
        folder = self.root / key_uid
        if not (folder / _FILE).is_file():
            raise AccountError(errors.NO_ROWS)
        stored = self._read(folder)
        salt = bytes.fromhex(str(stored.record["passwordSalt"]))
        if not hmac.compare_digest(_password_check(password, salt),
                                   str(stored.record["passwordCheck"])):
            raise AccountError("file is not a database")
        return stored

    @staticmethod
    def _read(folder: Path) -> StoredAccount:
        return StoredAccount(folder, json.loads((folder / _FILE).read_text()))
