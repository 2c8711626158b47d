"""The scenario journal, fed by each domain's clients talking to real local servers: a tiny
``http.server``, an emulated Codex node, a gRPC gate served from the wire stubs, and the chat web
client's event stream."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import grpc
import pytest
import requests
from google.protobuf import any_pb2

from support.chat.client import ChatClient, ChatError
from support.chat.http_client import ChatHttpClient
from support.codex.nodes import CodexFleet, NodeOptions
from support.codex.world import CodexWorld
from support.config import Settings
from support.journal import EXCERPT, Call, Exchange, Frame, Journal, Note, StreamEvent
from support.processes.ports import reserve_port
from wire.pb.chat import chat_pb2
from wire.pb.gate import gate_pb2, gate_pb2_grpc


def _packed(message: Any) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def _pushed(text: str) -> any_pb2.Any:
    return _packed(chat_pb2.Client_NewMessageNotification(
        message=chat_pb2.ChatMessage(user_name="bob", message=text, timestamp=1)))


class _Handler(BaseHTTPRequestHandler):
    """``/text`` and ``/big`` answer bodies, ``/events/stream`` two server-sent events and
    stays open, ``/call`` a JSON reply (a chat gate's call, as the web client reads it); over
    HTTP/1.1 with a chunked event stream, as the gates serve it."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *_: object) -> None:
        pass

    def _answer(self, status: int, body: bytes, kind: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/text":
            self._answer(200, b"hello")
        elif self.path == "/big":
            self._answer(200, b"x" * (EXCERPT * 3))
        elif self.path.endswith("/events/stream"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            payload = base64.b64encode(_pushed("hi there").SerializeToString()).decode()
            for event in (b'event: register\ndata: {"clientId": "web-1"}\n\n',
                          f'event: message\ndata: {{"payload": "{payload}"}}\n\n'.encode()):
                self.wfile.write(f"{len(event):x}\r\n".encode() + event + b"\r\n")
            self.wfile.flush()
            self.server.hold.wait(10)  # type: ignore[attr-defined]
        else:
            self._answer(404, b"no such thing")

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        reply = base64.b64encode(_packed(chat_pb2.ChatRoom_ListResponse(
            chat_rooms=["General"])).SerializeToString()).decode()
        self._answer(200, json.dumps({"response": reply}).encode(), "application/json")


@pytest.fixture(scope="module")
def http_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.hold = threading.Event()  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.hold.set()  # type: ignore[attr-defined]
    server.shutdown()
    server.server_close()


def _session(journal: Journal) -> requests.Session:
    session = requests.Session()
    journal.attach(session)
    return session


def _of(journal: Journal, kind: type) -> list[Any]:
    return [entry for entry in journal.entries() if isinstance(entry, kind)]


def test_requests_and_responses_are_kept_with_excerpted_bodies(http_server: str) -> None:
    journal = Journal()
    session = _session(journal)
    session.get(f"{http_server}/text")
    session.post(f"{http_server}/call", json={"ask": "rooms"})
    session.get(f"{http_server}/nothing")
    session.get(f"{http_server}/big")
    text, call, missing, big = _of(journal, Exchange)
    assert (text.method, text.url, text.status) == ("GET", f"{http_server}/text", 200)
    assert text.response_body == "body: 'hello'"
    assert call.method == "POST" and '"ask": "rooms"' in call.request_body
    assert missing.status == 404 and "no such thing" in missing.response_body
    assert f"({EXCERPT * 3} bytes)" in big.response_body
    assert len(big.response_body) < EXCERPT + 100
    rendered = journal.render()
    assert f"GET {http_server}/nothing  ->  404" in rendered


def test_a_streamed_body_is_left_to_its_reader(http_server: str) -> None:
    journal = Journal()
    with _session(journal).get(f"{http_server}/big", stream=True) as response:
        assert response.raw.read() == b"x" * (EXCERPT * 3)  # nothing was read before
    (exchange,) = _of(journal, Exchange)
    assert exchange.response_body == "(streamed response, not captured)"


def test_a_request_without_an_answer_is_kept_with_its_error() -> None:
    journal = Journal()
    free = reserve_port()  # held, and never listened on
    url = f"http://127.0.0.1:{free.port}/api"
    with pytest.raises(requests.ConnectionError):
        _session(journal).get(url, timeout=2)
    free.release()
    (exchange,) = _of(journal, Exchange)
    assert exchange.status == 0 and "ConnectionError" in exchange.error
    assert f"GET {url}  ->  no answer: ConnectionError" in journal.render()


def test_a_poll_is_one_entry_with_a_count_and_the_journal_stays_bounded(
        http_server: str) -> None:
    journal = Journal(capacity=3)
    session = _session(journal)
    for _ in range(5):
        session.get(f"{http_server}/text")
    assert len(journal.entries()) == 1
    assert "then 4 more time(s) alike" in journal.render()
    for index in range(4):
        journal.note(f"step {index}")
    assert [type(entry) for entry in journal.entries()] == [Note, Note, Note]
    assert journal.render().startswith("(6 earlier entries left out: the journal keeps the "
                                       "last 3)")


def test_json_rpc_calls_that_differ_only_in_their_number_are_one_poll(http_server: str) -> None:
    journal = Journal()
    session = _session(journal)
    for number in (1, 2, 3):
        session.post(f"{http_server}/call", json={"jsonrpc": "2.0", "id": number,
                                                  "method": "wakuext_chatMessages"})
    session.post(f"{http_server}/call", json={"jsonrpc": "2.0", "id": 4, "method": "other"})
    first, other = _of(journal, Exchange)
    assert '"id": 1' in first.request_body and '"method": "other"' in other.request_body
    assert "then 2 more time(s) alike" in journal.render()
    assert f"POST {http_server}/call wakuext_chatMessages  ->  200" in journal.render()


def test_recording_from_many_threads_loses_nothing() -> None:
    journal = Journal(capacity=10_000)

    def feed(thread: int) -> None:
        for index in range(500):
            journal.record_frame(f"ws://127.0.0.1/{thread}", f"frame {index}")

    threads = [threading.Thread(target=feed, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(journal.entries()) == 4000


def test_every_codex_client_of_the_world_is_journaled(tmp_path: Path) -> None:
    journal = Journal()
    fleet = CodexFleet(Settings(), tmp_path / "work", tmp_path / "logs", journal)
    try:
        fleet.start("A", options=NodeOptions(block_retries=1))
        world = CodexWorld(fleet, tmp_path / "files")
        world.upload("A", world.new_file(1000), filename="café.txt", by="Alice")
        world.download_concurrently("A", 2)  # two more clients of node A
    finally:
        fleet.close()
    notes = [note.text for note in _of(journal, Note)]
    assert notes == ["Alice uploads a 1000 bytes file to node A"]
    cid = world.last_upload.cid
    exchanges = _of(journal, Exchange)
    (upload,) = [e for e in exchanges if e.method == "POST"]
    assert upload.url.endswith("/api/codex/v1/data") and upload.status == 200
    assert upload.request_headers["Content-Disposition"] == 'filename="café.txt"'  # raw UTF-8
    assert "User-Agent" not in upload.request_headers  # what requests sends on every request
    (download,) = [e for e in exchanges if e.method == "GET" and e.url.endswith(f"/data/{cid}")]
    assert download.status == 200
    assert "then 1 more time(s) alike" in journal.render()  # the two identical downloads


class _Gate(gate_pb2_grpc.GateServiceServicer):
    """A gate that registers anyone, pushes one message, lists rooms and refuses joins."""

    def __init__(self) -> None:
        self.stop = threading.Event()

    def Register(self, request: gate_pb2.Empty,  # noqa: N802 - gRPC method names
                 context: grpc.ServicerContext) -> Iterator[any_pb2.Any]:
        yield _packed(gate_pb2.RegisterResponse(client_id="grpc-1"))
        yield _pushed("welcome")
        while context.is_active() and not self.stop.wait(0.05):
            pass

    def CallObject(self, request: gate_pb2.CallObjectRequest,  # noqa: N802
                   context: grpc.ServicerContext) -> gate_pb2.CallObjectResponse:
        if request.method == "Join":
            context.abort(grpc.StatusCode.PERMISSION_DENIED, "not on the guest list")
        return gate_pb2.CallObjectResponse(response=_packed(
            chat_pb2.ChatRoom_ListResponse(chat_rooms=["General", "Crypto"])))


@pytest.fixture
def gate() -> Iterator[str]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    servicer = _Gate()
    gate_pb2_grpc.add_GateServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"127.0.0.1:{port}"
    servicer.stop.set()
    server.stop(grace=None)


def _wait_for(journal: Journal, seen: Any, what: str) -> None:
    deadline = time.monotonic() + 5
    while not seen(journal.entries()):
        assert time.monotonic() < deadline, f"{what} never reached the journal:\n" \
                                            f"{journal.render()}"
        time.sleep(0.02)


def test_grpc_calls_and_the_push_stream_are_journaled(gate: str) -> None:
    journal = Journal()
    alice = ChatClient(gate, "alice", "000000", journal=journal, caller="Alice")
    assert alice.register() == "grpc-1"
    alice.wait_for("welcome", 5)
    assert alice.list_rooms() == ["General", "Crypto"]
    with pytest.raises(ChatError):
        alice.join("General")
    alice.close()
    _wait_for(journal, lambda entries: any("ended" in getattr(e, "text", "") for e in entries),
              "the stream's end")
    listed, refused = _of(journal, Call)
    assert (listed.method, listed.caller, listed.target, listed.status) == (
        "/gate.GateService/CallObject", "Alice", gate, "OK")
    assert 'method: "ListChatRooms"' in listed.request and '"Crypto"' in listed.response
    assert (refused.status, refused.response) == ("PERMISSION_DENIED", "not on the guest list")
    stream = [e.text for e in _of(journal, StreamEvent)]
    assert stream[0] == "opened; request: (empty)"
    assert stream[1].startswith("message 1: ") and 'client_id: "grpc-1"' in stream[1]
    assert 'message: "welcome"' in stream[2]
    assert stream[-1].startswith("ended  ->  CANCELLED after") and "2 message(s)" in stream[-1]
    rendered = journal.render()
    assert f"gRPC /gate.GateService/CallObject by Alice on {gate}  ->  PERMISSION_DENIED" \
        in rendered


def test_a_refused_stream_is_journaled_with_its_status() -> None:
    journal = Journal()
    free = reserve_port()  # held, and never listened on
    visitor = ChatClient(f"127.0.0.1:{free.port}", None, None, timeout=1, journal=journal)
    with pytest.raises(ChatError):
        visitor.register()
    visitor.close()
    free.release()
    _wait_for(journal, lambda entries: len(entries) >= 2, "the stream's end")
    ended = _of(journal, StreamEvent)[-1]
    assert ended.caller == "a nameless client"
    assert ended.text.startswith("ended  ->  UNAVAILABLE")


def test_the_web_client_journals_its_calls_and_the_events_it_receives(http_server: str) -> None:
    journal = Journal()
    bob = ChatHttpClient(http_server, "bob", "000000", journal=journal)
    assert bob.register() == "web-1"
    bob.wait_for("hi there", 5)
    assert bob.list_rooms() == ["General"]
    bob.close()
    stream, call = _of(journal, Exchange)
    assert (stream.method, stream.url, stream.status) == ("GET", bob.events_url, 200)
    assert stream.response_body == "(streamed response, not captured)"
    assert call.url.endswith("/api/v1/objects/call/ChatRoomMgr/ChatRoomMgr0/ListChatRooms")
    (note,) = _of(journal, Note)  # what the base64 body holds
    assert note.text == ("bob calls ListChatRooms on ChatRoomMgr0 from a web page with "
                         "[type.googleapis.com/chat.ChatRoom_ListRequest] { }")
    register, message = _of(journal, Frame)
    assert (register.kind, register.url) == ("event", bob.events_url)
    assert register.text == 'register: {"clientId": "web-1"}'
    assert message.text.startswith("message: [type.googleapis.com/chat.Client_NewMessageNot")
    assert 'message: "hi there"' in message.text
