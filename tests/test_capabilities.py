"""Capability tags go through behave's ActiveTagMatcher: a scenario is skipped only when a target
lacks what its tags ask for, and the reason says which capability is missing and why."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from support.config import Settings
from support.etcd import RunEtcd
from support.lifecycle import capability_matcher


def reason(settings: Settings, tmp_path: Path, *tags: str) -> str | None:
    matcher = capability_matcher(settings, RunEtcd(settings, tmp_path / "etcd"))
    scenario = SimpleNamespace(effective_tags=["codex", *tags])
    return matcher.skip_reason(scenario)  # type: ignore[arg-type]


def test_the_default_targets_run_every_scenario(tmp_path: Path) -> None:
    everything = ["use.with_node_control=true", "use.with_etcd_control=true",
                  "use.with_explicit_archive_window=true", "use.with_storage_access=true",
                  "use.with_emulated_chain=true", "isolated", "critical"]
    assert reason(Settings(), tmp_path, *everything) is None


def test_running_codex_nodes_cannot_be_started_or_stopped(tmp_path: Path) -> None:
    urls = Settings(codex_urls=("http://127.0.0.1:8080",))
    assert reason(urls, tmp_path, "use.with_node_control=true") == (
        "codex_urls is set: this scenario starts, restarts, stops, kills or freezes nodes, "
        "which only nodes the suite manages allow")
    assert reason(urls, tmp_path, "use.with_etcd_control=true") is None
    assert reason(urls, tmp_path) is None


def test_a_running_etcd_cannot_be_restarted(tmp_path: Path) -> None:
    endpoint = Settings(etcd_endpoint="127.0.0.1:2379")
    assert reason(endpoint, tmp_path, "use.with_etcd_control=true") == (
        "etcd_endpoint is set: this scenario restarts or freezes etcd, which only an etcd the "
        "suite manages allows")


def test_a_negated_tag_runs_only_where_the_capability_is_missing(tmp_path: Path) -> None:
    urls = Settings(codex_urls=("http://127.0.0.1:8080",))
    assert reason(urls, tmp_path, "not.with_node_control=true") is None
    assert reason(Settings(), tmp_path, "not.with_node_control=true") is not None


def test_a_misspelt_capability_skips_and_says_so(tmp_path: Path) -> None:
    found = reason(Settings(), tmp_path, "use.with_node_contrl=true")
    assert found is not None
    assert "@use.with_node_contrl=true names no capability the suite knows" in found
    assert "node_control" in found


def test_of_several_missing_capabilities_the_reason_names_the_first_known(
        tmp_path: Path) -> None:
    binary = Settings(status_backend_binary=Path("/usr/bin/status-backend"))
    found = reason(binary, tmp_path, "use.with_storage_access=true",
                   "use.with_explicit_archive_window=true")
    assert found is not None and "@use.with_explicit_archive_window=true" in found
