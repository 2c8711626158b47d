"""What happens around every run and every scenario (called from the root ``environment.py``)."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from types import FrameType

from behave.matchers import Match
from behave.model import Feature, Scenario
from behave.runner import Context

from support import reporting
from support.archive.ledger import TokenLedger
from support.archive.persons import Persons
from support.archive.relay import WakuRelay
from support.archive.targets import Capability, make_target
from support.archive.world import ArchiveWorld
from support.artifacts import RunArtifacts
from support.chat.binaries import GoverseBinaries
from support.chat.world import ChatWorld
from support.codex.nodes import CodexFleet
from support.codex.world import CodexWorld
from support.config import (
    CodexTargetKind,
    Settings,
    StatusBackendTargetKind,
    check_reachable,
    load_settings,
)
from support.etcd import RunEtcd
from support.http_journal import HttpJournal
from support.processes import reaper
from support.processes.reaper import sweep_leftovers
from support.shared_systems import ISOLATED_TAG, SharedSystems

NODE_CONTROL_TAG = "needs_node_control"
ETCD_CONTROL_TAG = "needs_etcd_control"


def start_run(context: Context) -> None:
    """Validate settings, clear leftovers of crashed runs, prepare artifacts and the report."""
    config = context.config
    stop_in_order(context)
    context.settings = load_settings(config.userdata, config.userdata_defines or ())
    check_reachable(context.settings)  # running systems it names answer, or one message
    for leftover in sweep_leftovers():
        print(f"stopped a process left behind by an earlier run: {leftover}", file=sys.stderr)
    context.run_artifacts = RunArtifacts(context.settings.artifacts_dir,
                                         context.settings.keep_logs)
    context.allure_dir = reporting.allure_results_dir(config.format or (), config.outputs or ())
    context.environment_facts = reporting.base_environment(
        context.settings.describe_codex_target()
    )
    context.environment_facts["goverse.target"] = context.settings.describe_goverse_target()
    context.environment_facts["status-backend.target"] = \
        context.settings.describe_status_backend_target()
    context.environment_facts["etcd"] = context.settings.describe_etcd()
    context.etcd = RunEtcd(context.settings, context.run_artifacts.run_dir / "etcd")
    context.goverse_binaries = GoverseBinaries(context.settings, context.run_artifacts.run_dir)
    context.chat_cluster_sizes = []  # a list, so that scenarios add to it (behave layers)
    _write_environment(context)


_STEP_CODE = Match.run.__code__


def _in_step(frame: FrameType | None) -> bool:
    """Whether the main thread is running a step's function (rather than a hook or behave)."""
    while frame is not None:
        if frame.f_code is _STEP_CODE:
            return True
        frame = frame.f_back
    return False


def stop_in_order(context: Context) -> None:
    """The first SIGINT or SIGTERM aborts the run the way behave handles a Ctrl-C, but never in
    the middle of a hook: a step is interrupted (KeyboardInterrupt) at once; during a hook, which
    may be stopping processes, the run is only marked aborted. Either way behave skips what is
    left and still runs the after-hooks, which stop every system, and writes the results.
    A second signal kills everything this process started and exits at once."""
    received: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if received:
            for again in (signal.SIGINT, signal.SIGTERM):
                signal.signal(again, signal.SIG_IGN)
            reaper.kill_run(reaper.run_marker(), grace=0.0)
            os._exit(128 + signum)
        received.append(signum)
        print(f"\n{signal.Signals(signum).name}: stopping after the current step",
              file=sys.__stderr__, flush=True)
        if _in_step(frame):
            raise KeyboardInterrupt
        context.abort(reason=signal.Signals(signum).name)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal)


def finish_run(context: Context) -> None:
    """Note what the shared systems reported about themselves, then stop them (etcd)."""
    if "etcd" not in context:
        return
    version = context.etcd.version()
    if version is not None:
        context.environment_facts["etcd.version"] = version
        _write_environment(context)
    context.etcd.stop()


def _write_environment(context: Context) -> None:
    if context.allure_dir is not None:
        reporting.write_environment(context.allure_dir, context.environment_facts)


def start_feature(context: Context, feature: Feature) -> None:
    """A place for the nodes and clusters this feature's scenarios hand on to each other."""
    context.shared_systems = SharedSystems(context.run_artifacts.shared_dir(feature.name))


def finish_feature(context: Context, feature: Feature) -> None:
    """Stop what the feature's scenarios shared; fail if a shared process exited uncleanly."""
    if "shared_systems" not in context:
        return
    problems = context.shared_systems.close(keep_files=context.settings.keep_logs)
    if problems:
        for problem in problems:
            print(f"{feature.name}: {problem}", file=sys.__stderr__)
        raise AssertionError(f"stopping the systems shared by {feature.name!r}: "
                             + "; ".join(problems))


