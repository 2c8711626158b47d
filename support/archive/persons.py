"""The people of an archive scenario (Alice, Bob, Carol), each a status-go account on a
status-backend of their own, brought up as status-go's ``backend_new_profile`` fixture does:

start or attach the backend, connect to its signals, ``InitializeApplication``,
``CreateAccountAndLogin``, wait for ``node.login``, wait until ``wakuext`` answers,
``startMessenger``, then enable the logos-storage archive protocol (a discovery port of its own,
the first person's storage node as bootstrap node, 2 block retries) and wait for
``community.historyArchivesProtocolEnabled``; later persons also connect their storage node to
the first person's, as status-go's archive tests do.

A backend the suite started is handed on, logged out, to the feature's next scenario when the
``share`` rule allows (``support.shared_systems``): the n-th person of that scenario creates a new
account on the n-th backend, as on a running target's backends.
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from support.archive.api import METHOD_NOT_FOUND, RpcError, StatusBackendClient
from support.archive.relay import FLEET, WakuRelay
from support.archive.signals import SignalListener
from support.archive.targets import Backend, RunningTarget, Target
from support.archive.wakuext import Wakuext
from support.codex.client import CodexClient
from support.config import Settings
from support.journal import Journal
from support.processes.launcher import ProcessLog
from support.processes.ports import PortReservation, reserve_port
from support.shared_systems import SharedSystems
from support.waiting import eventually

FIRST = "Alice"  # always started first: the others bootstrap their storage node from hers
PASSWORD = "Acceptance-Suite-1"
IMPORT_INITIAL_DELAY = 1  # seconds (status-go: 5 minutes; its archive tests use 5)
BLOCK_RETRIES = 2  # an archive nobody holds fails in seconds, not hours


@dataclass
class Person:
    """One account and how to reach it."""

    name: str
    backend: Backend
    client: StatusBackendClient
    signals: SignalListener
    wakuext: Wakuext
    data_dir: Path
    address: str  # revealed when joining: the account's wallet address once known
    key_uid: str = ""
    public_key: str = ""
    logged_in: bool = False
    storage: CodexClient | None = None  # the storage node's REST API, when the target offers it
    reservations: list[PortReservation] = field(default_factory=list)


class Persons:
    """Starts each person on first mention and releases everything in ``close()``."""

    def __init__(self, settings: Settings, target: Target, relay: WakuRelay,
                 journal: Journal | None, work_dir: Path, *,
                 shared: SharedSystems | None = None) -> None:
        self.settings = settings
        self.target = target
        self.relay = relay
        self.journal = journal
        self.work_dir = work_dir
        self.shared = None if isinstance(target, RunningTarget) else shared
        self._handing_on = threading.Lock()  # releases run at once; one at a time hands on
        self.people: dict[str, Person] = {}
        self.problems: list[str] = []  # what the stop checks found

    def get(self, name: str) -> Person:
        if name not in self.people:
            if name != FIRST and FIRST not in self.people:
                self.get(FIRST)
            self.people[name] = self._start(name)
        return self.people[name]

    def started(self) -> list[Person]:
        return list(self.people.values())

    # --- lifecycle ------------------------------------------------------------------------------
    def _start(self, name: str) -> Person:
        self.relay.ensure_started()
        backend = self._backend(name)
        client = StatusBackendClient(backend.url, self.settings.timeout(60), self.journal)
        signals = SignalListener(client.signals_url, name, self.journal)
        data_dir = self.work_dir / name
        data_dir.mkdir(parents=True, exist_ok=True)
        address = "0x" + hashlib.sha256(f"{data_dir}:{name}".encode()).hexdigest()[:40]
        person = Person(name, backend, client, signals, Wakuext(client), data_dir, address)
        if backend.storage_url is not None:
            person.storage = CodexClient(backend.storage_url, self.settings.timeout(60),
                                         self.journal)
        try:
            self.relay.wait_ready()  # it started alongside the first backend
            signals.connect(self.settings.timeout(10))
            client.initialize_application(str(data_dir), str(self.relay.fleets_file))
            start = signals.mark()
            client.create_account_and_login(self._account_request(name, data_dir))
            self._after_login(person, start)
            self._enable_storage(person)
        except BaseException:
            self.problems += self._release(person)
            raise
        return person

    def _backend(self, name: str) -> Backend:
        """A backend an earlier scenario of the feature left logged out, or a new one (in the
        feature's shared folder when it may be handed on)."""
        if self.shared is None:
            return self.target.start(name)
        kept: Backend | None = self.shared.take(_slot(len(self.people) + 1),
                                                self.target.share_key())
        if kept is not None and kept.is_running():
            kept.serve_next(name)
            return kept
        if kept is not None:
            self.problems += kept.stop()
        return self.target.start(name, home=self.shared.new_folder("status-backend-"))

    def _account_request(self, name: str, data_dir: Path) -> dict[str, Any]:
        """What status-go's test client sends (contract §2.2), without chain and wallet."""
        return {
            "rootDataDir": str(data_dir), "kdfIterations": 256000,
            "displayName": f"{name} Acceptance", "password": PASSWORD,
            "customizationColor": "primary", "logEnabled": True, "logToStderr": True,
            "logLevel": "INFO", "wakuV2LightClient": False, "wakuV2Fleet": FLEET,
            "apiConfig": {"apiModules": "connector", "connectorEnabled": False,
                          "httpEnabled": False, "httpHost": "127.0.0.1", "httpPort": 0,
                          "wsEnabled": False, "wsHost": "127.0.0.1", "wsPort": 0},
            "logosStorageConfigEnabled": False, "logosStorageConfigBootstrapNode": None,
            "importInitialDelay": IMPORT_INITIAL_DELAY, "messageArchiveInterval": None,
            "torrentConfigEnabled": False, "torrentConfigPort": 9025,
            "thirdpartyServicesEnabled": False,
        }

    def _after_login(self, person: Person, start: int) -> None:
        """Wait for ``node.login`` (from ``start``), for ``wakuext``, then start the messenger."""
        login = person.signals.wait_for("node.login", self.settings.timeout(60), start=start,
                                        expected="a completed login")[0]
        event = login.event if isinstance(login.event, dict) else {}
        if event.get("error"):
            raise AssertionError(f"{person.name} could not log in: {event['error']}")
        settings = event.get("settings") or {}
        person.public_key = str(settings.get("public-key", ""))
        if settings.get("address"):  # the account's own wallet address, revealed when joining
            person.address = str(settings["address"]).lower()
        person.key_uid = str((event.get("account") or {}).get("key-uid", "")) or person.key_uid

        def wakuext_ready() -> None:
            try:
                person.wakuext.chats()
            except RpcError as exc:
                if exc.code == METHOD_NOT_FOUND:
                    raise AssertionError(f"{person.name}'s node does not offer its messenger "
                                         f"yet: {exc.message}") from exc
                raise

        eventually(wakuext_ready, self.settings.timeout(30))
        person.wakuext.start_messenger()
        person.logged_in = True

    def _enable_storage(self, person: Person) -> None:
        discovery = reserve_port(udp=True)
        person.reservations.append(discovery)
        overrides: dict[str, object] = {"NodeConfig.DiscoveryPort": discovery.port,
                                        "NodeConfig.BlockRetries": BLOCK_RETRIES}
        first = self.people.get(FIRST)
        if first is not None:
            overrides["NodeConfig.BootstrapNodes"] = json.dumps([first.wakuext.debug().spr])
        start = person.signals.mark()
        person.wakuext.enable_logos_storage(overrides)
        person.signals.wait_for("community.historyArchivesProtocolEnabled",
                                self.settings.timeout(30), start=start,
                                expected="that its archive protocol is enabled")
        self._connect_storage(person)

    def _connect_storage(self, person: Person) -> None:
        """Connect to the first person's storage node (status-go's tests do: bootstrap records
        alone do not connect nodes reliably)."""
        first = self.people.get(FIRST)
        if first is None or first is person:
            return
        info = first.wakuext.debug()

        def connected() -> None:
            try:
                person.wakuext.connect(info.peer_id, info.addrs)
            except RpcError as exc:
                raise AssertionError(f"{person.name}'s storage node cannot connect to "
                                     f"{FIRST}'s: {exc.message}") from exc

        eventually(connected, self.settings.timeout(20))

    def log_out(self, person: Person) -> None:
        """``Logout``, then wait for ``node.stopped``."""
        start = person.signals.mark()
        person.client.logout()
        person.signals.wait_for("node.stopped", self.settings.timeout(30), start=start,
                                expected="that it stopped after logging out")
        person.logged_in = False

    def log_in(self, person: Person) -> None:
        """``LoginAccount`` with the account's key UID, then as after creating it."""
        if not person.key_uid:
            raise AssertionError(f"{person.name}'s login never reported a key UID")
        person.signals.ensure_connected(self.settings.timeout(10))
        start = person.signals.mark()
        person.client.login_account(person.key_uid, PASSWORD)
        self._after_login(person, start)
        self._connect_storage(person)

    # --- evidence and teardown ------------------------------------------------------------------
    def log_files(self) -> list[ProcessLog]:
        found = self.relay.log_files()
        for person in self.people.values():
            found += person.backend.logs(person.data_dir)
        return found

    def close(self, share: bool = False) -> None:
        """Release every person at once (each stop or logout waits for the storage node), then
        the relay; with ``share`` the backends the suite started are handed on logged out to the
        feature's next scenario. What the checks find goes to ``problems``."""
        slots = {person.name: _slot(n) for n, person in enumerate(self.people.values(), start=1)}
        people = list(self.people.values())
        self.people.clear()
        if people:
            with ThreadPoolExecutor(max_workers=len(people), thread_name_prefix="release") as pool:
                releases = [pool.submit(self._release, person, slots[person.name] if share
                                        else None) for person in people]
                for release in releases:
                    self.problems += release.result()
        self.problems += self.relay.close(share=share)

    def _release(self, person: Person, slot: str | None = None) -> list[str]:
        """Log out (a backend the suite did not start, or one handed on in ``slot``), close the
        connections, then stop the backend or hand it on; returns what its checks found."""
        keep = slot is not None and self.shared is not None and person.backend.is_running()
        if (keep or isinstance(self.target, RunningTarget)) and person.logged_in:
            # The backend outlives the scenario: leave it logged out, as status-go's fixture.
            try:
                person.client.logout(timeout=self.settings.timeout(10))
            except Exception as exc:
                print(f"logging {person.name} out failed: {exc}", file=sys.stderr)
                keep = False
        person.signals.close(within=self.settings.timeout(5))
        person.client.close()
        if person.storage is not None:
            person.storage.close()
        for reservation in person.reservations:
            reservation.release()
        if keep and slot is not None and self.shared is not None:
            problems = person.backend.check(person.data_dir)
            if not problems:
                with self._handing_on:
                    self.shared.keep(slot, self.target.share_key(), person.backend,
                                     Backend.stop)
                return []
            return problems + person.backend.stop()
        return person.backend.stop(person.data_dir)


def _slot(place: int) -> str:
    """Where the backend of a scenario's n-th person waits: the n-th person gets the n-th."""
    return f"status-backend {place}"

