"""Benchmark: community messages over 30 days, archived in 1-day partitions by the owner and
fetched by a member, each on an emulated status-backend of their own, through status-backend's
API only (as the archive scenarios drive it).

Reports messages per second for archive creation (``createHistoryArchiveFromDB``: windows,
encoding, uploads, index), for the member's fetch (``dispatchArchiveLink`` to every archive
downloaded: index and archive downloads through the storage nodes) and for fetch plus import (to
every archive imported), against a floor measured in the same run: plain protobuf encoding plus
SHA-256 of the same messages. status-go paces imports (status-backend.md §5.4): a 100 ms ticker
between archives, and chunks of 10 messages through a rate limiter of 1 chunk a second, or 100
after ``wakuext_speedupArchivesImport`` (what the desktop app calls when its window is in the
background). The member asks for the fast pace, and import is also given against the fastest
status-go allows for these archives (``IMPORT_PACE`` plus one tick per archive).

    .venv/bin/python bench/archive_throughput.py [--messages 20000] [--seed] [--profile out.raw]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sqlite3
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from measure import Profile, top_frames

from support.archive.api import StatusBackendClient
from support.archive.ledger import TokenLedger
from support.archive.persons import Person, Persons
from support.archive.relay import WakuRelay
from support.archive.targets import EmulatorTarget
from support.archive.wakuext import Wakuext
from support.archive.world import SCENARIO_DAY, iso
from support.config import Settings
from support.waiting import eventually
from wire import archive_codec as codec

DAYS = 30
LOADERS = 4  # parallel clients storing the messages (not measured)
IMPORT_PACE = 1000  # messages a second: chunks of 10 at importFastRate (100 chunks a second)
IMPORT_TICK = 0.1  # seconds: importHistoryArchives' ticker, once per archive
START = int(SCENARIO_DAY.timestamp())


def texts(count: int) -> list[str]:
    return [f"message {index} " + "x" * 60 for index in range(count)]


def sent_at(index: int, count: int) -> int:
    """Unix seconds of message ``index`` of ``count``, spread evenly over the days."""
    return START + index * DAYS * 86400 // count


def floor_rate(chat_id: str, bodies: list[str], repeats: int = 3, budget: float = 2.0) -> float:
    """Protobuf encoding plus SHA-256 of messages like the ones archived (messages a second):
    the best of up to ``repeats`` passes, as many as fit ``budget`` seconds (the machine is
    shared; the floor should not be its noise)."""
    topic = codec.chat_topic(chat_id)
    sig = b"\x04" + bytes(64)
    best, spent = math.inf, 0.0
    for _ in range(repeats):
        if spent >= budget:
            break
        started = time.perf_counter()
        for index, body in enumerate(bodies):
            message = codec.StoredMessage(sig, START + index, topic, body.encode(), b"",
                                          hashlib.sha256(body.encode()).hexdigest())
            hashlib.sha256(message.to_proto().SerializeToString()).digest()
        took = time.perf_counter() - started
        best, spent = min(best, took), spent + took
    return len(bodies) / best


@dataclass(frozen=True)
class ArchiveTimes:
    """One create, fetch and import of ``messages`` messages, in seconds from the dispatch."""

    messages: int
    archives: int
    floor: float  # messages a second
    creation: float
    fetching: float
    importing: float

    @property
    def pace_seconds(self) -> float:
        """The least time status-go's fast pace allows for the import alone."""
        return self.messages / IMPORT_PACE + self.archives * IMPORT_TICK


def _assert(value: object) -> None:
    assert value, "not yet"


