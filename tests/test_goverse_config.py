"""Goverse's shard function, command lines and YAML config, as the emulator reads them."""

from __future__ import annotations

from pathlib import Path

import pytest

from emulators.goflag import FlagError
from emulators.goverse.config import (
    ConfigError,
    gate_settings,
    inspector_settings,
    node_settings,
    parse_duration,
)
from emulators.goverse.sharding import fixed_node, fnv1a_32, shard_of
from wire.goverse_yaml import write_cluster_yaml

CHAT_IDS = ["ChatRoomMgr0", "ChatRoom-General", "ChatRoom-Technology", "ChatRoom-Crypto",
            "ChatRoom-Sports", "ChatRoom-Movies"]


def test_chat_object_shards_match_the_contract() -> None:
    assert [shard_of(i) for i in CHAT_IDS] == [1166, 7497, 6809, 82, 472, 206]
    assert [shard_of(i, 64) for i in CHAT_IDS] == [14, 9, 25, 18, 24, 14]


def test_fnv1a_reference_values() -> None:
    # Published FNV-1a 32-bit test vectors.
    assert fnv1a_32(b"") == 0x811C9DC5
    assert fnv1a_32(b"a") == 0xE40C292C
    assert fnv1a_32(b"foobar") == 0xBF9CF968


def test_fixed_shard_and_fixed_node_ids() -> None:
    assert shard_of("shard#5/anything") == 5
    assert shard_of("shard#8191/x") == 8191
    assert shard_of("shard#8192/x") is None  # out of range: a fixed-node id
    assert shard_of("localhost:49000/AAYFabc") is None
    assert fixed_node("localhost:49000/AAYFabc") == "localhost:49000"
    assert fixed_node("ChatRoom-General") is None


@pytest.mark.parametrize(("text", "seconds"), [("10s", 10), ("500ms", 0.5), ("1m30s", 90),
                                                ("0", 0), ("1.5s", 1.5), ("2h", 7200)])
def test_go_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["10", "ten seconds", "5x", "s"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ConfigError, match="invalid duration"):
        parse_duration(text)


def test_node_flags_single_and_double_dash() -> None:
    settings = node_settings(["-listen", "localhost:5000", "--advertise=localhost:5000",
                              "-etcd", "127.0.0.1:2379", "--etcd-prefix", "/t/1"])
    assert (settings.id, settings.listen, settings.advertise) == (
        "localhost:5000", "localhost:5000", "localhost:5000")
    assert (settings.cluster.etcd_endpoint, settings.cluster.etcd_prefix) == (
        "127.0.0.1:2379", "/t/1")
    assert settings.cluster.shards == 8192 and settings.cluster.stability == 10


def test_defaults_and_unknown_flags() -> None:
    settings = gate_settings([])
    assert (settings.listen, settings.advertise, settings.ops_listen) == (
        ":49000", "localhost:49000", None)
    with pytest.raises(FlagError, match="flag provided but not defined: -bogus"):
        node_settings(["-bogus", "1"])
    with pytest.raises(FlagError, match="flag needs an argument: -listen"):
        node_settings(["-listen"])


def write_config(tmp_path: Path) -> Path:
    return write_cluster_yaml(
        tmp_path / "cluster.yaml", shards=64, etcd_endpoint="127.0.0.1:2379", prefix="/t/2",
        stability="500ms",
        nodes=[{"id": "node-1", "grpc_addr": "127.0.0.1:7001",
                "advertise_addr": "127.0.0.1:7001", "http_addr": "127.0.0.1:7101"}],
        gates=[{"id": "gate-1", "grpc_addr": "127.0.0.1:7201", "ops_addr": "127.0.0.1:7301"}],
        inspector={"grpc_addr": "127.0.0.1:7401", "http_addr": "127.0.0.1:7402",
                   "advertise_addr": "127.0.0.1:7401"},
    )


def test_yaml_config_for_node_gate_and_inspector(tmp_path: Path) -> None:
    config = str(write_config(tmp_path))
    node = node_settings(["-config", config, "-node-id", "node-1"])
    assert (node.listen, node.advertise, node.http_listen) == (
        "127.0.0.1:7001", "127.0.0.1:7001", "127.0.0.1:7101")
    assert (node.cluster.shards, node.cluster.stability, node.cluster.etcd_prefix) == (
        64, 0.5, "/t/2")
    assert node.inspector_address == "127.0.0.1:7401"
    gate = gate_settings(["--config", config, "--gate-id", "gate-1"])
    assert (gate.advertise, gate.ops_listen) == ("127.0.0.1:7201", "127.0.0.1:7301")
    inspector = inspector_settings(["-config", config])
    assert (inspector.grpc_addr, inspector.etcd_addr, inspector.etcd_prefix) == (
        "127.0.0.1:7401", "127.0.0.1:2379", "/t/2")


def test_config_refuses_other_flags_and_unknown_ids(tmp_path: Path) -> None:
    config = str(write_config(tmp_path))
    with pytest.raises(ConfigError, match="--inspector-address cannot be used with --config; "
                                          "configure in config file instead"):
        node_settings(["-config", config, "-node-id", "node-1", "-inspector-address", "x:1"])
    with pytest.raises(ConfigError, match="--node-id is required"):
        node_settings(["-config", config])
    with pytest.raises(ConfigError, match="failed to find node config: node node-9 not found"):
        node_settings(["-config", config, "-node-id", "node-9"])


def test_config_validation(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("version: 1\ncluster:\n  shards: 0\n")
    with pytest.raises(ConfigError, match=r"cluster\.shards"):
        node_settings(["-config", str(path), "-node-id", "n"])
    path.write_text("version: 2\n")
    with pytest.raises(ConfigError, match="version must be 1"):
        node_settings(["-config", str(path), "-node-id", "n"])


def test_emulator_tick_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVERSE_EMULATOR_TICK", "0.2")
    assert node_settings([]).cluster.tick == 0.2
