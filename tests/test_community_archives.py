"""The archive side of the emulated status-go node, against real emulated storage nodes started
by its own ``storage`` module (an owner's, and a member's bootstrapped from it), with small fakes
of the messenger (CommunityDirectory), the hash ratchet (CommunityCrypto) and the signal sink."""

from __future__ import annotations

import json
import math
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from emulators.community import rpc
from emulators.community.archives import downloader
from emulators.community.archives import storage as storage_module
from emulators.community.archives.downloader import ArchiveBatch
from emulators.community.archives.service import ArchiveService
from emulators.community.archives.storage import OverrideError, StorageConfig, apply_overrides
from emulators.community.persistence import Database
from emulators.community.persistence.archives import SCHEMA
from emulators.community.seams import CommunityInfo, LoginConfig, SystemClock
from support.processes.ports import reserve_port
from wire import archive_codec as codec
from wire.archive_codec import StoredMessage
from wire.pb.communities import communities_pb2 as pb
from wire.ratchet import CommunityKey, GroupKeyNotFoundError, is_wrapped, unwrap, wrap

SIGNAL_WAIT = 30.0


# --- fakes ----------------------------------------------------------------------------------
class Sink:
    """Collects signals; waits with deadlines."""

    def __init__(self) -> None:
        self.signals: list[tuple[str, object]] = []
        self._cond = threading.Condition()

    def send(self, signal_type: str, event: object) -> None:
        with self._cond:
            self.signals.append((signal_type, event))
            self._cond.notify_all()

    def types(self) -> list[str]:
        with self._cond:
            return [t for t, _ in self.signals]

    def wait(self, signal_type: str, count: int = 1, timeout: float = SIGNAL_WAIT) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: self.types_locked().count(signal_type) >= count,
                                       timeout):
                raise AssertionError(f"no {count}× {signal_type} within {timeout} s; "
                                     f"seen {self.types_locked()}")

    def types_locked(self) -> list[str]:
        return [t for t, _ in self.signals]

    def absent(self, signal_type: str, within: float, seen: int = 0) -> None:
        """Assert that no further such signal (beyond ``seen``) arrives within the time."""
        with self._cond:
            if self._cond.wait_for(
                    lambda: self.types_locked().count(signal_type) > seen, within):
                raise AssertionError(f"unexpected {signal_type}: {self.types_locked()}")


class Crypto:
    """The community hash ratchet, with the keys this node holds."""

    def __init__(self) -> None:
        self.keys: dict[bytes, CommunityKey] = {}
        self.current: CommunityKey | None = None
        self.seq = 0
        self.missing: list[float] = []  # when a decryption lacked its key

    def grant(self, key: CommunityKey, current: bool = False) -> None:
        self.keys[key.key_id] = key
        if current:
            self.current = key

    def encrypt(self, community_id: str, data: bytes) -> bytes:
        assert self.current is not None
        self.seq += 1
        return wrap(data, self.current, self.seq, "installation")

    def decrypt(self, community_id: str, data: bytes) -> bytes:
        if not is_wrapped(data):
            return data
        try:
            return unwrap(data, self.keys)
        except GroupKeyNotFoundError:
            self.missing.append(time.monotonic())
            raise


@dataclass
class Directory:
    communities: dict[str, CommunityInfo] = field(default_factory=dict)
    dispatched: list[tuple[str, str]] = field(default_factory=list)
    handled: list[StoredMessage] = field(default_factory=list)

    def community(self, community_id: str) -> CommunityInfo | None:
        return self.communities.get(community_id)

    def controlled_communities(self) -> list[CommunityInfo]:
        return [c for c in self.communities.values() if c.control_node]

    def dispatch_archive_link(self, community_id: str, link: str) -> None:
        self.dispatched.append((community_id, link))

    def handle_archive_messages(self, community_id: str,
                                messages: Sequence[StoredMessage]) -> int:
        fresh = [m for m in messages if m.hash not in {h.hash for h in self.handled}]
        self.handled.extend(fresh)
        return len(fresh)


@dataclass
class Node:
    service: ArchiveService
    directory: Directory
    crypto: Crypto
    sink: Sink
    db: Database
    data_dir: Path


def new_community(control: bool, encrypted: bool = False) -> CommunityInfo:
    key = ec.generate_private_key(ec.SECP256K1())
    community_id = "0x" + key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint).hex()
    return CommunityInfo(id=community_id, encrypted=encrypted, control_node=control,
                         joined=True, history_archive_support_enabled=True,
                         chat_ids=(community_id + "7b1f2c6e-chat",),
                         universal_chat_id=community_id)


