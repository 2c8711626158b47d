"""The emulated messenger (wakuext community methods) over a real relay process: communities,
chats, joining (auto and manual), messages live and paged, the control node's raw Waku messages,
encrypted communities' keys, messages from the past, and relay robustness."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from websockets.sync.client import connect

from emulators.community import keys, rpc
from emulators.community.messenger import Messenger
from emulators.community.seams import (
    ENV_BACKDATING,
    ENV_TOKEN_LEDGER,
    Account,
    LoginConfig,
)
from emulators.community.transport import Envelope
from support.processes.ports import reserve_port
from wire.archive_codec import StoredMessage, chat_topic, keccak256

DEADLINE = 15.0
PYTHON = sys.executable
CHAT_PAYLOAD = {"identity": {"displayName": "chat_x", "emoji": "😀", "color": "#1f2c75",
                             "description": "chat_x"},
                "viewersCanPostReactions": False, "hideIfPermissionsNotMet": False,
                "permissions": {"access": 1}}


# --- processes and nodes ----------------------------------------------------------------------
@dataclass
class Relay:
    port: int
    process: subprocess.Popen

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"


def start_relay(port: int) -> Relay:
    process = subprocess.Popen([PYTHON, "-m", "emulators.waku_relay", "--address",
                                f"127.0.0.1:{port}"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    ready = threading.Event()
    lines: list[str] = []

    def read() -> None:
        lines.append(process.stdout.readline())
        ready.set()

    threading.Thread(target=read, daemon=True).start()
    assert ready.wait(DEADLINE), "the relay never said it was listening"
    assert lines[0].startswith(f"waku relay listening on ws://127.0.0.1:{port}"), lines
    return Relay(port, process)


def stop_relay(relay: Relay) -> int:
    relay.process.send_signal(signal.SIGTERM)
    return relay.process.wait(timeout=DEADLINE)


@pytest.fixture()
def relay() -> Iterator[Relay]:
    reservation = reserve_port()
    running = start_relay(reservation.port)
    yield running
    if running.process.poll() is None:
        stop_relay(running)
    reservation.release()


class Signals:
    """A SignalSink that keeps every signal and lets a test wait for one."""

    def __init__(self) -> None:
        self.items: list[tuple[str, object]] = []
        self._changed = threading.Condition()

    def send(self, signal_type: str, event: object) -> None:
        with self._changed:
            self.items.append((signal_type, json.loads(json.dumps(event))))
            self._changed.notify_all()

    def wait(self, predicate: Callable[[dict], bool], signal_type: str = "messages.new",
             timeout: float = DEADLINE) -> dict:
        def found() -> dict | None:
            return next((event for kind, event in self.items
                         if kind == signal_type and predicate(event)), None)

        with self._changed:
            assert self._changed.wait_for(lambda: found() is not None, timeout), \
                f"no {signal_type} matching; seen {[kind for kind, _ in self.items]}"
            return found()


@dataclass
class Node:
    messenger: Messenger
    signals: Signals
    account: Account
    stored: list[StoredMessage] = field(default_factory=list)
    stored_changed: threading.Condition = field(default_factory=threading.Condition)

    def wait_stored(self, count: int) -> bool:
        """Until the archive service was handed ``count`` raw Waku messages."""
        with self.stored_changed:
            return self.stored_changed.wait_for(lambda: len(self.stored) >= count, DEADLINE)

    def call(self, method: str, *params: object) -> object:
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": f"wakuext_{method}",
                           "params": list(params)}).encode()
        reply = rpc.call_raw(body, self.messenger.methods())
        if "error" in reply:
            raise RpcFailedError(reply["error"]["code"], reply["error"]["message"])
        return reply["result"]


class RpcFailedError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def make_account(name: str) -> Account:
    secret = keys.new_secret()
    public = "0x" + keys.public_bytes(secret, compressed=False).hex()
    return Account("0x" + keccak256(secret).hex(), name, secret, public)


@pytest.fixture()
def nodes(tmp_path: Path, relay: Relay) -> Iterator[Callable[[str], Node]]:
    fleets = tmp_path / "fleets.json"
    fleets.write_text(json.dumps({"fleets": {"acceptance.local": {"tcp/p2p/waku": {
        "relay": f"/ip4/127.0.0.1/tcp/{relay.port}/ws"}}}}))
    made: list[Node] = []

    def make(name: str) -> Node:
        config = LoginConfig(tmp_path / name, fleets, "acceptance.local")
        signals, account = Signals(), make_account(name)
        node = Node(Messenger(account, config, signals), signals, account)
        archives = node.messenger._archives
        original = archives.store_waku_message

        def spy(message: StoredMessage) -> None:
            original(message)
            with node.stored_changed:
                node.stored.append(message)
                node.stored_changed.notify_all()

        archives.store_waku_message = spy
        node.call("startMessenger")
        assert node.messenger._ctx.transport.wait_connected(DEADLINE)
        made.append(node)
        return node

    yield make
    for node in made:
        node.messenger.close()


def create_community(owner: Node, membership: int = 1, name: str = "Community") -> dict:
    return owner.call("createCommunity", {"membership": membership, "name": name,
                                          "color": "#ffffff", "description": name, "image": "",
                                          "imageAx": 0, "imageAy": 0, "imageBx": 0, "imageBy": 0,
                                          "historyArchiveSupportEnabled": True})


def join(owner: Node, member: Node, community_id: str, address: str = "fakeaddress") -> dict:
    """The functional tests' join flow for an auto-accept community."""
    member.call("fetchCommunity", {"communityKey": community_id, "waitForResponse": True,
                                   "tryDatabase": True})
    response = member.call("requestToJoinCommunity", {
        "communityId": community_id, "addressesToReveal": [address], "airdropAddress": address,
        "signatures": None})
    assert response["requestsToJoinCommunity"][0]["state"] == 1
    return member.signals.wait(lambda e: any(c["id"] == community_id and c["joined"]
                                             for c in e.get("communities", [])))


