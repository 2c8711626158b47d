"""The archive side of one logged-in account, as the messenger and ``CallRPC`` see it.

status-go: ``Messenger.EnableLogosStorageCommunityHistoryArchiveProtocol`` /
``DisableCommunityHistoryArchiveProtocol`` (``messenger_communities.go``), ``SetupArchiveManager``
(a real manager while a protocol is enabled, ``ArchiveManagerNop`` otherwise), the wakuext
methods of ``services/ext/api.go`` and ``HandleHistoryArchiveLinkMessage``.
"""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime
from pathlib import Path

from emulators.community import errors, rpc
from emulators.community.archives.codex_rest import StorageClient, StorageError
from emulators.community.archives.common import (
    PROTOCOL_DISABLED,
    PROTOCOL_ENABLED,
    ArchiveContext,
    log,
)
from emulators.community.archives.downloader import HistoryDownloader
from emulators.community.archives.importer import ArchiveImporter
from emulators.community.archives.manager import ArchiveManager, ArchiveRun
from emulators.community.archives.storage import (
    SPARE,
    OverrideError,
    StorageConfig,
    StorageNode,
    apply_overrides,
)
from emulators.community.persistence import Database
from emulators.community.persistence.archives import ArchiveStore
from emulators.community.seams import (
    Clock,
    CommunityCrypto,
    CommunityDirectory,
    LoginConfig,
    SignalSink,
)
from wire.archive_codec import StoredMessage

NOT_ARCHIVE_MANAGER = "archiveManager is not *archive.ArchiveManager"
NOT_LOGOS_BACKEND = "backend is not ArchiveManagerLogosStorage"
NO_CLIENT = "logosStorage client is not initialized"
TORRENT_ENABLED = ("cannot enable LogosStorage archive distribution when Torrent archive "
                   "distribution is already enabled")
LOGOS_ENABLED = ("cannot enable Torrent archive distribution when LogosStorage archive "
                 "distribution is already enabled")
_ISO = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def hex_id(value: object) -> str:
    """A ``types.HexBytes`` argument as status-go prints it: ``0x`` + lowercase hex."""
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    text = str(value or "").lower()
    return text if text.startswith("0x") else "0x" + text


def parse_time(text: str) -> float:
    """An RFC 3339 time (``time.Time`` JSON, fractions allowed) → Unix seconds."""
    match = _ISO.match(text)
    if not match:
        raise rpc.RpcError(f'parsing time "{text}" as "2006-01-02T15:04:05Z07:00": '
                           "cannot parse")
    zone = "+00:00" if match.group(3) == "Z" else match.group(3)
    base = datetime.fromisoformat(match.group(1) + zone).astimezone(UTC)
    return base.timestamp() + float(match.group(2) or 0)


