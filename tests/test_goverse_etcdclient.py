"""The Goverse emulator's own etcd client (plain-socket HTTP/1.1 to etcd's JSON gateway) and what
the cluster mirror does with its writes, against real etcd."""

from __future__ import annotations

import socket
import threading

import pytest

from emulators.goverse.etcdclient import EtcdClient, EtcdError
from emulators.goverse.etcdview import EtcdMirror, parse_shard
from support.etcd import EtcdServer, client_for, new_prefix


def _client(etcd: EtcdServer) -> EtcdClient:
    host, port = etcd.endpoint.rsplit(":", 1)
    return EtcdClient(host, int(port), timeout=5.0)


def test_keys_round_trip_and_a_large_answer_is_read_whole(etcd: EtcdServer) -> None:
    client, prefix = _client(etcd), new_prefix("etcdclient") + "/"
    for index in range(300):  # an answer far larger than one chunk of etcd's gateway
        client.put(f"{prefix}key-{index:03d}", "v" * 100)
    kvs, revision = client.range_prefix(prefix)
    assert len(kvs) == 300
    assert revision > 0
    client.delete(f"{prefix}key-000")
    assert len(client.range_prefix(prefix)[0]) == 299


def test_a_compare_and_swap_succeeds_only_on_the_expected_revision(etcd: EtcdServer) -> None:
    client, key = _client(etcd), new_prefix("etcdclient") + "/cas"
    client.put(key, "first")
    (kv,), _ = client.range_prefix(key)
    stale = int(kv["mod_revision"]) - 1
    compare = {"key": kv["key"], "result": "EQUAL", "target": "MOD"}
    put = {"request_put": {"key": kv["key"], "value": "c2Vjb25k"}}
    refused = client.txn({"compare": [{**compare, "mod_revision": str(stale)}], "success": [put]})
    assert not refused.get("succeeded")
    stored = client.txn({"compare": [{**compare, "mod_revision": kv["mod_revision"]}],
                         "success": [put]})
    assert stored.get("succeeded")


def test_a_lease_is_kept_alive_and_revoked(etcd: EtcdServer) -> None:
    client, key = _client(etcd), new_prefix("etcdclient") + "/leased"
    lease = client.lease_grant(15)
    client.put(key, "here", lease=lease)
    assert 0 < client.lease_refresh(lease) <= 15
    client.lease_revoke(lease)
    assert client.lease_refresh(lease) <= 0
    assert client.range_prefix(key)[0] == []


def test_the_watch_streams_every_change_after_its_revision(etcd: EtcdServer) -> None:
    client, prefix = _client(etcd), new_prefix("etcdclient") + "/"
    _, revision = client.range_prefix(prefix)
    seen: list[str] = []
    done = threading.Event()

    def follow() -> None:
        for result in client.watch(prefix, revision + 1):
            seen.extend(event.get("type", "PUT") for event in result.get("events", []))
            if len(seen) >= 2:
                done.set()
                return

    threading.Thread(target=follow, daemon=True).start()
    client.put(prefix + "a", "1")
    client.delete(prefix + "a")
    assert done.wait(5), f"the watch saw {seen}"
    assert seen == ["PUT", "DELETE"]


def test_a_connection_etcd_has_closed_is_replaced(etcd: EtcdServer) -> None:
    client, key = _client(etcd), new_prefix("etcdclient") + "/again"
    client.put(key, "1")
    client._local.connection.sock.shutdown(socket.SHUT_RDWR)  # as etcd closing an idle one
    client.put(key, "2")
    assert len(client.range_prefix(key)[0]) == 1


def test_etcd_s_refusal_is_an_etcd_error(etcd: EtcdServer) -> None:
    with pytest.raises(EtcdError, match="lease"):
        _client(etcd).put(new_prefix("etcdclient") + "/x", "1", lease="12345")


def test_a_shard_this_process_stored_is_in_its_view_before_the_watch_brings_it(
        etcd: EtcdServer) -> None:
    prefix = new_prefix("etcdclient")
    mirror = EtcdMirror(etcd.endpoint, prefix, on_membership=lambda: None)
    mirror.start()
    mirror.stop()  # the watch applies nothing from here on
    assert mirror.cas_many([(mirror.key("shard", "7"), "127.0.0.1:1,127.0.0.1:1", 0)])
    stored = client_for(etcd.endpoint).get(mirror.key("shard", "7"), metadata=True)[0][1]
    assert mirror.view.shards[7] == parse_shard("127.0.0.1:1,127.0.0.1:1",
                                                int(stored["mod_revision"]))
    assert not mirror.cas_many([(mirror.key("shard", "7"), "127.0.0.1:2,", 0)])
    assert mirror.view.shards[7].target == "127.0.0.1:1"
