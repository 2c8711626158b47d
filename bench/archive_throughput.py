"""Benchmark: community messages over 30 days, archived in 1-day partitions by the owner and
fetched by a member, each on an emulated status-backend of their own, through status-backend's
API only (as the archive scenarios drive it).

Reports messages per second for archive creation (``createHistoryArchiveFromDB``: windows,
encoding, uploads, index), for the member's fetch (``dispatchArchiveLink`` to every archive
downloaded: index and archive downloads through the storage nodes) and for fetch plus import (to
every archive imported), against a floor measured in the same run: plain protobuf encoding plus
SHA-256 of the same messages. status-go paces imports with a rate limiter: 10 messages a second,
or 1,000 after ``wakuext_speedupArchivesImport`` (what the desktop app calls when its window is in
the background); the member asks for the fast pace, and import is also given against that pace.

    .venv/bin/python bench/archive_throughput.py [--messages 20000]
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from support.archive.api import StatusBackendClient
from support.archive.ledger import TokenLedger
from support.archive.persons import Persons
from support.archive.relay import WakuRelay
from support.archive.targets import EmulatorTarget
from support.archive.wakuext import Wakuext
from support.archive.world import at, iso
from support.config import Settings
from support.waiting import eventually
from wire import archive_codec as codec

DAYS = 30
LOADERS = 4  # parallel clients storing the messages (not measured)
IMPORT_PACE = 1000  # messages a second: chunks of 10 at importFastRate (100 chunks a second)


def texts(count: int) -> list[str]:
    return [f"message {index} " + "x" * 60 for index in range(count)]


def floor_rate(chat_id: str, bodies: list[str], start: int) -> float:
    """Protobuf encoding plus SHA-256 of messages like the ones archived."""
    topic = codec.chat_topic(chat_id)
    sig = b"\x04" + bytes(64)
    started = time.perf_counter()
    for index, body in enumerate(bodies):
        message = codec.StoredMessage(sig, start + index, topic, body.encode(), b"",
                                      hashlib.sha256(body.encode()).hexdigest())
        hashlib.sha256(message.to_proto().SerializeToString()).digest()
    return len(bodies) / (time.perf_counter() - started)


def load(url: str, chat_id: str, bodies: list[str], start: int) -> None:
    """Store every message as one from the past, spread evenly over the days."""
    def send(chunk: range) -> None:
        wakuext = Wakuext(StatusBackendClient(url, 60.0, None))
        for index in chunk:
            when = start + index * DAYS * 86400 // len(bodies)
            wakuext.send_chat_message(chat_id, bodies[index], timestamp_ms=when * 1000)

    with ThreadPoolExecutor(LOADERS) as pool:
        list(pool.map(send, [range(i, len(bodies), LOADERS) for i in range(LOADERS)]))


def _assert(value: object) -> None:
    assert value, "not yet"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=20_000)
    args = parser.parse_args()
    start = int(at("00:00"))
    settings = Settings()
    with tempfile.TemporaryDirectory(prefix="archive-bench-") as scratch:
        base = Path(scratch)
        target = EmulatorTarget(settings, base / "backends", base / "logs",
                                TokenLedger(base / "ledger.json").path)
        persons = Persons(settings, target, WakuRelay(settings, base / "relay", base / "logs"),
                          None, base / "people")
        try:
            alice, bob = persons.get("Alice"), persons.get("Bob")
            community = alice.wakuext.create_community("Bench", "archive throughput")
            chat = community.general_chat_id
            eventually(lambda: _assert(bob.wakuext.fetch_community(community.community_id)),
                       within=30, interval=0.2)
            bob.wakuext.request_to_join(community.community_id, bob.address)
            eventually(lambda: _assert((bob.wakuext.fetch_community(community.community_id)
                                        or {}).get("joined")), within=30, interval=0.2)
            bodies = texts(args.messages)
            load(alice.backend.url, chat, bodies, start)
            floor = floor_rate(chat, bodies, start)
            started = time.perf_counter()
            created = alice.wakuext.create_history_archive_from_db(
                community.community_id, [codec.topic_text(codec.chat_topic(chat))],
                start_iso=iso(start), end_iso=iso(start + DAYS * 86400),
                partition_seconds=86400, encrypted=False)
            creation = time.perf_counter() - started
            bob.wakuext.speedup_archives_import()
            started = time.perf_counter()
            alice.wakuext.dispatch_archive_link(community.community_id)

            def all_fetched() -> None:
                ids = bob.wakuext.downloaded_archive_ids(community.community_id)
                assert len(ids) == len(created), f"{len(ids)} of {len(created)} archives"

            eventually(all_fetched, within=600, interval=0.2)
            fetching = time.perf_counter() - started

            def all_imported() -> None:
                pending = bob.wakuext.archive_ids_to_import(community.community_id)
                assert not pending, f"{len(pending)} archives left to import"

            eventually(all_imported, within=600, interval=0.2)
            importing = time.perf_counter() - started
        finally:
            persons.close()
    print(f"{args.messages} messages over {DAYS} days, {len(created)} archives")
    print(f"floor (protobuf encode + SHA-256): {floor:10.0f} messages/s")
    print(f"archive creation:                  {args.messages / creation:10.0f} messages/s "
          f"({creation:.2f} s, {args.messages / creation / floor:.3f} of the floor)")
    print(f"fetch by the member:               {args.messages / fetching:10.0f} messages/s "
          f"({fetching:.2f} s, {args.messages / fetching / floor:.3f} of the floor)")
    imported = args.messages / importing
    print(f"fetch and import by the member:    {imported:10.0f} messages/s "
          f"({importing:.2f} s, {imported / floor:.4f} of the floor, "
          f"{imported / IMPORT_PACE:.2f} of status-go's fast import pace)")


if __name__ == "__main__":
    main()
