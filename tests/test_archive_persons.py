"""The suite's status-backend client and person lifecycle, against real emulated status-backends
started through the suite's own targets (as the archive scenarios start them)."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from support.archive import signals as signals_module
from support.archive.api import METHOD_NOT_FOUND, RpcError
from support.archive.ledger import TokenLedger
from support.archive.persons import Persons
from support.archive.relay import WakuRelay
from support.archive.targets import Capability, EmulatorTarget, RunningTarget
from support.config import Settings
from support.etcd import RunEtcd
from support.journal import Frame, Journal
from support.lifecycle import capability_matcher
from support.shared_systems import SharedSystems


@pytest.fixture
def journal() -> Journal:
    return Journal(capacity=1000)


@pytest.fixture
def persons(tmp_path: Path, journal: Journal) -> Iterator[Persons]:
    settings = Settings()
    target = EmulatorTarget(settings, tmp_path / "backends", tmp_path / "logs",
                            TokenLedger(tmp_path / "ledger.json").path)
    people = Persons(settings, target, WakuRelay(settings, tmp_path / "relay", tmp_path / "logs"),
                     journal, tmp_path / "people")
    yield people
    people.close()


def test_a_person_is_logged_in_with_messenger_and_storage(persons: Persons,
                                                          journal: Journal) -> None:
    bob = persons.get("Bob")  # Alice comes first: Bob's storage node bootstraps from hers
    assert list(persons.people) == ["Alice", "Bob"]
    assert bob.key_uid.startswith("0x") and bob.public_key.startswith("0x04")
    assert bob.storage is not None and bob.storage.debug_info()["id"]
    seen = [s.type for s in bob.signals.since()]
    assert seen.index("node.login") < seen.index("community.historyArchivesProtocolEnabled")
    frames = [entry for entry in journal.entries() if isinstance(entry, Frame)]
    assert any('"node.login"' in frame.text for frame in frames)
    urls = [getattr(entry, "url", "") for entry in journal.entries()]
    assert any(url.endswith("/statusgo/CreateAccountAndLogin") for url in urls)
    assert any(log.path.name == "status-backend-Bob.log" for log in persons.log_files())


def test_logging_out_and_back_in_keeps_the_account(persons: Persons) -> None:
    alice = persons.get("Alice")
    key_uid = alice.key_uid
    persons.log_out(alice)
    with pytest.raises(RpcError) as refused:
        alice.wakuext.chats()
    assert refused.value.code == METHOD_NOT_FOUND
    persons.log_in(alice)
    assert alice.key_uid == key_uid and alice.logged_in
    assert isinstance(alice.wakuext.chats(), list)


def test_backends_and_relay_are_handed_on_logged_out_to_the_next_scenario(
        tmp_path: Path) -> None:
    settings, shared = Settings(), SharedSystems(tmp_path / "shared")
    ledger = TokenLedger(tmp_path / "shared" / "ledger.json").path

    def scenario(n: int) -> Persons:
        folder = tmp_path / f"scenario-{n}"
        target = EmulatorTarget(settings, folder / "backends", folder / "logs", ledger)
        relay = WakuRelay(settings, folder / "relay", folder / "logs", shared)
        return Persons(settings, target, relay, None, folder / "people", shared=shared)

    first = scenario(1)
    bob = first.get("Bob")
    pids = [p.backend.process.pid for p in first.started() if p.backend.process]
    first.close(share=True)
    assert first.problems == [] and shared.kept_slots() == [
        "Waku relay", "status-backend 1", "status-backend 2"]
    second = scenario(2)
    carol = second.get("Carol")  # the second place: Bob's backend, a new account on it
    assert [p.backend.process.pid for p in second.started() if p.backend.process] == pids
    assert carol.key_uid != bob.key_uid and carol.logged_in
    assert isinstance(carol.wakuext.chats(), list)
    second.close(share=False)  # as after a failed scenario: everything stops
    assert second.problems == [] and shared.kept_slots() == []
    assert shared.close() == []


def test_a_kept_relay_that_died_is_reported_when_the_next_scenario_asks_for_it(
        tmp_path: Path) -> None:
    settings, shared = Settings(), SharedSystems(tmp_path / "shared")
    first = WakuRelay(settings, tmp_path / "first", tmp_path / "first-logs", shared)
    first.ensure_started()
    first.wait_ready()
    assert first.close(share=True) == [] and shared.kept_slots() == ["Waku relay"]
    assert first._process is not None
    os.kill(first._process.pid, signal.SIGKILL)  # it crashes between the scenarios
    first._process._popen.wait(timeout=10)  # type: ignore[union-attr]
    second = WakuRelay(settings, tmp_path / "second", tmp_path / "second-logs", shared)
    try:
        second.ensure_started()
        second.wait_ready()
        assert second._process is not first._process
        assert shared.problems == ["Waku relay was killed by signal 9"]
    finally:
        second.close()
        shared.close()


def test_a_wait_that_times_out_names_what_arrived(persons: Persons) -> None:
    alice = persons.get("Alice")
    expected = r"did not report a miracle within 0.2 s \(it sent .*node\.login"
    with pytest.raises(AssertionError, match=expected):
        alice.signals.wait_for("community.miracle", 0.2, expected="a miracle")
    start = alice.signals.mark()
    alice.signals.stays_without("node.login", 0.2, start=start)


def test_closing_the_signals_hangs_up_without_waiting_for_a_reply(persons: Persons) -> None:
    """status-backend answers no close frame: the listener's thread ends as soon as it hangs
    up, and everything a release does takes well under the wait for a reply would."""
    alice = persons.get("Alice")
    started = time.monotonic()
    alice.signals.close(within=5)
    assert time.monotonic() - started < 1.0
    assert not [t for t in threading.enumerate() if t.name == "signals of Alice"]


def test_a_state_check_runs_again_as_soon_as_a_signal_arrives(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(signals_module, "RECHECK", 30.0)  # only a signal can wake the check
    listener = signals_module.SignalListener("ws://127.0.0.1:9/signals", "Alice", None)
    arrived = threading.Event()

    def check() -> str:
        assert arrived.is_set(), "nothing yet"
        return "done"

    def signal_later() -> None:
        arrived.set()
        listener._on_message(None, '{"type": "messages.new", "event": {}}')  # type: ignore[arg-type]

    threading.Timer(0.05, signal_later).start()
    started = time.monotonic()
    assert listener.until(check, within=20) == "done"
    assert time.monotonic() - started < 10
    with pytest.raises(AssertionError, match="nothing yet"):
        arrived.clear()
        listener.until(check, within=0.2)


def test_running_backends_offer_no_emulator_capability() -> None:
    assert RunningTarget(Settings()).capabilities == frozenset()
    assert {c.tag for c in Capability} == {"use.with_explicit_archive_window=true",
                                           "use.with_storage_access=true",
                                           "use.with_emulated_chain=true"}


def test_capability_tags_skip_only_off_the_emulator(tmp_path: Path) -> None:
    scenario = SimpleNamespace(effective_tags=["archive", "use.with_storage_access=true"])
    assert skip_reason(Settings(), tmp_path, scenario) is None
    binary = Settings(status_backend_binary=Path("/usr/bin/status-backend"))
    reason = skip_reason(binary, tmp_path, scenario)
    assert reason is not None
    assert "@use.with_storage_access=true" in reason and "only the embedded emulator" in reason
    assert "status-go runs the storage node in-process" in reason
    plain = SimpleNamespace(effective_tags=["archive"])
    assert skip_reason(binary, tmp_path, plain) is None


def skip_reason(settings: Settings, tmp_path: Path, scenario: SimpleNamespace) -> str | None:
    matcher = capability_matcher(settings, RunEtcd(settings, tmp_path / "etcd"))
    return matcher.skip_reason(scenario)  # type: ignore[arg-type]