def start_scenario(context: Context, scenario: Scenario) -> None:
    """Skip what the target cannot do; give the scenario its folders, journal and nodes."""
    settings = context.settings
    reason = None
    if NODE_CONTROL_TAG in scenario.effective_tags and \
            settings.codex_target is CodexTargetKind.URLS:
        reason = ("codex_urls is set: this scenario starts, restarts or stops nodes, which only "
                  "nodes the suite manages allow")
    elif ETCD_CONTROL_TAG in scenario.effective_tags and settings.etcd_endpoint:
        reason = ("etcd_endpoint is set: this scenario restarts etcd, which only an etcd the "
                  "suite manages allows")
    else:
        reason = _missing_capability(settings, scenario)
    if reason is not None:
        scenario.skip(reason=reason)
        reporting.record_skip(scenario.name, reason)
        return
    folder = context.run_artifacts.scenario_dir(scenario.feature.name, scenario.name)
    context.scenario_dir = folder
    context.journal = HttpJournal()
    shared = None
    if settings.share_systems and ISOLATED_TAG not in scenario.effective_tags:
        shared = context.shared_systems
    context.etcd_restarts = context.etcd.restarts
    fleet = CodexFleet(settings, folder / "work", folder / "logs", context.journal, shared)
    context.codex = CodexWorld(fleet, folder / "work" / "files")
    context.qa_disk = folder / "work" / "qa-disk"
    context.qa_disk.mkdir(parents=True)
    context.chat = ChatWorld(settings, context.etcd.endpoint, context.goverse_binaries,
                             folder / "work" / "chat", folder / "logs", shared=shared)
    context.archive = _archive_world(settings, context.journal, folder, scenario)


def _missing_capability(settings: Settings, scenario: Scenario) -> str | None:
    """Why the scenario cannot run on this status-backend target, if it cannot."""
    if settings.status_backend_target is StatusBackendTargetKind.EMULATOR:
        return None
    for capability in Capability:
        if capability.tag in scenario.effective_tags:
            return (f"the status-backend target is "
                    f"{settings.describe_status_backend_target()}, but this scenario needs "
                    f"@{capability.tag}: {capability.what}, which only the embedded emulator "
                    f"offers ({capability.why})")
    return None


def _archive_world(settings: Settings, journal: HttpJournal, folder: Path,
                   scenario: Scenario) -> ArchiveWorld:
    """The archive scenario's people, started on first mention (nothing runs before)."""
    work, logs = folder / "work" / "community", folder / "logs"
    ledger = TokenLedger(work / "chain" / "token-ledger.json")
    target = make_target(settings, work / "backends", logs, ledger.path)
    persons = Persons(settings, target, WakuRelay(settings, work / "relay", logs), journal,
                      work / "people")
    return ArchiveWorld(settings, persons, ledger, target.capabilities,
                        frozenset(scenario.effective_tags))


def finish_scenario(context: Context, scenario: Scenario) -> None:
    """Hand on or stop the scenario's processes, attach evidence if it failed, tidy its folder.

    Nodes and clusters go on to the feature's next scenario only if this one passed and etcd was
    not restarted under them; the fleet and the chat world check the rest (nothing stopped,
    killed or restarted, no peer joined)."""
    if "scenario_dir" not in context:
        return
    fleet = context.codex.fleet
    failed = scenario.status.name in ("failed", "error", "hook_error")
    share = not failed and context.etcd.restarts == context.etcd_restarts
    logs = context.archive.log_files()
    context.archive.close()
    logs += fleet.log_files()
    _note_codex_version(context, fleet)
    fleet.close(share=share)
    chat = context.chat
    if chat.cluster is not None:
        logs += chat.cluster.log_files()
        pushed = chat.pushed_messages()
        context.chat_cluster_sizes.append(len(chat.cluster.nodes))
        context.environment_facts["goverse.largest_cluster"] = \
            f"{max(context.chat_cluster_sizes)} chat servers"
        _write_environment(context)
    unclean = chat.close(share=share)
    failed = failed or bool(unclean)
    if failed:
        context.shared_systems.note_failure()
    if failed:
        reporting.attach_logs(logs)
        if chat.cluster is not None:
            reporting.attach_text("pushed chat messages", pushed)
        reporting.attach_text("HTTP exchanges", context.journal.render())
        tool = getattr(context, "tool_result", None)
        if tool is not None:
            reporting.attach_text("command-line tool", tool.describe())
    context.run_artifacts.finish_scenario(context.scenario_dir, passed=not failed)
    if unclean:
        raise AssertionError(f"chat processes did not exit cleanly: {unclean}")


def _note_codex_version(context: Context, fleet: CodexFleet) -> None:
    """Record the version the first reachable node reports, for environment.properties."""
    if "codex.version" in context.environment_facts:
        return
    for node in fleet.nodes.values():
        try:
            info = node.client.debug_info().get("codex", {})
        except Exception:
            continue
        context.environment_facts["codex.version"] = (
            f"{info.get('version', '?')} (revision {info.get('revision', '?')})"
        )
        _write_environment(context)
        return
