"""Joining a community: requests to join (member side), their acceptance (control node side,
automatic for membership 1, by ``acceptRequestToJoinCommunity`` for 3), and the community keys
an eligible member gets with its acceptance or on re-evaluation."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace

from cryptography.exceptions import InvalidTag

from emulators.community import errors, keys, responses, rpc
from emulators.community import wakuext_requests as req
from emulators.community.context import NodeContext
from emulators.community.persistence.messenger import CommunityRow, RequestRow
from emulators.community.transport import Envelope
from wire.archive_codec import keccak256

STATE_PENDING = 1
STATE_ACCEPTED = 3


def request_id(public_key: str, community_id: str) -> str:
    """communities.CalculateRequestID: keccak256("<public key>-<community id>")."""
    return "0x" + keccak256(f"{public_key}-{community_id}".encode()).hex()


class Joining:
    """Requests to join and community keys, on both sides."""

    def __init__(self, ctx: NodeContext, keys_arrived: Callable[[str], None]) -> None:
        self._ctx = ctx
        self._keys_arrived = keys_arrived

    # --- RPC ----------------------------------------------------------------------------------
    def request_to_join(self, values: object) -> dict:
        request = req.RequestToJoin.parse(values)
        request.validate()
        ctx = self._ctx
        with ctx.lock:
            row = ctx.community(request.community_id)
            if row.joined:
                raise rpc.RpcError("already joined")
            clock = ctx.now_ms() // 1000
            revealed = [{"address": address, "isAirdropAddress": address == request.airdrop_address}
                        for address in request.addresses]
            ours = RequestRow(request_id(ctx.me, row.id), ctx.me, clock, request.ens_name, "",
                              row.id, STATE_PENDING, True, revealed)
            ctx.store.save_request(ours)
            row = replace(row, requested_to_join_at=clock)
            ctx.store.save_community(row)
            ctx.publish(row.id, {"type": "request_to_join", "communityId": row.id,
                                 "clock": clock, "ensName": request.ens_name,
                                 "displayName": ctx.account.display_name,
                                 "revealedAccounts": revealed})
            return responses.messenger_response(requests=[responses.request_to_join(ours)],
                                                communities=[ctx.book.community_json(row)])

    def accept_request_to_join(self, values: object) -> dict:
        rid = req.required_id(values, "requests.AcceptRequestToJoinCommunity", "id",
                              "accept-request-to-join-community: invalid id")
        ctx = self._ctx
        with ctx.lock:
            request = ctx.store.request(rid)
            if request is None:
                raise rpc.RpcError(errors.NO_ROWS)
            row, request = self._accept(ctx.controlled(request.community_id), request)
            return responses.messenger_response(requests=[responses.request_to_join(request)],
                                                communities=[ctx.book.community_json(row)])

    def latest_request_to_join(self, community_id: str) -> dict:
        with self._ctx.lock:
            request = self._ctx.store.request(request_id(self._ctx.me, community_id.lower()))
        if request is None:
            raise rpc.RpcError(errors.NO_ROWS)
        return responses.request_to_join(request)

    def pending_requests(self, community_id: str) -> list[dict] | None:
        with self._ctx.lock:
            rows = self._ctx.store.requests(community_id.lower(), STATE_PENDING)
        return [responses.request_to_join(row) for row in rows] or None

    def non_approved_requests(self) -> list[dict] | None:
        with self._ctx.lock:
            rows = [row for row in self._ctx.store.requests() if row.state != STATE_ACCEPTED]
        return [responses.request_to_join(row) for row in rows] or None

    # --- control node -------------------------------------------------------------------------
    def _accept(self, row: CommunityRow, request: RequestRow) -> tuple[CommunityRow, RequestRow]:
        """The requester becomes a member and gets the description, the keys it is eligible
        for and the last archive link."""
        ctx = self._ctx
        row = ctx.book.add_member(row, request.public_key, ctx.now_ms())
        request = replace(request, state=STATE_ACCEPTED)
        ctx.store.save_request(request)
        ctx.publish(row.id, {
            "type": "request_to_join_response", "communityId": row.id,
            "recipient": request.public_key, "accepted": True, "clock": ctx.now_ms(),
            "description": row.description, "keys": self._sealed_keys(row, request),
            "archiveLink": ctx.archives.last_archive_link(row.id)}, row.private_key)
        ctx.publish_description(row)
        return row, request

    def _sealed_keys(self, row: CommunityRow, request: RequestRow) -> str | None:
        """The community keys sealed for an eligible member not holding them all yet."""
        ctx = self._ctx
        if not responses.encrypted(row.description):
            return None
        addresses = [account.get("address", "") for account in request.revealed_accounts]
        if not keys.eligible_for_key(row.description.get("token_permissions") or {}, addresses):
            return None
        community_keys = ctx.keys.all(row.id)
        sent = ctx.store.keys_sent(row.id, request.public_key)
        if not community_keys or all(key.key_id in sent for key in community_keys):
            return None
        ctx.store.mark_keys_sent(row.id, request.public_key,
                                 [key.key_id for key in community_keys])
        plain = json.dumps([{"key": key.key.hex(), "timestamp": key.timestamp}
                            for key in community_keys]).encode()
        return keys.seal(request.public_key, plain)

    def share_keys(self, row: CommunityRow) -> None:
        """Send the community keys to every accepted member now eligible for them."""
        for request in self._ctx.store.requests(row.id, STATE_ACCEPTED):
            sealed = self._sealed_keys(row, request)
            if sealed is not None:
                self._ctx.publish(row.id, {"type": "community_keys", "communityId": row.id,
                                           "recipient": request.public_key, "keys": sealed},
                                  row.private_key)

    def on_request_to_join(self, envelope: Envelope, body: dict) -> None:
        ctx = self._ctx
        row = ctx.book.get(body["communityId"])
        if row is None or row.private_key is None:
            return
        requester = ctx.signer(envelope)
        revealed = [account for account in body.get("revealedAccounts") or []
                    if isinstance(account, dict) and isinstance(account.get("address"), str)]
        request = ctx.store.request(request_id(requester, row.id))
        if request is None or request.state != STATE_ACCEPTED:
            clock = body.get("clock") if isinstance(body.get("clock"), int) else 0
            request = RequestRow(request_id(requester, row.id), requester, clock,
                                 str(body.get("ensName") or ""), "", row.id, STATE_PENDING,
                                 False, revealed)
            ctx.store.save_request(request)
        access = (row.description.get("permissions") or {}).get("access")
        if request.state == STATE_ACCEPTED or access == responses.ACCESS_AUTO_ACCEPT:
            row, request = self._accept(row, request)
        ctx.emit(responses.messenger_response(requests=[responses.request_to_join(request)],
                                              communities=[ctx.book.community_json(row)]))

    # --- member -------------------------------------------------------------------------------
    def on_join_response(self, envelope: Envelope, body: dict) -> None:
        ctx = self._ctx
        community_id, description = body["communityId"], body.get("description")
        if body.get("recipient") != ctx.me or not body.get("accepted"):
            return
        if not isinstance(description, dict) or not ctx.from_community(envelope, community_id):
            raise ValueError("join response not from the community's control node")
        row = ctx.book.get(community_id) or CommunityRow(
            community_id, description, None, False, 0, False, 0, False, False, False)
        row = replace(row, description=description, joined=True,
                      joined_at=ctx.now_ms() // 1000, spectated=False,
                      history_archive_support_enabled=True)  # initCommunitySettings
        ctx.store.save_community(row)
        request = ctx.store.request(request_id(ctx.me, community_id))
        if request is not None:
            request = replace(request, state=STATE_ACCEPTED)
            ctx.store.save_request(request)
        ctx.book.ensure_chats(row, ctx.now_ms())
        chats = [ctx.book.chat_json(chat) for chat in ctx.store.chats()
                 if chat.community_id == community_id]
        ctx.emit(responses.messenger_response(
            chats=chats or None,
            requests=[responses.request_to_join(request)] if request is not None else None,
            communities=[ctx.book.community_json(row)],
            settings=[responses.community_settings(row)]))
        self._take_keys(community_id, body.get("keys"))
        link = body.get("archiveLink")
        if isinstance(link, str) and link:
            ctx.deferred.append(lambda: ctx.archives.joined_with_archive_link(community_id, link))

    def on_community_keys(self, envelope: Envelope, body: dict) -> None:
        community_id = body["communityId"]
        if body.get("recipient") != self._ctx.me:
            return
        if not self._ctx.from_community(envelope, community_id):
            raise ValueError("community keys not from the community's control node")
        self._take_keys(community_id, body.get("keys"))

    def _take_keys(self, community_id: str, sealed: object) -> None:
        if not isinstance(sealed, str):
            return
        try:
            entries = json.loads(keys.unseal(self._ctx.account.private_key, sealed))
        except InvalidTag as exc:
            raise ValueError("community keys not sealed for this node") from exc
        for entry in entries:
            self._ctx.keys.add(community_id, bytes.fromhex(entry["key"]), int(entry["timestamp"]))
        self._keys_arrived(community_id)
