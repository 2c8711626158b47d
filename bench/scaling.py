"""Benchmark: how cost grows with size, each curve against a floor measured in the same run.

1. Codex round trip (upload, download, SHA-256 of what came back) of 1, 16, 256 and 1024 MiB on
   one emulated node; floor: ``hashlib.sha256`` over the same bytes.
2. Chat cluster spawn-to-ready with 1, 2, 4 and 8 servers plus 2 gates, on real etcd; floor:
   spawning as many ``python -c 'import grpc'`` at once.
3. Archives over 30 days in 1-day partitions: the owner's ``createHistoryArchiveFromDB`` of 10k,
   100k and 1M messages, and the member's fetch and import at status-go's fast pace of 2.5k and
   10k (the pace alone makes 1M take 17 minutes); floor: protobuf encoding plus SHA-256 of the
   same messages.

Each curve ends with the exponent of time against size on a log-log scale, over all points and
between the two largest, and says "linear" or the worse order it sees. Everything is on loopback
in a scratch folder and stops by itself.

    .venv/bin/python bench/scaling.py [--codex-mib 1,16,256,1024] [--servers 1,2,4,8]
        [--messages 10000,100000,1000000] [--imports 2500,10000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import psutil
from archive_throughput import IMPORT_PACE, ArchivePair, floor_rate, texts
from chat_cluster import spawn_floor
from codex_roundtrip import timed_round_trip
from measure import MIB, PeakRss, growth

from support.chat.cluster import ChatCluster
from support.codex.nodes import CodexFleet
from support.config import Settings
from support.content import write_random_file
from support.etcd import EtcdServer, bundled_etcd

GATES = 2
# Import is paced by status-go (status-backend.md §5.4: 100 chunks of 10 a second at the fast
# pace, a 100 ms tick per archive): 100k messages take 103 s at the least, 1M 1,003 s. Within the
# five minutes the bench has, the import curve is measured on these sizes.
IMPORTS = [2_500, 10_000]


def codex_curve(settings: Settings, base: Path, sizes: list[int]) -> list[str]:
    """Round trips of each size through one node, smallest first."""
    seconds, floors = [], []
    fleet = CodexFleet(settings, base / "codex", base / "logs")
    try:
        node = fleet.start("scaling")
        assert node.process is not None
        with PeakRss({"node": node.process.pid}) as rss:
            process = psutil.Process(node.process.pid)
            for mib in sizes:
                content = write_random_file(base / f"content-{mib}.bin", mib * MIB, seed=mib)
                try:
                    run = timed_round_trip(node.client, process, content)
                finally:
                    content.path.unlink()  # the next size's file is written in its place
                seconds.append(run.round_trip)
                floors.append(run.floor)
    finally:
        fleet.close()
    return ["Codex round trip (upload + download + SHA-256), floor hashlib.sha256:",
            *growth("MiB", sizes, seconds, floors),
            f"  node peak RSS {rss.peaks['node'] / MIB:.0f} MiB"]


def chat_curve(settings: Settings, base: Path, servers: list[int]) -> list[str]:
    """Spawn-to-ready of each cluster size on one etcd, each cluster stopped before the next."""
    seconds, floors = [], []
    etcd = EtcdServer(bundled_etcd(), base / "etcd" / "data", base / "etcd.log").start()
    try:
        for count in servers:
            floors.append(spawn_floor(count + GATES))
            cluster = ChatCluster(settings, etcd.endpoint, base / f"chat-w{count}",
                                  base / f"chat-l{count}")
            started = time.perf_counter()
            try:
                cluster.start(count, gates=GATES)
                seconds.append(time.perf_counter() - started)
            finally:
                codes = cluster.stop()
            assert set(codes.values()) == {0}, f"a chat process exited badly: {codes}"
    finally:
        etcd.stop()
    return [f"chat cluster spawn to ready ({GATES} gates each), floor spawning as many "
            "python -c 'import grpc':", *growth("servers", servers, seconds, floors)]


def archive_curves(settings: Settings, sizes: list[int], imports: list[int]) -> list[str]:
    """Creation at each of ``sizes``, then fetch and import at each of ``imports``; a fresh
    owner and member for every size, so that no size inherits the last one's rows."""
    created, created_floors, fetched, fetched_floors, paces = [], [], [], [], []
    for count in sizes:
        bodies = texts(count)
        with ArchivePair(settings) as pair:
            pair.seed(bodies)
            created_floors.append(count / floor_rate(pair.chat, bodies))
            created.append(pair.create()[1])
    for count in imports:
        bodies = texts(count)
        with ArchivePair(settings) as pair:
            pair.seed(bodies)
            times = pair.measure(bodies)
            fetched.append(times.importing)
            fetched_floors.append(count / times.floor)
            paces.append(f"{times.pace_seconds:.1f} s for {count:,}")
    return ["archive creation (createHistoryArchiveFromDB), floor protobuf encode + SHA-256:",
            *growth("messages", sizes, created, created_floors),
            "archive fetch + import by a member at status-go's fast pace, "
            "floor protobuf encode + SHA-256:",
            *growth("messages", imports, fetched, fetched_floors),
            f"  status-go's pace alone allows at the least {', '.join(paces)}; "
            f"{max(sizes):,} messages would take {max(sizes) / IMPORT_PACE / 60:.0f} minutes"]


def _sizes(text: str) -> list[int]:
    return sorted(int(part) for part in text.split(","))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--codex-mib", type=_sizes, default=[1, 16, 256, 1024])
    parser.add_argument("--servers", type=_sizes, default=[1, 2, 4, 8])
    parser.add_argument("--messages", type=_sizes, default=[10_000, 100_000, 1_000_000],
                        help="archive sizes whose creation is measured")
    parser.add_argument("--imports", type=_sizes, default=IMPORTS,
                        help="archive sizes whose fetch and import is measured")
    args = parser.parse_args()
    settings = Settings()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="scaling-bench-") as scratch:
        base = Path(scratch)
        curves = (lambda: codex_curve(settings, base, args.codex_mib),
                  lambda: chat_curve(settings, base, args.servers),
                  lambda: archive_curves(settings, args.messages, args.imports))
        for curve in curves:
            print("\n".join(curve()), flush=True)
    print(f"scaling bench took {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
