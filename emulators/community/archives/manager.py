"""The control node's side (status-backend.md §5.1–5.2): creating archives from stored Waku
messages, the periodic loop per community, InitHistoryArchiveTasks, and seeding + announcing.

Follows ``archive_manager_logos_storage.go`` (createHistoryArchiveLogosStorage,
CreateAndSeedHistoryArchive) and ``archive_manager.go`` (StartHistoryArchiveTasksInterval,
GetHistoryArchivePartitionStartTimestamp) of status-go's logos-storage revision.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from emulators.community.archives.codex_rest import StorageError
from emulators.community.archives.common import (
    CREATED,
    CREATING,
    DOWNLOAD_TIMEOUT,
    NONE_CREATED,
    SEEDING,
    ArchiveContext,
    log,
)
from emulators.community.seams import CommunityInfo
from wire import archive_codec as codec
from wire.pb.communities import communities_pb2 as pb


def chat_topics(community: CommunityInfo) -> list[bytes]:
    """GetCommunityChatsTopics: the content topic of each community chat."""
    return [codec.chat_topic(chat_id) for chat_id in community.chat_ids]


def universal_topic(community: CommunityInfo) -> bytes:
    return codec.chat_topic(community.universal_chat_id or community.id)


@dataclass(frozen=True)
class ArchiveRun:
    """One CreateHistoryArchiveFromDB call: a community, its topics and a time range."""

    community_id: str
    topics: Sequence[bytes]
    start: float  # Unix seconds, full precision
    end: float
    partition: float  # seconds
    encrypt: bool


class ArchiveManager:
    """Archive creation and the per-community periodic loops of one control node."""

    def __init__(self, ctx: ArchiveContext) -> None:
        self._ctx = ctx
        self._lock = threading.Lock()
        self._loops: dict[str, threading.Event] = {}
        self._threads: list[threading.Thread] = []
        self._halt = threading.Event()  # set by stop(): no new loops, deferred runs end

    # --- creation ----------------------------------------------------------------------------
    def create_from_db(self, run: ArchiveRun) -> list[str]:
        """CreateHistoryArchiveFromDB: upload every non-empty window's chunks, then the merged
        index; returns the IDs created now. Raises on storage or encryption errors."""
        ctx, community_id, topics = self._ctx, run.community_id, run.topics
        client = ctx.client()
        index = pb.CodexWakuMessageArchiveIndex()
        last_link = ctx.store.last_seen_archive_link(community_id)
        if ctx.is_seeding(last_link):
            index = ctx.load_index(community_id, last_link, local=True,
                                   timeout=DOWNLOAD_TIMEOUT)
        ctx.emit(CREATING, community_id)
        created: list[str] = []
        after_loop = run.start
        for window in codec.windows(run.start, run.end, run.partition):
            after_loop = run.end  # the loop ends with from == endDate
            messages = ctx.store.waku_messages(window.start, window.end, topics)
            if not messages:
                continue
            for chunk in codec.chunks(messages):
                data = codec.encode_archive(window, topics, chunk)
                if run.encrypt:
                    data = ctx.crypto.encrypt(community_id, data)
                cid = client.upload(data)
                meta = codec.metadata(window, topics)
                archive_id = codec.codex_archive_id(meta, cid)
                index.archives[archive_id].CopyFrom(
                    pb.CodexWakuMessageArchiveIndexMetadata(metadata=meta, cid=cid))
                created.append(archive_id)
        period = {"from": math.floor(run.start), "to": math.floor(run.end)}
        if created:
            data = index.SerializeToString()
            if run.encrypt:
                data = ctx.crypto.encrypt(community_id, data)
            ctx.store.set_last_seen_archive_link(community_id, client.upload(data))
            ctx.emit(CREATED, community_id, **period)
        else:
            ctx.emit(NONE_CREATED, community_id, **period)
        ctx.store.set_last_message_archive_end_date(community_id, math.floor(after_loop))
        return created

    def create_and_seed(self, run: ArchiveRun) -> None:
        """CreateAndSeedHistoryArchive; on success ``historyArchivesSeeding`` and, on the
        control node, the archive link goes out (handleCommunitiesHistoryArchivesSubscription)."""
        last_link = self._ctx.store.last_seen_archive_link(run.community_id)
        try:
            if not self.create_from_db(run):
                self.seed(last_link)
        except Exception as exc:  # as the Go loop: logged, and the next tick tries again
            log.error("failed to create and seed history archive %s: %s", run.community_id, exc)
            return
        self.seeding(run.community_id)

    def seed(self, link: str) -> None:
        """SeedHistoryArchive: make the local node hold the link (a network fetch)."""
        client = self._ctx.storage()
        if not link or client is None or self._ctx.is_seeding(link):
            return
        client.trigger(link)

    def seeding(self, community_id: str) -> None:
        """The seeding signal, and the link dispatch when this node controls the community."""
        ctx = self._ctx
        ctx.emit(SEEDING, community_id)
        community = ctx.directory.community(community_id)
        if community is not None and community.control_node:
            self.dispatch_link(community_id)

    def dispatch_link(self, community_id: str) -> None:
        """dispatchArchiveLinkMessage: the last seen link to the members, then its clock."""
        ctx = self._ctx
        ctx.directory.dispatch_archive_link(community_id,
                                            ctx.store.last_seen_archive_link(community_id))
        ctx.store.set_archive_link_clock(community_id, int(ctx.clock.now() * 1000))

    # --- scheduling --------------------------------------------------------------------------
    def partition_start(self, community: CommunityInfo) -> int:
        """GetHistoryArchivePartitionStartTimestamp: the last end date, else the oldest stored
        message over the chat and universal-chat topics, else 0 (nothing to archive)."""
        last_end = self._ctx.store.last_message_archive_end_date(community.id)
        if last_end:
            return last_end
        topics = [*chat_topics(community), universal_topic(community)]
        return self._ctx.store.oldest_waku_message_timestamp(topics)

    def start_interval(self, community: CommunityInfo, interval: float) -> None:
        """StartHistoryArchiveTasksInterval: one loop per community, first tick one interval
        after the start; the community's ``encrypted`` and the interval are fixed here."""
        with self._lock:
            if self._halt.is_set():
                return
            if community.id in self._loops:
                log.error("history archive tasks interval already in progress %s", community.id)
                return
            cancel = self._loops[community.id] = threading.Event()
        self._spawn(self._loop, community.id, community.encrypted, interval, cancel)

    def _loop(self, community_id: str, encrypted: bool, interval: float,
              cancel: threading.Event) -> None:
        next_tick = time.monotonic() + interval
        while not cancel.wait(max(0.0, next_tick - time.monotonic())):
            self._tick(community_id, encrypted, interval)
            next_tick += interval
            now = time.monotonic()
            while next_tick <= now:  # a ticker drops the ticks a slow run missed
                next_tick += interval
        self._ctx.unseed(self._ctx.store.last_seen_archive_link(community_id))
        with self._lock:
            self._loops.pop(community_id, None)

    def _tick(self, community_id: str, encrypted: bool, interval: float) -> None:
        community = self._ctx.directory.community(community_id)
        if community is None:
            log.error("community not found %s", community_id)
            return
        start = self.partition_start(community)
        if start == 0:
            log.debug("couldn't determine archive start date - skipping")
            return
        topics = [*chat_topics(community), universal_topic(community)]
        end = math.floor(self._ctx.clock.now())
        self.create_and_seed(ArchiveRun(community_id, topics, start, end, interval, encrypted))

    def init_tasks(self, communities: Sequence[CommunityInfo], interval: float) -> None:
        """InitHistoryArchiveTasks for the controlled, joined, archive-enabled communities."""
        for community in communities:
            if not (community.joined and community.history_archive_support_enabled):
                continue
            topics = chat_topics(community)
            if not topics:
                self.start_interval(community, interval)
                continue
            start = self.partition_start(community)
            now = self._ctx.clock.now()
            if start == 0:
                self.start_interval(community, interval)
            elif now - start < interval:
                try:
                    self.seed(self._ctx.store.last_seen_archive_link(community.id))
                except StorageError as exc:
                    log.error("failed to seed history archive: %s", exc)
                remaining = interval - (now - start)
                run = ArchiveRun(community.id, topics, start, now + remaining, interval,
                                 community.encrypted)
                self._spawn(self._deferred_run, community, run, remaining)
            else:
                self.create_and_seed(ArchiveRun(community.id, topics, start, now, interval,
                                                community.encrypted))
                self.start_interval(community, interval)

    def _deferred_run(self, community: CommunityInfo, run: ArchiveRun, delay: float) -> None:
        """``time.AfterFunc(remaining, …)``: this run, then the loop."""
        if self._halt.wait(delay):
            return
        self.create_and_seed(run)
        self.start_interval(community, run.partition)

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True,  # type: ignore[arg-type]
                                  name="archive-manager")
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()

    def stop(self) -> None:
        """stopHistoryArchiveTasksIntervals: end every loop (each unseeds) and wait for them."""
        with self._lock:
            self._halt.set()
            loops, threads = list(self._loops.values()), list(self._threads)
        for cancel in loops:
            cancel.set()
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join()