class ArchiveService:
    """Archive manager, downloader, importer and storage node of one account."""

    def __init__(self, db: Database, directory: CommunityDirectory,  # noqa: PLR0917
                 crypto: CommunityCrypto,
                 signals: SignalSink, config: LoginConfig, clock: Clock) -> None:
        self._store = ArchiveStore(db)
        self._config = config
        self._directory = directory
        self._lock = threading.RLock()
        self._node: StorageNode | None = None
        self._client: StorageClient | None = None
        self._logos = False  # a logos-storage archive manager exists
        self._torrent = False
        self._interval = config.message_archive_interval
        self._ctx = ArchiveContext(self._store, directory, crypto, signals, clock,
                                   lambda: self._client, threading.Event())
        self._manager = ArchiveManager(self._ctx)
        self._importer = ArchiveImporter(self._ctx)
        self._downloader = HistoryDownloader(self._ctx, self._importer)
        SPARE.prepare()  # the storage node an enable starts is then mostly started already

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Messenger start: the storage node if enabled, InitHistoryArchiveTasks, the import
        delay, and imports left unfinished."""
        enabled, overrides = self._store.storage_config()
        if not enabled and self._config.logos_storage_enabled:
            enabled = True
            if self._config.logos_storage_bootstrap:
                overrides = {"NodeConfig.BootstrapNodes": ",".join(
                    self._config.logos_storage_bootstrap)}
        self._importer.start_delay(self._config.import_initial_delay)
        if not enabled:
            return
        with self._lock:
            self._logos = True
            try:
                self._start_storage(overrides)
            except (StorageError, OverrideError) as exc:
                log.error("couldn't start the storage node: %s", exc)
                return
        self._init_tasks()
        for community_id in self._store.communities_with_archives_to_import():
            community = self._directory.community(community_id)
            if community is not None and community.joined:
                self._downloader.resume_import(community_id)

    def stop(self) -> None:
        """Logout: cancel the tasks, end the loops, stop the storage node."""
        self._ctx.stopping.set()
        with self._lock:
            self._shutdown()

    def _shutdown(self) -> None:
        self._downloader.stop()
        self._manager.stop()
        if self._node is not None:
            self._node.stop()
        self._node, self._client = None, None

    def _start_storage(self, overrides: dict[str, str]) -> None:
        config = apply_overrides(StorageConfig(), overrides)
        self._node = StorageNode(config.NodeConfig, Path(self._config.data_dir))
        self._client = self._node.start()

    def _init_tasks(self) -> None:
        threading.Thread(target=self._manager.init_tasks,
                         args=(self._directory.controlled_communities(), self._interval),
                         daemon=True, name="init-history-archive-tasks").start()

    # --- what the messenger calls ------------------------------------------------------------
    def community_created(self, community_id: str) -> None:
        """CreateCommunity: the periodic loop, if the manager is started and archives on."""
        community = self._directory.community(community_id)
        if self._client is not None and community is not None \
                and community.history_archive_support_enabled:
            self._manager.start_interval(community, self._interval)

    def archive_link_received(self, community_id: str, link: str, clock: int) -> None:
        """HandleHistoryArchiveLinkMessage (§5.3)."""
        community = self._directory.community(community_id)
        if community is None or self._client is None or self._torrent \
                or not community.history_archive_support_enabled \
                or community.control_node or not community.joined \
                or clock < self._store.archive_link_clock(community_id):
            return
        last_seen = self._store.last_seen_archive_link(community_id)
        if link == last_seen:
            log.debug("archive link already processed %s", link)
            return
        self._ctx.unseed(last_seen)
        self._downloader.download(community_id, link)
        self._store.set_archive_link_clock(community_id, clock)

    def joined_with_archive_link(self, community_id: str, link: str) -> None:
        """HandleCommunityRequestToJoinResponse, accepted with an archive link."""
        community = self._directory.community(community_id)
        if link and self._client is not None and community is not None \
                and community.history_archive_support_enabled:
            self._downloader.download(community_id, link)

    def last_archive_link(self, community_id: str) -> str:
        return self._store.last_seen_archive_link(community_id)

    def store_waku_message(self, message: StoredMessage) -> None:
        self._store.store_waku_message(message)

    # --- RPC ---------------------------------------------------------------------------------
    def methods(self) -> dict[str, rpc.Method]:
        hexbytes = rpc.Param("types.HexBytes")
        return {
            "wakuext_enableLogosStorageCommunityHistoryArchiveProtocol": rpc.Method(
                self.enable_logos_storage, (rpc.Param("map[string]string", optional=True),)),
            "wakuext_enableCommunityHistoryArchiveProtocol": rpc.Method(self.enable_torrent),
            "wakuext_disableCommunityHistoryArchiveProtocol": rpc.Method(self.disable),
            "wakuext_debug": rpc.Method(self.debug),
            "wakuext_connect": rpc.Method(self.connect,
                                          (rpc.Param("string"), rpc.Param("[]string"))),
            "wakuext_updateMessageArchiveInterval": rpc.Method(
                self.update_message_archive_interval, (rpc.Param("time.Duration"),)),
            "wakuext_hasCommunityArchive": rpc.Method(self.has_community_archive, (hexbytes,)),
            "wakuext_getDownloadedMessageArchiveIDs": rpc.Method(self.downloaded_ids,
                                                                 (hexbytes,)),
            "wakuext_getMessageArchiveIDsToImport": rpc.Method(self.ids_to_import, (hexbytes,)),
            "wakuext_createHistoryArchiveFromDB": rpc.Method(self.create_history_archive, (
                hexbytes, rpc.Param("[]string"), rpc.Param("string"), rpc.Param("string"),
                rpc.Param("time.Duration"), rpc.Param("bool"))),
            "wakuext_dispatchArchiveLink": rpc.Method(self.dispatch_archive_link, (hexbytes,)),
            "wakuext_speedupArchivesImport": rpc.Method(lambda: self._importer.set_pace(True)),
            "wakuext_slowdownArchivesImport": rpc.Method(lambda: self._importer.set_pace(False)),
        }

    def enable_logos_storage(self, overrides: dict[str, str] | None = None) -> None:
        with self._lock:
            if self._torrent:
                raise rpc.RpcError(TORRENT_ENABLED)
            if self._logos:
                return None
            _, saved = self._store.storage_config()
            merged = {**saved, **(overrides or {})}
            try:
                apply_overrides(StorageConfig(), merged)
            except OverrideError as exc:
                raise rpc.RpcError(str(exc)) from None
            self._store.save_storage_config(True, merged)
            self._logos = True
            self._ctx.stopping.clear()
            self._manager = ArchiveManager(self._ctx)
            try:
                self._start_storage(merged)
            except StorageError as exc:
                raise rpc.RpcError(str(exc)) from None
        self._init_tasks()
        self._ctx.signals.send(PROTOCOL_ENABLED, None)
        return None

    def enable_torrent(self) -> None:
        """The torrent variant: accepted, but the emulator creates no torrents."""
        with self._lock:
            if self._logos:
                raise rpc.RpcError(LOGOS_ENABLED)
            if self._torrent:
                return None
            self._torrent = True
        self._ctx.signals.send(PROTOCOL_ENABLED, None)
        return None

    def disable(self) -> None:
        with self._lock:
            if not (self._logos or self._torrent):
                return None
            self._shutdown()
            if self._logos:
                self._store.save_storage_config(False, self._store.storage_config()[1])
            self._logos = self._torrent = False
        self._ctx.signals.send(PROTOCOL_DISABLED, None)
        return None

    def _require_client(self) -> StorageClient:
        if not (self._logos or self._torrent):
            raise rpc.RpcError(NOT_ARCHIVE_MANAGER)
        if self._torrent:
            raise rpc.RpcError(NOT_LOGOS_BACKEND)
        if self._client is None:
            raise rpc.RpcError(NO_CLIENT)
        return self._client

    def debug(self) -> dict[str, object]:
        """LogosStorageDebugInfo from the node's ``/debug/info``."""
        try:
            info = self._require_client().debug_info()
        except StorageError as exc:
            raise rpc.RpcError(str(exc)) from None
        table = info.get("table") or {}
        return {"id": info.get("id", ""), "addrs": info.get("addrs") or None,
                "spr": info.get("spr", ""),
                "announceAddresses": info.get("announceAddresses") or None,
                "table": {"localNode": _node(table.get("localNode") or {}),
                          "nodes": [_node(n) for n in table.get("nodes") or []]}}

    def connect(self, peer_id: str, addrs: list[str] | None) -> None:
        try:
            self._require_client().connect(peer_id, list(addrs or []))
        except StorageError as exc:
            raise rpc.RpcError(str(exc)) from None

    def update_message_archive_interval(self, duration: int) -> int:
        """JSON ``80`` → 80 s (later loops only); returns the interval in seconds."""
        if duration <= 0:
            raise rpc.RpcError("duration must be greater than zero")
        self._interval = float(duration)
        return int(duration)

    def has_community_archive(self, community_id: object) -> bool:
        if self._torrent:
            return False
        return self._ctx.is_seeding(self._store.last_seen_archive_link(hex_id(community_id)))

    def downloaded_ids(self, community_id: object) -> list[str] | None:
        if not (self._logos or self._torrent):
            return None  # ArchiveManagerNop: a nil slice
        return self._store.downloaded_archive_ids(hex_id(community_id))

    def ids_to_import(self, community_id: object) -> list[str] | None:
        if not (self._logos or self._torrent):
            return None
        return self._store.archive_ids_to_import(hex_id(community_id))

    def create_history_archive(self, community_id: object,  # noqa: PLR0917 (Go's params)
                               topics: list[str] | None,
                               start: str, end: str, partition: int,
                               encrypted: bool) -> list[str] | None:
        """createHistoryArchiveFromDB: the archive IDs created now; the link is updated but
        not announced (dispatchArchiveLink does that)."""
        if not (self._logos or self._torrent) or self._torrent:
            return None
        if partition <= 0:
            raise rpc.RpcError("partition must be greater than zero")
        try:
            raw_topics = [bytes.fromhex(t[2:] if t.lower().startswith("0x") else t)
                          for t in topics or []]
        except ValueError:
            raise rpc.RpcError("invalid topic: want 0x and 8 hex digits") from None
        if not raw_topics:
            raise rpc.RpcError("no topics to archive")
        run = ArchiveRun(hex_id(community_id), raw_topics, parse_time(start), parse_time(end),
                         float(partition), bool(encrypted))
        try:
            return self._manager.create_from_db(run)
        except Exception as exc:  # storage, encryption or database: Go returns the error
            raise rpc.RpcError(str(exc)) from None

    def dispatch_archive_link(self, community_id: object) -> None:
        """Emulator-only: the control node's dispatchArchiveLinkMessage, now."""
        cid = hex_id(community_id)
        if self._directory.community(cid) is None:
            raise rpc.RpcError(errors.COMMUNITY_NOT_FOUND)
        self._manager.dispatch_link(cid)


def _node(node: dict[str, object]) -> dict[str, object]:
    return {"nodeId": node.get("nodeId", ""), "peerId": node.get("peerId", ""),
            "record": node.get("record", ""), "address": node.get("address") or "",
            "seen": bool(node.get("seen", False))}

