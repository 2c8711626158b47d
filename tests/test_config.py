"""Settings: precedence, validation and the messages people see."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from support.config import (
    CodexTargetKind,
    SettingsError,
    StatusBackendTargetKind,
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
