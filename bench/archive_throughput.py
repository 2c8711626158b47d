"""Benchmark: 100,000 community messages over 30 days, archived in 1-day partitions by the owner
and imported by a member, each through its own emulated Codex node.

Reports messages per second for archive creation (RPC to its return: windows, encoding, uploads,
index) and for the member's side (announcement to the last archive imported: index and archive
downloads, import), against a floor measured in the same run: plain protobuf encoding plus
SHA-256 of the same messages.

    .venv/bin/python bench/archive_throughput.py [--messages 100000]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import tempfile
import time
from pathlib import Path

from emulators.community.database import Database
from support.archive.community import CommunityNodes
from support.archive.world import at
from support.codex.nodes import CodexFleet
from support.config import Settings
from support.waiting import eventually
from wire import archive_codec as codec

DAYS = 30


def make_messages(chat_id: str, count: int, start: int) -> list[codec.StoredMessage]:
    topic = codec.chat_topic(chat_id)
    sig = b"\x04" + os.urandom(64)
    messages = []
    for index in range(count):
        payload = json.dumps({"chatId": chat_id, "text": f"message {index} " + "x" * 60,
                              "author": sig.hex()[:66]}).encode()
        timestamp = start + index * DAYS * 86400 // count
        messages.append(codec.StoredMessage(sig, timestamp, topic, payload, b"",
                                            hashlib.sha256(payload).hexdigest()))
    return messages


def floor_rate(messages: list[codec.StoredMessage]) -> float:
    started = time.perf_counter()
    for message in messages:
        hashlib.sha256(message.to_proto().SerializeToString()).digest()
    return len(messages) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=100_000)
    args = parser.parse_args()
    start = int(at("00:00"))
    with tempfile.TemporaryDirectory(prefix="archive-bench-") as scratch:
        base = Path(scratch)
        fleet = CodexFleet(Settings(), base / "codex", base / "logs")
        people = CommunityNodes(Settings(), fleet, base / "community", base / "logs")
        try:
            people.start(["Alice", "Bob"])
            alice, bob = people.person("Alice").client, people.person("Bob").client
            community = alice.call("wakuext_createCommunity", name="Bench", encrypted=False)["id"]
            chat = alice.call("wakuext_createCommunityChat", communityId=community,
                              name="general")["id"]
            bob.call("wakuext_requestToJoinCommunity", communityId=community)
            messages = make_messages(chat, args.messages, start)
            owner_db = Database(base / "community" / "Alice" / "status.db")
            owner_db.execute_many("INSERT OR REPLACE INTO waku_messages VALUES (?,?,?,?,?,?,?)",
                                  [(m.sig, m.timestamp, codec.topic_text(m.topic), m.payload,
                                    m.padding, m.hash, "") for m in messages])
            owner_db.close()
            floor = floor_rate(messages)
            started = time.perf_counter()
            created = alice.call("wakuext_createHistoryArchiveCodexFromDB", communityId=community,
                                 chatIds=[chat], start=start, end=start + DAYS * 86400,
                                 partition=86400, encrypt=False)
            creation = time.perf_counter() - started
            started = time.perf_counter()
            alice.call("wakuext_announceArchiveIndex", communityId=community)

            def all_imported() -> None:
                ids = bob.call("wakuext_archiveIDs", communityId=community)
                assert len(ids) == len(created) and all(ids.values()), f"{len(ids)} archives"

            eventually(all_imported, within=600, interval=0.2)
            importing = time.perf_counter() - started
            seen = len(bob.call("wakuext_chatMessages", chatId=chat))
        finally:
            people.close()
            fleet.close()
    if seen != args.messages:
        raise SystemExit(f"FAILED: the member sees {seen} of {args.messages} messages")
    print(f"{args.messages} messages over {DAYS} days, {len(created)} archives")
    print(f"floor (protobuf encode + SHA-256): {floor:10.0f} messages/s")
    print(f"archive creation:                  {args.messages / creation:10.0f} messages/s "
          f"({creation:.2f} s, {args.messages / creation / floor:.3f} of the floor)")
    print(f"download + import on the member:   {args.messages / importing:10.0f} messages/s "
          f"({importing:.2f} s, {args.messages / importing / floor:.3f} of the floor)")


if __name__ == "__main__":
    main()
