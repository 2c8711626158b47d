"""The suite's oracles (support.oracles) against upstream vectors and the contracts' written-out
bytes, against the emulators' real output, and against emulators whose rules are deliberately
broken: for each broken rule the emulator still agrees with its own wire codec, and the oracle
rejects what it produces."""

from __future__ import annotations

import hashlib
import io
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

import emulators.codex.node as codex_node
import wire.cid
import wire.codex_manifest
from emulators.codex.cli import NodeConfig
from emulators.codex.identity import NodeIdentity
from emulators.codex.logs import ChroniclesLogger
from emulators.community.archives import manager as archive_manager
from emulators.community.archives.common import ArchiveContext
from emulators.community.archives.manager import ArchiveManager, ArchiveRun
from emulators.community.persistence import Database
from emulators.community.persistence.archives import SCHEMA, ArchiveStore
from emulators.community.seams import SystemClock
from support.oracles import archive, codex_cid
from support.oracles.codex_manifest import manifest_bytes, manifest_cid_of_file
from wire import archive_codec
from wire.pb.communities import communities_pb2

# nim-codex testupdownload.nim uploads this and asserts this tree CID (codex.md §3.5).
VECTOR_CONTENT = b"some file contents"
VECTOR_TREE = "zDzSvJTezk7bJNQqFq8k1iHXY84psNuUfZVusA5bBQQUSuyzDSVL"
KIB = 1024


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


# --- Codex: upstream vectors and the contract's bytes ------------------------------------------
def test_the_reference_upload_has_nim_codex_tree_cid(tmp_path: Path) -> None:
    path = tmp_path / "vector"
    path.write_bytes(VECTOR_CONTENT)
    leaves = [digest for digest, _ in codex_cid.iter_block_digests(path)]
    assert codex_cid.tree_cid(leaves) == VECTOR_TREE
    # nim-codex's /space after that upload: quotaUsedBytes 65592 = one block + a 56-byte manifest.
    assert len(manifest_bytes(VECTOR_TREE, len(VECTOR_CONTENT))) == 65592 - 65536


def test_manifest_bytes_are_those_codex_md_spells_out() -> None:
    tree = codex_cid.cid_bytes(VECTOR_TREE)
    header = (b"\x0a\x26" + tree + b"\x10\x80\x80\x04" + b"\x18\x12" + b"\x20\x82\x9a\x03"
              + b"\x28\x12" + b"\x30\x02" + b"\x42\x05hello" + b"\x4a\x0atext/plain")
    assert manifest_bytes(VECTOR_TREE, 18, "hello", "text/plain") == (
        b"\x0a" + bytes([len(header)]) + header)


@pytest.mark.parametrize(("codec", "varint", "prefix"), [
    (codex_cid.MANIFEST, "819a03", "zDvZRwz"), (codex_cid.BLOCK, "829a03", "zDxWB8E"),
    (codex_cid.ROOT, "839a03", "zDzSvJT")])
def test_codex_cids_have_the_contract_layout(codec: str, varint: str, prefix: str) -> None:
    text = codex_cid.content_cid(codec, b"anything")
    assert (len(text), text[:7]) == (52, prefix)
    assert codex_cid.cid_bytes(text).hex()[:12] == f"01{varint}1220"
    facts = codex_cid.describe_cid(text)
    assert (facts.version, facts.codec, facts.hash, facts.base) == (1, codec, "sha2-256",
                                                                     "base58btc")


@pytest.mark.parametrize("text", ["", "z", "zDvZRwzm", "!abc", "x" * 60])
def test_what_is_not_a_cid_is_said_so(text: str) -> None:
    with pytest.raises(ValueError, match="is not a CID"):
        codex_cid.describe_cid(text)


def test_tree_keys_follow_nim_codex_for_one_and_three_leaves() -> None:
    one, two, three = sha(b"1"), sha(b"2"), sha(b"3")
    assert codex_cid.tree_root([one]) == sha(one + bytes(32) + b"\x03")
    lower = [sha(one + two + b"\x01"), sha(three + bytes(32) + b"\x03")]
    assert codex_cid.tree_root([one, two, three]) == sha(lower[0] + lower[1] + b"\x00")


