"""Each domain's world as a behave fixture, built the first time a step touches it.

``context.codex``, ``context.chat`` and ``context.archive`` are lazy: the first access in a
scenario calls ``use_fixture`` with the domain's fixture, which builds the world and registers
its teardown with ``context.add_cleanup`` on the scenario layer; behave runs the cleanups in
reverse order of creation once the scenario (and its ``after_scenario`` hook) is over, even when
a step or a set-up failed half-way. A world's teardown collects its evidence (logs, pushed
messages) into the scenario's ``Evidence``, hands its systems on to the feature's next scenario
where the ``share`` rule allows, stops the rest and records what their stop checks found;
``finish_evidence`` (registered first, so it runs last) attaches the evidence of a failed
scenario and fails a scenario whose processes did not stop cleanly.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from behave.fixture import fixture, use_fixture
from behave.model_type import Status
from behave.runner import Context

from support import reporting
from support.archive.ledger import TokenLedger
from support.archive.persons import Persons
from support.archive.relay import WakuRelay
from support.archive.targets import make_target
from support.archive.world import ArchiveWorld
from support.chat.world import ChatWorld
from support.codex.client import CodexClient
from support.codex.nodes import CodexFleet
from support.codex.world import CodexWorld
from support.journal import ATTACHMENT, Journal
from support.processes.launcher import ProcessLog
from support.shared_systems import ISOLATED_TAG, SharedSystems

World = TypeVar("World")
FAILED = ("failed", "error", "hook_error", "cleanup_error")


@dataclass
class Evidence:
    """What one scenario leaves behind: its folder and journal, the logs and texts to attach if
    it fails, and what the stop checks of its processes found."""

    folder: Path
    journal: Journal
    etcd_restarts: int  # etcd's restart count when the scenario began
    logs: list[ProcessLog] = field(default_factory=list)
    texts: list[tuple[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def note(self, problems: list[str]) -> None:
        self.problems += [p for p in dict.fromkeys(problems) if p not in self.problems]


class SuiteContext(Context):
    """behave's context with the three worlds as lazy attributes (see the module's doc)."""

    @property
    def codex(self) -> CodexWorld:
        return self._world("codex_world", codex_world)

    @property
    def chat(self) -> ChatWorld:
        return self._world("chat_world", chat_world)

    @property
    def archive(self) -> ArchiveWorld:
        return self._world("archive_world", archive_world)

    def _world(self, name: str, build: Callable[[Context], Iterator[World]]) -> World:
        if name not in self:
            setattr(self, name, use_fixture(build, self))
        world: World = getattr(self, name)
        return world


def install(context: Context) -> None:
    """Give behave's context the lazy worlds (once, before the run)."""
    object.__setattr__(context, "__class__", SuiteContext)  # past Context.__setattr__


def _shared(context: Context) -> SharedSystems | None:
    """The feature's shared systems, unless the settings or the scenario's tags forbid them."""
    if context.settings.share_systems and ISOLATED_TAG not in context.scenario.effective_tags:
        shared: SharedSystems = context.shared_systems
        return shared
    return None


def _may_share(context: Context) -> bool:
    """The ``share`` rule: systems go on to the next scenario only if this one passed, etcd was
    not restarted under them and nothing stopped uncleanly so far."""
    evidence: Evidence = context.evidence
    return (context.scenario.status.name not in FAILED and not evidence.problems
            and context.etcd.restarts == evidence.etcd_restarts)


@fixture
def codex_world(context: Context) -> Iterator[CodexWorld]:
    """The scenario's Codex nodes and files; on teardown the nodes are handed on or stopped."""
    evidence: Evidence = context.evidence
    folder = evidence.folder
    fleet = CodexFleet(context.settings, folder / "work", folder / "logs", evidence.journal,
                       _shared(context))
    world = CodexWorld(fleet, folder / "work" / "files")
    yield world
    with _teardown(evidence, "the Codex nodes"):
        _finish_codex(context, evidence, world)


def _finish_codex(context: Context, evidence: Evidence, world: CodexWorld) -> None:
    fleet = world.fleet
    if world.tool_result is not None:
        evidence.texts.append(("command-line tool", world.tool_result.describe()))
    evidence.logs += fleet.log_files()
    _note_codex_version(context, fleet)
    problems = fleet.log_problems()
    evidence.note(problems + fleet.close(share=_may_share(context) and not problems))


@fixture
def chat_world(context: Context) -> Iterator[ChatWorld]:
    """The scenario's chat cluster and users; on teardown the cluster is handed on or stopped
    (its processes must exit cleanly)."""
    evidence: Evidence = context.evidence
    folder = evidence.folder
    world = ChatWorld(context.settings, context.etcd.endpoint, context.goverse_binaries,
                      folder / "work" / "chat", folder / "logs", shared=_shared(context),
                      journal=evidence.journal)
    yield world
    with _teardown(evidence, "the chat cluster"):
        _finish_chat(context, evidence, world)


