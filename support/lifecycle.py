"""What happens around every run and every scenario (called from the root ``environment.py``)."""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType

from behave.matchers import Match
from behave.model import Feature, Scenario
from behave.runner import Context

from support import expect, reporting, scenario_feed, timings, worlds
from support.archive.targets import Capability, TargetCapabilities
from support.artifacts import RunArtifacts
from support.capabilities import CapabilityMatcher, Need, Offers
from support.chat.binaries import GoverseBinaries
from support.codex.targets import NODE_CONTROL, codex_target
from support.config import Settings, check_reachable, load_settings
from support.etcd import ETCD_CONTROL, RunEtcd
from support.journal import Journal
from support.processes import reaper
from support.processes.reaper import sweep_leftovers
from support.shared_systems import SharedSystems
from support.worlds import Evidence


def start_run(context: Context) -> None:
    """Validate settings, clear leftovers of crashed runs, prepare artifacts and the report."""
    config = context.config
    stop_in_order(context)
    if (feed := scenario_feed.feed_of(context)) is not None:  # tell the runner's console
        feed.announce(context._runner.features)  # what this worker will run
    context.settings = load_settings(config.userdata, config.userdata_defines or ())
    check_reachable(context.settings)  # running systems it names answer, or one message
    for leftover in sweep_leftovers():
        print(f"stopped a process left behind by an earlier run: {leftover}", file=sys.stderr)
    context.feature_clock = timings.FeatureClock()
    context.run_artifacts = RunArtifacts(context.settings.artifacts_dir,
                                         context.settings.keep_logs)
    context.allure_dir = reporting.allure_results_dir(config.format or (), config.outputs or ())
    expect.ReportDifferences.install()  # a failed check's expected/actual in the results
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
    context.capability_matcher = capability_matcher(context.settings, context.etcd)
    worlds.install(context)
    worlds.write_environment(context)


def capability_matcher(settings: Settings, etcd: RunEtcd) -> CapabilityMatcher:
    """One matcher over what the run's targets can do (the capability tags' value provider)."""
    archive = TargetCapabilities(settings)
    targets: dict[Need, Offers] = {NODE_CONTROL: codex_target(settings), ETCD_CONTROL: etcd}
    targets.update({capability: archive for capability in Capability})
    return CapabilityMatcher(targets)


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
    the middle of a hook: the run is marked aborted at once, and a step is also interrupted
    (KeyboardInterrupt); a hook, which may be stopping processes, goes on. Either way behave skips
    what is left and still runs the after-hooks, which stop every system, and writes the results.
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
        # Marked aborted first, whatever happens to the KeyboardInterrupt below: code inside a
        # step (a library's clean-up, say) may swallow it, and the run must stop all the same.
        context.abort(reason=signal.Signals(signum).name)
        if _in_step(frame):
            raise KeyboardInterrupt

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal)


def finish_run(context: Context) -> None:
    """Note what the shared systems reported about themselves, then stop them (etcd) and fail
    the run if they did not stop cleanly."""
    if "etcd" not in context:
        return
    version = context.etcd.version()
    if version is not None:
        context.environment_facts["etcd.version"] = version
        worlds.write_environment(context)
    problems = context.etcd.stop()
    if problems:
        raise AssertionError("stopping the run's etcd: " + "; ".join(problems))


def start_feature(context: Context, feature: Feature) -> None:
    """A place for the nodes and clusters this feature's scenarios hand on to each other."""
    context.feature_clock.begin_feature()
    context.shared_systems = SharedSystems(context.run_artifacts.shared_dir(feature.name))


def finish_feature(context: Context, feature: Feature) -> None:
    """Stop what the feature's scenarios shared; fail if a shared process exited uncleanly.
    Either way, note how long the feature took (``support.timings``; a failed feature's time is
    not used)."""
    if (feed := scenario_feed.feed_of(context)) is not None:
        feed.finished()  # the feature's last scenario is over: report it now
    if "shared_systems" not in context:
        return
    try:
        problems = context.shared_systems.close(keep_files=context.settings.keep_logs)
    finally:
        passed = feature.status.name in ("passed", "skipped")
        context.feature_clock.end_feature(feature.filename, len(feature.walk_scenarios()),
                                          feature.duration, passed and not context.aborted)
    if problems:
        for problem in problems:
            print(f"{feature.name}: {problem}", file=sys.__stderr__)
        raise AssertionError(f"stopping the systems shared by {feature.name!r}: "
                             + "; ".join(problems))


def start_scenario(context: Context, scenario: Scenario) -> None:
    """Skip what the targets cannot do; give the scenario its folders and journal. Its worlds
    are built when a step first needs them (``support.worlds``)."""
    reason = context.capability_matcher.skip_reason(scenario)
    if reason is not None:  # not run: its feature's time is not a whole run's (FeatureClock)
        scenario.skip(reason=reason)
        reporting.record_skip(scenario, reason)
        return
    context.feature_clock.begin_scenario()
    reporting.describe(scenario)
    assert scenario.feature is not None  # behave sets it on every scenario it runs
    folder = context.run_artifacts.scenario_dir(scenario.feature.name, scenario.name)
    context.evidence = Evidence(folder, Journal(), context.etcd.restarts)
    if (feed := scenario_feed.feed_of(context)) is not None:
        feed.note_evidence(context.evidence)

    def finish_evidence() -> None:  # behave names a failing cleanup by its function's name
        worlds.finish_evidence(context)

    context.add_cleanup(finish_evidence)  # the scenario's first cleanup, so it runs last
    context.qa_disk = folder / "work" / "qa-disk"
    context.qa_disk.mkdir(parents=True)
