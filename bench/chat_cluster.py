"""Benchmarks of the emulated Goverse chat cluster on real etcd.

1. Spawn-to-ready (every /ready and the six chat objects) for 1 and 4 nodes plus 2 gates, against
   the floor of spawning as many Python processes that only import grpc, in the same run; and
   how long stopping the cluster takes (each process in turn, with the suite's stop checks).
2. Push latency across two gates (Alice on gate 1 says something, Bob on gate 2 receives it),
   p50 and p99, against a plain gRPC unary round trip on loopback, in the same run.

    .venv/bin/python bench/chat_cluster.py [--messages 200]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent import futures
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from support.chat.client import ChatClient
from support.chat.cluster import ChatCluster
from support.config import Settings
from support.etcd import EtcdServer, bundled_etcd


def spawn_floor(count: int) -> float:
    """Seconds to start ``count`` Python processes that import grpc, all at once, and see them
    exit."""
    started = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", "import grpc"]) for _ in range(count)]
    for proc in procs:
        proc.wait()
    return time.perf_counter() - started


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def unary_round_trips(count: int) -> list[float]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    stub = health_pb2_grpc.HealthStub(grpc.insecure_channel(f"127.0.0.1:{port}"))
    stub.Check(health_pb2.HealthCheckRequest(), timeout=5)
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        stub.Check(health_pb2.HealthCheckRequest(), timeout=5)
        samples.append(time.perf_counter() - started)
    server.stop(grace=None)
    return samples


def push_latencies(cluster: ChatCluster, count: int) -> list[float]:
    alice = ChatClient(cluster.gates["gate-1"].address, "alice", "000000")
    bob = ChatClient(cluster.gates["gate-2"].address, "bob", "000000")
    alice.register()
    bob.register()
    alice.join("General")
    bob.join("General")
    alice.send("General", "warm-up")
    bob.wait_for("warm-up", within=10)
    samples = []
    for index in range(count):
        text = f"message {index}"
        started = time.time()
        alice.send("General", text)
        samples.append(bob.wait_for(text, within=10).arrived - started)
    alice.close()
    bob.close()
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="chat-bench-") as scratch:
        base = Path(scratch)
        etcd = EtcdServer(bundled_etcd(), base / "etcd" / "data", base / "etcd.log").start()
        try:
            for nodes in (1, 4):
                floor = spawn_floor(nodes + 2)
                cluster = ChatCluster(Settings(), etcd.endpoint, base / f"w{nodes}",
                                      base / f"l{nodes}")
                started = time.perf_counter()
                cluster.start(nodes, gates=2)
                ready = time.perf_counter() - started
                if nodes == 4:
                    latencies = push_latencies(cluster, args.messages)
                started = time.perf_counter()
                codes = cluster.stop()
                stopped = time.perf_counter() - started
                assert set(codes.values()) == {0}, codes
                print(f"{nodes} node(s) + 2 gates: ready in {ready:.2f} s; floor (spawn "
                      f"{nodes + 2} python -c 'import grpc'): {floor:.2f} s; "
                      f"ratio {ready / floor:.2f}; stopped (and checked) in {stopped:.2f} s")
        finally:
            etcd.stop()
    unary = unary_round_trips(args.messages)
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    u50, u99 = percentile(unary, 0.5), percentile(unary, 0.99)
    print(f"push across two gates ({args.messages} messages): p50 {p50 * 1000:.2f} ms, "
          f"p99 {p99 * 1000:.2f} ms, mean {statistics.fmean(latencies) * 1000:.2f} ms")
    print(f"plain gRPC unary round trip: p50 {u50 * 1000:.3f} ms, p99 {u99 * 1000:.3f} ms")
    print(f"push / unary: p50 {p50 / u50:.1f}x, p99 {p99 / u99:.1f}x")


if __name__ == "__main__":
    main()