def message(chat_id: str, timestamp: int, text: str, size: int = 0) -> StoredMessage:
    payload = (text.encode() + b"." * size)
    return StoredMessage(b"\x04" + os.urandom(64), timestamp, codec.chat_topic(chat_id),
                         payload, b"", codec.keccak256(payload + os.urandom(8)).hex())


def topics_of(community: CommunityInfo) -> list[str]:
    return [codec.topic_text(codec.chat_topic(c)) for c in community.chat_ids] + \
        [codec.topic_text(codec.chat_topic(community.id))]


def iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + \
        f".{round((seconds % 1) * 1e6):06d}Z"


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STATUS_EMULATOR_STORAGE_API_PORT", raising=False)
    monkeypatch.delenv("STATUS_EMULATOR_CODEX_COMMAND", raising=False)
    monkeypatch.setenv("STATUS_EMULATOR_RATCHET_RETRY", "1")


@pytest.fixture
def make_node(tmp_path: Path) -> Iterator[Callable[..., Node]]:
    made: list[Node] = []

    def make(name: str, interval: float = 7 * 86400.0) -> Node:
        data_dir = tmp_path / name
        db = Database(data_dir / "status.db", SCHEMA)
        directory, crypto, sink = Directory(), Crypto(), Sink()
        config = LoginConfig(data_dir=data_dir, fleets_file=None, fleet="",
                             import_initial_delay=0.0, message_archive_interval=interval)
        service = ArchiveService(db, directory, crypto, sink, config, SystemClock())
        service.start()
        node = Node(service, directory, crypto, sink, db, data_dir)
        made.append(node)
        return node

    yield make
    for node in made:
        node.service.stop()
        node.db.close()


def enable(node: Node, bootstrap: Node | None = None, retries: int = 2) -> None:
    udp = reserve_port(udp=True)
    overrides = {"NodeConfig.DiscoveryPort": str(udp.port),
                 "NodeConfig.BlockRetries": str(retries)}
    if bootstrap is not None:
        overrides["NodeConfig.BootstrapNodes"] = json.dumps([bootstrap.service.debug()["spr"]])
    udp.release()
    assert node.service.enable_logos_storage(overrides) is None
    node.sink.wait("community.historyArchivesProtocolEnabled")


def index_of(node: Node, community_id: str) -> pb.CodexWakuMessageArchiveIndex:
    link = node.service.last_archive_link(community_id)
    client = node.service._client
    assert client is not None
    data = node.crypto.decrypt(community_id, client.download(link, local=True))
    return codec.decode_codex_index(data)


def owner_with_archives(make_node: Callable[..., Node], windows: int = 3,
                        encrypted: bool = False) -> tuple[Node, CommunityInfo, float]:
    owner = make_node("owner")
    enable(owner)
    community = new_community(control=True, encrypted=encrypted)
    owner.directory.communities[community.id] = community
    start = math.floor(time.time()) - 3600 + 0.25
    for i in range(windows):
        owner.service.store_waku_message(message(community.chat_ids[0], int(start) + 60 * i + 5,
                                                 f"hello {i}"))
    return owner, community, start


# --- tests ----------------------------------------------------------------------------------
def test_before_enable_the_manager_is_a_nop(make_node: Callable[..., Node]) -> None:
    node = make_node("solo")
    with pytest.raises(rpc.RpcError, match=r"^archiveManager is not \*archive.ArchiveManager$"):
        node.service.debug()
    community = new_community(control=True)
    assert node.service.downloaded_ids(community.id) is None
    assert node.service.ids_to_import(community.id) is None
    assert node.service.has_community_archive(community.id) is False
    assert node.service.disable() is None
    assert node.sink.types() == []


def test_override_errors_use_go_texts() -> None:
    with pytest.raises(OverrideError, match=re.escape(
            'failed to apply LogosStorageConfig override "NodeConfig.Nope": unknown field '
            '"Nope" in path "NodeConfig.Nope"')):
        apply_overrides(StorageConfig(), {"NodeConfig.Nope": "1"})
    with pytest.raises(OverrideError,
                       match=re.escape('strconv.ParseInt: parsing "x": invalid syntax')):
        apply_overrides(StorageConfig(), {"NodeConfig.DiscoveryPort": "x"})
    config = apply_overrides(StorageConfig(), {"NodeConfig.BootstrapNodes": "spr:a, spr:b",
                                               "NodeConfig.ListenAddrs": '["/ip4/1.2.3.4/tcp/1"]',
                                               "Enabled": "true"})
    assert config.NodeConfig.BootstrapNodes == ("spr:a", "spr:b")
    assert config.NodeConfig.ListenAddrs == ("/ip4/1.2.3.4/tcp/1",)
    assert config.Enabled is True


