"""What an archive scenario remembers: communities, channels, the archives just created, and how
to read them back from Codex with the suite's own codec."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from support.archive.community import CommunityClient, CommunityNodes
from support.codex.client import CodexClient
from wire import archive_codec as codec
from wire.pb.communities import communities_pb2 as pb

# Scenario clock times ("10:00", "09:59:30.5") are on this day (UTC).
SCENARIO_DAY = datetime(2026, 1, 15, tzinfo=UTC)
_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2})(\.\d+)?)?$")


def at(clock: str) -> float:
    """``HH:MM[:SS[.fff]]`` on the scenario day → Unix seconds (fractions kept)."""
    match = _TIME.match(clock.strip())
    if not match:
        raise ValueError(f"not a time of day: {clock!r} (e.g. 10:00 or 09:59:30.5)")
    hours, minutes, seconds, fraction = match.groups()
    base = SCENARIO_DAY.timestamp() + int(hours) * 3600 + int(minutes) * 60
    return base + int(seconds or 0) + float(fraction or 0)


def clock_of(unix: int) -> str:
    return datetime.fromtimestamp(unix, UTC).strftime("%H:%M:%S")


@dataclass(frozen=True)
class ArchiveView:
    """One archive as the index and its bytes describe it."""

    archive_id: str
    start: int
    end: int
    messages: int
    cid: str
    texts: tuple[str, ...] = ()


@dataclass
class ArchiveWorld:
    nodes: CommunityNodes
    communities: dict[str, str] = field(default_factory=dict)  # name → id
    owners: dict[str, str] = field(default_factory=dict)  # community name → person
    channels: dict[str, str] = field(default_factory=dict)  # "#general" → chat id
    created: list[str] = field(default_factory=list)

    def client(self, person: str) -> CommunityClient:
        return self.nodes.person(person).client

    def community_of(self, name: str) -> str:
        if name not in self.communities:
            raise AssertionError(f"no community named {name!r} in this scenario")
        return self.communities[name]

    def channel(self, name: str) -> str:
        if name not in self.channels:
            raise AssertionError(f"no channel {name} in this scenario")
        return self.channels[name]

    def member_files(self, person: str, community: str) -> list[str]:
        """The files a member's node keeps for a community's archives (index downloads)."""
        folder = self.nodes.work_dir / person / "archives" / self.community_of(community)
        return sorted(p.name for p in folder.iterdir()) if folder.exists() else []

    def codex_of(self, person: str) -> CodexClient:
        return self.nodes.fleet.node(self.nodes.person(person).codex_node).client

    def archives(self, owner: str, community: str) -> list[ArchiveView]:
        """The owner's published index, read back from Codex and decoded with the suite's own
        codec; every archive ID is recomputed from its entry."""
        info = self.client(owner).call("wakuext_archiveInfo",
                                       communityId=self.community_of(community))
        index_cid = info["last_index_cid"]
        if not index_cid:
            return []
        codex = self.codex_of(owner)
        index = codec.decode_codex_index(codex.download_bytes(index_cid))
        views = []
        for archive_id, entry in index.archives.items():
            assert codec.codex_archive_id(entry.metadata, entry.cid) == archive_id, archive_id
            archive = pb.WakuMessageArchive()
            archive.ParseFromString(codex.download_bytes(entry.cid))
            texts = tuple(json.loads(m.payload).get("text", "") for m in archive.messages)
            views.append(ArchiveView(archive_id, getattr(entry.metadata, "from"),
                                     entry.metadata.to, len(archive.messages), entry.cid, texts))
        return sorted(views, key=lambda view: (view.start, view.archive_id))
