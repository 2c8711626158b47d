"""The member's import loop (status-backend.md §5.4, ``importHistoryArchives``): after the
initial import delay, every 100 ms the first archive not yet imported is read from the local
storage node, decrypted if wrapped, and handed to the messenger in chunks of 10."""

from __future__ import annotations

import threading
import time

from emulators.community.archives.common import IMPORTING, ArchiveContext, log
from emulators.community.seams import ENV_RATCHET_RETRY, env_seconds
from wire import archive_codec as codec
from wire.archive_codec import StoredMessage
from wire.ratchet import GroupKeyNotFoundError, is_wrapped

IMPORT_TICK = 0.1
CHUNK_SIZE = 10  # importMessagesChunkSize
RATCHET_NOT_FOUND_DELAY = 3600.0  # status-go's ratchetNotFoundDelay
LOCAL_TIMEOUT = 60.0
SLOW_RATE = 1.0  # importSlowRate: one chunk a second (rate.NewLimiter(Every(1 s), 1))
FAST_RATE = 0.01  # importFastRate: a hundred chunks a second (SpeedupArchivesImport)


class RateLimiter:
    """A token bucket of burst 1 shared by every import (the messenger's importRateLimiter)."""

    def __init__(self, interval: float = SLOW_RATE) -> None:
        self._interval = interval
        self._lock = threading.Lock()
        self._next = 0.0

    def set_interval(self, interval: float) -> None:
        """``SetLimit(rate.Every(interval))``: later tokens come at the new pace."""
        with self._lock:
            self._next = min(self._next, time.monotonic() + interval)
            self._interval = interval

    def wait(self, cancel: threading.Event) -> bool:
        """Wait for a token; False if cancelled first."""
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self._interval
        return not cancel.wait(max(0.0, slot - now))


class ArchiveImporter:
    """Imports downloaded archives; ``delay_passed`` opens once after the import delay."""

    def __init__(self, ctx: ArchiveContext) -> None:
        self._ctx = ctx
        self.delay_passed = threading.Event()
        self._limiter = RateLimiter()
        self._timer: threading.Thread | None = None

    def set_pace(self, fast: bool) -> None:
        """SpeedupArchivesImport / SlowdownArchivesImport."""
        self._limiter.set_interval(FAST_RATE if fast else SLOW_RATE)

    def start_delay(self, delay: float) -> None:
        """enableHistoryArchivesImportAfterDelay (messenger start)."""
        if self._timer is not None:
            return

        def open_after_delay() -> None:
            if not self._ctx.stopping.wait(delay):
                self.delay_passed.set()

        self._timer = threading.Thread(target=open_after_delay, daemon=True,
                                       name="archive-import-delay")
        self._timer.start()

    def run(self, community_id: str, link: str, cancel: threading.Event) -> None:
        """Import until nothing is left, the node is no longer a member, or cancel."""
        if not self._wait_delay(cancel):
            return
        retry_after = env_seconds(ENV_RATCHET_RETRY, RATCHET_NOT_FOUND_DELAY)
        delay_import = False
        while True:
            if delay_import:
                if cancel.wait(retry_after):
                    return
                delay_import = False
            if cancel.wait(IMPORT_TICK):
                return
            community = self._ctx.directory.community(community_id)
            if community is None or not community.joined:
                log.error("can't import archives when user not a member of community")
                return
            waiting = self._ctx.store.archive_ids_to_import(community_id)
            if not waiting:
                return
            archive_id = waiting[0]
            try:
                messages = self._load(community_id, link, archive_id, cancel)
            except GroupKeyNotFoundError:
                delay_import = True
                continue
            except Exception as exc:  # any other error: the same archive on the next tick
                log.error("failed to extract history archive messages: %s", exc)
                continue
            self._ctx.emit(IMPORTING, community_id)
            if self._handle(community_id, messages, cancel):
                self._ctx.store.set_imported(community_id, archive_id, True)

    def _wait_delay(self, cancel: threading.Event) -> bool:
        while not self.delay_passed.wait(IMPORT_TICK):
            if cancel.is_set():
                return False
        return not cancel.is_set()

    def _load(self, community_id: str, link: str, archive_id: str,
              cancel: threading.Event) -> list[StoredMessage]:
        """LoadArchiveMessages: the index and the archive, both from the local node."""
        index = self._ctx.load_index(community_id, link, local=True, timeout=LOCAL_TIMEOUT,
                                     cancel=cancel)
        if archive_id not in index.archives:
            raise KeyError(f"archive {archive_id} missing from LogosStorage index")
        data = self._ctx.client().download(index.archives[archive_id].cid, local=True,
                                           timeout=LOCAL_TIMEOUT, cancel=cancel)
        if is_wrapped(data):
            data = self._ctx.crypto.decrypt(community_id, data)
        archive = codec.decode_archive(data)
        return [StoredMessage.from_proto(message) for message in archive.messages]

    def _handle(self, community_id: str, messages: list[StoredMessage],
                cancel: threading.Event) -> bool:
        """Chunks of 10 through the rate limiter; False if one failed or was cancelled."""
        for start in range(0, len(messages), CHUNK_SIZE):
            if not self._limiter.wait(cancel):
                return False
            try:
                self._ctx.directory.handle_archive_messages(
                    community_id, messages[start:start + CHUNK_SIZE])
            except Exception as exc:  # the messenger's failure: logged, archive not marked
                log.error("failed to handle archive messages: %s", exc)
                return False
        return True
