"""The member's download task (status-backend.md §5.3): one per community, cancelled and waited
for when a newer link arrives. ``downloadAndImportHistoryArchives`` over the logos-storage
``DownloadHistoryArchives`` and ``LogosStorageArchiveDownloader``: the index from the network
within 20 s, then every missing archive concurrently, newest first (trigger, then poll
``exists``), watched every second under an overall 20 s limit; a timeout retries once."""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass, field

from emulators.community.archives.codex_rest import (
    StorageCancelledError,
    StorageError,
    StorageTimeoutError,
)
from emulators.community.archives.common import (
    ARCHIVE_DOWNLOADED,
    DOWNLOAD_STARTED,
    DOWNLOAD_TIMEOUT,
    FINISHED,
    INDEX_DOWNLOADED,
    SEEDING,
    AnyEvent,
    ArchiveContext,
    log,
)
from emulators.community.archives.importer import ArchiveImporter
from wire.pb.communities import communities_pb2 as pb

TRIGGER_TIMEOUT = 30.0
POLL_INTERVAL = 1.0
POLL_TIMEOUT = 30.0
WATCH_INTERVAL = 1.0


class ArchiveTimeoutError(Exception):
    """ErrArchiveTimedout: the index or the archives did not arrive in time."""


@dataclass
class Task:
    """A running download-and-import task (HistoryArchiveDownloadTask)."""

    cancel: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None


class ArchiveBatch:
    """LogosStorageArchiveDownloader: the archives of one index that are not stored yet."""

    def __init__(self, ctx: ArchiveContext, community_id: str,
                 index: pb.CodexWakuMessageArchiveIndex, existing: set[str]) -> None:
        self._ctx = ctx
        self._community_id = community_id
        self.cancel = threading.Event()
        pending = [(aid, entry) for aid, entry in index.archives.items() if aid not in existing]
        pending.sort(key=lambda item: getattr(item[1].metadata, "from"), reverse=True)
        self._pending = pending
        self._left = len(pending)
        self._lock = threading.Lock()
        self.complete = threading.Event()

    @property
    def order(self) -> list[str]:
        """The pending archive IDs, in the order their downloads start (newest first)."""
        return [archive_id for archive_id, _ in self._pending]

    def start(self) -> None:
        for archive_id, entry in self._pending:
            threading.Thread(target=self._fetch, args=(archive_id, entry), daemon=True,
                             name="archive-download").start()

    def _fetch(self, archive_id: str, entry: pb.CodexWakuMessageArchiveIndexMetadata) -> None:
        try:
            if self._held(entry.cid):
                self._downloaded(archive_id, entry)
        finally:
            with self._lock:
                self._left -= 1
                if self._left == 0:
                    self.complete.set()

    def _held(self, cid: str) -> bool:
        """Trigger (30 s), check the manifest CID, then poll ``exists`` every second (30 s)."""
        halt = AnyEvent(self.cancel, self._ctx.stopping)
        try:
            manifest = self._ctx.client().trigger(cid, timeout=TRIGGER_TIMEOUT, cancel=halt)
        except StorageError as exc:
            log.debug("archive %s not triggered: %s", cid, exc)
            return False
        if manifest.get("cid") != cid:
            log.debug("manifest CID mismatch for %s", cid)
            return False
        deadline = time.monotonic() + POLL_TIMEOUT
        while time.monotonic() < deadline:
            if halt.wait(POLL_INTERVAL):
                return False
            try:
                if self._ctx.client().exists(cid):
                    return True
            except StorageError as exc:
                log.debug("exists failed for %s: %s", cid, exc)
        return False

    def _downloaded(self, archive_id: str, entry: pb.CodexWakuMessageArchiveIndexMetadata) -> None:
        try:
            self._ctx.store.save_archive_id(self._community_id, archive_id)
        except sqlite3.Error as exc:
            log.error("couldn't save message archive ID: %s", exc)
        self._ctx.emit(ARCHIVE_DOWNLOADED, self._community_id,
                       **{"from": getattr(entry.metadata, "from"), "to": entry.metadata.to})