def general_chat(response: dict) -> str:
    return response["chats"][0]["id"]


# --- communities and chats --------------------------------------------------------------------
def test_create_community_answers_a_messenger_response_with_the_general_chat(nodes) -> None:
    owner = nodes("owner")
    response = create_community(owner)
    community = response["communities"][0]
    assert re.fullmatch(r"0x0[23][0-9a-f]{64}", community["id"])
    assert response["notifications"] is None and response["discordOldestMessageTimestamp"] == 0
    chat = response["chats"][0]
    assert chat["name"] == "general" and chat["chatType"] == 6
    assert re.fullmatch(re.escape(community["id"]) + r"[0-9a-f-]{36}", chat["id"])
    assert chat["communityId"] == community["id"] and chat["lastMessage"] is None
    assert community["isControlNode"] and community["joined"] and community["memberRole"] == 1
    assert community["members"] == {owner.account.public_key: {"roles": [1]}}
    assert community["encrypted"] is False and community["muteTill"] == "0001-01-01T00:00:00Z"
    assert [c["name"] for c in community["chats"].values()] == ["general"]
    assert response["communitiesSettings"] == [{"communityId": community["id"],
                                                "historyArchiveSupportEnabled": True,
                                                "clock": 0}]
    assert owner.call("chats")[0]["id"] == chat["id"]


def test_create_community_validates_as_status_go(nodes) -> None:
    owner = nodes("owner")
    with pytest.raises(RpcFailedError, match="create-community: invalid name"):
        owner.call("createCommunity", {"membership": 1, "description": "d", "color": "#fff"})
    with pytest.raises(RpcFailedError, match="create-community: invalid membership"):
        owner.call("createCommunity", {"name": "n", "description": "d", "color": "#fff"})
    with pytest.raises(RpcFailedError) as failure:
        owner.call("createCommunity", {"name": 5})
    assert failure.value.code == -32602
    with pytest.raises(RpcFailedError, match="messenger already started"):
        owner.call("startMessenger")


