"""The emulated status-backend (``python -m emulators.community``) over real processes: its HTTP
routes, the signal websocket, the account functions and CallRPC's answers to every kind of
malformed request, as status-backend gives them."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
import websocket

from support.processes.ports import reserve_port

DEADLINE = 20.0


class Node:
    """One running emulated status-backend."""

    def __init__(self, process: subprocess.Popen[str], address: str) -> None:
        self.process = process
        self.address = address
        self.url = f"http://{address}"

    def call(self, function: str, body: object = None, raw: bytes | None = None
             ) -> requests.Response:
        data = raw if raw is not None else json.dumps(body if body is not None else {})
        return requests.post(f"{self.url}/statusgo/{function}", data=data, timeout=DEADLINE)

    def rpc(self, method: str, params: object = None, call_id: int = 1) -> dict:
        body: dict[str, object] = {"jsonrpc": "2.0", "id": call_id, "method": method}
        if params is not None:
            body["params"] = params
        return self.call("CallRPC", body).json()

    def signals(self) -> Signals:
        return Signals(f"ws://{self.address}/signals")


class Signals:
    """A plain websocket client on /signals, keeping every frame it receives."""

    def __init__(self, url: str) -> None:
        self.frames: list[dict] = []
        self.close_answered = False  # a close frame came from the node
        self._cond = threading.Condition()
        self._ws = websocket.create_connection(url, timeout=DEADLINE)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while True:
            try:
                text = self._ws.recv()
            except (websocket.WebSocketException, OSError):
                return
            if not text:  # the closing handshake
                self.close_answered = True
                return
            with self._cond:
                self.frames.append(json.loads(text))
                self._cond.notify_all()

    def wait(self, predicate: Callable[[list[dict]], bool], what: str) -> list[dict]:
        with self._cond:
            if not self._cond.wait_for(lambda: predicate(self.frames), timeout=DEADLINE):
                raise AssertionError(f"no {what} within {DEADLINE}s; frames: {self.frames}")
            return list(self.frames)

    def wait_type(self, signal_type: str, count: int = 1) -> dict:
        frames = self.wait(lambda f: sum(x["type"] == signal_type for x in f) >= count,
                           signal_type)
        return [frame for frame in frames if frame["type"] == signal_type][count - 1]

    def send_close(self) -> None:
        """The client's half of the closing handshake, the connection left open."""
        self._ws.send_close()

    def close(self) -> None:
        """Send the close frame and hang up: status-backend never answers a close."""
        if self._ws.connected:
            self._ws.send_close()
        self._ws.sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(DEADLINE)
        self._ws.shutdown()


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "emulators.community", *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "emulators.community", *args], check=False,
                          capture_output=True, text=True, timeout=DEADLINE)


