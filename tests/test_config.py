"""Settings: precedence, validation and the messages people see."""

from __future__ import annotations

import http.server
import os
import re
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.config import (
    CodexTargetKind,
    SettingsError,
    StatusBackendTargetKind,
    check_reachable,
    load_settings,
)


def test_defaults_target_the_emulator() -> None:
    settings = load_settings({}, environ={})
    assert settings.codex_target is CodexTargetKind.EMULATOR
    assert settings.timeout(10) == 10


def test_precedence_file_then_environment_then_defines() -> None:
    userdata = {"timeout_multiplier": "4", "keep_logs": "yes"}
    environ = {"ACCEPTANCE_TIMEOUT_MULTIPLIER": "3", "ACCEPTANCE_KEEP_LOGS": "no"}
    assert load_settings(userdata, environ=environ).timeout_multiplier == 3
    # behave merges -D values into userdata; they still win over the environment.
    merged = {**userdata, "timeout_multiplier": "2"}
    settings = load_settings(merged, [("timeout_multiplier", "2")], environ=environ)
    assert (settings.timeout_multiplier, settings.keep_logs) == (2, False)


def test_plugin_keys_are_left_alone() -> None:
    load_settings({"AllureFormatter.hide_excluded": "true", "behave.reporter.x": "y"}, environ={})


@pytest.mark.parametrize(("userdata", "message"), [
    ({"codex_bianry": "/bin/true"}, "unknown setting 'codex_bianry'"),
    ({"timeout_multiplier": "0"}, "bad value '0' for timeout_multiplier"),
    ({"timeout_multiplier": "fast"}, "bad value 'fast' for timeout_multiplier"),
    ({"keep_logs": "maybe"}, "bad value 'maybe' for keep_logs"),
    ({"codex_urls": "localhost:8080"}, "is not an http://host:port URL"),
    ({"codex_binary": "/no/such/codex"}, "no such file"),
    ({"status_backend_binary": "/no/such/status-backend"}, "no such file"),
    ({"status_backend_urls": "ws://127.0.0.1:12345"}, "is not an http://host:port URL"),
    ({"status_backend_urls": "http://127.0.0.1"}, "is not an http://host:port URL"),
])
def test_bad_settings_are_named(userdata: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(userdata, environ={})


def test_binary_must_be_executable(tmp_path: Path) -> None:
    binary = tmp_path / "codex"
    binary.write_text("#!/bin/sh\n")
    with pytest.raises(SettingsError, match="not executable"):
        load_settings({"codex_binary": str(binary)}, environ={})
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    settings = load_settings({"codex_binary": str(binary)}, environ={})
    assert settings.codex_target is CodexTargetKind.BINARY


def test_binary_and_urls_exclude_each_other() -> None:
    with pytest.raises(SettingsError, match="exclude each other"):
        load_settings({"codex_binary": "/bin/sh", "codex_urls": "http://127.0.0.1:8080"},
                      environ={})


def test_urls_are_split_and_normalised() -> None:
    settings = load_settings({"codex_urls": "http://127.0.0.1:8001/, http://127.0.0.1:8002"},
                             environ={})
    assert settings.codex_urls == ("http://127.0.0.1:8001", "http://127.0.0.1:8002")
    assert settings.codex_target is CodexTargetKind.URLS


def test_status_backend_defaults_to_the_emulator() -> None:
    settings = load_settings({}, environ={})
    assert settings.status_backend_target is StatusBackendTargetKind.EMULATOR
    assert settings.describe_status_backend_target() == "the embedded status-backend emulator"


def test_status_backend_binary_must_be_executable(tmp_path: Path) -> None:
    binary = tmp_path / "status-backend"
    binary.write_text("#!/bin/sh\n")
    with pytest.raises(SettingsError, match=r"bad value .* for status_backend_binary .*not "
                                            r"executable"):
        load_settings({"status_backend_binary": str(binary)}, environ={})
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    settings = load_settings({"status_backend_binary": str(binary)}, environ={})
    assert settings.status_backend_target is StatusBackendTargetKind.BINARY
    assert str(binary) in settings.describe_status_backend_target()


def test_status_backend_urls_are_split_and_normalised() -> None:
    environ = {"ACCEPTANCE_STATUS_BACKEND_URLS": "http://127.0.0.1:12345/, http://127.0.0.1:12346"}
    settings = load_settings({}, environ=environ)
    assert settings.status_backend_urls == ("http://127.0.0.1:12345", "http://127.0.0.1:12346")
    assert settings.status_backend_target is StatusBackendTargetKind.URLS


def test_status_backend_binary_and_urls_exclude_each_other() -> None:
    with pytest.raises(SettingsError, match="status_backend_binary and status_backend_urls "
                                            "exclude each other"):
        load_settings({"status_backend_binary": "/bin/sh",
                       "status_backend_urls": "http://127.0.0.1:12345"}, environ={})


# --- values checked when the run starts ------------------------------------------------------
@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "1e400", "Infinity"])
def test_timeout_multiplier_must_be_finite(value: str) -> None:
    with pytest.raises(SettingsError, match=rf"bad value '{value}' for timeout_multiplier .*"
                                            "finite number greater than 0"):
        load_settings({"timeout_multiplier": value}, environ={})


