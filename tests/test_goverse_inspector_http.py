"""The emulated inspector's HTTP face without etcd: Go's framing, its answers and its events."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest
import requests

from support.processes.launcher import ManagedProcess, ProcessSpec
from support.processes.ports import reserve_port
from support.processes.readiness import HttpGet


@pytest.fixture(scope="module")
def inspector_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    base = tmp_path_factory.mktemp("inspector")
    grpc_port, http_port = reserve_port(), reserve_port()
    url = f"http://127.0.0.1:{http_port.port}"
    process = ManagedProcess(ProcessSpec(
        name="inspector", cwd=base, env=dict(os.environ), log_path=base / "inspector.log",
        argv=[sys.executable, "-m", "emulators.goverse.inspector",
              f"-grpc-addr=127.0.0.1:{grpc_port.port}", f"-http-addr=127.0.0.1:{http_port.port}",
              f"-static-dir={base}"],
        readiness=HttpGet(url + "/healthz")))
    process.start()
    yield url
    assert process.stop() == 0
    grpc_port.release()
    http_port.release()


def test_answers_carry_no_server_header_and_keep_the_connection(inspector_url: str) -> None:
    answer = requests.get(inspector_url + "/healthz", timeout=5)
    assert (answer.status_code, answer.json()) == (200, {"status": "healthy"})
    assert "Server" not in answer.headers
    assert "Date" in answer.headers
    assert answer.raw.version == 11


def test_without_etcd_the_inspector_is_never_ready_and_shows_no_shards(inspector_url: str) -> None:
    ready = requests.get(inspector_url + "/ready", timeout=5)
    assert (ready.status_code, ready.json()) == (503, {"status": "not ready"})
    shards = requests.get(inspector_url + "/shards", timeout=5)
    assert shards.json() == {"shards": [], "nodes": []}


def test_a_missing_static_file_is_servemux_not_found(inspector_url: str) -> None:
    answer = requests.get(inspector_url + "/no-such-file.js", timeout=5)
    assert (answer.status_code, answer.text) == (404, "404 page not found\n")


def test_the_event_stream_opens_with_the_initial_graph(inspector_url: str) -> None:
    with requests.get(inspector_url + "/events/stream", stream=True, timeout=5) as answer:
        assert answer.headers["Transfer-Encoding"] == "chunked"
        assert answer.headers["Access-Control-Allow-Origin"] == "*"
        lines = [answer.raw.readline() for _ in range(2)]
    assert lines[0] == b"event: initial\n"
    assert lines[1].startswith(b'data: {"type":"initial","goverse_nodes":[]')  # Go: compact


def test_shard_changes_need_etcd(inspector_url: str) -> None:
    answer = requests.post(inspector_url + "/shards/move",
                           json={"shard_id": 1, "target_node": "127.0.0.1:1"}, timeout=5)
    assert answer.status_code == 503
    assert answer.text == "Consensus manager not available. Start inspector with --etcd-addr " \
                          "flag.\n"
    assert answer.headers["Content-Type"] == "text/plain; charset=utf-8"


@pytest.mark.parametrize(("method", "path", "message"), [
    ("GET", "/shards/move", "Only POST method is allowed\n"),
    ("GET", "/shards/pin", "Only POST method is allowed\n"),
    ("POST", "/shards", "Only GET method is allowed\n"),
    ("POST", "/events/stream", "Only GET method is allowed for SSE\n"),
])
def test_each_route_takes_its_own_method(inspector_url: str, method: str, path: str,
                                         message: str) -> None:
    answer = requests.request(method, inspector_url + path, timeout=5)
    assert (answer.status_code, answer.text) == (405, message)
