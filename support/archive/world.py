"""What an archive scenario remembers and does: its people, communities and channels, the
archives just created, and how to read an owner's archives back from their storage node with the
suite's own oracle. Steps call this; it calls the persons' status-backends."""

from __future__ import annotations

import contextlib
import hashlib
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psutil

from support import expect
from support.archive.expectations import archives
from support.archive.ledger import TokenLedger
from support.archive.persons import Person, Persons
from support.archive.signals import Signal
from support.archive.targets import Capability
from support.codex.client import CodexClient
from support.config import Settings
from support.expect import quoted
from support.oracles import archive as oracle
from support.processes.launcher import ProcessLog
from support.waiting import eventually

# Scenario clock times ("10:00", "09:59:30.5") are on this day (UTC).
SCENARIO_DAY = datetime(2026, 1, 15, tzinfo=UTC)
GENERAL = "#general"  # the channel status-go creates with every community
CHAIN_ID = "31337"  # the emulated chain's ID (status-go's tests use Anvil's)
PARTIAL_SUFFIXES = (".tmp", ".part", ".partial", ".download")

CREATED = "community.historyArchivesCreated"
NONE_CREATED = "community.noHistoryArchivesCreated"
DOWNLOADED = "community.historyArchiveDownloaded"
IMPORTING = "community.importingHistoryArchiveMessages"
FINISHED = "community.downloadingHistoryArchivesFinished"


def clock_of(unix: int) -> str:
    return datetime.fromtimestamp(unix, UTC).strftime("%H:%M:%S")


def iso(unix: float) -> str:
    """ISO-8601 with fractions, as status-go's test client sends dates."""
    return datetime.fromtimestamp(unix, UTC).isoformat()


@dataclass(frozen=True)
class ArchiveView:
    """One archive as the owner's index and its bytes describe it."""

    archive_id: str
    start: int
    end: int
    messages: int
    cid: str


@dataclass
class Community:
    name: str
    id: str
    owner: str
    encrypted: bool
    token: str = ""  # the symbol that lets a member in (encrypted communities)
    channels: dict[str, str] = field(default_factory=dict)  # "#general" → chat id


