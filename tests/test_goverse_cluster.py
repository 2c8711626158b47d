"""The emulated Goverse cluster against real etcd: key layout, leases, routing errors, auth."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf.any_pb2 import Any

from emulators.goverse.etcdview import Shard, parse_shard
from support.chat.client import ChatClient, ChatError
from support.chat.cluster import SHARDS, ChatCluster
from support.config import Settings
from support.etcd import EtcdServer, bundled_etcd, client_for
from wire.pb.chat import chat_pb2
from wire.pb.gate import gate_pb2, gate_pb2_grpc


@pytest.fixture(scope="module")
def cluster(etcd: EtcdServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChatCluster]:
    base = tmp_path_factory.mktemp("chat")
    chat = ChatCluster(Settings(), etcd.endpoint, base / "work", base / "logs")
    chat.start(nodes=1, gates=1)
    yield chat
    assert set(chat.stop().values()) == {0}


def test_shard_values_parse_tolerantly() -> None:
    assert parse_shard("a:1,b:2") == Shard("a:1", "b:2")
    assert parse_shard("f=pinned,a:1,b:2") == Shard("a:1", "b:2", ("pinned",))
    assert parse_shard("a:1") == Shard("a:1", "")
    assert Shard("a:1", "", ("pinned",)).value() == "a:1,,f=pinned"


def _range(etcd: EtcdServer, prefix: str) -> dict[str, dict]:
    client = client_for(etcd.endpoint)
    end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    reply = client.post(client.get_url("/kv/range"), json={
        "key": base64.b64encode(prefix.encode()).decode(),
        "range_end": base64.b64encode(end.encode()).decode()})
    return {base64.b64decode(kv["key"]).decode()[len(prefix):]: kv for kv in reply["kvs"]}


def test_etcd_layout_of_a_ready_cluster(cluster: ChatCluster, etcd: EtcdServer) -> None:
    keys = _range(etcd, cluster.prefix + "/")
    node = cluster.nodes["node-1"].address
    gate = cluster.gates["gate-1"].address
    assert base64.b64decode(keys[f"nodes/{node}"]["value"]).decode() == node
    assert int(keys[f"nodes/{node}"].get("lease", 0)) != 0  # leased
    assert int(keys[f"gates/{gate}"].get("lease", 0)) != 0
    assert base64.b64decode(keys["leader"]["value"]).decode() == node
    assert "lease" not in keys["leader"]  # the leader key is not leased
    shards = {k: base64.b64decode(v["value"]).decode() for k, v in keys.items()
              if k.startswith("shard/")}
    assert set(shards) == {f"shard/{i}" for i in range(SHARDS)}
    assert set(shards.values()) == {f"{node},{node}"}


def test_chat_flow_and_anonymous_calls(cluster: ChatCluster) -> None:
    alice = ChatClient(cluster.gates["gate-1"].address, "alice", "000000")
    alice.register()
    assert alice.client_id.startswith(cluster.gates["gate-1"].address + "/")
    assert len(alice.client_id.split("/", 1)[1]) == 20
    assert alice.join("General").room == "General"
    alice.send("General", "ping")
    assert alice.wait_for("ping", within=5).user == "alice"
    visitor = ChatClient(cluster.gates["gate-1"].address, None, None)
    assert visitor.list_rooms() == ["General", "Technology", "Crypto", "Sports", "Movies"]
    with pytest.raises(ChatError) as caught:
        visitor.join("General")
    assert caught.value.code == grpc.StatusCode.UNAUTHENTICATED
    node = cluster.nodes["node-1"].address
    assert caught.value.details == (f"remote CallObject failed on node {node}: rpc error: "
                                    "code = Unauthenticated desc = authentication required")
    alice.close()
    visitor.close()


def _call(cluster: ChatCluster, object_type: str, object_id: str, method: str) -> grpc.RpcError:
    stub = gate_pb2_grpc.GateServiceStub(grpc.insecure_channel(cluster.gates["gate-1"].address))
    request = Any()
    request.Pack(chat_pb2.ChatRoom_ListRequest())
    with pytest.raises(grpc.RpcError) as caught:
        stub.CallObject(gate_pb2.CallObjectRequest(type=object_type, id=object_id,
                                                   method=method, request=request), timeout=5)
    return caught.value


def test_node_errors_arrive_wrapped_with_their_code(cluster: ChatCluster) -> None:
    unknown_type = _call(cluster, "Spaceship", "Spaceship-1", "Launch")
    assert unknown_type.code() == grpc.StatusCode.UNKNOWN
    assert unknown_type.details().endswith(
        "desc = failed to auto-create object Spaceship-1: unknown object type: Spaceship")
    unknown_method = _call(cluster, "ChatRoom", "ChatRoom-General", "Leave")
    assert unknown_method.details().endswith("desc = method not found in class ChatRoom: Leave")
    wrong_request = _call(cluster, "ChatRoom", "ChatRoom-General", "Join")
    assert wrong_request.details().endswith(
        "desc = request type mismatch: expected *chat.ChatRoom_JoinRequest, "
        "got *chat.ChatRoom_ListRequest")


def test_calls_without_a_deadline_get_goverse_s_default_not_an_instant_timeout(
        cluster: ChatCluster) -> None:
    """A caller that sets no deadline (Goverse's own Python chat client) is served: grpcio
    reports "no deadline" as ~9.2e18 s remaining, which the gate must read as no deadline and
    replace with Goverse's 30 s default, not pass on (DEADLINE_EXCEEDED at once)."""
    stub = gate_pb2_grpc.GateServiceStub(grpc.insecure_channel(cluster.gates["gate-1"].address))
    request = Any()
    request.Pack(chat_pb2.ChatRoom_ListRequest())
    reply = stub.CallObject(gate_pb2.CallObjectRequest(
        type="ChatRoomMgr", id="ChatRoomMgr0", method="ListChatRooms", request=request))
    rooms = chat_pb2.ChatRoom_ListResponse()
    assert reply.response.Unpack(rooms)
    assert list(rooms.chat_rooms) == ["General", "Technology", "Crypto", "Sports", "Movies"]
    created = stub.CreateObject(gate_pb2.CreateObjectRequest(type="ChatRoom",
                                                             id="ChatRoom-NoDeadline"))
    assert created.id == "ChatRoom-NoDeadline"
    stub.DeleteObject(gate_pb2.DeleteObjectRequest(id="ChatRoom-NoDeadline", type="ChatRoom"))


def test_delete_without_type_is_invalid(cluster: ChatCluster) -> None:
    stub = gate_pb2_grpc.GateServiceStub(grpc.insecure_channel(cluster.gates["gate-1"].address))
    with pytest.raises(grpc.RpcError) as caught:
        stub.DeleteObject(gate_pb2.DeleteObjectRequest(id="ChatRoom-General"), timeout=5)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_a_clean_stop_removes_the_node_key_at_once(etcd: EtcdServer, tmp_path: Path) -> None:
    chat = ChatCluster(Settings(), etcd.endpoint, tmp_path / "work", tmp_path / "logs")
    chat.start(nodes=1, gates=1)
    node = chat.nodes["node-1"].address
    assert f"nodes/{node}" in _range(etcd, chat.prefix + "/")
    codes = chat.stop()
    assert set(codes.values()) == {0}
    remaining = _range(etcd, chat.prefix + "/")
    assert f"nodes/{node}" not in remaining and "leader" in remaining


def test_processes_stopped_while_etcd_is_away_exit_cleanly(tmp_path: Path) -> None:
    """A server or gate stopped while etcd is down cannot delete its key: the key expires with
    its lease, and the process still exits 0 with no traceback."""
    own = EtcdServer(bundled_etcd(), tmp_path / "etcd", tmp_path / "etcd.log").start()
    chat = ChatCluster(Settings(), own.endpoint, tmp_path / "work", tmp_path / "logs")
    try:
        chat.start(nodes=1, gates=1)
        own.process.stop()
        codes = chat.stop()
    finally:
        own.stop()
    assert set(codes.values()) == {0}, codes
    for log in chat.log_files():
        assert "Traceback" not in log.path.read_text(), f"{log.name} wrote a traceback"
