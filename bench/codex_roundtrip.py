"""Benchmark: a large upload + download + SHA-256 check against one emulated Codex node.

Prints the round trip's throughput, its ratio to a plain ``hashlib.sha256`` over the same bytes
measured in the same run (the floor any verified round trip must pay), and the node's peak RSS.

    .venv/bin/python bench/codex_roundtrip.py [--mib 256]
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
from pathlib import Path

import psutil
from measure import MIB, PeakRss

from support.codex.nodes import CodexFleet
from support.config import Settings
from support.content import write_random_file


def hash_file(path: Path) -> tuple[str, float]:
    started = time.perf_counter()
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(MIB):
            digest.update(chunk)
    return digest.hexdigest(), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mib", type=int, default=256, help="size of the file in MiB")
    args = parser.parse_args()
    size = args.mib * MIB
    with tempfile.TemporaryDirectory(prefix="codex-bench-") as scratch:
        base = Path(scratch)
        content = write_random_file(base / "content.bin", size, seed="bench")
        expected, baseline_seconds = hash_file(content.path)
        assert expected == content.sha256
        fleet = CodexFleet(Settings(), base / "work", base / "logs")
        try:
            node = fleet.start("bench")
            assert node.process is not None
            idle_rss = psutil.Process(node.process.pid).memory_info().rss
            with PeakRss({"node": node.process.pid}) as rss:
                started = time.perf_counter()
                cid = node.client.upload(content.path, timeout=600)
                uploaded = time.perf_counter()
                result = node.client.download(cid, timeout=600)
                finished = time.perf_counter()
        finally:
            fleet.close()
    if result.sha256 != expected:
        raise SystemExit("FAILED: the downloaded bytes differ from the upload")
    round_trip = finished - started
    baseline_rate = size / MIB / baseline_seconds
    rate = size / MIB / round_trip
    print(f"size: {args.mib} MiB")
    print(f"baseline hashlib.sha256: {baseline_rate:8.1f} MB/s ({baseline_seconds:.2f} s)")
    print(f"upload:                  {size / MIB / (uploaded - started):8.1f} MB/s")
    print(f"download + sha256:       {size / MIB / (finished - uploaded):8.1f} MB/s")
    print(f"round trip:              {rate:8.1f} MB/s ({round_trip:.2f} s)")
    print(f"round trip / baseline:   {rate / baseline_rate:8.3f}")
    print(f"node RSS: idle {idle_rss / MIB:.1f} MiB, peak {rss.peaks['node'] / MIB:.1f} MiB")


if __name__ == "__main__":
    main()
