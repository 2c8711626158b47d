"""Benchmark: a large file streamed across a three-node chain of emulated Codex nodes.

A 256 MiB file is uploaded to A; C (which bootstrapped from B, which bootstrapped from A) streams
it from the network. Prints C's network throughput, its ratio to a local download of the same
content from A measured in the same run, and every node's peak RSS.

    .venv/bin/python bench/codex_network.py [--mib 256]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from measure import MIB, PeakRss

from support.codex.nodes import CodexFleet
from support.config import Settings
from support.content import write_random_file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mib", type=int, default=256, help="size of the file in MiB")
    args = parser.parse_args()
    size = args.mib * MIB
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
                started = time.perf_counter()
                local = a.client.download(cid, timeout=600)
                local_seconds = time.perf_counter() - started
                started = time.perf_counter()
                remote = c.client.download(cid, network=True, timeout=600)
                remote_seconds = time.perf_counter() - started
        finally:
            fleet.close()
    if {local.sha256, remote.sha256} != {content.sha256}:
        raise SystemExit("FAILED: a download differs from the upload")
    local_rate, remote_rate = size / MIB / local_seconds, size / MIB / remote_seconds
    print(f"size: {args.mib} MiB, chain A <- B <- C")
    print(f"baseline local download from A: {local_rate:8.1f} MB/s ({local_seconds:.2f} s)")
    print(f"network stream from C:          {remote_rate:8.1f} MB/s ({remote_seconds:.2f} s)")
    print(f"network / local:                {remote_rate / local_rate:8.3f}")
    print("peak RSS: " + ", ".join(f"{name} {peak / MIB:.1f} MiB"
                                   for name, peak in rss.peaks.items()))


if __name__ == "__main__":
    main()
