"""Archive codec, partition rules and the hash-ratchet wrapper, against the contract's rules and
values computed by hand."""

from __future__ import annotations

import os

import pytest
from Crypto.Hash import keccak
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from wire.archive_codec import (
    MAX_ARCHIVE_SIZE,
    StoredMessage,
    Window,
    chat_topic,
    chunks,
    codex_archive_id,
    decode_archive,
    encode_archive,
    keccak256,
    metadata,
    windows,
)
from wire.pb.encryption import encryption_pb2
from wire.ratchet import (
    CommunityKey,
    DecryptionError,
    GroupKeyNotFoundError,
    is_wrapped,
    unwrap,
    wrap,
)

DAY, HOUR = 86400, 3600


def message(timestamp: int, payload: bytes = b"hi", sig: bytes = b"\x04" + bytes(64),
            topic: bytes = b"\x01\x02\x03\x04") -> StoredMessage:
    return StoredMessage(sig, timestamp, topic, payload, b"", os.urandom(32).hex())


def test_keccak_is_legacy_keccak_not_sha3() -> None:
    assert keccak256(b"").hex() == \
        "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    assert keccak256(b"hello").hex() == \
        "1c8aff950685c2ed4bc3174f3472287b56d9517b9c948127319a09a7a36deac8"


def test_chat_topic_is_the_first_four_bytes_of_keccak() -> None:
    assert chat_topic("hello") == bytes.fromhex("1c8aff95")


def test_reference_range_gives_one_window() -> None:
    t_ms = 1_700_000_123_456
    start, end = t_ms / 1000 - 60, t_ms / 1000 + 60
    assert list(windows(start, end, 120)) == [Window(1_700_000_063, 1_700_000_183)]


def test_three_weeks_minus_a_day_in_weekly_partitions() -> None:
    start = 1_600_000_000
    result = list(windows(start, start + 20 * DAY, 7 * DAY))
    assert result == [Window(start, start + 7 * DAY), Window(start + 7 * DAY, start + 14 * DAY),
                      Window(start + 14 * DAY, start + 20 * DAY)]
    times = [start + HOUR, start + 2 * HOUR, start + 8 * DAY, start + 14 * DAY]
    assert [sum(w.holds(t) for t in times) for w in result] == [2, 1, 1]


def test_window_edges_and_truncation() -> None:
    assert list(windows(100, 150, 120)) == [Window(100, 150)]  # shorter than a partition
    assert list(windows(100.9, 220.7, 60)) == [Window(100, 160), Window(160, 220)]
    assert list(windows(200, 200, 60)) == []
    assert list(windows(300, 200, 60)) == []
    window = Window(100, 160)
    assert window.holds(100) and not window.holds(160)


def test_chunking_by_payload_and_sig_size() -> None:
    sig = b"\x04" + bytes(64)
    exact = message(1, payload=bytes(MAX_ARCHIVE_SIZE - len(sig)), sig=sig)
    too_big = message(2, payload=bytes(MAX_ARCHIVE_SIZE - len(sig) + 1), sig=sig)
    assert chunks([exact]) == [[exact]]
    assert chunks([too_big]) == [[]]  # dropped, yet one (empty) archive
    half = message(3, payload=bytes(MAX_ARCHIVE_SIZE // 2), sig=sig)
    assert [len(c) for c in chunks([half, half, half])] == [1, 1, 1]
    small = [message(i) for i in range(5)]
    assert chunks(small) == [small]


def test_archive_encoding_round_trip_leaves_version_unset() -> None:
    msgs = [message(105), message(110, payload=b"second")]
    data = encode_archive(Window(100, 160), [b"\x01\x02\x03\x04"], msgs)
    archive = decode_archive(data)
    assert [StoredMessage.from_proto(m) for m in archive.messages] == msgs
    assert archive.version == 0 and not data.startswith(b"\x08")  # field 1 absent


def test_codex_archive_id_from_hand_assembled_bytes() -> None:
    meta = metadata(Window(100, 220), [b"\x01\x02\x03\x04"])
    cid = "zDvZRwzm5vTeyaGa3pp9Bs6myLFaxNfa4ETnVYNLYBqjKy298ZvG"
    meta_bytes = bytes.fromhex("1064" "18dc01" "220401020304")  # from=100, to=220, topic
    entry = b"\x12" + bytes([len(meta_bytes)]) + meta_bytes + b"\x1a" + bytes([len(cid)]) + \
        cid.encode()
    expected = "0x" + keccak.new(digest_bits=256, data=entry).hexdigest()
    assert codex_archive_id(meta, cid) == expected
    assert len(expected) == 66


def community_key() -> CommunityKey:
    return CommunityKey(b"\x02" + os.urandom(32), os.urandom(32), 1_700_000_000_000)


def test_key_id_and_hash_chain_by_hand() -> None:
    key = community_key()
    by_hand = keccak256(key.group_id + key.timestamp.to_bytes(8, "little") + key.key)
    assert key.key_id == by_hand
    h1 = keccak256(key.key)
    assert key.message_key(1) == h1
    assert key.message_key(3) == keccak256(keccak256(h1))


def test_wrap_then_unwrap_and_the_frame_by_hand() -> None:
    key = community_key()
    data = wrap(b"archive bytes", key, seq_no=7, installation_id="inst-1")
    assert is_wrapped(data)
    assert unwrap(data, {key.key_id: key}) == b"archive bytes"
    frame = encryption_pb2.ProtocolMessage()
    frame.ParseFromString(data)
    entry = frame.encrypted_message["none"]
    header = entry.HR_header
    assert (frame.installation_id, header.seq_no, header.group_id, header.key_id,
            header.deprecated_key_id) == ("inst-1", 7, key.group_id, key.key_id,
                                          key.timestamp & 0xFFFFFFFF)
    nonce, sealed = entry.payload[-12:], entry.payload[:-12]  # the nonce is appended
    assert AESGCM(key.message_key(7)).decrypt(nonce, sealed, None) == b"archive bytes"


def test_wrong_or_missing_keys_are_refused() -> None:
    key, other = community_key(), community_key()
    data = wrap(b"secret", key, seq_no=1, installation_id="x")
    with pytest.raises(GroupKeyNotFoundError):
        unwrap(data, {other.key_id: other})
    impostor = CommunityKey(key.group_id, os.urandom(32), key.timestamp)
    with pytest.raises(DecryptionError):
        unwrap(data, {key.key_id: impostor})
    tampered = bytearray(data)
    tampered[-20] ^= 0xFF
    with pytest.raises((DecryptionError, GroupKeyNotFoundError)):
        unwrap(bytes(tampered), {key.key_id: key})
    assert not is_wrapped(encode_archive(Window(1, 2), [b"abcd"], [message(1)]))
