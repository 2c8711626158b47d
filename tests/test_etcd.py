"""The suite's real etcd: starts, isolates prefixes, survives a restart, stops."""

from __future__ import annotations

from pathlib import Path

from support.etcd import EtcdServer, bundled_etcd, client_for, new_prefix


def test_etcd_round_trip_leases_and_restart(tmp_path: Path) -> None:
    server = EtcdServer(bundled_etcd(), tmp_path / "etcd" / "data", tmp_path / "etcd.log").start()
    try:
        client = client_for(server.endpoint)
        first, second = new_prefix("a"), new_prefix("a")
        assert first != second
        lease = client.lease(ttl=30)
        client.put(f"{first}/nodes/x", "x", lease=lease)
        client.put(f"{first}/leader", "x")
        assert client.get_prefix(second) == []
        assert lease.revoke()
        assert [v for v, _ in client.get_prefix(first)] == [b"x"]  # only the unleased key
        server.restart()
        assert client_for(server.endpoint).get(f"{first}/leader") == [b"x"]
    finally:
        server.stop()
    assert not server.process.is_running()
