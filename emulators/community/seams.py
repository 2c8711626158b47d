"""The seams between the emulated status-go node's parts (status-go's own seams).

``server`` (status-backend's HTTP face) → ``backend`` (accounts, login, CallRPC) → ``messenger``
(wakuext: communities, chats, joining, messages, the transport between nodes) and ``archives``
(the archive manager, downloader and importer, over a storage node of its own). Each part talks to
the others only through what is declared here.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from wire.archive_codec import StoredMessage

# What the embedding suite may set in the node's environment (a real status-backend ignores
# them). Each changes a timing or a test affordance, never a wire format.
ENV_BACKDATING = "STATUS_EMULATOR_BACKDATING"  # "1": sendChatMessage honours a given timestamp
ENV_RATCHET_RETRY = "STATUS_EMULATOR_RATCHET_RETRY"  # seconds (status-go: ratchetNotFoundDelay 1 h)
ENV_CODEX_COMMAND = "STATUS_EMULATOR_CODEX_COMMAND"  # JSON argv prefix of the storage node
ENV_STORAGE_API_PORT = "STATUS_EMULATOR_STORAGE_API_PORT"  # the storage node's REST port
ENV_TOKEN_LEDGER = "STATUS_EMULATOR_TOKEN_LEDGER"  # JSON file: address → token symbols held


def env_flag(name: str) -> bool:
    return os.environ.get(name, "") == "1"


def env_seconds(name: str, default: float) -> float:
    value = os.environ.get(name, "")
    try:
        return float(value) if value else default
    except ValueError:
        return default


class SignalSink(Protocol):
    """Where signals go: every websocket connection of ``/signals`` (no backlog)."""

    def send(self, signal_type: str, event: object) -> None: ...


class Clock(Protocol):
    def now(self) -> float:
        """Unix seconds."""
        ...


class SystemClock:
    def now(self) -> float:
        return time.time()


@dataclass(frozen=True)
class Account:
    """A logged-in account: status-go's key UID, display name and chat identity."""

    key_uid: str  # 0x + 64 hex
    display_name: str
    private_key: bytes  # 32-byte secp256k1 secret
    public_key: str  # 0x04 + 128 hex (uncompressed), status-go's "public-key"


@dataclass(frozen=True)
class LoginConfig:
    """What CreateAccountAndLogin / LoginAccount / InitializeApplication configured."""

    data_dir: Path  # this account's own folder (0700), holding its database (0600)
    fleets_file: Path | None  # InitializeApplication.wakuFleetsConfigFilePath
    fleet: str  # CreateAccountAndLogin.wakuV2Fleet
    import_initial_delay: float = 300.0  # seconds (importInitialDelay; status-go: 5 min)
    message_archive_interval: float = 7 * 86400.0  # seconds (messageArchiveInterval; 7 days)
    logos_storage_enabled: bool = False  # logosStorageConfigEnabled
    logos_storage_bootstrap: tuple[str, ...] = ()  # logosStorageConfigBootstrapNode


@dataclass(frozen=True)
class CommunityInfo:
    """What the archive side needs to know of one community, as the messenger sees it."""

    id: str  # 0x + compressed public key hex
    encrypted: bool
    control_node: bool  # this node is the owner / control node
    joined: bool
    history_archive_support_enabled: bool
    chat_ids: Sequence[str] = field(default_factory=tuple)  # community id + uuid each
    universal_chat_id: str = ""  # the community id itself


class CommunityDirectory(Protocol):
    """The messenger, as the archive side uses it."""

    def community(self, community_id: str) -> CommunityInfo | None: ...

    def controlled_communities(self) -> list[CommunityInfo]: ...

    def dispatch_archive_link(self, community_id: str, link: str) -> None:
        """Send CommunityMessageArchiveLink{clock: now ms, archiveLink: link} to the members."""
        ...

    def handle_archive_messages(self, community_id: str,
                                messages: Sequence[StoredMessage]) -> int:
        """Route archived Waku messages through the normal pipeline (fromArchive, deduplicated
        by message ID); emits ``messages.new`` when anything is new. Returns how many were."""
        ...


class CommunityCrypto(Protocol):
    """The community-level hash ratchet (archive.md §2.3), keyed by community ID."""

    def encrypt(self, community_id: str, data: bytes) -> bytes: ...

    def decrypt(self, community_id: str, data: bytes) -> bytes:
        """Plain bytes unchanged; a wrapped payload unwrapped. Raises
        ``wire.ratchet.GroupKeyNotFoundError`` without the key, ``DecryptionError`` if bad."""
        ...