# --- Codex: the emulator's real uploads ------------------------------------------------------
@pytest.fixture
def codex(tmp_path: Path) -> Iterator[codex_node.CodexNode]:
    """An emulated Codex node in this process (no network), for its upload path."""
    config = NodeConfig(data_dir=tmp_path / "node", listen_addrs=(("127.0.0.1", 0),),
                        api_bindaddr="127.0.0.1", api_port=0, disc_port=0, bootstrap_nodes=(),
                        storage_quota=1 << 30, block_ttl=0, block_maintenance_interval=600,
                        block_maintenance_count=1000, block_retries=1, log_level="ERROR",
                        api_cors_origin=None)
    node = codex_node.CodexNode(config, NodeIdentity.load_or_create(tmp_path / "key"),
                                ChroniclesLogger("ERROR", out=io.StringIO()))
    yield node
    node.store.close()


@dataclass
class Uploaded:
    """One file uploaded to the in-process emulator, and what the emulator made of it."""

    path: Path
    filename: str | None
    mimetype: str | None
    cid: str
    tree: str
    node: codex_node.CodexNode = field(repr=False)


def upload(node: codex_node.CodexNode, path: Path, filename: str | None = None,
           mimetype: str | None = None) -> Uploaded:
    with open(path, "rb") as stream:
        cid = node.upload(stream, filename, mimetype)
    return Uploaded(path, filename, mimetype, str(cid), str(node.local_manifest(cid).tree_cid),
                    node)


def oracle_problems(done: Uploaded) -> list[str]:
    """What the steps' checks (through the oracles) find wrong with an upload."""
    problems = []
    if done.cid != manifest_cid_of_file(done.path, done.filename, done.mimetype):
        problems.append("the CID is not the one Codex computes")
    try:
        if codex_cid.describe_cid(done.cid).codec != codex_cid.MANIFEST:
            problems.append("the CID is not a Codex manifest CID")
        if codex_cid.describe_cid(done.tree).codec != codex_cid.ROOT:
            problems.append("the tree CID is not a Codex tree CID")
    except ValueError:
        problems.append("a CID does not parse")
    leaves = [digest for digest, _ in codex_cid.iter_block_digests(done.path)]
    if done.tree != codex_cid.tree_cid(leaves):
        problems.append("the tree CID is not the one Codex computes")
    if not all(done.node.store.has(cid) for cid in codex_cid.iter_block_cids(done.path)):
        problems.append("the node does not hold the blocks Codex computes")
    return problems


def own_codec_agrees(done: Uploaded) -> bool:
    """The check the steps made before the oracles: the emulator's own manifest module."""
    manifest = wire.codex_manifest.manifest_for_file(done.path, done.filename, done.mimetype)
    return str(manifest.cid()) == done.cid


def file_of(tmp_path: Path, size: int) -> Path:
    path = tmp_path / f"content-{size}"
    path.write_bytes(os.urandom(size))
    return path


@pytest.mark.parametrize("size", [1, 18, 64 * KIB, 64 * KIB + 1, 200 * KIB, 320 * KIB])
@pytest.mark.parametrize(("filename", "mimetype"), [(None, None), ("résumé.txt", "text/plain")])
def test_the_oracles_agree_with_the_emulator(codex: codex_node.CodexNode, tmp_path: Path,
                                             size: int, filename: str | None,
                                             mimetype: str | None) -> None:
    done = upload(codex, file_of(tmp_path, size), filename, mimetype)
    assert oracle_problems(done) == []
    assert done.cid == manifest_cid_of_file(done.path, filename, mimetype)


def test_the_reference_upload_through_the_emulator(codex: codex_node.CodexNode,
                                                   tmp_path: Path) -> None:
    path = tmp_path / "vector"
    path.write_bytes(VECTOR_CONTENT)
    done = upload(codex, path)
    assert (done.tree, oracle_problems(done)) == (VECTOR_TREE, [])


# --- Codex: broken rules ----------------------------------------------------------------------
def _swap_size_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    """blockSize and datasetSize written under each other's field numbers."""
    original = wire.codex_manifest.varint_field
    monkeypatch.setattr(wire.codex_manifest, "varint_field",
                        lambda number, value: original({2: 3, 3: 2}.get(number, number), value))


def _everywhere(name: str, value: object) -> Callable[[pytest.MonkeyPatch], None]:
    """A constant or function of the wire package wrong everywhere it was imported by value."""
    def apply(monkeypatch: pytest.MonkeyPatch) -> None:
        for module in (wire.cid, wire.codex_manifest, codex_node):
            if hasattr(module, name):
                monkeypatch.setattr(module, name, value)
    return apply