def test_explicit_window_creation(make_node: Callable[..., Node]) -> None:
    owner, community, start = owner_with_archives(make_node)
    owner.service.store_waku_message(replace(message("other-chat", int(start) + 10, "x")))
    ids = owner.service.create_history_archive(community.id, topics_of(community), iso(start),
                                               iso(start + 180), 60, False)
    assert ids is not None and len(ids) == 3
    assert owner.sink.types()[-2:] == ["community.creatingHistoryArchives",
                                       "community.historyArchivesCreated"]
    assert owner.sink.signals[-1][1] == {"communityId": community.id,
                                         "from": math.floor(start),
                                         "to": math.floor(start) + 180}
    index = index_of(owner, community.id)
    assert set(index.archives) == set(ids)
    windows = sorted((getattr(e.metadata, "from"), e.metadata.to) for e in index.archives.values())
    base = math.floor(start)
    assert windows == [(base, base + 60), (base + 60, base + 120), (base + 120, base + 180)]
    assert owner.service.has_community_archive(community.id) is True
    assert owner.directory.dispatched == []  # creation alone announces nothing
    owner.service.dispatch_archive_link(community.id)
    assert owner.directory.dispatched == [(community.id, owner.service.last_archive_link(
        community.id))]

    # A later range: nothing stored there, no archive, the same link.
    link = owner.service.last_archive_link(community.id)
    assert owner.service.create_history_archive(community.id, topics_of(community),
                                                iso(start + 180), iso(start + 240), 60,
                                                False) == []
    assert owner.sink.types()[-1] == "community.noHistoryArchivesCreated"
    assert owner.service.last_archive_link(community.id) == link

    # A second run merges the previous index; a >30 MB message is dropped (an empty archive).
    owner.service.store_waku_message(message(community.chat_ids[0], int(start) + 250, "big",
                                             size=codec.MAX_ARCHIVE_SIZE))
    more = owner.service.create_history_archive(community.id, topics_of(community),
                                                iso(start + 240), iso(start + 300), 60, False)
    assert more is not None and len(more) == 1
    index = index_of(owner, community.id)
    assert set(index.archives) == {*ids, *more}
    client = owner.service._client
    assert client is not None
    dropped = codec.decode_archive(client.download(index.archives[more[0]].cid, local=True))
    assert len(dropped.messages) == 0


def test_encrypted_creation_wraps_archives_and_index(make_node: Callable[..., Node]) -> None:
    owner, community, start = owner_with_archives(make_node, windows=1, encrypted=True)
    key = CommunityKey.generate(bytes.fromhex(community.id[2:]), 1)
    owner.crypto.grant(key, current=True)
    ids = owner.service.create_history_archive(community.id, topics_of(community), iso(start),
                                               iso(start + 60), 60, True)
    assert ids is not None and len(ids) == 1
    client = owner.service._client
    assert client is not None
    raw_index = client.download(owner.service.last_archive_link(community.id), local=True)
    assert is_wrapped(raw_index)
    index = index_of(owner, community.id)
    archive = client.download(index.archives[ids[0]].cid, local=True)
    assert is_wrapped(archive)
    assert len(codec.decode_archive(unwrap(archive, owner.crypto.keys)).messages) == 1


