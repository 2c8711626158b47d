"""The emulator accepts the real codex command line and CODEX_* variables."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from emulators.codex.cli import parse_args


def test_real_harness_flags(tmp_path: Path) -> None:
    config = parse_args([
        f"--data-dir={tmp_path}", "--listen-addrs=/ip4/127.0.0.1/tcp/0", "--api-port=8081",
        "--disc-port=8091", "--nat=none", "--log-level=TRACE", "--bootstrap-node=spr:abc",
        "--bootstrap-node=spr:def", "--storage-quota=8GiB", "--block-ttl=5m", "--block-mi=10s",
        "--block-retries=3",
    ], environ={})
    assert config.data_dir == tmp_path
    assert config.listen_addrs == (("127.0.0.1", 0),)
    assert (config.api_port, config.disc_port) == (8081, 8091)
    assert config.bootstrap_nodes == ("spr:abc", "spr:def")
    assert config.storage_quota == 8 * 1024**3
    assert (config.block_ttl, config.block_maintenance_interval) == (300, 10)
    assert config.block_retries == 3


def test_short_flags_and_defaults(tmp_path: Path) -> None:
    config = parse_args(["-d", str(tmp_path), "-p", "9000", "-q", "1024"], environ={})
    assert (config.api_port, config.storage_quota, config.disc_port) == (9000, 1024, 8090)
    assert config.block_ttl == 30 * 86400 and config.block_retries == 3000


def test_environment_variables_and_command_line_precedence(tmp_path: Path) -> None:
    environ = {"CODEX_API_PORT": "8001", "CODEX_DATA_DIR": str(tmp_path), "CODEX_METRICS": "true"}
    assert parse_args([], environ=environ).api_port == 8001
    assert parse_args(["--api-port=8002"], environ=environ).api_port == 8002


@pytest.mark.parametrize(("flag", "problem"), [
    ("--storage-quota=lots", "invalid size"),
    ("--block-ttl=soon", "invalid duration"),
    ("--listen-addrs=127.0.0.1:80", "invalid listen address"),
    ("--log-level=chatty", "Please specify one of"),
    ("--nat=maybe", "invalid NAT setting"),
    ("--bootstrap-node=enr:x", "invalid bootstrap node"),
    ("--no-such-flag", "unrecognized arguments"),
])
def test_bad_flags_exit_2_with_the_problem_named(flag: str, problem: str) -> None:
    done = subprocess.run([sys.executable, "-m", "emulators.codex", flag],
                          capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 2
    assert problem in done.stderr
    assert "Traceback" not in done.stderr


def test_port_in_use_is_a_clear_fatal_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "emulators.codex", f"--data-dir={tmp_path}",
             f"--api-port={port}", "--disc-port=0", "--listen-addrs=/ip4/127.0.0.1/tcp/0"],
            capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 1
    assert "Unable to start Codex node" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_config_file_is_read_with_the_lowest_precedence(tmp_path: Path) -> None:
    config = tmp_path / "node.toml"
    config.write_text('api-port = 8005\ndisc-port = 8095\nbootstrap-node = ["spr:a", "spr:b"]\n'
                      'metrics = true\n')
    parsed = parse_args([f"--config-file={config}", "--disc-port=9000"],
                        environ={"CODEX_API_PORT": "8006"})
    assert (parsed.api_port, parsed.disc_port) == (8006, 9000)
    assert parsed.bootstrap_nodes == ("spr:a", "spr:b")


def test_unreadable_config_file_is_named(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "emulators.codex",
                           f"--config-file={tmp_path / 'missing.toml'}"],
                          capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 2
    assert "cannot read config file" in done.stderr


def test_a_key_file_others_can_read_stops_the_node(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "key").write_bytes(b"\x08\x02\x12\x20" + bytes(range(1, 33)))
    (data_dir / "key").chmod(0o644)
    done = subprocess.run([sys.executable, "-m", "emulators.codex", f"--data-dir={data_dir}",
                           "--api-port=0", "--disc-port=0"],
                          capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 1
    assert "The network private key file is not safe, aborting" in done.stdout