class Stderr:
    """A node's stderr, drained by a thread (so the pipe never fills) and kept line by line."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._cond = threading.Condition()
        threading.Thread(target=self._drain, args=(process,), daemon=True).start()

    def _drain(self, process: subprocess.Popen[str]) -> None:
        for line in process.stderr:
            with self._cond:
                self.lines.append(line)
                self._cond.notify_all()

    def first_line(self) -> str:
        """The first line (the start line or the failure), within the deadline."""
        with self._cond:
            assert self._cond.wait_for(lambda: self.lines, timeout=DEADLINE), (
                "the node wrote nothing within the deadline")
            return self.lines[0]

    def wait_for(self, text: str) -> None:
        with self._cond:
            assert self._cond.wait_for(lambda: any(text in line for line in self.lines),
                                       timeout=DEADLINE), self.lines


def _started_line(process: subprocess.Popen[str]) -> str:
    return Stderr(process).first_line()


@pytest.fixture(scope="module")
def node() -> Iterator[Node]:
    reservation = reserve_port()
    address = f"127.0.0.1:{reservation.port}"
    process = _start("--address", address)
    line = _started_line(process)
    assert "status-backend started" in line and f'"address": "{address}"' in line, line
    yield Node(process, address)
    process.send_signal(signal.SIGTERM)
    assert process.wait(DEADLINE) == 0
    reservation.release()


@pytest.fixture
def fresh_node() -> Iterator[Node]:
    """A node of its own (for tests that log in)."""
    reservation = reserve_port()
    address = f"127.0.0.1:{reservation.port}"
    process = _start("--address", address)
    _started_line(process)
    yield Node(process, address)
    process.send_signal(signal.SIGTERM)
    assert process.wait(DEADLINE) == 0
    reservation.release()


def _create_request(root: Path, **overrides: object) -> dict[str, object]:
    request: dict[str, object] = {
        "rootDataDir": str(root), "kdfIterations": 256000, "displayName": "alice_tester",
        "password": "secret-pw", "customizationColor": "primary", "logEnabled": True,
        "logLevel": "DEBUG", "wakuV2LightClient": False, "wakuV2Fleet": "acceptance.local",
        "importInitialDelay": None, "messageArchiveInterval": None}
    request.update(overrides)
    return request


def _log_in(node: Node, root: Path) -> None:
    """A new account on the node, logged in (the HTTP reply comes first, then node.login)."""
    signals = node.signals()
    try:
        node.call("InitializeApplication", {"dataDir": str(root)})
        node.call("CreateAccountAndLogin", _create_request(root))
        signals.wait_type("node.login")
    finally:
        signals.close()


# --- HTTP routes ---------------------------------------------------------------------------------
def test_health_answers_the_version_for_any_method(node: Node) -> None:
    for response in (requests.get(f"{node.url}/health", timeout=DEADLINE),
                     requests.post(f"{node.url}/health", data="[]", timeout=DEADLINE)):
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "application/json"
        assert response.text.endswith("}\n")
        assert set(response.json()) == {"version"} and response.json()["version"]


def test_unsupported_signatures_answer_501_with_an_empty_body(node: Node) -> None:
    response = node.call("Login", {})  # Login(accountData, password string): two arguments
    assert response.status_code == 501
    assert response.content == b""
    assert "Content-Type" not in response.headers and "Deprecation" not in response.headers


def test_deprecated_functions_carry_the_deprecation_header(node: Node) -> None:
    response = node.call("OpenAccounts", raw=b"/tmp")
    assert response.status_code == 200
    assert response.headers["Deprecation"] == "true"
    assert response.headers["Content-Type"] == "application/json"
    assert "Deprecation" not in node.call("CallRPC", {}).headers


def test_unknown_paths_get_servemux_404(node: Node) -> None:
    for path in ("/nope", "/statusgo/NoSuchFunction", "/health/", "/statusgo/"):
        response = requests.post(f"{node.url}{path}", timeout=DEADLINE)
        assert response.status_code == 404, path
        assert response.text == "404 page not found\n"
        assert response.headers["Content-Type"] == "text/plain; charset=utf-8"


def test_an_unreadable_content_length_gets_go_400_and_the_node_keeps_serving(node: Node) -> None:
    host, port = node.address.split(":")
    with socket.create_connection((host, int(port)), timeout=DEADLINE) as sock:
        sock.sendall(b"POST /statusgo/CallRPC HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n")
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    assert answer == (b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
                      b"Connection: close\r\n\r\n400 Bad Request")
    assert node.rpc("wakuext_chats", [])["error"]["code"] == -32601


# --- signals websocket -----------------------------------------------------------------------
def test_signals_refuses_what_gorilla_refuses(node: Node) -> None:
    plain = requests.get(f"{node.url}/signals", timeout=DEADLINE)
    assert (plain.status_code, plain.text) == (400, "Bad Request\n")
    assert plain.headers["Sec-Websocket-Version"] == "13"
    upgrade = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
               "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
    posted = requests.post(f"{node.url}/signals", headers=upgrade, timeout=DEADLINE)
    assert (posted.status_code, posted.text) == (405, "Method Not Allowed\n")
    bad_key = requests.get(f"{node.url}/signals", headers={**upgrade, "Sec-WebSocket-Key": "x"},
                           timeout=DEADLINE)
    assert bad_key.status_code == 400


def test_signals_are_broadcast_and_never_replayed(node: Node) -> None:
    first = node.signals()
    try:
        assert node.call("LoginAccount", {"keyUid": "0x01", "password": "x"}).json() == {
            "error": ""}
        login = first.wait_type("node.login")
        assert login == {"type": "node.login", "event": {"error": login["event"]["error"]}}
        assert login["event"]["error"]
        second = node.signals()
        try:
            node.call("LoginAccount", {"keyUid": "0x02", "password": "x"})
            first.wait_type("node.login", count=2)
            assert second.wait_type("node.login") == login
            assert len(second.frames) == 1  # the earlier signal never reached it
        finally:
            second.close()
    finally:
        first.close()


def test_a_close_from_the_client_goes_unanswered_and_signals_keep_coming(node: Node) -> None:
    """status-backend never reads its websocket connections and gorilla processes a close only
    for a reader: no close comes back, and signals are still written to the connection."""
    signals = node.signals()
    try:
        signals.send_close()
        node.call("LoginAccount", {"keyUid": "0x03", "password": "x"})
        assert signals.wait_type("node.login")["event"]["error"]
        assert not signals.close_answered
    finally:
        signals.close()


# --- account functions -------------------------------------------------------------------------
def test_initialize_application_answers_and_refuses_as_status_go(node: Node,
                                                                 tmp_path: Path) -> None:
    assert node.call("InitializeApplication", raw=b"").json() == {
        "error": "unexpected end of JSON input"}
    assert node.call("InitializeApplication", raw=b"[1]").json() == {
        "error": "json: cannot unmarshal array into Go value of type "
                 "requests.InitializeApplication"}
    assert node.call("InitializeApplication", {}).json() == {
        "error": "initialize-centralized-metric: no dataDir"}
    answer = node.call("InitializeApplication", {"dataDir": str(tmp_path)}).json()
    assert answer == {"accounts": None, "centralizedMetricsInfo": {
        "enabled": False, "userConfirmed": False, "userID": ""}}


@pytest.mark.parametrize(("overrides", "error"), [
    ({"displayName": ""}, "create-account: invalid display name"),
    ({"displayName": "al"}, "length must be between 5 and 24 characters: "
                            "create-account: invalid display name"),
    ({"displayName": "alice!!"}, "only letters, numbers, underscores and hyphens allowed: "
                                 "create-account: invalid display name"),
    ({"displayName": "alice-eth"}, 'usernames ending with "eth" are not allowed: '
                                   "create-account: invalid display name"),
    ({"password": ""}, "create-account: invalid password"),
    ({"customizationColor": ""}, "create-account: invalid customization color"),
    ({"rootDataDir": ""}, "create-account: invalid root data directory"),
    ({"displayName": 5}, "json: cannot unmarshal number into Go struct field "
                         "CreateAccount.displayName of type string"),
])
def test_create_account_validation_texts(node: Node, tmp_path: Path,
                                         overrides: dict[str, object], error: str) -> None:
    answer = node.call("CreateAccountAndLogin", _create_request(tmp_path, **overrides)).json()
    assert answer == {"error": error}


def test_login_and_logout_errors_without_a_running_node(node: Node) -> None:
    assert node.call("LoginAccount", {"password": "x"}).json() == {
        "error": "login: invalid key-uid"}
    assert node.call("Logout", raw=b"{}").json() == {"error": "there is no running node"}


def test_account_lifecycle(fresh_node: Node, tmp_path: Path) -> None:
    signals = fresh_node.signals()
    try:
        assert fresh_node.call("InitializeApplication", {"dataDir": str(tmp_path)}).json()[
            "accounts"] is None
        assert fresh_node.call("CreateAccountAndLogin", _create_request(tmp_path)).json() == {
            "error": ""}
        event = signals.wait_type("node.login")["event"]
        assert "error" not in event
        settings, account = event["settings"], event["account"]
        assert settings["display-name"] == account["name"] == "alice_tester"
        assert settings["key-uid"] == account["key-uid"]
        assert len(account["key-uid"]) == 66 and account["key-uid"].startswith("0x")
        assert settings["public-key"].startswith("0x04") and len(settings["public-key"]) == 132
        assert len(settings["mnemonic"].split()) == 12
        folder = tmp_path / account["key-uid"]
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
        assert stat.S_IMODE(os.stat(folder / "status.db").st_mode) == 0o600
        assert "error" not in fresh_node.rpc("wakuext_chats", [])

        assert fresh_node.call("Logout", {}).json() == {"error": ""}
        signals.wait_type("node.stopped")
        assert fresh_node.rpc("wakuext_chats", [])["error"] == {
            "code": -32601, "message": "the method wakuext_chats does not exist/is not available"}
        listed = fresh_node.call("InitializeApplication", {"dataDir": str(tmp_path)}).json()
        assert [a["key-uid"] for a in listed["accounts"]] == [account["key-uid"]]

        fresh_node.call("LoginAccount", {"keyUid": account["key-uid"], "password": "wrong",
                                         "kdfIterations": 256000})
        assert signals.wait_type("node.login", count=2)["event"]["error"]
        fresh_node.call("LoginAccount", {"keyUid": account["key-uid"], "password": "secret-pw",
                                         "kdfIterations": 256000})
        again = signals.wait_type("node.login", count=3)["event"]
        assert again["account"]["key-uid"] == account["key-uid"]
        assert again["settings"]["public-key"] == settings["public-key"]
    finally:
        signals.close()


def test_positional_parameter_errors_are_geth_texts(fresh_node: Node, tmp_path: Path) -> None:
    _log_in(fresh_node, tmp_path)
    too_many = fresh_node.rpc("wakuext_chatMessages", ["a", "", 10, 4])["error"]
    assert too_many == {"code": -32602, "message": "too many arguments, want at most 3"}
    wrong = fresh_node.rpc("wakuext_chatMessages", [1, "", 10])["error"]
    assert wrong == {"code": -32602, "message": "invalid argument 0: json: cannot unmarshal "
                                                "number into Go value of type string"}
    missing = fresh_node.rpc("wakuext_chatMessages", [])["error"]
    assert missing == {"code": -32602, "message": "missing value for required argument 0"}
    not_a_struct = fresh_node.rpc("wakuext_createCommunity", ["x"])["error"]
    assert not_a_struct == {"code": -32602, "message": "invalid argument 0: json: cannot "
                            "unmarshal string into Go value of type requests.CreateCommunity"}
    nil_request = fresh_node.rpc("wakuext_createCommunity", [None])["error"]
    assert nil_request == {"code": -32603, "message": "method handler crashed"}
    assert "result" in fresh_node.rpc("wakuext_chats", [])  # still serving


def test_wakuext_results_have_status_go_shapes(fresh_node: Node, tmp_path: Path) -> None:
    _log_in(fresh_node, tmp_path)
    assert "result" in fresh_node.rpc("wakuext_startMessenger")  # params omitted, as the client
    created = fresh_node.rpc("wakuext_createCommunity", [{
        "membership": 1, "name": "Shapes", "color": "#ffffff", "description": "shape check",
        "historyArchiveSupportEnabled": True}])["result"]
    community, general = created["communities"][0], created["chats"][0]
    assert community["id"].startswith("0x") and len(community["id"]) == 2 + 66  # 33-byte key
    assert general["name"] == "general" and general["id"].startswith(community["id"])
    chat = general["id"]
    assert fresh_node.rpc("wakuext_chatMessages", [chat, "", 10])["result"] == {
        "messages": None, "cursor": ""}
    sent = fresh_node.rpc("wakuext_sendChatMessage", [{
        "chatId": chat, "text": "hello", "contentType": 1, "responseTo": ""}])["result"]
    assert sent["chats"][0]["lastMessage"]["text"] == "hello"
    assert sent["messages"][0]["id"].startswith("0x")
    page = fresh_node.rpc("wakuext_chatMessages", [chat, "", 10])["result"]
    assert [m["text"] for m in page["messages"]] == ["hello"]
    assert fresh_node.rpc("wakuext_hasCommunityArchive", [community["id"]])["result"] is False
    assert fresh_node.rpc("wakuext_getDownloadedMessageArchiveIDs",
                          [community["id"]])["result"] is None
    assert fresh_node.rpc("wakuext_updateMessageArchiveInterval", [80])["result"] == 80
    assert fresh_node.rpc("wakuext_updateMessageArchiveInterval", [0])["error"] == {
        "code": -32000, "message": "duration must be greater than zero"}
    assert fresh_node.rpc("wakuext_debug", [])["error"] == {
        "code": -32000, "message": "archiveManager is not *archive.ArchiveManager"}


# --- CallRPC -------------------------------------------------------------------------------------
def test_invalid_utf8_in_a_call_reads_as_u_fffd_per_byte(node: Node) -> None:
    """encoding/json replaces each byte that is not UTF-8 with U+FFFD."""
    raw = b'{"jsonrpc":"2.0","id":7,"method":"wakuext_x\xff\xfey","params":[]}'
    reply = node.call("CallRPC", raw=raw).json()
    assert reply["error"] == {"code": -32601, "message": "the method wakuext_x\ufffd\ufffdy "
                                                         "does not exist/is not available"}


def test_a_lone_surrogate_escape_in_a_call_reads_as_u_fffd(node: Node) -> None:
    """encoding/json decodes an escaped lone surrogate (valid UTF-8 text) as U+FFFD too."""
    raw = b'{"jsonrpc":"2.0","id":7,"method":"wakuext_x\\udc80y","params":[]}'
    reply = node.call("CallRPC", raw=raw).json()
    assert reply["error"] == {"code": -32601, "message": "the method wakuext_x\ufffdy "
                                                         "does not exist/is not available"}


def test_unknown_methods_before_login_are_not_available(node: Node) -> None:
    assert node.rpc("wakuext_chats", [], call_id=7) == {
        "jsonrpc": "2.0", "id": 7,
        "error": {"code": -32601,
                  "message": "the method wakuext_chats does not exist/is not available"}}


@pytest.mark.parametrize(("body", "message"), [
    (b'"wakuext_chats"', "json: cannot unmarshal string into Go value of type "
                         "rpc.jsonrpcRequest"),
    (b"garbage", "invalid character 'g' looking for beginning of value"),
    (b"", "unexpected end of JSON input"),
    (b"\xff\xfe", "invalid character '\u00ff' looking for beginning of value"),
    (b'{"jsonrpc":"2.0","id":3,"method":"wakuext_chats","params":{}}',
     "json: cannot unmarshal object into Go value of type []interface {}"),
    (b'{"jsonrpc":"2.0","id":3,"method":"wakuext_chats","params":"x"}',
     "json: cannot unmarshal string into Go value of type []interface {}"),
    (b'{"jsonrpc":"2.0","id":3,"method":5}',
     "json: cannot unmarshal number into Go struct field jsonrpcRequest.method of type string"),
])
def test_malformed_bodies_are_answered_as_invalid_messages(node: Node, body: bytes,
                                                           message: str) -> None:
    answer = node.call("CallRPC", raw=body)
    assert answer.status_code == 200
    assert answer.json() == {"jsonrpc": "2.0", "id": 0,
                             "error": {"code": -32700, "message": message}}
    assert node.rpc("wakuext_chats", [])["error"]["code"] == -32601  # still serving


def test_other_odd_requests_are_answered(node: Node) -> None:
    batch = node.call("CallRPC", raw=b'[{"jsonrpc":"2.0","id":1,"method":"x"}, 2]').json()
    assert batch == [
        {"jsonrpc": "2.0", "id": 1,
         "error": {"code": -32601, "message": "the method x does not exist/is not available"}},
        {"jsonrpc": "2.0", "id": 0,
         "error": {"code": -32700, "message": "json: cannot unmarshal number into Go value of "
                                              "type rpc.jsonrpcRequest"}}]
    assert node.call("CallRPC", raw=b"[]").json() == []
    nulls = node.rpc("wakuext_chats", [None], call_id=4)
    assert nulls["id"] == 4 and nulls["error"]["code"] == -32601
    assert node.rpc("wakuext_chats", [])["error"]["code"] == -32601


# --- the process -----------------------------------------------------------------------------
@pytest.mark.parametrize(("address", "error"), [
    ("abc", "invalid address: address abc: missing port in address"),
    ("127.0.0.1:99999", "listen tcp: address 99999: invalid port"),
])
def test_a_bad_address_is_one_line_and_status_0(address: str, error: str) -> None:
    finished = _run("--address", address)
    assert finished.returncode == 0  # status-backend logs the failure and returns from main
    lines = finished.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in finished.stderr
    assert lines[0].endswith(f'failed to start server\t{{"error": "{error}"}}')


def test_a_taken_port_is_one_line_and_status_0(node: Node) -> None:
    finished = _run(f"-address={node.address}")
    assert finished.returncode == 0  # status-backend logs the failure and returns from main
    assert finished.stderr.count("\n") == 1
    assert f"listen tcp {node.address}: bind: address already in use" in finished.stderr


def test_flags_follow_go_flag_package() -> None:
    unknown = _run("--bogus")
    assert unknown.returncode == 2
    assert unknown.stderr.startswith("flag provided but not defined: -bogus\nUsage of ")
    assert '  -address string\n    \thost:port to listen (default "127.0.0.1:0")\n' in (
        unknown.stderr)
    helped = _run("-help")
    assert helped.returncode == 0 and "  -pprof\n    \tenable pprof\n" in helped.stderr


def test_sigint_exits_0() -> None:
    reservation = reserve_port()
    process = _start(f"--address=127.0.0.1:{reservation.port}", "--pprof")
    stderr = Stderr(process)
    try:
        assert "status-backend started" in stderr.first_line()
        process.send_signal(signal.SIGINT)
        assert process.wait(DEADLINE) == 0
        stderr.wait_for("interrupt signal received")
    finally:
        if process.poll() is None:
            process.kill()
        reservation.release()
