"""Benchmark: a large file streamed across a three-node chain of emulated Codex nodes.

A 256 MiB file is uploaded to A; C (which bootstrapped from B, which bootstrapped from A) streams
it from the network. Prints C's network throughput, its ratio to a local download of the same
content from A measured in the same run, and every node's peak RSS. The two downloads take
turns ``--rounds`` times (C deletes the file after each of its downloads, so each one crosses
the network) and the best of each counts, so that a burst of load from elsewhere on the
machine does not decide the ratio.

    .venv/bin/python bench/codex_network.py [--mib 256] [--rounds 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from measure import MIB, PeakRss

from support.codex.client import CodexClient
from support.codex.nodes import CodexFleet
from support.config import Settings
from support.content import write_random_file


def timed_download(client: CodexClient, cid: str, expected: str, *, network: bool) -> float:
    """Seconds one download took; fails if the bytes differ from the upload."""
    started = time.perf_counter()
    result = client.download(cid, network=network, timeout=600)
    seconds = time.perf_counter() - started
    if result.sha256 != expected:
        raise SystemExit("FAILED: a download differs from the upload")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mib", type=int, default=256, help="size of the file in MiB")
    parser.add_argument("--rounds", type=int, default=3, help="downloads of each kind")
    args = parser.parse_args()
    size = args.mib * MIB
    local_times: list[float] = []
    network_times: list[float] = []
    with tempfile.TemporaryDirectory(prefix="codex-bench-") as scratch:
        base = Path(scratch)
        content = write_random_file(base / "content.bin", size, seed="bench")
        fleet = CodexFleet(Settings(), base / "work", base / "logs")
        try:
            nodes = fleet.start_network(["A", "B", "C"], bootstrap={"B": ["A"], "C": ["B"]})
            a, _b, c = nodes
            pids = {node.name: node.process.pid for node in nodes if node.process}
            with PeakRss(pids) as rss:
                cid = a.client.upload(content.path, timeout=600)
                for _round in range(args.rounds):
                    local_times.append(timed_download(a.client, cid, content.sha256,
                                                      network=False))
                    network_times.append(timed_download(c.client, cid, content.sha256,
                                                        network=True))
                    c.client.delete(cid, timeout=600)
        finally:
            fleet.close()
    local_rate, remote_rate = size / MIB / min(local_times), size / MIB / min(network_times)
    print(f"size: {args.mib} MiB, chain A <- B <- C, best of {args.rounds}")
    print(f"baseline local download from A: {local_rate:8.1f} MB/s ({min(local_times):.2f} s; "
          f"all: {', '.join(f'{t:.2f}' for t in local_times)})")
    print(f"network stream from C:          {remote_rate:8.1f} MB/s ({min(network_times):.2f} s; "
          f"all: {', '.join(f'{t:.2f}' for t in network_times)})")
    print(f"network / local:                {remote_rate / local_rate:8.3f}")
    print("peak RSS: " + ", ".join(f"{name} {peak / MIB:.1f} MiB"
                                   for name, peak in rss.peaks.items()))


if __name__ == "__main__":
    main()