def _finish_chat(context: Context, evidence: Evidence, world: ChatWorld) -> None:
    cluster = world.cluster
    problems: list[str] = []
    if cluster is not None:
        evidence.logs += cluster.log_files()
        evidence.texts.append(("pushed chat messages", world.pushed_messages()))
        _note_cluster_size(context, len(cluster.nodes))
        problems = cluster.log_problems()
    world.close(share=_may_share(context) and not problems)
    evidence.note(problems + (cluster.problems if cluster is not None else []))


@fixture
def archive_world(context: Context) -> Iterator[ArchiveWorld]:
    """The archive scenario's people, each started on first mention; on teardown their
    backends are handed on logged out or stopped. The token ledger is the feature's when
    backends may be handed on (the emulated ones read it from their start on)."""
    evidence: Evidence = context.evidence
    settings = context.settings
    work, logs = evidence.folder / "work" / "community", evidence.folder / "logs"
    shared = _shared(context)
    ledger = TokenLedger((shared.root if shared else work / "chain") / "token-ledger.json")
    target = make_target(settings, work / "backends", logs, ledger.path)
    persons = Persons(settings, target, WakuRelay(settings, work / "relay", logs, shared),
                      evidence.journal, work / "people", shared=shared)
    world = ArchiveWorld(settings, persons, ledger, target.capabilities,
                         frozenset(context.scenario.effective_tags))
    yield world
    with _teardown(evidence, "the archive scenario's people"):
        evidence.logs += world.log_files()
        world.close(share=_may_share(context))
        evidence.note(persons.problems)


@contextmanager
def _teardown(evidence: Evidence, what: str) -> Iterator[None]:
    """A teardown that fails records why instead of raising: behave would report a raising
    cleanup as a ``cleanup_error``, which its progress formatter cannot show. The journal notes
    where the scenario's own exchanges end and the teardown's begin."""
    evidence.journal.note(f"the scenario is over; releasing {what}")
    try:
        yield
    except Exception as exc:
        evidence.note([f"stopping {what} failed: {exc.__class__.__name__}: {exc}"])


def finish_evidence(context: Context) -> None:
    """The scenario's last cleanup: attach the evidence of a failed scenario, tidy its folder,
    and fail a scenario whose processes did not stop cleanly."""
    evidence: Evidence = context.evidence
    failed = context.scenario.status.name in FAILED or bool(evidence.problems)
    if failed:
        context.shared_systems.note_failure()
        reporting.attach_logs(evidence.logs)
        for name, text in evidence.texts:
            reporting.attach_text(name, text)
        reporting.attach_text(ATTACHMENT, evidence.journal.render())
    if evidence.problems:
        reporting.attach_text(reporting.STOP_CHECKS, "\n".join(evidence.problems))
    context.run_artifacts.finish_scenario(evidence.folder, passed=not failed)
    if evidence.problems:
        _fail(context, "the scenario's processes did not stop cleanly: "
                       + "; ".join(evidence.problems))


def _fail(context: Context, message: str) -> None:
    """Fail the scenario as a failing ``after_scenario`` hook would (status ``hook_error``, the
    run fails), from a cleanup, which must not raise (see ``_teardown``)."""
    scenario = context.scenario
    scenario.hook_failed = True
    scenario.set_status(Status.hook_error)
    context._runner.hook_failures += 1
    print(f"HOOK-ERROR in {scenario.name}: {message}", file=sys.__stderr__)


def _note_cluster_size(context: Context, servers: int) -> None:
    context.chat_cluster_sizes.append(servers)
    context.environment_facts["goverse.largest_cluster"] = \
        f"{max(context.chat_cluster_sizes)} chat servers"
    write_environment(context)


def _note_codex_version(context: Context, fleet: CodexFleet) -> None:
    """Record the version the first reachable node reports, for environment.properties."""
    if "codex.version" in context.environment_facts:
        return
    for node in fleet.nodes.values():
        # A client of its own: the suite's look-up is none of the scenario's exchanges.
        try:
            with CodexClient(node.client.base_url, node.client.timeout) as client:
                info = client.debug_info().get("codex", {})
        except Exception:  # a node that does not answer has no version to give
            continue
        context.environment_facts["codex.version"] = (
            f"{info.get('version', '?')} (revision {info.get('revision', '?')})"
        )
        write_environment(context)
        return


def write_environment(context: Context) -> None:
    """Rewrite Allure's environment.properties with the run's facts so far."""
    if context.allure_dir is not None:
        reporting.write_environment(context.allure_dir, context.environment_facts)
