"""Moving and pinning shards through the inspector, on a real cluster over real etcd."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from support.chat.cluster import SHARDS, ChatCluster
from support.config import Settings
from support.etcd import EtcdServer
from support.waiting import eventually


@pytest.fixture(scope="module")
def cluster(etcd: EtcdServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChatCluster]:
    base = tmp_path_factory.mktemp("shards")
    chat = ChatCluster(Settings(), etcd.endpoint, base / "work", base / "logs")
    try:
        chat.start(nodes=2, gates=1, inspector=True)
        yield chat
        assert set(chat.stop().values()) == {0}
    finally:
        chat.stop()


def _post(cluster: ChatCluster, path: str, body: object) -> requests.Response:
    assert cluster.inspector is not None
    return requests.post(f"http://{cluster.inspector.health_address}{path}", json=body,
                         timeout=10)


def _shard(cluster: ChatCluster, shard_id: int) -> dict:
    rows = cluster.inspector_view("/shards")["shards"]
    return next(row for row in rows if row["shard_id"] == shard_id)


def test_a_moved_shard_ends_up_on_its_new_node(cluster: ChatCluster) -> None:
    first, second = (m.address for m in cluster.nodes.values())
    shard_id = next(row["shard_id"] for row in cluster.inspector_view("/shards")["shards"]
                    if row["current_node"] == first)
    answer = _post(cluster, "/shards/move", {"shard_id": shard_id, "target_node": second})
    assert answer.status_code == 200
    assert answer.text.endswith("}\n")
    assert answer.json() == {"message": f"Shard {shard_id} target updated to {second}",
                             "shard_id": shard_id, "success": True, "target_node": second}

    def moved() -> None:
        row = _shard(cluster, shard_id)
        assert (row["target_node"], row["current_node"]) == (second, second), row

    eventually(moved, 15)


def test_pinning_sets_and_clears_the_flag(cluster: ChatCluster) -> None:
    answer = _post(cluster, "/shards/pin", {"shard_id": 3, "pinned": True})
    assert answer.json() == {"pinned": True, "shard_id": 3, "success": True, "updated": 1}
    eventually(lambda: _check_flags(cluster, 3, ["pinned"]), 5)
    _post(cluster, "/shards/pin", {"shard_id": 3, "pinned": False})
    eventually(lambda: _check_flags(cluster, 3, None), 5)


def _check_flags(cluster: ChatCluster, shard_id: int, flags: list[str] | None) -> None:
    assert _shard(cluster, shard_id).get("flags") == flags


@pytest.mark.parametrize(("path", "body", "status", "text"), [
    ("/shards/move", {"shard_id": SHARDS, "target_node": "x"}, 400,
     f"Invalid shard ID: {SHARDS}\n"),
    ("/shards/move", {"shard_id": -1, "target_node": "x"}, 400, "Invalid shard ID: -1\n"),
    ("/shards/move", {"shard_id": 2}, 400, "Target node cannot be empty\n"),
    ("/shards/move", {"shard_id": "2", "target_node": "x"}, 400,
     "Invalid request body: json: cannot unmarshal string into Go struct field "
     "MoveShardRequest.shard_id of type int\n"),
    ("/shards/pin", {"shard_id": 2, "pinned": "yes"}, 400,
     "Invalid request body: json: cannot unmarshal string into Go struct field "
     "PinShardRequest.pinned of type bool\n"),
])
def test_bad_shard_requests_are_refused_in_goverse_words(cluster: ChatCluster, path: str,
                                                         body: object, status: int,
                                                         text: str) -> None:
    answer = _post(cluster, path, body)
    assert (answer.status_code, answer.text) == (status, text)


def test_an_empty_body_is_eof(cluster: ChatCluster) -> None:
    assert cluster.inspector is not None
    answer = requests.post(f"http://{cluster.inspector.health_address}/shards/move", timeout=10)
    assert (answer.status_code, answer.text) == (400, "Invalid request body: EOF\n")