def test_create_community_chat_keeps_status_gos_field_decoding(nodes) -> None:
    owner = nodes("owner")
    community_id = create_community(owner)["communities"][0]["id"]
    response = owner.call("createCommunityChat", community_id, CHAT_PAYLOAD)
    chat = response["chats"][0]
    assert chat["id"].startswith(community_id)
    assert chat["color"] == "#1f2c75" and chat["emoji"] == "😀"
    assert chat["description"] == "chat_x" and chat["viewersCanPostReactions"] is False
    assert chat["name"] == ""  # displayName is not the protobuf's display_name json tag
    by_position = {c["position"]: c for c in response["communities"][0]["chats"].values()}
    assert by_position[0]["name"] == "general"
    assert by_position[1]["permissions"] == {"access": 1}
    assert chat["id"] == community_id + by_position[1]["id"]
    assert list(response["communityChanges"][0]["chatsAdded"]) == [by_position[1]["id"]]
    with pytest.raises(RpcFailedError, match="community not found"):
        owner.call("createCommunityChat", "0x02" + "11" * 32, CHAT_PAYLOAD)


# --- joining ----------------------------------------------------------------------------------
def test_auto_accept_join_from_a_second_node(nodes) -> None:
    owner, member = nodes("owner"), nodes("member")
    created = create_community(owner)
    community_id = created["communities"][0]["id"]
    assert member.call("fetchCommunity", {"communityKey": community_id}) is None
    found = member.signals.wait(lambda e: e["id"] == community_id, "community.found")
    assert found["name"] == "Community"
    fetched = member.call("fetchCommunity", {"communityKey": community_id,
                                             "waitForResponse": True, "tryDatabase": True})
    assert fetched["id"] == community_id and fetched["joined"] is False
    assert fetched["isControlNode"] is False and fetched["canJoin"] is True
    event = join(owner, member, community_id)
    assert event["chats"][0]["id"] == general_chat(created)
    assert member.call("latestRequestToJoinForCommunity", community_id)["state"] == 3
    joined = member.call("fetchCommunity", {"communityKey": community_id,
                                            "waitForResponse": True, "tryDatabase": True})
    assert joined["joined"] and joined["isMember"]
    assert member.call("chatMessages", general_chat(created), "", 1) == {"messages": None,
                                                                          "cursor": ""}
    owner.signals.wait(lambda e: any(r["state"] == 3 and r["publicKey"] ==
                                     member.account.public_key
                                     for r in e.get("requestsToJoinCommunity", [])))


def test_manual_accept_keeps_the_request_pending_until_accepted(nodes) -> None:
    owner, member = nodes("owner"), nodes("member")
    community_id = create_community(owner, membership=3)["communities"][0]["id"]
    member.call("fetchCommunity", {"communityKey": community_id, "waitForResponse": True,
                                   "tryDatabase": True})
    sent = member.call("requestToJoinCommunity", {
        "communityId": community_id, "addressesToReveal": ["fakeaddress"],
        "airdropAddress": "fakeaddress"})["requestsToJoinCommunity"][0]
    assert sent["state"] == 1 and sent["our"] is True
    assert sent["revealedAccounts"] == [{"address": "fakeaddress", "isAirdropAddress": True}]
    owner.signals.wait(lambda e: any(r["id"] == sent["id"]
                                     for r in e.get("requestsToJoinCommunity", [])))
    pending = owner.call("pendingRequestsToJoinForCommunity", community_id)
    assert [r["id"] for r in pending] == [sent["id"]] and pending[0]["our"] is False
    assert [r["id"] for r in owner.call("allNonApprovedCommunitiesRequestsToJoin")] == [sent["id"]]
    assert member.call("latestRequestToJoinForCommunity", community_id)["state"] == 1
    accepted = owner.call("acceptRequestToJoinCommunity", {"id": sent["id"]})
    assert accepted["requestsToJoinCommunity"][0]["state"] == 3
    member.signals.wait(lambda e: any(c["id"] == community_id and c["joined"]
                                      for c in e.get("communities", [])))
    assert owner.call("pendingRequestsToJoinForCommunity", community_id) is None
    with pytest.raises(RpcFailedError, match="accept-request-to-join-community: invalid id"):
        owner.call("acceptRequestToJoinCommunity", {})