class ArchivePair:
    """An owner (Alice) with a community and a member (Bob) who joined it, on emulated
    status-backends in a scratch folder; ``close()`` stops them."""

    def __init__(self, settings: Settings) -> None:
        self._scratch = tempfile.TemporaryDirectory(prefix="archive-bench-")
        base = Path(self._scratch.name)
        target = EmulatorTarget(settings, base / "backends", base / "logs",
                                TokenLedger(base / "ledger.json").path)
        self.persons = Persons(settings, target,
                               WakuRelay(settings, base / "relay", base / "logs"), None,
                               base / "people")
        try:
            self.alice, self.bob = self.persons.get("Alice"), self.persons.get("Bob")
            created = self.alice.wakuext.create_community("Bench", "archive throughput")
            self.community, self.chat = created.community_id, created.general_chat_id
            eventually(lambda: _assert(self.bob.wakuext.fetch_community(self.community)),
                       within=30, interval=0.2)
            self.bob.wakuext.request_to_join(self.community, self.bob.address)
            eventually(lambda: _assert((self.bob.wakuext.fetch_community(self.community)
                                        or {}).get("joined")), within=30, interval=0.2)
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> ArchivePair:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self.persons.close()
        self._scratch.cleanup()

    def load(self, bodies: list[str]) -> None:
        """Alice stores every message as one from the past, through sendChatMessage."""
        def send(chunk: range) -> None:
            wakuext = Wakuext(StatusBackendClient(self.alice.backend.url, 60.0, None))
            for index in chunk:
                wakuext.send_chat_message(
                    self.chat, bodies[index],
                    timestamp_ms=sent_at(index, len(bodies)) * 1000)

        with ThreadPoolExecutor(LOADERS) as pool:
            list(pool.map(send, [range(i, len(bodies), LOADERS) for i in range(LOADERS)]))

    def seed(self, bodies: list[str]) -> None:
        """The first message through sendChatMessage; the rest written next to it in Alice's
        ``waku_messages``, each a copy of the first with its own text, clock and time (what
        sendChatMessage would have stored, without a round trip per message)."""
        self.alice.wakuext.send_chat_message(self.chat, bodies[0],
                                             timestamp_ms=sent_at(0, len(bodies)) * 1000)
        with sqlite3.connect(_database(self.alice), timeout=60) as db:
            db.execute("PRAGMA cache_size = -262144")  # 256 MiB: the indexes stay in memory
            sig, topic, payload = db.execute("SELECT sig, topic, payload FROM waku_messages "
                                             "WHERE timestamp = ?", (START,)).fetchone()
            template = json.loads(payload)

            def row(index: int) -> tuple[object, ...]:
                when = sent_at(index, len(bodies)) * 1000
                data = json.dumps({**template, "text": bodies[index], "clock": when + index,
                                   "timestamp": when}).encode()
                return sig, when // 1000, topic, data, b"", hashlib.sha256(data).hexdigest(), ""

            db.executemany("INSERT INTO waku_messages VALUES (?, ?, ?, ?, ?, ?, ?)",
                           map(row, range(1, len(bodies))))
            stored = db.execute("SELECT COUNT(*) FROM waku_messages WHERE topic = ?",
                                (topic,)).fetchone()[0]
        assert stored == len(bodies), f"Alice stores {stored} messages; expected {len(bodies)}"

    def create(self) -> tuple[list[str], float]:
        """Alice archives the 30 days in 1-day partitions: the new archive IDs, and seconds."""
        started = time.perf_counter()
        created = self.alice.wakuext.create_history_archive_from_db(
            self.community, [codec.topic_text(codec.chat_topic(self.chat))],
            start_iso=iso(START), end_iso=iso(START + DAYS * 86400), partition_seconds=86400,
            encrypted=False)
        return created, time.perf_counter() - started

    def measure(self, bodies: list[str], profile: Path | None = None) -> ArchiveTimes:
        """Create the archives, dispatch the link and wait for Bob to fetch and import them;
        ``profile``: a py-spy record of Bob's backend from the dispatch to the last import."""
        alice, bob, community = self.alice, self.bob, self.community
        floor = floor_rate(self.chat, bodies)
        created, creation = self.create()
        bob.wakuext.speedup_archives_import()
        assert bob.backend.process is not None
        with Profile(bob.backend.process.pid, profile):
            started = time.perf_counter()
            alice.wakuext.dispatch_archive_link(community)

            def all_fetched() -> None:
                ids = bob.wakuext.downloaded_archive_ids(community)
                assert len(ids) == len(created), f"{len(ids)} of {len(created)} archives"

            eventually(all_fetched, within=3600, interval=0.05, max_interval=0.05)
            fetching = time.perf_counter() - started

            def all_imported() -> None:
                pending = bob.wakuext.archive_ids_to_import(community)
                assert not pending, f"{len(pending)} archives left to import"

            eventually(all_imported, within=3600, interval=0.05, max_interval=0.05)
            importing = time.perf_counter() - started
        return ArchiveTimes(len(bodies), len(created), floor, creation, fetching, importing)


def _database(person: Person) -> Path:
    """The person's one account database (``<data dir>/<key UID>/status.db``)."""
    found = sorted(person.data_dir.glob("*/status.db"))
    assert len(found) == 1, f"expected one status.db under {person.data_dir}, found {found}"
    return found[0]


def report(times: ArchiveTimes) -> list[str]:
    count, floor = times.messages, times.floor
    imported = count / times.importing
    return [
        f"{count} messages over {DAYS} days, {times.archives} archives",
        f"floor (protobuf encode + SHA-256): {floor:10.0f} messages/s",
        f"archive creation:                  {count / times.creation:10.0f} messages/s "
        f"({times.creation:.2f} s, {count / times.creation / floor:.3f} of the floor)",
        f"fetch by the member:               {count / times.fetching:10.0f} messages/s "
        f"({times.fetching:.2f} s, {count / times.fetching / floor:.3f} of the floor)",
        f"fetch and import by the member:    {imported:10.0f} messages/s "
        f"({times.importing:.2f} s, {imported / floor:.4f} of the floor)",
        f"import alone against status-go's fast pace: "
        f"{times.importing - times.fetching:.2f} s, where the pace allows "
        f"{times.pace_seconds:.2f} s at the least "
        f"({times.pace_seconds / (times.importing - times.fetching):.2f} of the pace)",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--seed", action="store_true", help="store the messages by writing "
                        "them next to the first in Alice's database, not one sendChatMessage "
                        "each (the same rows, minutes sooner)")
    parser.add_argument("--profile", type=Path, help="py-spy raw profile of the member's "
                        "status-backend (and its storage node) during fetch and import")
    args = parser.parse_args()
    bodies = texts(args.messages)
    with ArchivePair(Settings()) as pair:
        if args.seed:
            pair.seed(bodies)
        else:
            pair.load(bodies)
        times = pair.measure(bodies, args.profile)
    print("\n".join(report(times)))
    if args.profile is not None:
        print(f"where the member's time went ({args.profile}):")
        for share, frame in top_frames(args.profile):
            print(f"  {share:6.1%}  {frame}")


if __name__ == "__main__":
    main()
