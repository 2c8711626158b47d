"""The gate's HTTP client API (goverse.md §2.2.3), against a running emulated cluster."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest
import requests
from google.protobuf.any_pb2 import Any

from emulators.goverse.http_gate import HttpError, decode_any, request_field
from support.chat.cluster import ChatCluster
from support.chat.http_client import ChatHttpClient
from support.config import Settings
from support.etcd import EtcdServer
from wire.pb.chat import chat_pb2

AUTH = {"X-Goverse-Auth": json.dumps({"x-username": "alice", "x-password": "000000"})}
CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, PUT, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, X-Client-ID, Authorization, X-Goverse-Auth",
    "Access-Control-Max-Age": "86400",
}


@pytest.fixture(scope="module")
def gate_url(etcd: EtcdServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    base = tmp_path_factory.mktemp("http-gate")
    cluster = ChatCluster(Settings(), etcd.endpoint, base / "work", base / "logs")
    try:
        cluster.start(nodes=1, gates=1)
        yield f"http://{cluster.gates['gate-1'].http_address}"
        assert set(cluster.stop().values()) == {0}
    finally:
        cluster.stop()


def _packed(message: object) -> str:
    wrapped = Any()
    wrapped.Pack(message)
    return base64.b64encode(wrapped.SerializeToString()).decode()


def _call(gate_url: str, path: str, body: object, **headers: str) -> requests.Response:
    return requests.post(f"{gate_url}/api/v1/objects/call/{path}", json=body, timeout=10,
                         headers={**AUTH, **headers})


def test_a_call_answers_the_object_reply_in_base64_as_go_encodes_json(gate_url: str) -> None:
    answer = _call(gate_url, "ChatRoomMgr/ChatRoomMgr0/ListChatRooms",
                   {"request": _packed(chat_pb2.ChatRoom_ListRequest())})
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.text.endswith("}\n")
    assert "Server" not in answer.headers
    assert {k: answer.headers[k] for k in CORS} == CORS
    reply = chat_pb2.ChatRoom_ListResponse()
    Any.FromString(base64.b64decode(answer.json()["response"])).Unpack(reply)
    assert list(reply.chat_rooms) == ["General", "Technology", "Crypto", "Sports", "Movies"]


def test_a_preflight_gets_the_cors_headers_and_no_content(gate_url: str) -> None:
    answer = requests.options(f"{gate_url}/api/v1/objects/call/A/b/C", timeout=10)
    assert answer.status_code == 204
    assert answer.content == b""
    assert {k: answer.headers[k] for k in CORS} == CORS


@pytest.mark.parametrize(("method", "path", "status", "expected"), [
    ("GET", "/api/v1/objects/call/ChatRoom/ChatRoom-General/Join", 405,
     {"error": "Only POST method is allowed", "code": "METHOD_NOT_ALLOWED"}),
    ("POST", "/api/v1/objects/call/ChatRoom/ChatRoom-General", 400,
     {"error": "Path must be /api/v1/objects/call/{type}/{id}/{method}", "code": "INVALID_PATH"}),
    ("POST", "/api/v1/objects/call/ChatRoom//Join", 400,
     {"error": "Type, ID, and method must not be empty", "code": "INVALID_PARAMETERS"}),
    ("POST", "/api/v1/objects/create/ChatRoom", 400,
     {"error": "Path must be /api/v1/objects/create/{type}/{id}", "code": "INVALID_PATH"}),
    ("PUT", "/api/v1/objects/delete/ChatRoom/ChatRoom-X", 405,
     {"error": "Only POST method is allowed", "code": "METHOD_NOT_ALLOWED"}),
    ("POST", "/api/v1/events/stream", 405,
     {"error": "Only GET method is allowed for SSE", "code": "METHOD_NOT_ALLOWED"}),
])
def test_malformed_requests_get_goverse_error_codes(gate_url: str, method: str, path: str,
                                                    status: int, expected: dict) -> None:
    answer = requests.request(method, gate_url + path, json={}, timeout=10)
    assert (answer.status_code, answer.json()) == (status, expected)
    assert answer.headers["Access-Control-Allow-Origin"] == "*"


def test_an_unknown_path_gets_servemux_not_found(gate_url: str) -> None:
    answer = requests.get(f"{gate_url}/api/v2/anything", timeout=10)
    assert answer.status_code == 404
    assert answer.text == "404 page not found\n"
    assert answer.headers["Content-Type"] == "text/plain; charset=utf-8"


def test_an_unknown_method_is_object_not_found(gate_url: str) -> None:
    answer = _call(gate_url, "ChatRoom/ChatRoom-General/Shout",
                   {"request": _packed(chat_pb2.ChatRoom_ListRequest())})
    assert answer.status_code == 404
    assert answer.json()["code"] == "OBJECT_NOT_FOUND"
    assert answer.json()["error"].endswith("method not found in class ChatRoom: Shout")


@pytest.mark.parametrize(("auth", "message"), [
    ({"x-username": "alice", "x-password": "123456"}, "invalid password"),
    ({"x-password": "000000"}, "x-username header is required"),
    ({"X-Username": "alice", "x-password": "000000"}, "x-username header is required"),
])
def test_calls_are_authorised_from_the_goverse_auth_header(gate_url: str, auth: dict,
                                                           message: str) -> None:
    answer = _call(gate_url, "ChatRoomMgr/ChatRoomMgr0/ListChatRooms",
                   {"request": _packed(chat_pb2.ChatRoom_ListRequest())},
                   **{"X-Goverse-Auth": json.dumps(auth)})
    assert (answer.status_code, answer.json()) == (401, {"error": message,
                                                         "code": "UNAUTHENTICATED"})


def test_objects_are_created_and_deleted_without_authentication(gate_url: str) -> None:
    created = requests.post(f"{gate_url}/api/v1/objects/create/ChatRoom/ChatRoom-Http",
                            timeout=10)
    assert (created.status_code, created.json()) == (200, {"id": "ChatRoom-Http"})
    deleted = requests.post(f"{gate_url}/api/v1/objects/delete/ChatRoom/ChatRoom-Http",
                            timeout=10)
    assert (deleted.status_code, deleted.json()) == (200, {"success": True})


def test_the_event_stream_registers_and_pushes_room_messages(gate_url: str) -> None:
    client = ChatHttpClient(gate_url, "bob", "000000")
    try:
        client_id = client.register()
        assert client_id.count("/") == 1
        client.join("Sports")
        client.send("Sports", "over http")
        pushed = client.wait_for("over http", within=5)
        assert (pushed.user, pushed.type_url) == (
            "bob", "type.googleapis.com/chat.Client_NewMessageNotification")
    finally:
        client.close()


def test_the_event_stream_is_chunked_server_sent_events(gate_url: str) -> None:
    with requests.get(f"{gate_url}/api/v1/events/stream", stream=True, timeout=10) as answer:
        assert answer.headers["Content-Type"] == "text/event-stream"
        assert answer.headers["Transfer-Encoding"] == "chunked"
        assert answer.headers["Cache-Control"] == "no-cache"
        first = [answer.raw.readline() for _ in range(3)]
    assert first[0] == b"event: register\n"
    assert first[1].startswith(b'data: {"clientId":"127.0.0.1:')
    assert first[2] == b"\n"


@pytest.mark.parametrize(("body", "message"), [
    (b"", "Failed to parse JSON: unexpected end of JSON input"),
    (b"x", "Failed to parse JSON: invalid character 'x' looking for beginning of value"),
    (b'{"request": "a"} z', "Failed to parse JSON: invalid character 'z' after top-level value"),
    (b"[]", "Failed to parse JSON: json: cannot unmarshal array into Go value of type "
            "gateserver.HTTPRequest"),
    (b'{"request": 5}', "Failed to parse JSON: json: cannot unmarshal number into Go struct "
                        "field HTTPRequest.request of type string"),
])
def test_request_bodies_are_judged_with_go_json_wording(body: bytes, message: str) -> None:
    with pytest.raises(HttpError, match="^" + message.replace("[", r"\[") + "$") as raised:
        request_field(body)
    assert (raised.value.status, raised.value.code) == (400, "INVALID_JSON")


def test_a_request_field_matches_case_insensitively_and_may_be_absent() -> None:
    assert request_field(b'{"Request": "QUJD"}') == "QUJD"
    assert request_field(b"{}") == ""
    assert request_field(b"null") == ""


def test_base64_and_protobuf_problems_are_named() -> None:
    with pytest.raises(HttpError, match="illegal base64 data at input byte 3"):
        decode_any("abc!")
    with pytest.raises(HttpError, match="Failed to unmarshal protobuf Any") as raised:
        decode_any(base64.b64encode(b"\xff\xff\xff").decode())
    assert raised.value.code == "INVALID_PROTOBUF"
    assert decode_any("") == Any()


def test_the_gate_answers_only_on_loopback(gate_url: str) -> None:
    assert gate_url.startswith("http://127.0.0.1:")