def test_request_to_join_validates_as_status_go(nodes) -> None:
    member = nodes("member")
    with pytest.raises(RpcFailedError, match="request-to-join-community: invalid community id"):
        member.call("requestToJoinCommunity", {"addressesToReveal": []})
    with pytest.raises(RpcFailedError, match="airdropAddress is necessary"):
        member.call("requestToJoinCommunity", {"communityId": "0x02" + "11" * 32,
                                               "addressesToReveal": ["a"]})
    with pytest.raises(RpcFailedError, match="community not found"):
        member.call("requestToJoinCommunity", {"communityId": "0x02" + "11" * 32})
    with pytest.raises(RpcFailedError, match="invalid request: community key is too short"):
        member.call("fetchCommunity", {"communityKey": "0x"})


# --- messages ---------------------------------------------------------------------------------
def send(node: Node, chat_id: str, text: str, **extra: object) -> dict:
    return node.call("sendChatMessage", {"chatId": chat_id, "text": text, "contentType": 1,
                                         "responseTo": "", **extra})


def test_messages_reach_members_live_and_the_control_node_keeps_the_waku_message(nodes) -> None:
    owner, member = nodes("owner"), nodes("member")
    created = create_community(owner)
    community_id, chat_id = created["communities"][0]["id"], general_chat(created)
    join(owner, member, community_id)
    response = send(owner, chat_id, "hello")
    message = response["messages"][0]
    assert response["chats"][0]["lastMessage"]["text"] == "hello"
    assert re.fullmatch(r"0x[0-9a-f]{64}", message["id"])
    assert message["from"] == owner.account.public_key and message["chatId"] == chat_id
    assert message["contentType"] == 1 and message["messageType"] == 5
    event = member.signals.wait(lambda e: any(m["id"] == message["id"]
                                              for m in e.get("messages", [])))
    assert event["chats"][0]["id"] == chat_id
    assert member.call("chatMessages", chat_id, "", 10)["messages"][0]["text"] == "hello"

    reply = send(member, chat_id, "hi owner")["messages"][0]
    owner.signals.wait(lambda e: any(m["id"] == reply["id"] for m in e.get("messages", [])))
    rows = {row.hash: row for row in owner.stored}
    assert len(rows) == 2 and not member.stored
    for row, author in zip(owner.stored, (owner, member), strict=True):
        assert row.sig == bytes.fromhex(author.account.public_key[2:]) and len(row.sig) == 65
        assert row.topic == chat_topic(chat_id) and row.padding == b""
        assert re.fullmatch(r"[0-9a-f]{64}", row.hash)
        assert abs(row.timestamp - time.time()) < 60  # seconds, not ms or ns
    db_rows = owner.messenger._db.execute("SELECT hash, topic, timestamp FROM waku_messages")
    assert {r[0] for r in db_rows} == set(rows)
    assert {r[1] for r in db_rows} == {"0x" + chat_topic(chat_id).hex()}


def test_chat_messages_pages_newest_first(nodes) -> None:
    owner = nodes("owner")
    chat_id = general_chat(create_community(owner))
    assert owner.call("chatMessages", chat_id, "", 10) == {"messages": None, "cursor": ""}
    ids = [send(owner, chat_id, f"m{i}")["messages"][0]["id"] for i in range(3)]
    first = owner.call("chatMessages", chat_id, "", 2)
    assert [m["id"] for m in first["messages"]] == ids[:0:-1] and first["cursor"]
    second = owner.call("chatMessages", chat_id, first["cursor"], 2)
    assert [m["id"] for m in second["messages"]] == [ids[0]] and second["cursor"] == ""
    with pytest.raises(RpcFailedError, match="chat not found"):
        owner.call("chatMessages", "nochat", "", 1)
    with pytest.raises(RpcFailedError, match="chat not found"):
        send(owner, "nochat", "x")