@dataclass
class ArchiveWorld:
    settings: Settings
    persons: Persons
    ledger: TokenLedger
    capabilities: frozenset[Capability]  # what the target offers
    tags: frozenset[str]  # the scenario's effective tags
    communities: dict[str, Community] = field(default_factory=dict)
    channels: dict[str, str] = field(default_factory=dict)  # "#general" → the latest such chat
    created: list[str] = field(default_factory=list)  # archive IDs of the last explicit run
    sent_at: dict[str, float] = field(default_factory=dict)  # text → Unix seconds (the past)
    archive_marks: dict[str, int] = field(default_factory=dict)  # community → owner's mark
    said_marks: dict[str, int] = field(default_factory=dict)  # community → owner's mark
    publish_marks: dict[str, dict[str, int]] = field(default_factory=dict)  # → person → mark
    created_at: dict[str, float] = field(default_factory=dict)  # community → request sent (Unix)
    archive_intervals: dict[str, int] = field(default_factory=dict)  # person → seconds
    paused: list[psutil.Process] = field(default_factory=list)  # storage nodes held by SIGSTOP

    # --- who and what ---------------------------------------------------------------------------
    def person(self, name: str) -> Person:
        return self.persons.get(name)

    def community(self, name: str) -> Community:
        if name not in self.communities:
            raise AssertionError(f"no community named {name!r} in this scenario")
        return self.communities[name]

    def channel(self, name: str) -> str:
        if name not in self.channels:
            raise AssertionError(f"no channel {name} in this scenario")
        return self.channels[name]

    def community_of_chat(self, chat_id: str) -> Community:
        return next(c for c in self.communities.values() if chat_id in c.channels.values())

    def require(self, capability: Capability, action: str) -> None:
        """Fail clearly when a step needs what the scenario did not declare (or the target
        cannot do)."""
        if capability.tag not in self.tags:
            raise AssertionError(f"{action} needs @{capability.tag} ({capability.what}); "
                                 f"tag the scenario with it")
        if capability not in self.capabilities:
            raise AssertionError(f"{action} needs @{capability.tag}, which this status-backend "
                                 f"target does not offer")

    def within(self, seconds: float) -> float:
        return self.settings.timeout(seconds)

    def _about(self, name: str) -> Callable[[Signal], bool]:
        """Which signals are about the community."""
        community_id = self.community(name).id
        return lambda signal: signal.about(community_id)

    # --- communities ----------------------------------------------------------------------------
    def create_community(self, owner: str, name: str, channels: Iterable[str],
                         encrypted: bool) -> Community:
        wakuext = self.person(owner).wakuext
        sent = time.time()  # the owner's archive loop starts after this, never before
        created = wakuext.create_community(name, f"{name}, a community of the acceptance suite")
        self.created_at[name] = sent
        community = Community(name, created.community_id, owner, encrypted,
                              channels={GENERAL: created.general_chat_id})
        if encrypted:
            community.token = re.sub(r"[^A-Z0-9]", "", name.upper()) or "KEY"
            wakuext.create_become_member_permission(community.id, self._criterion(community))
        for channel in channels:
            if channel != GENERAL:
                community.channels[channel] = wakuext.create_community_chat(community.id,
                                                                            channel[1:])
        self.communities[name] = community
        self.channels.update(community.channels)
        return community

    @staticmethod
    def _criterion(community: Community) -> dict[str, object]:
        """One ERC-20 criterion: hold 1 of the community's own token (protobuf.TokenCriteria
        JSON names)."""
        contract = "0x" + hashlib.sha256(community.token.encode()).hexdigest()[:40]
        return {"type": 1, "symbol": community.token, "name": f"{community.name} key",
                "contract_addresses": {CHAIN_ID: contract}, "amount": "1",
                "amountInWei": "1000000000000000000", "decimals": 18}

    def join(self, member: str, name: str) -> None:
        """Fetch the community, ask to join (revealing the member's address) and wait until the
        member's node says it is joined (auto-accept communities)."""
        community = self.community(name)
        person = self.person(member)

        def known() -> None:
            expect.that(bool(person.wakuext.fetch_community(community.id)),
                        f'{member}\'s node does not know "{name}" yet')

        person.signals.until(known, self.within(30))
        person.wakuext.request_to_join(community.id, person.address)

        def joined() -> None:
            found = person.wakuext.fetch_community(community.id) or {}
            expect.that(bool(found.get("joined") or found.get("isMember")),
                        f'{member} has asked to join "{name}" but is not a member yet')

        person.signals.until(joined, self.within(30))

    def grant_token(self, member: str, name: str) -> None:
        """The emulated chain: the member's revealed address now holds the community's token."""
        self.require(Capability.EMULATED_CHAIN, f"giving {member} the token of {name!r}")
        self.ledger.grant(self.person(member).address, self.community(name).token)

    def reevaluate(self, name: str) -> None:
        community = self.community(name)
        self.person(community.owner).wakuext.reevaluate_members_permissions(community.id)

    def give_key(self, owner: str, member: str, name: str) -> None:
        """The owner lets a member in: the member now holds the key, and the owner's node
        reevaluates who may be a member."""
        found = self.community(name)
        if found.owner != owner:
            raise AssertionError(f"{owner} cannot give the key of {name!r}: {found.owner} owns it")
        self.grant_token(member, name)
        self.reevaluate(name)

    def log_out(self, member: str) -> None:
        self.persons.log_out(self.person(member))

    def log_in(self, member: str) -> None:
        self.persons.log_in(self.person(member))

    # --- messages -------------------------------------------------------------------------------
    def say(self, author: str, text: str, channel: str) -> None:
        """A message sent now, over the relay, to whoever is online."""
        chat = self.channel(channel)
        person = self.person(author)
        self.said_marks[self.community_of_chat(chat).name] = person.signals.mark()
        person.wakuext.send_chat_message(chat, text)

    def said_in_the_past(self, author: str, text: str, channel: str, unix: float) -> None:
        """A message from the past: stored as the author's node would have stored it then."""
        self.require(Capability.EXPLICIT_ARCHIVE_WINDOW, f"sending {text[:20]!r} in the past")
        self.person(author).wakuext.send_chat_message(self.channel(channel), text,
                                                      timestamp_ms=round(unix * 1000))
        self.sent_at[text] = unix

    def texts(self, member: str, channel: str) -> list[str]:
        return self.person(member).wakuext.chat_texts(self.channel(channel))

    def wait_until_seen_after_import(self, member: str, text: str, channel: str,
                                     seconds: float) -> None:
        """Until the member sees the text in the channel, which must have come from an archive
        the member's node reported importing."""

        def visible() -> None:
            texts = self.texts(member, channel)
            expect.that(text in texts, f'{member} does not see "{text}" in {channel}; it shows '
                        f"{quoted(texts, empty='no message')}")

        signals = self.person(member).signals
        signals.until(visible, self.within(seconds))
        community = self.community_of_chat(self.channel(channel))
        imports = [s for s in signals.since() if s.type == IMPORTING and s.about(community.id)]
        expect.that(bool(imports), f'{member} sees "{text}" in {channel}, but {member}\'s node '
                    f'never reported importing an archive of "{community.name}" (it sent: '
                    f"{signals.seen()})")

    # --- archives -------------------------------------------------------------------------------
    def archive_window(self, owner: str, channels: list[str], start: float, end: float,
                       partition: int) -> None:
        self.require(Capability.EXPLICIT_ARCHIVE_WINDOW, "archiving a chosen time window")
        chat_ids = [self.channel(c) for c in channels]
        community = self.community_of_chat(chat_ids[0])
        person = self.person(owner)
        topics = [oracle.content_topic(chat) for chat in chat_ids]
        self.archive_marks[community.name] = person.signals.mark()
        self.created = person.wakuext.create_history_archive_from_db(
            community.id, topics, start_iso=iso(start), end_iso=iso(end),
            partition_seconds=partition, encrypted=community.encrypted)

    def publish(self, owner: str, name: str) -> None:
        """Announce the owner's last archive index now (status-go does it on every tick)."""
        self.require(Capability.EXPLICIT_ARCHIVE_WINDOW, "announcing the archive index")
        community = self.community(name)
        self.publish_marks[name] = {p.name: p.signals.mark() for p in self.persons.started()}
        self.person(owner).wakuext.dispatch_archive_link(community.id)

    def since_publish(self, member: str, name: str) -> int:
        return self.publish_marks.get(name, {}).get(member, 0)

    def wait_until_told_none_created(self, owner: str, name: str) -> None:
        """Until the owner's node says the last explicit run created no archive (and it has
        not said it created some)."""
        signals, about = self.person(owner).signals, self._about(name)
        start = self.archive_marks.get(name, 0)
        signals.wait_for(NONE_CREATED, self.within(5), start=start, matches=about,
                         expected=f"that no archives were created for {name!r}")
        created = [s for s in signals.since(start) if s.type == CREATED and about(s)]
        expect.that(not created, f'{owner}\'s node also reported archives created for "{name}"')

    def publish_again(self, owner: str, name: str) -> None:
        if name not in self.publish_marks:
            raise AssertionError(f"{owner} never published the index of {name!r}")
        self.publish(owner, name)

    def wait_until_imported(self, member: str, count: int, name: str, seconds: float) -> None:
        """Until the member has downloaded and imported exactly ``count`` archives."""

        def imported() -> None:
            downloaded, done = self.imported_ids(member, name)
            expect.matches(len(done) == count == len(downloaded),
                           f'of the archives of "{name}" {member} has',
                           actual=f"downloaded {len(downloaded)} and imported {len(done)}",
                           expected=f"{count} downloaded and imported")

        self.person(member).signals.until(imported, self.within(seconds))

    def wait_until_downloaded(self, member: str, count: int, name: str, seconds: float) -> None:
        """Until the member has downloaded exactly ``count`` archives."""

        def downloaded() -> None:
            ids, _ = self.imported_ids(member, name)
            expect.equal(len(ids), count, f"{member} has downloaded",
                         show=lambda n: f'{archives(n)} of "{name}"')

        self.person(member).signals.until(downloaded, self.within(seconds))

    def expect_no_import(self, member: str, name: str, seconds: float) -> None:
        """For ``seconds`` after the last announcement the member imports nothing."""
        self.person(member).signals.stays_without(
            IMPORTING, self.within(seconds), start=self.since_publish(member, name),
            matches=self._about(name), unexpected=f"importing an archive of {name!r}")

    def downloads_since_publish(self, member: str, name: str) -> int:
        """How many archives the member's node reported downloading since the announcement."""
        about = self._about(name)
        return len([s for s in self.person(member).signals.since(self.since_publish(member, name))
                    if s.type == DOWNLOADED and about(s)])

    def wait_until_fetch_finished(self, member: str, name: str, seconds: float) -> None:
        """Until the member's node says it is done fetching the history announced last."""
        self.person(member).signals.wait_for(
            FINISHED, self.within(seconds), start=self.since_publish(member, name),
            matches=self._about(name), expected=f"the end of fetching the history of {name!r}")

    def lose_archive_holding(self, text: str, owner: str) -> None:
        """Delete, from the owner's storage node, the one archive holding the message."""
        name = next(c.name for c in self.communities.values() if c.owner == owner)
        sent = self.sent_at[text]
        holding = [v for v in self.archives(owner, name) if v.start <= sent < v.end]
        expect.equal(len(holding), 1, f'the message "{text}" is held by', show=lambda n:
                     f'{archives(n)} of "{name}"')
        self.storage_of(owner).delete(holding[0].cid)

    def holds_archive_index(self, person: str, name: str) -> bool:
        return self.person(person).wakuext.has_community_archive(self.community(name).id)

    def imported_ids(self, member: str, name: str) -> tuple[list[str], list[str]]:
        """(downloaded, of which imported) archive IDs of a member."""
        wakuext = self.person(member).wakuext
        community_id = self.community(name).id
        downloaded = wakuext.downloaded_archive_ids(community_id)
        pending = set(wakuext.archive_ids_to_import(community_id))
        return downloaded, [i for i in downloaded if i not in pending]

    def storage_of(self, person: str) -> CodexClient:
        self.require(Capability.STORAGE_ACCESS, f"reading {person}'s storage node")
        storage = self.person(person).storage
        return expect.present(storage, f"{person}'s storage node has no API the suite can reach")

    def archives(self, owner: str, name: str) -> list[ArchiveView]:
        """The owner's newest archive index, found on their storage node and decoded by the
        suite's own oracle; every archive ID is recomputed from its entry."""
        community = self.community(name)
        if community.encrypted:
            raise AssertionError(f"the archives of {name!r} are encrypted; the suite reads only "
                                 f"plain ones")
        storage = self.storage_of(owner)
        indexes = [index for index in (oracle.read_index(storage.download_bytes(item.cid))
                                       for item in storage.list_data()) if index]
        wanted = set(self.created)
        matching = [index for index in indexes if wanted <= set(index)]
        if not matching:
            raise AssertionError(f"{owner}'s storage node holds no archive index of {name!r} "
                                 f"with the archives just created ({len(indexes)} other "
                                 f"index(es))")
        index = max(matching, key=len)
        views = []
        for archive_id, entry in index.items():
            messages = oracle.count_messages(storage.download_bytes(entry.cid))
            views.append(ArchiveView(archive_id, entry.start, entry.end, messages, entry.cid))
        return sorted(views, key=lambda view: (view.start, view.archive_id))

    # --- the periodic loop ------------------------------------------------------------------------
    def set_archive_interval(self, owner: str, seconds: int) -> None:
        answer = self.person(owner).wakuext.update_message_archive_interval(seconds)
        expect.equal(answer, seconds, f"{owner}'s node now archives every",
                     show=lambda interval: f"{interval} s")
        self.archive_intervals[owner] = seconds

    def wait_until_archived(self, owner: str, name: str, seconds: float) -> None:
        """Until the owner's node reports a new archive of the community after the last
        message said in it."""
        self.person(owner).signals.wait_for(
            CREATED, self.within(seconds), start=self.said_marks.get(name, 0),
            matches=self._about(name),
            expected=f"a new archive of {name!r} after the last message")

    def expect_archives_nothing(self, owner: str, name: str, seconds: float) -> None:
        self.person(owner).signals.stays_without(CREATED, self.within(seconds),
                                                 matches=self._about(name),
                                                 unexpected=f"an archive of {name!r}")

    def first_archive_delay(self, name: str) -> float:
        """Seconds from asking for the community to the owner's first archive signal."""
        community = self.community(name)
        first = next((s for s in self.person(community.owner).signals.since()
                      if s.type == CREATED and s.about(community.id)), None)
        found = expect.present(first, f'{community.owner}\'s node has not archived "{name}" yet')
        return found.arrived - self.created_at[name]

    # --- faults ---------------------------------------------------------------------------------
    def pause_storage(self, person: str) -> None:
        """Freeze the person's storage node (SIGSTOP): it keeps its sockets but answers nothing,
        as a hung holder does."""
        self.require(Capability.STORAGE_ACCESS, f"pausing {person}'s storage node")
        process = self.person(person).backend.storage_process()
        process.suspend()
        self.paused.append(process)

    def resume_storage(self, person: str) -> None:
        self.require(Capability.STORAGE_ACCESS, f"resuming {person}'s storage node")
        process = self.person(person).backend.storage_process()
        process.resume()
        self.paused = [p for p in self.paused if p.pid != process.pid]

    def wait_until_fetching(self, member: str, name: str) -> None:
        """Until the member's node has a request to its storage node in flight (the history is
        on its way)."""
        self.require(Capability.STORAGE_ACCESS, f"watching {member}'s storage node")
        name = self.community(name).name
        backend = self.person(member).backend

        def fetching() -> None:
            expect.that(backend.storage_requests_in_flight() > 0,
                        f'{member}\'s node is not fetching the history of "{name}": it has no '
                        "request open to its storage node")

        eventually(fetching, self.within(10), interval=0.05)

    def partial_files(self, member: str) -> list[str]:
        """Files of the member's node that a download left half-written."""
        self.require(Capability.STORAGE_ACCESS, f"looking into {member}'s files")
        root = self.person(member).data_dir
        return sorted(str(path.relative_to(root)) for path in root.rglob("*")
                      if path.is_file() and path.name.endswith(PARTIAL_SUFFIXES))

    # --- teardown -------------------------------------------------------------------------------
    def log_files(self) -> list[ProcessLog]:
        return self.persons.log_files()

    def close(self, share: bool = False) -> None:
        """Release the people; with ``share`` their backends may serve the next scenario."""
        for process in self.paused:  # a frozen process would sit out its SIGTERM
            with contextlib.suppress(psutil.Error):
                process.resume()
        self.paused.clear()
        self.persons.close(share=share)
