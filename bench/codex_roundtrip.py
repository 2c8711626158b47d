"""Benchmark: a large upload + download + SHA-256 check against one emulated Codex node.

Prints the round trip's throughput, its ratio to a plain ``hashlib.sha256`` over the same bytes
measured in the same run (the floor any verified round trip must pay), the node's peak RSS, and
the CPU seconds the node spent per upload and per download (which a busy machine inflates far
less than the wall-clock times).
The round trip is timed ``--runs`` times on the same node (the file deleted in between, so each
upload stores every block again), each run next to a floor measurement of its own; the best of
each counts, and the spread of the runs' own ratios is printed too (the machine is shared).

    .venv/bin/python bench/codex_roundtrip.py [--mib 256] [--runs 3]
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
from measure import MIB, PeakRss

from support.codex.client import CodexClient
from support.codex.nodes import CodexFleet
from support.config import Settings
from support.content import LocalFile, write_random_file


def hash_file(path: Path) -> tuple[str, float]:
    started = time.perf_counter()
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(MIB):
            digest.update(chunk)
    return digest.hexdigest(), time.perf_counter() - started


@dataclass(frozen=True)
class Run:
    """One timed round trip and the floor measured just before it (seconds), and the node's CPU
    seconds (user + system) in each half."""

    floor: float
    upload: float
    download: float
    upload_cpu: float
    download_cpu: float

    @property
    def round_trip(self) -> float:
        return self.upload + self.download

    @property
    def ratio(self) -> float:
        return self.floor / self.round_trip


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def timed_round_trip(client: CodexClient, node: psutil.Process, content: LocalFile) -> Run:
    expected, floor = hash_file(content.path)
    assert expected == content.sha256
    cpu_started, started = cpu_seconds(node), time.perf_counter()
    cid = client.upload(content.path, timeout=600)
    cpu_uploaded, uploaded = cpu_seconds(node), time.perf_counter()
    result = client.download(cid, timeout=600)
    cpu_finished, finished = cpu_seconds(node), time.perf_counter()
    if result.sha256 != expected:
        raise SystemExit("FAILED: the downloaded bytes differ from the upload")
    client.delete(cid)  # the next run stores every block again
    return Run(floor, uploaded - started, finished - uploaded,
               cpu_uploaded - cpu_started, cpu_finished - cpu_uploaded)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mib", type=int, default=256, help="size of the file in MiB")
    parser.add_argument("--runs", type=int, default=3, help="round trips to time")
    args = parser.parse_args()
    size = args.mib * MIB
    with tempfile.TemporaryDirectory(prefix="codex-bench-") as scratch:
        base = Path(scratch)
        content = write_random_file(base / "content.bin", size, seed="bench")
        fleet = CodexFleet(Settings(), base / "work", base / "logs")
        try:
            node = fleet.start("bench")
            assert node.process is not None
            process = psutil.Process(node.process.pid)
            idle_rss = process.memory_info().rss
            with PeakRss({"node": node.process.pid}) as rss:
                runs = [timed_round_trip(node.client, process, content) for _ in range(args.runs)]
        finally:
            fleet.close()
    floor = min(run.floor for run in runs)
    round_trip = min(run.round_trip for run in runs)
    mib = size / MIB
    print(f"size: {args.mib} MiB, best of {len(runs)} runs")
    print(f"baseline hashlib.sha256: {mib / floor:8.1f} MB/s ({floor:.2f} s)")
    print(f"upload:                  {mib / min(run.upload for run in runs):8.1f} MB/s")
    print(f"download + sha256:       {mib / min(run.download for run in runs):8.1f} MB/s")
    print(f"round trip:              {mib / round_trip:8.1f} MB/s ({round_trip:.2f} s)")
    ratios = sorted(run.ratio for run in runs)
    print(f"round trip / baseline:   {floor / round_trip:8.3f} "
          f"(each run against its own floor: {ratios[0]:.3f} to {ratios[-1]:.3f})")
    print(f"node CPU: upload {min(run.upload_cpu for run in runs):.2f} s, "
          f"download {min(run.download_cpu for run in runs):.2f} s (least of the runs)")
    print(f"node RSS: idle {idle_rss / MIB:.1f} MiB, peak {rss.peaks['node'] / MIB:.1f} MiB")


if __name__ == "__main__":
    main()