class HistoryDownloader:
    """The member's download-and-import tasks, one per community."""

    def __init__(self, ctx: ArchiveContext, importer: ArchiveImporter) -> None:
        self._ctx = ctx
        self._importer = importer
        self._lock = threading.Lock()
        self._tasks: dict[str, Task] = {}

    def download(self, community_id: str, link: str) -> None:
        """Cancel and wait for the community's running task, then start a new one."""
        self.cancel(community_id)
        self._launch(community_id, self._download_and_import, link)

    def resume_import(self, community_id: str) -> None:
        """resumeHistoryArchivesImport: import what is stored, unless a task runs."""
        with self._lock:
            if community_id in self._tasks:
                return
        self._launch(community_id, self._resume)

    def cancel(self, community_id: str) -> None:
        with self._lock:
            task = self._tasks.get(community_id)
        if task is not None:
            task.cancel.set()
            if task.thread is not None and task.thread is not threading.current_thread():
                task.thread.join()

    def stop(self) -> None:
        with self._lock:
            ids = list(self._tasks)
        for community_id in ids:
            self.cancel(community_id)

    def _launch(self, community_id: str, target: object, *args: object) -> None:
        task = Task()

        def run() -> None:
            try:
                target(community_id, *args, task.cancel)  # type: ignore[operator]
            finally:
                with self._lock:
                    if self._tasks.get(community_id) is task:
                        del self._tasks[community_id]

        task.thread = threading.Thread(target=run, daemon=True, name="archive-task")
        with self._lock:
            self._tasks[community_id] = task
        task.thread.start()

    def _resume(self, community_id: str, cancel: threading.Event) -> None:
        link = self._ctx.store.last_seen_archive_link(community_id)
        self._importer.run(community_id, link, cancel)
        self._ctx.emit(FINISHED, community_id)

    def _download_and_import(self, community_id: str, link: str,
                             cancel: threading.Event) -> None:
        ctx = self._ctx
        try:
            try:
                cancelled = self._download(community_id, link, cancel)
            except ArchiveTimeoutError:
                cancelled = self._download(community_id, link, cancel)
        except Exception as exc:  # a second timeout, an unreadable index, …: no signal
            log.error("failed to download history archive data %s: %s", community_id, exc)
            return
        if cancelled:
            ctx.unseed(link)
            return
        ctx.store.set_last_seen_archive_link(community_id, link)
        ctx.emit(SEEDING, community_id)
        community = ctx.directory.community(community_id)
        if community is None or not community.joined:
            return
        self._importer.run(community_id, link, cancel)
        ctx.emit(FINISHED, community_id)

    def _download(self, community_id: str, link: str, cancel: threading.Event) -> bool:
        """DownloadHistoryArchives; True if cancelled. Raises ArchiveTimeoutError."""
        ctx = self._ctx
        try:
            index = ctx.load_index(community_id, link, local=False, timeout=DOWNLOAD_TIMEOUT,
                                   cancel=cancel)
        except StorageTimeoutError as exc:
            raise ArchiveTimeoutError(str(exc)) from exc
        except StorageCancelledError:
            return True
        ctx.emit(INDEX_DOWNLOADED, community_id, indexCid=link)
        existing = ctx.store.downloaded_archive_ids(community_id)
        if len(existing) == len(index.archives):
            return False
        batch = ArchiveBatch(ctx, community_id, index, set(existing))
        batch.start()
        ctx.emit(DOWNLOAD_STARTED, community_id)
        deadline = time.monotonic() + DOWNLOAD_TIMEOUT
        while True:
            wait = min(WATCH_INTERVAL, max(0.0, deadline - time.monotonic()))
            if cancel.wait(wait):
                batch.cancel.set()
                return True
            if time.monotonic() >= deadline:
                raise ArchiveTimeoutError("archive download timed out")
            if batch.complete.is_set():
                return False