def test_periodic_tick(make_node: Callable[..., Node]) -> None:
    owner = make_node("owner")
    enable(owner)
    interval = 2
    assert owner.service.update_message_archive_interval(interval) == interval
    with pytest.raises(rpc.RpcError, match=r"^duration must be greater than zero$"):
        owner.service.update_message_archive_interval(0)
    community = new_community(control=True)
    owner.directory.communities[community.id] = community
    started = time.monotonic()
    owner.service.community_created(community.id)
    owner.sink.absent("community.creatingHistoryArchives", within=interval * 1.5)
    owner.service.store_waku_message(message(community.chat_ids[0], int(time.time()) - 1, "a"))
    owner.sink.wait("community.historyArchivesSeeding")
    assert time.monotonic() - started >= interval
    assert owner.sink.types() == ["community.historyArchivesProtocolEnabled",
                                  "community.creatingHistoryArchives",
                                  "community.historyArchivesCreated",
                                  "community.historyArchivesSeeding"]
    first = owner.service.last_archive_link(community.id)
    assert owner.directory.dispatched == [(community.id, first)]
    # Next tick: nothing new, yet seeding and the same link again.
    owner.sink.wait("community.historyArchivesSeeding", 2)
    assert "community.noHistoryArchivesCreated" in owner.sink.types()
    assert owner.directory.dispatched[-1] == (community.id, first)
    # A new message: a new index that keeps the first archive.
    owner.service.store_waku_message(message(community.chat_ids[0], int(time.time()), "b"))
    deadline = time.monotonic() + SIGNAL_WAIT
    while owner.service.last_archive_link(community.id) == first:
        assert time.monotonic() < deadline, "no second archive"
        owner.sink.wait("community.historyArchivesSeeding", len(owner.directory.dispatched) + 1)
    assert len(index_of(owner, community.id).archives) == 2


def joined_member(make_node: Callable[..., Node], owner: Node, community: CommunityInfo,
                  retries: int = 2) -> Node:
    member = make_node("member")
    enable(member, bootstrap=owner, retries=retries)
    member.directory.communities[community.id] = replace(community, control_node=False)
    return member


def test_member_downloads_newest_first_and_imports(make_node: Callable[..., Node]) -> None:
    owner, community, start = owner_with_archives(make_node)
    ids = owner.service.create_history_archive(community.id, topics_of(community), iso(start),
                                               iso(start + 180), 60, False)
    assert ids is not None
    link = owner.service.last_archive_link(community.id)
    member = joined_member(make_node, owner, community)
    assert member.service.downloaded_ids(community.id) == []
    member.service.archive_link_received(community.id, link, 10)
    member.sink.wait("community.downloadingHistoryArchivesFinished")
    types = [t for t in member.sink.types() if t != "community.historyArchivesProtocolEnabled"]
    assert types == ["community.indexDownloadCompleted",
                     "community.downloadingHistoryArchivesStarted",
                     *["community.historyArchiveDownloaded"] * 3,
                     "community.historyArchivesSeeding",
                     *["community.importingHistoryArchiveMessages"] * 3,
                     "community.downloadingHistoryArchivesFinished"]
    assert member.sink.signals[1][1] == {"communityId": community.id, "indexCid": link}
    assert sorted(m.payload for m in member.directory.handled) == [b"hello 0", b"hello 1",
                                                                   b"hello 2"]
    assert sorted(member.service.downloaded_ids(community.id) or []) == sorted(ids)
    assert member.service.ids_to_import(community.id) == []
    assert member.service.has_community_archive(community.id) is True
    # The same link again (or an older clock) is ignored.
    member.service.archive_link_received(community.id, link, 11)
    member.service.archive_link_received(community.id, "zDvZRwzmOther", 1)
    member.sink.absent("community.indexDownloadCompleted", within=0.5, seen=1)


def test_batch_order_is_newest_first() -> None:
    index = pb.CodexWakuMessageArchiveIndex()
    for start in (100, 300, 200):
        meta = codec.metadata(codec.Window(start, start + 100), [b"abcd"])
        index.archives[f"0x{start}"].CopyFrom(
            pb.CodexWakuMessageArchiveIndexMetadata(metadata=meta, cid=f"cid{start}"))
    batch = ArchiveBatch(None, "0x00", index, {"0x200"})  # type: ignore[arg-type]
    assert batch.order == ["0x300", "0x100"]


def test_missing_archive_is_skipped(make_node: Callable[..., Node]) -> None:
    owner, community, start = owner_with_archives(make_node, windows=2)
    ids = owner.service.create_history_archive(community.id, topics_of(community), iso(start),
                                               iso(start + 120), 60, False)
    assert ids is not None
    client = owner.service._client
    assert client is not None
    index = index_of(owner, community.id)
    gone = client.upload(b"nobody keeps this")
    client.delete(gone)
    meta = codec.metadata(codec.Window(0, 60), [codec.chat_topic(community.chat_ids[0])])
    index.archives[codec.codex_archive_id(meta, gone)].CopyFrom(
        pb.CodexWakuMessageArchiveIndexMetadata(metadata=meta, cid=gone))
    link = client.upload(index.SerializeToString())
    member = joined_member(make_node, owner, community)
    member.service.archive_link_received(community.id, link, 1)
    member.sink.wait("community.downloadingHistoryArchivesFinished")
    assert member.sink.types().count("community.historyArchiveDownloaded") == 2
    assert sorted(member.service.downloaded_ids(community.id) or []) == sorted(ids)
    assert len(member.directory.handled) == 2


