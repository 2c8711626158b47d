"""Shared fixtures: real emulated Codex nodes started through the suite's own launcher."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.codex.nodes import CodexFleet, CodexNode, NodeOptions
from support.config import Settings


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
