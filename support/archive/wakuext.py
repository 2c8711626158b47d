"""Typed ``wakuext_*`` calls with the params status-go's own test client sends (contract §3,
``tests-functional/clients/services/wakuext.py``), plus the emulator-only helpers the
``@use.with_explicit_archive_window=true`` scenarios use."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from support.archive.api import StatusBackendClient

AUTO_ACCEPT = 1  # CommunityPermissionsAccess
BECOME_MEMBER = 1  # CommunityTokenPermissionType
ERC20 = 1  # CommunityTokenType
TEXT_PLAIN = 1  # MessageContentType


@dataclass(frozen=True)
class StorageInfo:
    """What ``wakuext_debug`` says of the account's storage node."""

    peer_id: str
    addrs: tuple[str, ...]
    spr: str


@dataclass(frozen=True)
class CreatedCommunity:
    community_id: str
    general_chat_id: str  # the default "general" channel status-go creates with it


def _first(response: Mapping[str, Any], key: str, what: str) -> dict[str, Any]:
    items = response.get(key) if isinstance(response, Mapping) else None
    if not items:
        raise AssertionError(f"{what}: the answer has no {key} ({str(response)[:300]})")
    return dict(items[0])


class Wakuext:
    """The ``wakuext`` service of one logged-in account."""

    def __init__(self, client: StatusBackendClient) -> None:
        self.client = client

    def _call(self, method: str, *params: Any) -> Any:
        return self.client.call(f"wakuext_{method}", params)

    # --- lifecycle and storage ------------------------------------------------------------------
    def start_messenger(self) -> None:
        self._call("startMessenger")

    def chats(self) -> list[dict[str, Any]]:
        return list(self._call("chats") or [])

    def enable_logos_storage(self, overrides: Mapping[str, object]) -> None:
        """``enableLogosStorageCommunityHistoryArchiveProtocol``; values sent as strings, as
        the test client does."""
        self._call("enableLogosStorageCommunityHistoryArchiveProtocol",
                   {key: str(value) for key, value in overrides.items()})

    def debug(self) -> StorageInfo:
        info = self._call("debug")
        return StorageInfo(str(info["id"]), tuple(info.get("addrs") or ()), str(info["spr"]))

    def connect(self, peer_id: str, addrs: Sequence[str]) -> None:
        self._call("connect", peer_id, list(addrs))

    def update_message_archive_interval(self, seconds: int) -> int:
        return int(self._call("updateMessageArchiveInterval", seconds))

    def speedup_archives_import(self) -> None:
        """Import at status-go's fast pace (what the desktop app asks for in the background)."""
        self._call("speedupArchivesImport")

    # --- communities ----------------------------------------------------------------------------
    def create_community(self, name: str, description: str) -> CreatedCommunity:
        response = self._call("createCommunity", {
            "membership": AUTO_ACCEPT, "name": name, "color": "#ffffff",
            "description": description, "image": "", "imageAx": 0, "imageAy": 0,
            "imageBx": 0, "imageBy": 0, "historyArchiveSupportEnabled": True,
        })
        community = _first(response, "communities", f"creating {name!r}")
        chat = _first(response, "chats", f"the default channel of {name!r}")
        return CreatedCommunity(str(community["id"]), str(chat["id"]))

    def create_community_chat(self, community_id: str, name: str) -> str:
        response = self._call("createCommunityChat", community_id, {
            "identity": {"displayName": name, "emoji": "😀", "color": "#1f2c75",
                         "description": name},
            "viewersCanPostReactions": False, "hideIfPermissionsNotMet": False,
            "permissions": {"access": AUTO_ACCEPT},
        })
        return str(_first(response, "chats", f"creating channel {name!r}")["id"])

    def create_become_member_permission(self, community_id: str, criterion: Mapping[str, Any]
                                        ) -> None:
        """A BECOME_MEMBER token permission with one token criterion (makes it encrypted)."""
        self._call("createCommunityTokenPermission", {
            "communityId": community_id, "type": BECOME_MEMBER,
            "tokenCriteria": [dict(criterion)],
        })

    def reevaluate_members_permissions(self, community_id: str) -> None:
        self._call("reevaluateCommunityMembersPermissions", {"communityId": community_id})

    def fetch_community(self, community_id: str) -> dict[str, Any] | None:
        community = self._call("fetchCommunity", {"communityKey": community_id,
                                                  "waitForResponse": True, "tryDatabase": True})
        return dict(community) if community else None

    def request_to_join(self, community_id: str, address: str) -> dict[str, Any]:
        response = self._call("requestToJoinCommunity", {
            "communityId": community_id, "addressesToReveal": [address],
            "airdropAddress": address, "signatures": None,
        })
        return _first(response, "requestsToJoinCommunity", f"joining {community_id}")

    def accept_request_to_join(self, request_id: str) -> None:
        self._call("acceptRequestToJoinCommunity", {"id": request_id})

    def pending_requests_to_join(self, community_id: str) -> list[dict[str, Any]]:
        return list(self._call("pendingRequestsToJoinForCommunity", community_id) or [])

    # --- messages -------------------------------------------------------------------------------
    def send_chat_message(self, chat_id: str, text: str, timestamp_ms: int | None = None
                          ) -> dict[str, Any]:
        """Send a text; with ``timestamp_ms`` (emulator with backdating only) a message from
        the past."""
        request: dict[str, Any] = {"chatId": chat_id, "text": text, "contentType": TEXT_PLAIN,
                                   "responseTo": ""}
        if timestamp_ms is not None:
            request["timestamp"] = timestamp_ms
        return dict(self._call("sendChatMessage", request))

    def chat_texts(self, chat_id: str, limit: int = 1000) -> list[str]:
        """The texts of a channel's messages, newest first (``messages`` is null when none)."""
        response = self._call("chatMessages", chat_id, "", limit)
        return [str(m.get("text", "")) for m in (response.get("messages") or [])]

    # --- archives -------------------------------------------------------------------------------
    def has_community_archive(self, community_id: str) -> bool:
        return bool(self._call("hasCommunityArchive", community_id))

    def downloaded_archive_ids(self, community_id: str) -> list[str]:
        return list(self._call("getDownloadedMessageArchiveIDs", community_id) or [])

    def archive_ids_to_import(self, community_id: str) -> list[str]:
        return list(self._call("getMessageArchiveIDsToImport", community_id) or [])

    def create_history_archive_from_db(self, community_id: str, topics: Sequence[str], *,
                                       start_iso: str, end_iso: str, partition_seconds: int,
                                       encrypted: bool) -> list[str]:
        """The test-client call (``wakuext.py``'s helper); returns the new archive IDs."""
        created = self._call("createHistoryArchiveFromDB", community_id, list(topics),
                             start_iso, end_iso, partition_seconds, encrypted)
        return [str(archive_id) for archive_id in created or []]

    def dispatch_archive_link(self, community_id: str) -> None:
        """Emulator-only: announce the last archive link now (status-go does it every tick)."""
        self._call("dispatchArchiveLink", community_id)
