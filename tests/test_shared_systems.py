"""Systems handed on between a feature's scenarios: what is reused, what is stopped, and when."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from support.chat.binaries import GoverseBinaries
from support.chat.world import ChatWorld
from support.codex.nodes import CodexFleet, NodeOptions
from support.config import Settings
from support.etcd import EtcdServer
from support.journal import Journal
from support.shared_systems import SharedSystems

CONTENT = b"kept between scenarios"


class FakeSystem:
    def __init__(self, problem: str | None = None) -> None:
        self.stopped = False
        self.problem = problem

    def stop(self) -> list[str]:
        self.stopped = True
        return [self.problem] if self.problem else []


def _stop(system: FakeSystem) -> list[str]:
    return system.stop()


def test_a_kept_system_of_the_same_shape_is_handed_on(tmp_path: Path) -> None:
    shared, system = SharedSystems(tmp_path), FakeSystem()
    shared.keep("chat cluster", (2, 1), system, _stop)
    assert shared.take("chat cluster", (2, 1)) is system
    assert not system.stopped
    assert shared.take("chat cluster", (2, 1)) is None  # handed on once, not twice


def test_a_kept_system_of_another_shape_is_stopped_when_asked_for(tmp_path: Path) -> None:
    shared, system = SharedSystems(tmp_path), FakeSystem()
    shared.keep("chat cluster", (2, 1), system, _stop)
    assert shared.take("chat cluster", (4, 1)) is None
    assert system.stopped
    assert shared.kept_slots() == []


def test_keeping_a_second_system_in_a_slot_stops_the_first(tmp_path: Path) -> None:
    shared, first, second = SharedSystems(tmp_path), FakeSystem(), FakeSystem()
    shared.keep("codex node A", "default", first, _stop)
    shared.keep("codex node A", "quota", second, _stop)
    assert first.stopped and not second.stopped


def test_closing_stops_everything_and_reports_unclean_stops(tmp_path: Path) -> None:
    shared = SharedSystems(tmp_path / "shared")
    clean, unclean = FakeSystem(), FakeSystem("node-2 exited with code 1")
    shared.keep("codex node A", "default", clean, _stop)
    shared.keep("chat cluster", (2, 1), unclean, _stop)
    shared.new_folder("codex-A-")
    assert shared.close() == ["node-2 exited with code 1"]
    assert clean.stopped and unclean.stopped
    assert not (tmp_path / "shared").exists()


def test_after_a_failure_the_shared_files_stay(tmp_path: Path) -> None:
    shared = SharedSystems(tmp_path / "shared")
    folder = shared.new_folder("chat-cluster-")
    shared.note_failure()
    shared.close()
    assert folder.is_dir()


def _fleet(tmp_path: Path, scenario: str, shared: SharedSystems) -> CodexFleet:
    return CodexFleet(Settings(), tmp_path / scenario / "work", tmp_path / scenario / "logs",
                      Journal(), shared)


def test_an_unchanged_node_serves_the_next_scenario_with_its_data(tmp_path: Path) -> None:
    shared = SharedSystems(tmp_path / "shared")
    first = _fleet(tmp_path, "first", shared)
    node = first.start("A")
    cid = node.client.upload(CONTENT, filename="kept.txt")
    pid = node.process.pid
    first.close(share=True)

    second = _fleet(tmp_path, "second", shared)
    again = second.start("A")
    try:
        assert again.process.pid == pid
        assert again.client.download(cid).sha256 == hashlib.sha256(CONTENT).hexdigest()
        assert "GET http" in second.journal.render()  # the new scenario keeps its own evidence
        assert "GET http" not in first.journal.render()
        assert second.log_files()[0].since > 0
    finally:
        second.close()
        shared.close()
    assert not again.process.is_running()


def test_a_node_another_node_bootstrapped_from_is_not_handed_on(tmp_path: Path) -> None:
    shared = SharedSystems(tmp_path / "shared")
    first = _fleet(tmp_path, "first", shared)
    first.start_network(["A", "B"])
    node_a = first.node("A")
    first.close(share=True)
    assert shared.kept_slots() == []
    assert not node_a.process.is_running()


def test_a_restarted_node_or_other_options_mean_a_fresh_node(tmp_path: Path) -> None:
    shared = SharedSystems(tmp_path / "shared")
    first = _fleet(tmp_path, "first", shared)
    first.start("A")
    first.restart("A")
    first.close(share=True)
    assert shared.kept_slots() == []

    second = _fleet(tmp_path, "second", shared)
    plain = second.start("A")
    second.close(share=True)
    third = _fleet(tmp_path, "third", shared)
    with_quota = third.start("A", options=NodeOptions(storage_quota=10 * 1024 * 1024))
    try:
        assert with_quota.process.pid != plain.process.pid
        assert not plain.process.is_running()
    finally:
        third.close()
        shared.close()


def _chat_world(tmp_path: Path, scenario: str, etcd: EtcdServer,
                shared: SharedSystems) -> ChatWorld:
    return ChatWorld(Settings(), lambda: etcd.endpoint, GoverseBinaries(Settings(), tmp_path),
                     tmp_path / scenario / "work", tmp_path / scenario / "logs", shared=shared)


def test_an_intact_chat_cluster_serves_the_next_scenario_until_one_kills_a_server(
        tmp_path: Path, etcd: EtcdServer) -> None:
    shared = SharedSystems(tmp_path / "shared")
    try:
        first = _chat_world(tmp_path, "first", etcd, shared)
        cluster = first.start_cluster(2, 1)
        first.connect("alice", 1)
        assert first.start_up_seconds() > 0
        assert first.close(share=True) == {}
        assert cluster.intact()

        second = _chat_world(tmp_path, "second", etcd, shared)
        assert second.start_cluster(2, 1) is cluster
        with pytest.raises(AssertionError, match="tag the scenario @isolated"):
            second.start_up_seconds()
        second.connect("bob", 1)
        assert second.user("bob").list_rooms()
        second.cluster.kill("node-2")
        assert second.close(share=True) == {}  # the killed server is no unclean exit
        assert shared.kept_slots() == []
        assert not cluster.intact()
        assert not cluster.nodes["node-1"].process.is_running()
    finally:
        shared.close()
