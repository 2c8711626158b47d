"""The worlds are behave fixtures: built on a step's first touch, torn down by the scenario
layer's cleanups in reverse order of creation, and a teardown that fails fails the scenario
instead of raising out of behave's cleanup."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from behave.model_type import Status
from behave.runner import Context

from support import worlds
from support.artifacts import RunArtifacts
from support.chat.binaries import GoverseBinaries
from support.config import Settings
from support.journal import Journal
from support.shared_systems import SharedSystems


class FakeRunner:
    def __init__(self) -> None:
        self.config = SimpleNamespace(should_capture_hooks=lambda: False)
        self.hook_failures = 0


class FakeScenario(SimpleNamespace):
    def set_status(self, status: Status) -> None:
        self.status = status


@pytest.fixture
def context(tmp_path: Path) -> Context:
    runner = FakeRunner()
    context = Context(runner)
    context.runner_itself = runner  # the context holds only a weak proxy
    worlds.install(context)
    context._push(layer="scenario")
    context.settings = Settings()
    context.etcd = SimpleNamespace(restarts=0, endpoint=lambda: "127.0.0.1:1")
    context.goverse_binaries = GoverseBinaries(Settings(), tmp_path)
    context.shared_systems = SharedSystems(tmp_path / "shared")
    context.scenario = FakeScenario(name="a scenario", effective_tags=["codex"],
                                    status=Status.passed, hook_failed=False)
    (tmp_path / "scenario" / "logs").mkdir(parents=True)
    context.evidence = worlds.Evidence(tmp_path / "scenario", Journal(), 0)
    context.run_artifacts = RunArtifacts(tmp_path / "artifacts", keep_logs=False)
    return context


def test_a_world_is_built_on_first_use_only(context: Context) -> None:
    assert "chat_world" not in context and "codex_world" not in context
    chat = context.chat
    assert context.chat is chat
    assert "codex_world" not in context and "archive_world" not in context
    evidence = context.evidence
    context._pop()
    assert evidence.problems == []


def test_worlds_are_torn_down_in_reverse_order_of_creation(
        context: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    order: list[str] = []
    monkeypatch.setattr(worlds, "_finish_codex", lambda *_: order.append("codex"))
    monkeypatch.setattr(worlds, "_finish_chat", lambda *_: order.append("chat"))
    context.codex.fleet  # noqa: B018 - touching it builds it
    context.chat.users  # noqa: B018
    context._pop()
    assert order == ["chat", "codex"]


def test_a_failing_teardown_fails_the_scenario_and_the_others_still_run(
        context: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    order: list[str] = []

    def broken(*_: object) -> None:
        raise RuntimeError("the fleet would not stop")

    monkeypatch.setattr(worlds, "_finish_chat", broken)
    monkeypatch.setattr(worlds, "_finish_codex", lambda *_: order.append("codex"))
    evidence = context.evidence
    scenario = context.scenario
    context.add_cleanup(lambda: worlds.finish_evidence(context))
    context.codex.fleet  # noqa: B018
    context.chat.users  # noqa: B018
    context._pop()  # raises nothing: behave would call that a cleanup_error
    assert order == ["codex"]
    assert evidence.problems == ["stopping the chat cluster failed: RuntimeError: the fleet "
                                 "would not stop"]
    assert scenario.status is Status.hook_error and scenario.hook_failed
    assert context.runner_itself.hook_failures == 1
