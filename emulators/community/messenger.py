"""The messenger: status-go's wakuext community methods over the emulated Waku relay.

Between nodes travel the emulator's own application messages (JSON in the Waku payload, field
``type``): ``community_description`` and ``community_request`` (fetching), ``request_to_join``,
``request_to_join_response`` (with the description, the community keys sealed for the member when
it is eligible, and the control node's last archive link), ``community_keys``,
``community_archive_link`` and ``chat_message``. Community-level messages go on the universal
chat's topic (the community ID's), chat messages on their channel's; what the control node says
is signed with the community key.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping, Sequence

from emulators.community import keys, responses, rpc
from emulators.community.archives.service import ArchiveService
from emulators.community.chat_messages import ChatMessages, topic_of
from emulators.community.communities import CommunityBook
from emulators.community.community_methods import Communities
from emulators.community.context import NodeContext
from emulators.community.joining import Joining
from emulators.community.persistence import Database
from emulators.community.persistence import archives as archive_tables
from emulators.community.persistence import messenger as tables
from emulators.community.seams import (
    Account,
    Clock,
    CommunityInfo,
    LoginConfig,
    SignalSink,
    SystemClock,
)
from emulators.community.transport import Envelope, Transport, relay_url
from wire.archive_codec import StoredMessage

SYSTEM_CLOCK = SystemClock()


class Messenger:
    """One logged-in account's messenger; owns its database, transport and archive service."""

    def __init__(self, account: Account, config: LoginConfig, signals: SignalSink,
                 clock: Clock = SYSTEM_CLOCK) -> None:
        self._db = Database(config.data_dir / "status.db", tables.SCHEMA + archive_tables.SCHEMA)
        store = tables.MessengerStore(self._db)
        installation = store.setting("installation-id")
        if installation is None:
            installation = str(uuid.uuid4())
            store.set_setting("installation-id", installation)
        community_keys = keys.CommunityKeys(store, installation)
        self._archives = ArchiveService(self._db, self, community_keys, signals, config, clock)
        transport = Transport(relay_url(config.fleets_file, config.fleet), self._receive)
        self._ctx = NodeContext(account, store, CommunityBook(store, account.public_key),
                                community_keys, transport, self._archives, signals, clock)
        self._chat_messages = ChatMessages(self._ctx)
        self._joining = Joining(self._ctx, self._chat_messages.keys_arrived)
        self._communities = Communities(self._ctx, self._joining)
        self._started = False
        self._handlers: dict[str, Callable[[Envelope, dict], None]] = {
            "community_description": self._communities.on_description,
            "community_request": self._communities.on_community_request,
            "request_to_join": self._joining.on_request_to_join,
            "request_to_join_response": self._joining.on_join_response,
            "community_keys": self._joining.on_community_keys,
            "community_archive_link": self._on_archive_link,
        }

    # --- lifecycle ----------------------------------------------------------------------------
    def methods(self) -> Mapping[str, rpc.Method]:
        """Every wakuext method: the messenger's and the archive service's."""
        hexbytes, text = rpc.Param("types.HexBytes"), rpc.Param("string")
        communities, joining = self._communities, self._joining
        own = {
            "startMessenger": rpc.Method(self.start_messenger),
            "chats": rpc.Method(communities.chats),
            "createCommunity": rpc.Method(self._create_community,
                                          (rpc.Param("*requests.CreateCommunity"),)),
            "createCommunityChat": rpc.Method(communities.create_chat,
                                              (hexbytes, rpc.Param("*protobuf.CommunityChat"))),
            "fetchCommunity": rpc.Method(communities.fetch,
                                         (rpc.Param("*protocol.FetchCommunityRequest"),)),
            "requestToJoinCommunity": rpc.Method(
                joining.request_to_join, (rpc.Param("*requests.RequestToJoinCommunity"),)),
            "acceptRequestToJoinCommunity": rpc.Method(
                joining.accept_request_to_join,
                (rpc.Param("*requests.AcceptRequestToJoinCommunity"),)),
            "latestRequestToJoinForCommunity": rpc.Method(joining.latest_request_to_join,
                                                          (hexbytes,)),
            "pendingRequestsToJoinForCommunity": rpc.Method(joining.pending_requests,
                                                            (hexbytes,)),
            "allNonApprovedCommunitiesRequestsToJoin": rpc.Method(joining.non_approved_requests),
            "sendChatMessage": rpc.Method(self._chat_messages.send,
                                          (rpc.Param("*common.Message"),)),
            "chatMessages": rpc.Method(self._chat_messages.page,
                                       (text, text, rpc.Param("int"))),
            "createCommunityTokenPermission": rpc.Method(
                communities.create_token_permission,
                (rpc.Param("*requests.CreateCommunityTokenPermission"),)),
            "reevaluateCommunityMembersPermissions": rpc.Method(
                communities.reevaluate,
                (rpc.Param("*requests.ReevaluateCommunityMembersPermissions"),)),
        }
        methods = {f"wakuext_{name}": method for name, method in own.items()}
        methods.update(self._archives.methods())
        return methods

    def start_messenger(self) -> dict:
        with self._ctx.lock:
            if self._started:
                raise rpc.RpcError("messenger already started")
            self._started = True
        self._ctx.transport.start()
        self._archives.start()
        return responses.messenger_response()

    def close(self) -> None:
        """Logout: archive service stopped, transport closed, database closed."""
        self._archives.stop()
        self._ctx.transport.close()
        self._db.close()

    def _create_community(self, values: object) -> dict:
        """CreateCommunity, then the archive loop if the archive manager is started."""
        response = self._communities.create(values)
        self._archives.community_created(response["communities"][0]["id"])
        return response

    # --- seams.CommunityDirectory -------------------------------------------------------------
    def community(self, community_id: str) -> CommunityInfo | None:
        with self._ctx.lock:
            row = self._ctx.book.get(community_id)
            return self._ctx.book.info(row) if row is not None else None

    def controlled_communities(self) -> list[CommunityInfo]:
        with self._ctx.lock:
            return [self._ctx.book.info(row) for row in self._ctx.book.controlled()]

    def dispatch_archive_link(self, community_id: str, link: str) -> None:
        """CommunityMessageArchiveLink{clock: now ms, archiveLink} on the universal chat."""
        ctx = self._ctx
        with ctx.lock:
            row = ctx.controlled(community_id)
            ctx.publish(row.id, {"type": "community_archive_link", "communityId": row.id,
                                 "clock": ctx.now_ms(), "archiveLink": link}, row.private_key)

    def handle_archive_messages(self, community_id: str,
                                messages: Sequence[StoredMessage]) -> int:
        return self._chat_messages.from_archive(messages)

    # --- inbound ------------------------------------------------------------------------------
    def _receive(self, envelope: Envelope) -> None:
        """One envelope from the relay (the transport logs and drops what raises here). Calls
        into the archive service that may wait for its tasks run after the lock is released."""
        ctx = self._ctx
        try:
            with ctx.lock:
                self._handle(envelope)
        finally:
            with ctx.lock:
                deferred, ctx.deferred[:] = list(ctx.deferred), []
            for call in deferred:
                call()

    def _handle(self, envelope: Envelope) -> None:
        """As Waku filters do, only this node's topics are read: its channels' and those of
        the communities it knows or is fetching."""
        if self._chat_messages.chat_of_topic(envelope.content_topic) is not None:
            self._chat_messages.receive(envelope)
            return
        known = [row.id for row in self._ctx.store.communities()]
        community_id = next((cid for cid in [*known, *self._communities.fetching]
                             if topic_of(cid) == envelope.content_topic), None)
        if community_id is None:
            return
        body = json.loads(envelope.payload)
        if not isinstance(body, dict) or body.get("communityId") != community_id:
            raise ValueError("not a message of the community whose topic it is on")
        handler = self._handlers.get(body.get("type"))
        if handler is None:
            raise ValueError(f"unknown message type {body.get('type')!r}")
        handler(envelope, body)

    def _on_archive_link(self, envelope: Envelope, body: dict) -> None:
        community_id = body["communityId"]
        link, clock = body.get("archiveLink"), body.get("clock")
        if not (isinstance(link, str) and isinstance(clock, int)):
            raise ValueError("archive link message without link or clock")
        if not self._ctx.from_community(envelope, community_id):
            raise ValueError("archive link not from the community's control node")
        row = self._ctx.book.get(community_id)
        if row is not None and row.private_key is None:
            self._ctx.deferred.append(
                lambda: self._archives.archive_link_received(community_id, link, clock))