BREAKAGES: dict[str, tuple[Callable[[pytest.MonkeyPatch], None], str]] = {
    "the bottom layer hashed with the upper layers' keys": (
        lambda mp: mp.setattr(wire.codex_manifest, "_BOTTOM_KEYS", (b"\x00", b"\x02")),
        "the tree CID is not the one Codex computes"),
    "the tree's odd nodes hashed with the pair key": (
        lambda mp: mp.setattr(wire.codex_manifest, "_UPPER_KEYS", (b"\x00", b"\x00")),
        "the tree CID is not the one Codex computes"),
    "the last block not zero-padded": (
        _everywhere("pad_block", lambda chunk: chunk),
        "the node does not hold the blocks Codex computes"),
    "the manifest's size fields renumbered": (
        _swap_size_fields, "the CID is not the one Codex computes"),
    "the manifest codec of a block": (
        _everywhere("CODEX_MANIFEST", 0xCD02), "the CID is not a Codex manifest CID"),
    "the tree codec of raw data": (
        _everywhere("CODEX_ROOT", 0x55), "the tree CID is not a Codex tree CID"),
}


@pytest.mark.parametrize("breakage", BREAKAGES)
def test_the_oracles_reject_an_emulator_with_a_broken_rule(
        codex: codex_node.CodexNode, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        breakage: str) -> None:
    path = file_of(tmp_path, 5 * 64 * KIB + 100)  # five full blocks and a partial one
    apply, problem = BREAKAGES[breakage]
    apply(monkeypatch)
    broken = upload(codex, path, "notes.txt", "text/plain")
    assert own_codec_agrees(broken), "the emulator's own codec should share the broken rule"
    assert problem in oracle_problems(broken)


# --- archives: upstream vectors and the contract's bytes ---------------------------------------
def test_keccak_is_legacy_keccak_not_sha3() -> None:
    # The Ethereum Keccak-256 of the empty string (SHA3-256 gives a7ffc6f8…).
    assert archive.keccak256(b"").hex() == (
        "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")


def test_archive_id_hashes_the_entry_bytes_archive_md_spells_out() -> None:
    entry = archive.IndexEntry(1000, 2000, (b"\x01\x02\x03\x04",), "zDvX")
    metadata = b"\x10\xe8\x07" + b"\x18\xd0\x0f" + b"\x22\x04\x01\x02\x03\x04"  # from, to, topic
    encoded = b"\x12" + bytes([len(metadata)]) + metadata + b"\x1a\x04zDvX"  # metadata, cid
    assert archive.archive_id(entry) == "0x" + archive.keccak256(encoded).hex()


def test_content_topic_is_four_keccak_bytes_of_the_chat_id() -> None:
    chat = "0x02" + "ab" * 32 + "general"
    assert archive.content_topic(chat) == "0x" + archive.keccak256(chat.encode())[:4].hex()
    assert len(archive.content_topic(chat)) == 10


# --- archives: the emulator's real archive run ----------------------------------------------
COMMUNITY = "0x02" + "cd" * 32
CHATS = (COMMUNITY + "general", COMMUNITY + "random")
START = 1_768_471_200  # a whole hour


@dataclass
class MemoryStorage:
    """A storage node that keeps uploads in memory (what the archive manager calls)."""

    data: dict[str, bytes] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def upload(self, data: bytes, filename: str = "archive-data.bin") -> str:
        cid = codex_cid.content_cid(codex_cid.MANIFEST, data)
        with self.lock:
            self.data[cid] = data
        return cid

    def exists(self, cid: str) -> bool:
        return cid in self.data


@dataclass
class ArchiveRunResult:
    created: list[str]
    storage: MemoryStorage
    index_cid: str


def run_archives(tmp_path: Path, per_window: tuple[int, ...]) -> ArchiveRunResult:
    """The emulated control node archives hour windows holding these numbers of messages."""
    store = ArchiveStore(Database(tmp_path / "db" / "status.db", SCHEMA))
    for window, count in enumerate(per_window):
        for n in range(count):
            chat = CHATS[n % 2]
            store.store_waku_message(archive_codec.StoredMessage(
                os.urandom(65), START + window * 3600 + n, archive_codec.chat_topic(chat),
                f"message {n}".encode(), b"", os.urandom(32).hex()))
    storage = MemoryStorage()
    ctx = ArchiveContext(store=store, directory=SimpleNamespace(), crypto=SimpleNamespace(),
                         signals=SimpleNamespace(send=lambda *_: None), clock=SystemClock(),
                         storage=lambda: storage, stopping=threading.Event())
    topics = [bytes.fromhex(archive.content_topic(chat)[2:]) for chat in CHATS]  # as the suite
    created = ArchiveManager(ctx).create_from_db(ArchiveRun(
        COMMUNITY, topics, START, START + 3600 * len(per_window), 3600, encrypt=False))
    return ArchiveRunResult(created, storage, store.last_seen_archive_link(COMMUNITY))