def test_backdated_messages_are_stored_not_published(nodes, monkeypatch) -> None:
    monkeypatch.setenv(ENV_BACKDATING, "1")
    owner, member = nodes("owner"), nodes("member")
    created = create_community(owner)
    community_id, chat_id = created["communities"][0]["id"], general_chat(created)
    join(owner, member, community_id)
    past = int(time.time() * 1000) - 86_400_000
    old = send(owner, chat_id, "from the past", timestamp=past)["messages"][0]
    assert old["timestamp"] == past and old["whisperTimestamp"] == past
    assert [row.timestamp for row in owner.stored] == [past // 1000]
    now = send(owner, chat_id, "now")["messages"][0]
    member.signals.wait(lambda e: any(m["id"] == now["id"] for m in e.get("messages", [])))
    seen = [m["id"] for _, e in member.signals.items for m in e.get("messages", [])]
    assert old["id"] not in seen
    assert [m["id"] for m in owner.call("chatMessages", chat_id, "", 10)["messages"]] == \
        [now["id"], old["id"]]


def test_archived_messages_go_through_the_pipeline_once(nodes) -> None:
    owner, member = nodes("owner"), nodes("member")
    created = create_community(owner)
    community_id, chat_id = created["communities"][0]["id"], general_chat(created)
    sent = [send(owner, chat_id, f"before {i}")["messages"][0]["id"] for i in range(2)]
    assert owner.wait_stored(2)
    join(owner, member, community_id)
    assert member.call("chatMessages", chat_id, "", 10)["messages"] is None
    assert member.messenger.handle_archive_messages(community_id, owner.stored) == 2
    event = member.signals.wait(lambda e: len(e.get("messages", [])) == 2)
    assert {m["id"] for m in event["messages"]} == set(sent)
    assert member.messenger.handle_archive_messages(community_id, owner.stored) == 0
    info = member.messenger.community(community_id)
    assert info.joined and not info.control_node and info.universal_chat_id == community_id
    assert info.chat_ids == (chat_id,)
    assert [c.id for c in owner.messenger.controlled_communities()] == [community_id]


def test_a_node_logged_in_again_keeps_its_communities(nodes, tmp_path) -> None:
    owner = nodes("owner")
    created = create_community(owner)
    send(owner, general_chat(created), "kept")
    owner.messenger.close()
    config = LoginConfig(tmp_path / "owner", tmp_path / "fleets.json", "acceptance.local")
    again = Messenger(owner.account, config, Signals())
    try:
        node = Node(again, Signals(), owner.account)
        assert node.call("chats")[0]["id"] == general_chat(created)
        page = node.call("chatMessages", general_chat(created), "", 10)
        assert [m["text"] for m in page["messages"]] == ["kept"]
        assert node.call("fetchCommunity", {"communityKey": created["communities"][0]["id"],
                                            "tryDatabase": True})["isControlNode"] is True
    finally:
        again.close()


# --- encrypted communities --------------------------------------------------------------------
def test_the_community_key_reaches_only_an_eligible_member(nodes, tmp_path, monkeypatch) -> None:
    ledger = tmp_path / "ledger.json"
    ledger.write_text(json.dumps({"0xaaaa": ["TEST2"]}))
    monkeypatch.setenv(ENV_TOKEN_LEDGER, str(ledger))
    owner, rich, poor = nodes("owner"), nodes("rich"), nodes("poor")
    created = create_community(owner)
    community_id, chat_id = created["communities"][0]["id"], general_chat(created)
    permission = owner.call("createCommunityTokenPermission", {
        "communityId": community_id, "type": 1, "tokenCriteria": [{
            "contract_addresses": {"31337": "0x" + "12" * 20}, "type": 1, "symbol": "TEST2",
            "amount": "100", "decimals": 18}]})
    assert permission["communities"][0]["encrypted"] is True
    assert len(permission["communityChanges"][0]["tokenPermissionsAdded"]) == 1
    join(owner, rich, community_id, "0xAAAA")
    join(owner, poor, community_id, "0xbbbb")
    assert len(rich.messenger._ctx.keys.all(community_id)) == 1
    assert poor.messenger._ctx.keys.all(community_id) == []
    secret = send(owner, chat_id, "members only")["messages"][0]
    rich.signals.wait(lambda e: any(m["id"] == secret["id"] for m in e.get("messages", [])))

    ledger.write_text(json.dumps({"0xaaaa": ["TEST2"], "0xbbbb": ["TEST2"]}))
    owner.call("reevaluateCommunityMembersPermissions", {"communityId": community_id})
    # The message that waited for the key is read once it arrives, as status-go's pending
    # hash-ratchet messages are.
    poor.signals.wait(lambda e: any(m["id"] == secret["id"] for m in e.get("messages", [])))
    later = send(owner, chat_id, "now readable")["messages"][0]
    poor.signals.wait(lambda e: any(m["id"] == later["id"] for m in e.get("messages", [])))


# --- the relay --------------------------------------------------------------------------------
def test_malformed_relay_messages_are_survived(nodes, relay) -> None:
    owner, member = nodes("owner"), nodes("member")
    created = create_community(owner)
    community_id, chat_id = created["communities"][0]["id"], general_chat(created)
    join(owner, member, community_id)
    signer = keys.public_bytes(keys.new_secret(), compressed=False)
    garbage = [
        "not json", "[]", "{}", b"\x00\x01binary",
        json.dumps({"contentTopic": "0x1234", "timestamp": 1, "payload": "", "signer": "0x"}),
        Envelope(chat_topic(community_id), 1, b"\xff\xfe", signer).to_text(),
        Envelope(chat_topic(community_id), 1, b'{"type": "nope", "communityId": "x"}',
                 signer).to_text(),
        Envelope(chat_topic(community_id), 1, json.dumps({
            "type": "community_description", "communityId": community_id,
            "description": {"clock": 1 << 62}}).encode(), signer).to_text(),
        Envelope(chat_topic(chat_id), 1, b"{]", signer).to_text(),
        Envelope(chat_topic(chat_id), 1, json.dumps({"chatId": chat_id}).encode(),
                 signer).to_text(),
    ]
    with connect(relay.url) as raw:
        for frame in garbage:
            raw.send(frame)
    after = send(owner, chat_id, "still alive")["messages"][0]
    member.signals.wait(lambda e: any(m["id"] == after["id"] for m in e.get("messages", [])))
    assert member.call("fetchCommunity", {"communityKey": community_id,
                                          "tryDatabase": True})["name"] == "Community"


def test_nodes_reconnect_when_the_relay_comes_back(nodes, relay) -> None:
    owner, member = nodes("owner"), nodes("member")
    created = create_community(owner)
    community_id, chat_id = created["communities"][0]["id"], general_chat(created)
    join(owner, member, community_id)
    assert stop_relay(relay) == 0
    restarted = start_relay(relay.port)
    relay.process = restarted.process
    for node in (owner, member):
        assert node.messenger._ctx.transport.wait_connected(DEADLINE)
    message = send(owner, chat_id, "after the restart")["messages"][0]
    member.signals.wait(lambda e: any(m["id"] == message["id"] for m in e.get("messages", [])))


def receive_until(client, expected: str) -> bool:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        if client.recv(timeout=deadline - time.monotonic()) == expected:
            return True
    return False


def test_relay_echoes_to_every_node_and_refuses_bad_addresses(relay) -> None:
    with connect(relay.url) as first, connect(relay.url) as second:
        for name, client in (("first", first), ("second", second)):
            client.send(f"{name} is here")  # its own echo: the relay has it in its set
            assert receive_until(client, f"{name} is here")
        first.send("hello")
        assert receive_until(first, "hello") and receive_until(second, "hello")
    for address, text in (("127.0.0.1", "missing port in address"),
                          (f"127.0.0.1:{relay.port}", "address already in use")):
        result = subprocess.run([PYTHON, "-m", "emulators.waku_relay", "--address", address],
                                check=False, capture_output=True, text=True,
                                timeout=DEADLINE)
        assert result.returncode == 1
        assert len(result.stderr.strip().splitlines()) == 1 and text in result.stderr