def test_new_link_cancels_the_running_task(make_node: Callable[..., Node]) -> None:
    owner, community, start = owner_with_archives(make_node, windows=1)
    ids = owner.service.create_history_archive(community.id, topics_of(community), iso(start),
                                               iso(start + 60), 60, False)
    assert ids is not None
    client = owner.service._client
    assert client is not None
    hanging = client.upload(b"an index nobody serves")
    client.delete(hanging)
    member = joined_member(make_node, owner, community, retries=3000)
    member.service.archive_link_received(community.id, hanging, 1)
    member.sink.absent("community.indexDownloadCompleted", within=1.0)
    began = time.monotonic()
    link = owner.service.last_archive_link(community.id)
    member.service.archive_link_received(community.id, link, 2)
    assert time.monotonic() - began < 5.0  # the first task ended promptly
    member.sink.wait("community.downloadingHistoryArchivesFinished")
    completed = [e for t, e in member.sink.signals if t == "community.indexDownloadCompleted"]
    assert completed == [{"communityId": community.id, "indexCid": link}]
    assert member.service.last_archive_link(community.id) == link
    assert not list(member.data_dir.rglob(".download-*.tmp"))


def test_ratchet_retry_and_undecryptable_index(make_node: Callable[..., Node]) -> None:
    owner, community, start = owner_with_archives(make_node, windows=1, encrypted=True)
    group = bytes.fromhex(community.id[2:])
    old, new = CommunityKey.generate(group, 1), CommunityKey.generate(group, 2)
    owner.crypto.grant(old, current=True)
    first = owner.service.create_history_archive(community.id, topics_of(community),
                                                 iso(start), iso(start + 60), 60, True)
    owner.crypto.grant(new, current=True)  # the key rotates; the next run uses the new one
    owner.service.store_waku_message(message(community.chat_ids[0], int(start) + 65, "later"))
    second = owner.service.create_history_archive(community.id, topics_of(community),
                                                  iso(start + 60), iso(start + 120), 60, True)
    assert first and second
    link = owner.service.last_archive_link(community.id)
    member = joined_member(make_node, owner, community)
    # No key at all: the index cannot be opened; the task ends without a signal.
    member.service.archive_link_received(community.id, link, 1)
    member.sink.absent("community.indexDownloadCompleted", within=3.0)
    assert member.crypto.missing
    # With the new key only: the old archive waits for its key, retried every second.
    member.crypto.grant(new)
    member.service.archive_link_received(community.id, link, 2)
    member.sink.wait("community.historyArchivesSeeding")
    deadline = time.monotonic() + SIGNAL_WAIT
    while len(member.crypto.missing) < 3:
        assert time.monotonic() < deadline, "the import did not retry"
        member.sink.absent("community.downloadingHistoryArchivesFinished", within=0.5)
    gaps = [b - a for a, b in zip(member.crypto.missing[1:], member.crypto.missing[2:],
                                  strict=False)]
    assert all(gap >= 0.9 for gap in gaps)
    assert first[0] in (member.service.ids_to_import(community.id) or [])
    member.crypto.grant(old)
    member.sink.wait("community.downloadingHistoryArchivesFinished")
    assert member.service.ids_to_import(community.id) == []
    assert sorted(m.payload for m in member.directory.handled) == [b"hello 0", b"later"]


def test_stop_ends_the_storage_node(make_node: Callable[..., Node]) -> None:
    node = make_node("solo")
    enable(node)
    assert node.service.enable_logos_storage({}) is None  # already enabled: nothing happens
    assert node.sink.types().count("community.historyArchivesProtocolEnabled") == 1
    storage = node.service._node
    assert storage is not None and storage.pid is not None
    pid = storage.pid
    info = node.service.debug()
    assert set(info) == {"id", "addrs", "spr", "announceAddresses", "table"}
    assert str(info["spr"]).startswith("spr:")
    assert (node.data_dir / "logos-storage.log").exists()
    node.service.stop()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def _cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def test_the_storage_node_comes_from_a_spare_started_at_login(
        make_node: Callable[..., Node]) -> None:
    node = make_node("spared")  # the login prepares a spare: it imports while nothing waits
    enable(node)
    storage = node.service._node
    assert storage is not None and storage.pid is not None
    assert "emulators.community.archives.spare" in _cmdline(storage.pid)
    log = (node.data_dir / "logos-storage.log").read_text()
    assert "REST service started" in log
    assert storage.client is not None and storage.client.debug_info()["id"]
    waiting = storage_module.SPARE.take()  # the next login's spare is on its way already
    process = None if waiting is None else waiting.spawned()
    assert waiting is not None and process is not None and process.stdin is not None
    process.stdin.close()  # never handed its flags: it ends of its own (end of input)
    waiting.owner.join(10)
    assert process.poll() == 0
    node.service.stop()