def archive_problems(result: ArchiveRunResult, per_window: tuple[int, ...]) -> list[str]:
    """What the archive world's checks (through the oracle) find wrong with an archive run."""
    index = archive.read_index(result.storage.data.get(result.index_cid, b""))
    if index is None:
        return ["the storage node holds no archive index whose IDs check out"]
    problems = []
    if set(index) != set(result.created):
        problems.append("the index does not list the archives just created")
    expected = {START + w * 3600: count for w, count in enumerate(per_window) if count}
    found = {entry.start: archive.count_messages(result.storage.data[entry.cid])
             for entry in index.values()}
    if found != expected:
        problems.append(f"archives hold {found} messages; expected {expected}")
    topics = {entry.topics for entry in index.values()}
    if topics != {tuple(bytes.fromhex(archive.content_topic(c)[2:]) for c in CHATS)}:
        problems.append("an archive is not about the channels' content topics")
    return problems


def test_the_archive_oracle_agrees_with_the_emulator(tmp_path: Path) -> None:
    result = run_archives(tmp_path, (3, 0, 5))
    assert len(result.created) == 2
    assert archive_problems(result, (3, 0, 5)) == []


def _renumbered_archive_messages(monkeypatch: pytest.MonkeyPatch) -> None:
    """The emulator's schema (proto/communities.proto) with WakuMessageArchive.messages moved
    from field 3 to field 5, as a slip in the shared .proto would move it on both sides."""
    file = descriptor_pb2.FileDescriptorProto()
    communities_pb2.DESCRIPTOR.CopyToProto(file)
    archive_message = next(m for m in file.message_type if m.name == "WakuMessageArchive")
    next(f for f in archive_message.field if f.name == "messages").number = 5
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    broken = SimpleNamespace(**{
        m.name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"protobuf.{m.name}"))
        for m in file.message_type})
    monkeypatch.setattr(archive_codec, "pb", broken)
    monkeypatch.setattr(archive_manager, "pb", broken)


def _archive_id_with_a_version(monkeypatch: pytest.MonkeyPatch) -> None:
    """Archive IDs hashed over the entry with its unused version field set."""
    def archive_id(meta: object, cid: str) -> str:
        entry = archive_codec.pb.CodexWakuMessageArchiveIndexMetadata(version=1, metadata=meta,
                                                                      cid=cid)
        return "0x" + archive_codec.keccak256(entry.SerializeToString()).hex()

    monkeypatch.setattr(archive_codec, "codex_archive_id", archive_id)


ARCHIVE_BREAKAGES: dict[str, tuple[Callable[[pytest.MonkeyPatch], None], str]] = {
    "the archive's messages under another field number": (
        _renumbered_archive_messages, "archives hold"),
    "archive IDs over another encoding of the entry": (
        _archive_id_with_a_version, "no archive index whose IDs check out"),
    "SHA3 instead of Keccak for topics and IDs": (
        lambda mp: mp.setattr(archive_codec, "keccak256",
                              lambda data: hashlib.sha3_256(data).digest()),
        "no archive index whose IDs check out"),
}


@pytest.mark.parametrize("breakage", ARCHIVE_BREAKAGES)
def test_the_archive_oracle_rejects_an_emulator_with_a_broken_rule(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, breakage: str) -> None:
    apply, problem = ARCHIVE_BREAKAGES[breakage]
    apply(monkeypatch)
    per_window = (3, 0, 5)
    topics = [archive_codec.chat_topic(chat) for chat in CHATS]  # the emulator's own rule
    result = run_archives(tmp_path, per_window)
    if result.created:  # the emulator's own codec reads back what it wrote
        index = archive_codec.decode_codex_index(result.storage.data[result.index_cid])
        for archive_id, entry in index.archives.items():
            assert archive_codec.codex_archive_id(entry.metadata, entry.cid) == archive_id
            assert archive_codec.decode_archive(result.storage.data[entry.cid]).messages
    else:  # its topics are not the channels' topics, so the suite's request matched nothing
        assert topics != [bytes.fromhex(archive.content_topic(c)[2:]) for c in CHATS]
    assert any(problem in found for found in archive_problems(result, per_window))