@pytest.mark.parametrize("setting", ["codex_binary", "status_backend_binary", "etcd_binary"])
@pytest.mark.parametrize(("content", "why"), [
    (b"echo no shebang\n", "neither an ELF program nor a #! script"),
    (b"\x00\x01\x02 random bytes", "neither an ELF program nor a #! script"),
    (b"", "neither an ELF program nor a #! script"),
    (b"#!/no/such/interpreter\n", "its #! interpreter /no/such/interpreter cannot be run"),
    (b"#!\n", "its #! interpreter (none) cannot be run"),
])
def test_a_binary_the_system_cannot_start_is_refused(tmp_path: Path, setting: str,
                                                     content: bytes, why: str) -> None:
    """An execute bit is not enough: every start of such a file fails (Exec format error)."""
    binary = tmp_path / "program"
    binary.write_bytes(content)
    binary.chmod(0o755)
    with pytest.raises(SettingsError, match=rf"bad value .* for {setting} .*not executable: "
                                            rf".*\({re.escape(why)}\)"):
        load_settings({setting: str(binary)}, environ={})


def test_elf_programs_and_scripts_are_accepted(tmp_path: Path) -> None:
    script = tmp_path / "etcd"
    script.write_text("#!/bin/sh -e\nexec true\n")
    script.chmod(0o755)
    assert load_settings({"etcd_binary": str(script)}, environ={}).etcd_binary == script
    elf = Path(sys.executable).resolve()
    assert load_settings({"codex_binary": str(elf)}, environ={}).codex_binary == elf


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port nothing listens on (bound, never listening: connections are refused)."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        yield holder.getsockname()[1]


@pytest.fixture
def answering() -> Iterator[str]:
    """An HTTP server that answers everything with 404 (any answer counts as reachable)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def silent() -> Iterator[str]:
    """A port that accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield f"127.0.0.1:{listener.getsockname()[1]}"


def test_running_systems_that_answer_are_accepted(answering: str) -> None:
    settings = load_settings({"codex_urls": f"http://{answering}",
                              "status_backend_urls": f"http://{answering}",
                              "etcd_endpoint": answering}, environ={})
    check_reachable(settings)
    check_reachable(load_settings({}, environ={}))  # nothing named: nothing asked


@pytest.mark.parametrize("setting", ["codex_urls", "status_backend_urls"])
def test_urls_that_do_not_answer_are_refused_once_with_one_message(
        setting: str, answering: str, closed_port: int) -> None:
    dead = f"http://127.0.0.1:{closed_port}"
    settings = load_settings({setting: f"http://{answering},{dead}"}, environ={})
    with pytest.raises(SettingsError) as refused:
        check_reachable(settings)
    assert str(refused.value) == f"{setting}: {dead} does not answer (connection refused)"


def test_an_etcd_endpoint_that_does_not_answer_is_refused(closed_port: int) -> None:
    endpoint = f"127.0.0.1:{closed_port}"
    with pytest.raises(SettingsError, match=rf"^etcd_endpoint: {endpoint} does not answer "
                                            r"\(connection refused\)$"):
        check_reachable(load_settings({"etcd_endpoint": endpoint}, environ={}))


def test_a_url_that_never_answers_is_refused_within_the_scaled_deadline(silent: str) -> None:
    settings = load_settings({"codex_urls": f"http://{silent}", "timeout_multiplier": "0.25"},
                             environ={})
    started = time.monotonic()
    with pytest.raises(SettingsError, match=rf"^codex_urls: http://{silent} does not answer "
                                            r"\(no answer within 0\.5 s\)$"):
        check_reachable(settings)
    assert time.monotonic() - started < 5


ROOT = Path(__file__).resolve().parents[1]


def test_a_run_with_unreachable_codex_urls_stops_at_once_with_one_clear_line(
        tmp_path: Path, closed_port: int) -> None:
    dead = f"http://127.0.0.1:{closed_port}"
    done = subprocess.run(
        [sys.executable, "-m", "behave", str(ROOT / "features" / "codex" / "lifecycle.feature"),
         "--no-junit", "-f", "plain", "-D", f"artifacts_dir={tmp_path / 'artifacts'}",
         "-D", f"codex_urls={dead}"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
        text=True, timeout=120, check=False)
    output = done.stdout + done.stderr
    assert done.returncode != 0
    mentions = [line for line in output.splitlines() if dead in line]
    assert mentions == [f"HOOK-ERROR in before_all: SettingsError: codex_urls: {dead} does not "
                        "answer (connection refused)"], output
    assert "Traceback" not in output and "ConnectionRefusedError" not in output
    assert "0 scenarios passed, 0 failed" in output, output