def test_a_spare_that_died_is_replaced_by_a_fresh_node(make_node: Callable[..., Node]) -> None:
    node = make_node("unspared")
    spare = storage_module.SPARE.take()
    assert spare is not None
    process = spare.spawned()
    assert process is not None
    process.kill()
    process.wait()
    with storage_module.SPARE._lock:
        storage_module.SPARE._waiting = spare
    enable(node)
    storage = node.service._node
    assert storage is not None and storage.pid is not None
    assert "-m emulators.codex " in _cmdline(storage.pid)
    node.service.stop()


def test_enabling_runs_init_history_archive_tasks(make_node: Callable[..., Node]) -> None:
    owner = make_node("owner", interval=2.0)
    community = new_community(control=True)
    owner.directory.communities[community.id] = community
    owner.service.store_waku_message(message(community.chat_ids[0], int(time.time()) - 3600,
                                             "old"))
    enable(owner)
    # The last archive is older than the interval: one run at once, then the loop.
    owner.sink.wait("community.historyArchivesSeeding")
    run = [t for t in owner.sink.types() if t != "community.historyArchivesProtocolEnabled"]
    assert run[:3] == ["community.creatingHistoryArchives", "community.historyArchivesCreated",
                       "community.historyArchivesSeeding"]
    link = owner.service.last_archive_link(community.id)
    assert owner.directory.dispatched == [(community.id, link)]
    owner.sink.wait("community.historyArchivesSeeding", 2)  # the loop's first tick
    assert owner.directory.dispatched[-1] == (community.id, link)


def test_a_new_login_restarts_the_enabled_storage(make_node: Callable[..., Node]) -> None:
    first = make_node("again")
    enable(first)
    community = new_community(control=True)
    first.service.store_waku_message(message(community.chat_ids[0], 100, "kept"))
    first.service.stop()
    second = make_node("again")
    assert second.service._client is not None  # started by start(), no enable call
    assert second.sink.types() == []  # the protocol-enabled signal is enable's alone
    assert second.service.create_history_archive(community.id, topics_of(community),
                                                 iso(90), iso(150), 60, False)
    with pytest.raises(rpc.RpcError, match=r"^community not found$"):
        second.service.dispatch_archive_link(community.id)
    with pytest.raises(rpc.RpcError, match=r"^parsing time"):
        second.service.create_history_archive(community.id, topics_of(community), "yesterday",
                                              iso(150), 60, False)


def test_archive_timeout_retries_once_then_gives_up(make_node: Callable[..., Node],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(downloader, "DOWNLOAD_TIMEOUT", 1.5)  # status-go: 20 s
    owner, community, _ = owner_with_archives(make_node, windows=0)
    client = owner.service._client
    assert client is not None
    gone = client.upload(b"an archive nobody serves")
    client.delete(gone)
    meta = codec.metadata(codec.Window(0, 60), [codec.chat_topic(community.chat_ids[0])])
    index = pb.CodexWakuMessageArchiveIndex()
    index.archives[codec.codex_archive_id(meta, gone)].CopyFrom(
        pb.CodexWakuMessageArchiveIndexMetadata(metadata=meta, cid=gone))
    link = client.upload(index.SerializeToString())
    member = joined_member(make_node, owner, community, retries=3000)
    member.service.archive_link_received(community.id, link, 1)
    member.sink.wait("community.downloadingHistoryArchivesStarted", 2)
    member.sink.absent("community.indexDownloadCompleted", within=2.5, seen=2)
    assert "community.downloadingHistoryArchivesFinished" not in member.sink.types()
    assert "community.historyArchivesSeeding" not in member.sink.types()
    assert member.service.last_archive_link(community.id) == ""
