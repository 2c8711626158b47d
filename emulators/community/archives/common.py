"""What the archive manager, downloader and importer share: their dependencies, the signal
names of §4, and loading an index from the storage node (``loadHistoryArchiveIndex``)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from emulators.community.archives.codex_rest import Cancel, StorageClient, StorageError
from emulators.community.persistence.archives import ArchiveStore
from emulators.community.seams import Clock, CommunityCrypto, CommunityDirectory, SignalSink
from wire import archive_codec as codec
from wire.pb.communities import communities_pb2 as pb

log = logging.getLogger("emulators.community.archives")

CREATING = "community.creatingHistoryArchives"
CREATED = "community.historyArchivesCreated"
NONE_CREATED = "community.noHistoryArchivesCreated"
SEEDING = "community.historyArchivesSeeding"
INDEX_DOWNLOADED = "community.indexDownloadCompleted"
DOWNLOAD_STARTED = "community.downloadingHistoryArchivesStarted"
ARCHIVE_DOWNLOADED = "community.historyArchiveDownloaded"
IMPORTING = "community.importingHistoryArchiveMessages"
FINISHED = "community.downloadingHistoryArchivesFinished"
PROTOCOL_ENABLED = "community.historyArchivesProtocolEnabled"
PROTOCOL_DISABLED = "community.historyArchivesProtocolDisabled"

DOWNLOAD_TIMEOUT = 20.0  # ArchiveManagerLogosStorage.downloadTimeout


class AnyEvent:
    """Set as soon as any of its events is set (a wait that must end on either)."""

    def __init__(self, *events: threading.Event) -> None:
        self._events = events

    def is_set(self) -> bool:
        return any(event.is_set() for event in self._events)

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._events[0].wait(min(0.05, remaining))
        return True


class NotStartedError(StorageError):
    """The storage node is not running (status-go: a nil logos-storage client)."""


@dataclass
class ArchiveContext:
    """The archive side's dependencies; ``storage()`` is the running node's client, if any."""

    store: ArchiveStore
    directory: CommunityDirectory
    crypto: CommunityCrypto
    signals: SignalSink
    clock: Clock
    storage: Callable[[], StorageClient | None]
    stopping: threading.Event  # set when the service stops: every wait ends

    def client(self) -> StorageClient:
        client = self.storage()
        if client is None:
            raise NotStartedError("logosStorage client is not initialized")
        return client

    def emit(self, signal_type: str, community_id: str, **fields: object) -> None:
        self.signals.send(signal_type, {"communityId": community_id, **fields})

    def is_seeding(self, link: str) -> bool:
        """IsSeedingHistoryArchive: a non-empty link the running storage node holds."""
        client = self.storage()
        if not link or client is None:
            return False
        try:
            return client.exists(link)
        except StorageError as exc:
            log.debug("failed to verify CID availability %s: %s", link, exc)
            return False

    def unseed(self, link: str) -> None:
        """UnseedHistoryArchive: drop a held link from the local storage node."""
        client = self.storage()
        if client is None or not self.is_seeding(link):
            return
        try:
            client.delete(link)
        except StorageError as exc:
            log.error("failed to remove CID %s: %s", link, exc)

    def load_index(self, community_id: str, cid: str, *, local: bool, timeout: float,
                   cancel: Cancel | None = None) -> pb.CodexWakuMessageArchiveIndex:
        """Download and parse an index; decrypt it when it parses with no entries (§2.2).
        Raises StorageError (incl. timeout/cancel), a protobuf DecodeError, or the crypto's."""
        data = self.client().download(cid, local=local, timeout=timeout, cancel=cancel)
        index = codec.decode_codex_index(data)
        if not index.archives and data:
            index = codec.decode_codex_index(self.crypto.decrypt(community_id, data))
        return index

