"""The Goverse programs' command lines and start failures, as a terminal sees them: Go's flag
package (one-line message + usage, exit 2; ``-h``/``-help`` → usage, exit 0), the chat server's
panics (exit 2), the gates' FATAL lines (exit 1), and never a Python traceback."""

from __future__ import annotations

import queue
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from emulators import goflag
from emulators.goverse import config
from emulators.goverse.gate_errors import DEFAULT_CALL_TIMEOUT, call_timeout
from support.etcd import EtcdServer, new_prefix

ROOT = Path(__file__).resolve().parents[1]
DEADLINE = 30
PROGRAMS = {  # module: (os.Args[0] in the usage, its flags)
    "emulators.goverse.node": ("chat_server", config.NODE_FLAGS),
    "emulators.goverse.gate": ("chat_gateway", config.GATE_FLAGS),
    "emulators.goverse.inspector": ("inspector", config.INSPECTOR_FLAGS),
}


def _run(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=DEADLINE, check=False)


def _no_traceback(done: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr


class Running:
    """A program left running; its stdout read line by line."""

    def __init__(self, module: str, *args: str) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", module, *args], cwd=ROOT,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def next_line(self) -> str:
        return self.lines.get(timeout=DEADLINE)

    def stop(self) -> tuple[int, str]:
        self.process.send_signal(signal.SIGTERM)
        _, err = self.process.communicate(timeout=DEADLINE)
        return self.process.returncode, err


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        yield busy.getsockname()[1]


# --- the flag package ------------------------------------------------------------------------
@pytest.mark.parametrize("module", PROGRAMS)
@pytest.mark.parametrize("help_flag", ["-h", "-help", "--help"])
def test_help_prints_the_go_usage_and_exits_0(module: str, help_flag: str) -> None:
    program, flags = PROGRAMS[module]
    done = _run(module, help_flag)
    assert done.returncode == 0
    assert done.stdout == ""
    assert done.stderr == goflag.usage(program, flags)
    assert done.stderr.startswith(f"Usage of {program}:\n  -")


def test_the_usage_reads_like_go_s() -> None:
    usage = goflag.usage("chat_server", config.NODE_FLAGS)
    assert usage.startswith("Usage of chat_server:\n  -advertise string\n    \tNode advertise "
                            'address (cannot be used with --config) (default "localhost:48000")\n'
                            "  -config string\n    \tPath to YAML config file\n")
    assert "  -listen string\n    \tNode listen address (cannot be used with --config) " \
           '(default ":48000")\n' in usage
    # Flags whose default is the zero value show no "(default ...)".
    assert "  -inspector-address string\n    \tInspector service address (optional, cannot be " \
           "used with --config)\n" in usage


@pytest.mark.parametrize("module", PROGRAMS)
@pytest.mark.parametrize(("args", "message"), [
    (["-bogus"], "flag provided but not defined: -bogus"),
    (["--bogus=1"], "flag provided but not defined: -bogus"),
    (["---config"], "bad flag syntax: ---config"),
    (["-=x"], "bad flag syntax: -=x"),
    (["-config"], "flag needs an argument: -config"),
])
def test_bad_flags_give_go_s_one_line_error_and_exit_2(module: str, args: list[str],
                                                      message: str) -> None:
    program, flags = PROGRAMS[module]
    done = _run(module, *args)
    assert done.returncode == 2
    assert done.stderr == f"{message}\n" + goflag.usage(program, flags)
    _no_traceback(done)


def test_flag_parsing_stops_at_the_first_non_flag() -> None:
    values = goflag.parse_args(config.NODE_FLAGS, ["-listen", ":1", "rest", "-bogus"])
    assert values["listen"] == ":1"
    values = goflag.parse_args(config.NODE_FLAGS, ["--", "-bogus"])
    assert values["listen"] == ":48000"


def test_go_flag_details() -> None:
    flags = [goflag.Flag("v", "verbose", False), goflag.Flag("color", "use colour", True),
             goflag.Flag("dir", "search `directory` for files", "a\"b")]
    assert goflag.usage("x", flags) == (
        "Usage of x:\n  -color\n    \tuse colour (default true)\n"
        '  -dir directory\n    \tsearch directory for files (default "a\\"b")\n'
        "  -v\tverbose\n")
    assert goflag.parse_args(flags, ["-v", "-color=false"]) == {
        "v": True, "color": False, "dir": 'a"b'}
    with pytest.raises(goflag.FlagError, match='invalid boolean value "maybe" for -v: '
                                               "parse error"):
        goflag.parse_args(flags, ["-v=maybe"])
    with pytest.raises(goflag.HelpRequested):
        goflag.parse_args(flags, ["-h"])


# --- the loaders -----------------------------------------------------------------------------
def test_a_chat_server_loader_error_is_a_go_panic() -> None:
    done = _run("emulators.goverse.node", "-config", "cluster.yaml")
    assert done.returncode == 2
    assert done.stderr.startswith("panic: Failed to load server config: --node-id is required "
                                  "when using --config\n\ngoroutine 1 [running]:\n")
    _no_traceback(done)


def test_a_gate_loader_error_is_a_fatal_line(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    done = _run("emulators.goverse.gate", "-config", str(missing), "-gate-id", "gate-1")
    assert done.returncode == 1
    first = done.stdout.splitlines()[0]
    assert first.endswith(f"[FATAL] [ChatGate] Failed to load gate config: failed to load "
                          f"config: open {missing}: no such file or directory")
    _no_traceback(done)


def test_an_inspector_loader_error_is_a_go_panic() -> None:
    done = _run("emulators.goverse.inspector", "-config", "x.yaml", "-grpc-addr", ":1")
    assert done.returncode == 2
    assert done.stderr.startswith("panic: Failed to load inspector config: --grpc-addr cannot "
                                  "be used with --config; configure in config file instead\n")


# --- start failures --------------------------------------------------------------------------
@pytest.mark.parametrize(("listen", "error"), [
    ("notaport", "listen tcp: address notaport: missing port in address"),
    ("127.0.0.1:99999", "listen tcp: address 99999: invalid port"),
    ("127.0.0.1:nope", "listen tcp: lookup tcp/nope: unknown port"),
    ("a:b:1", "listen tcp: address a:b:1: too many colons in address"),
])
def test_a_chat_server_that_cannot_listen_panics_with_go_s_error(listen: str,
                                                                error: str) -> None:
    done = _run("emulators.goverse.node", "-listen", listen, "-etcd", "127.0.0.1:1")
    assert done.returncode == 2
    assert done.stderr.startswith(f"panic: {error}\n\ngoroutine 1 [running]:\nmain.main()\n")
    _no_traceback(done)


def test_a_taken_port_is_go_s_bind_error(busy_port: int) -> None:
    done = _run("emulators.goverse.node", "-listen", f"127.0.0.1:{busy_port}")
    assert done.returncode == 2
    assert done.stderr.startswith(
        f"panic: listen tcp 127.0.0.1:{busy_port}: bind: address already in use\n")


@pytest.mark.parametrize("flag", ["-listen", "-advertise"])
def test_an_empty_address_is_refused_as_goverse_does(flag: str) -> None:
    name = {"-listen": "ListenAddress", "-advertise": "AdvertiseAddress"}[flag]
    node = _run("emulators.goverse.node", flag, "")
    assert node.returncode == 2
    assert node.stderr.startswith(f"panic: invalid server configuration: {name} cannot be "
                                  "empty\n")
    gate = _run("emulators.goverse.gate", flag, "")
    assert gate.returncode == 1
    assert gate.stdout.splitlines()[0].endswith(
        f"[FATAL] [ChatGate] Failed to create gate server: invalid gate configuration: {name} "
        "cannot be empty")


@pytest.mark.parametrize("etcd", ["127.0.0.1:1", "nohost", "localhost:notaport", ""])
def test_a_gate_without_etcd_says_what_failed(etcd: str) -> None:
    done = _run("emulators.goverse.gate", "-etcd", etcd, "-listen", "127.0.0.1:0")
    assert done.returncode == 1
    first = done.stdout.splitlines()[0]
    if etcd:
        assert first.endswith(f"[FATAL] [ChatGate] Failed to start gate server: failed to start "
                              f"cluster: failed to connect to etcd at {etcd}: context deadline "
                              "exceeded")
    else:
        assert first.endswith("Failed to create gate server: invalid gate configuration: "
                              "EtcdAddress cannot be empty")
    assert done.stdout.splitlines()[1] == "goroutine 1 [running]:"
    _no_traceback(done)


@pytest.fixture(scope="module")
def etcd_prefix(etcd: EtcdServer) -> tuple[str, str]:
    return etcd.endpoint, new_prefix("process")


@pytest.mark.parametrize(("listen", "error"), [
    ("notaport", "listen tcp: address notaport: missing port in address"),
    ("127.0.0.1:70000", "listen tcp: address 70000: invalid port"),
])
def test_a_gate_that_cannot_listen_says_so(etcd_prefix: tuple[str, str], listen: str,
                                          error: str) -> None:
    endpoint, prefix = etcd_prefix
    done = _run("emulators.goverse.gate", "-etcd", endpoint, "-etcd-prefix", prefix,
                "-listen", listen, "-advertise", "127.0.0.1:49999")
    assert done.returncode == 1
    assert done.stdout.splitlines()[0].endswith(
        f"[FATAL] [ChatGate] Failed to start gate server: failed to listen on {listen}: {error}")
    _no_traceback(done)


def test_the_generic_gate_logs_as_gate() -> None:
    done = _run("emulators.goverse.gate", "-etcd", "127.0.0.1:1")
    assert "[FATAL] [ChatGate]" in done.stdout
    generic = subprocess.run(
        [sys.executable, "-c", "from emulators.goverse.gate import generic_gate_main; "
                               "generic_gate_main()", "-etcd", "127.0.0.1:1"],
        cwd=ROOT, capture_output=True, text=True, timeout=DEADLINE, check=False)
    assert generic.returncode == 1
    assert "[FATAL] [Gate] Failed to start gate server: " in generic.stdout
    help_text = subprocess.run(
        [sys.executable, "-c", "from emulators.goverse.gate import generic_gate_main; "
                               "generic_gate_main()", "-h"],
        cwd=ROOT, capture_output=True, text=True, timeout=DEADLINE, check=False)
    assert help_text.returncode == 0 and help_text.stderr.startswith("Usage of gateway:\n")


def test_the_inspector_fails_on_its_grpc_address() -> None:
    done = _run("emulators.goverse.inspector", "-grpc-addr", "nope")
    assert done.returncode == 1
    assert done.stdout.splitlines()[0].endswith(
        "[FATAL] [Inspector] Failed to start gRPC server: listen tcp: address nope: missing "
        "port in address")
    _no_traceback(done)


@pytest.mark.parametrize(("module", "args", "logged"), [
    ("emulators.goverse.inspector", ["-grpc-addr", "127.0.0.1:0", "-http-addr", "nope"],
     "[ERROR] [Inspector] HTTP server failed: listen tcp: address nope: missing port in address"),
    ("emulators.goverse.inspector", ["-grpc-addr", "127.0.0.1:0", "-http-addr", "127.0.0.1:0",
                                     "-etcd-addr", "127.0.0.1:1"],
     "[ERROR] [Inspector] Failed to connect to etcd at 127.0.0.1:1: context deadline exceeded"),
    ("emulators.goverse.node", ["-listen", "127.0.0.1:0", "-http-listen", "nope",
                                "-etcd", "127.0.0.1:1"],
     "[ERROR] [ChatServer] Metrics HTTP server error: listen tcp: address nope: missing port "
     "in address"),
    ("emulators.goverse.node", ["-listen", "127.0.0.1:0", "-etcd", "nohost"],
     "[WARN] [EtcdManager] etcd connection test failed: context deadline exceeded"),
])
def test_what_goverse_only_logs_leaves_the_program_running(module: str, args: Sequence[str],
                                                          logged: str) -> None:
    running = Running(module, *args)
    try:
        assert running.next_line().rstrip("\n").endswith(logged)
        assert running.process.poll() is None
    finally:
        code, err = running.stop()
    assert code == 0
    assert "Traceback" not in err


# --- deadlines -------------------------------------------------------------------------------
def test_no_deadline_means_goverse_s_default_and_a_deadline_is_kept() -> None:
    assert call_timeout(None) == DEFAULT_CALL_TIMEOUT
    assert call_timeout(9.223372036854776e18) == DEFAULT_CALL_TIMEOUT  # grpcio's "no deadline"
    assert call_timeout(float("inf")) == DEFAULT_CALL_TIMEOUT
    assert call_timeout(2.5) == 2.5
    longest = 3600.0 * 99_999_999  # the longest timeout gRPC's grpc-timeout header carries
    assert call_timeout(longest) == longest
