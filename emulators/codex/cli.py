"""The real ``codex`` command line (codex.md §5.1), parsed into a typed configuration.

Every option can also come from ``CODEX_<NAME>`` (upper case, ``-`` → ``_``); the command line
wins. Flags the emulator has no use for (NAT, metrics, threads, …) are accepted and validated so
that the same argv starts either the real binary or the emulator.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from emulators.codex.logs import LogLevelError
from emulators.codex.logs import parse_log_level as _parse_chronicles_level

_SIZE_UNITS = {"": 1, "b": 1, "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}
_SIZE_UNITS |= {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_NAT_RE = re.compile(r"^(any|none|upnp|pmp|extip:\d{1,3}(\.\d{1,3}){3})$", re.IGNORECASE)
_TCP_MULTIADDR_RE = re.compile(r"^/ip4/(\d{1,3}(?:\.\d{1,3}){3})/tcp/(\d{1,5})$")


@dataclass(frozen=True)
class NodeConfig:
    """What the emulated node needs from its command line."""

    data_dir: Path
    listen_addrs: tuple[tuple[str, int], ...]
    api_bindaddr: str
    api_port: int
    disc_port: int
    bootstrap_nodes: tuple[str, ...]
    storage_quota: int
    block_ttl: float
    block_maintenance_interval: float
    block_maintenance_count: int
    block_retries: int
    log_level: str
    api_cors_origin: str | None


def parse_size(text: str) -> int:
    """``21474836480``, ``8GiB``, ``512 MiB`` → bytes (binary units)."""
    match = re.fullmatch(r"\s*(\d+)\s*([a-zA-Z]*)\s*", text)
    if not match or match.group(2).lower() not in _SIZE_UNITS:
        raise argparse.ArgumentTypeError(f"invalid size {text!r} (expected e.g. 1024, 8GiB)")
    return int(match.group(1)) * _SIZE_UNITS[match.group(2).lower()]


def parse_duration(text: str) -> float:
    """``10`` (seconds), ``30s``, ``5m``, ``1h``, ``1d`` → seconds."""
    match = re.fullmatch(r"\s*(\d+)\s*([a-zA-Z]?)\s*", text)
    if not match or match.group(2).lower() not in _DURATION_UNITS:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r} (expected e.g. 30s, 5m, 1d)")
    return float(int(match.group(1)) * _DURATION_UNITS[match.group(2).lower()])


def parse_port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}")
    return int(text)


def parse_listen_addr(text: str) -> tuple[str, int]:
    match = _TCP_MULTIADDR_RE.fullmatch(text)
    if not match:
        raise argparse.ArgumentTypeError(
            f"invalid listen address {text!r} (expected /ip4/<address>/tcp/<port>)"
        )
    return match.group(1), parse_port(match.group(2))


def parse_log_level(text: str) -> str:
    try:
        _parse_chronicles_level(text)
    except LogLevelError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    return text


def parse_nat(text: str) -> str:
    if not _NAT_RE.match(text):
        raise argparse.ArgumentTypeError(f"invalid NAT setting {text!r}")
    return text


def parse_spr(text: str) -> str:
    if not text.startswith("spr:"):
        raise argparse.ArgumentTypeError(f"invalid bootstrap node {text!r} (expected spr:…)")
    return text


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="codex", description="Codex storage node (acceptance-suite emulator)",
        allow_abbrev=False,
    )
    add = parser.add_argument
    add("-d", "--data-dir", type=Path, default=Path.home() / ".cache" / "codex")
    add("-i", "--listen-addrs", type=parse_listen_addr, action="append")
    add("--nat", type=parse_nat, default="any")
    add("-u", "--disc-port", type=parse_port, default=8090)
    add("--net-privkey", default="key")
    add("-b", "--bootstrap-node", type=parse_spr, action="append", default=[])
    add("--api-bindaddr", default="127.0.0.1")
    add("-p", "--api-port", type=parse_port, default=8080)
    add("--api-cors-origin", default=None)
    add("-q", "--storage-quota", type=parse_size, default=21474836480)
    add("-t", "--block-ttl", type=parse_duration, default=30 * 86400.0)
    add("--block-mi", type=parse_duration, default=600.0)
    add("--block-mn", type=int, default=1000)
    add("--block-retries", type=int, default=3000)
    add("--log-level", type=parse_log_level, default="info")
    add("--log-format", choices=("auto", "colors", "nocolors", "json", "none"), default="auto")
    add("--log-file", default=None)
    add("--repo-kind", choices=("fs", "sqlite", "leveldb"), default="fs")
    add("--max-peers", type=int, default=160)
    add("--num-threads", type=int, default=0)
    add("--agent-string", default="Codex")
    add("-c", "--cache-size", type=parse_size, default=0)
    add("--metrics", action="store_true")
    add("--metrics-address", default="127.0.0.1")
    add("--metrics-port", type=parse_port, default=8008)
    add("--config-file", default=None)
    return parser


def _env_arguments(environ: Mapping[str, str], parser: argparse.ArgumentParser) -> list[str]:
    """``CODEX_API_PORT=8001`` → ``--api-port=8001`` for every long option set in the env."""
    args: list[str] = []
    for action in parser._actions:
        longs = [opt for opt in action.option_strings if opt.startswith("--")]
        if not longs or longs[0] == "--help":
            continue
        value = environ.get("CODEX_" + longs[0][2:].upper().replace("-", "_"))
        if value is None:
            continue
        if action.nargs == 0:
            if value.lower() in ("1", "true", "yes", "on"):
                args.append(longs[0])
        else:
            args.append(f"{longs[0]}={value}")
    return args


def _config_file_arguments(argv: Sequence[str], environ: Mapping[str, str],
                           parser: argparse.ArgumentParser) -> list[str]:
    """``--config-file=node.toml`` → one ``--key=value`` per TOML key (lists repeat the flag)."""
    probe = argparse.ArgumentParser(add_help=False)
    probe.add_argument("--config-file", default=environ.get("CODEX_CONFIG_FILE"))
    path = probe.parse_known_args(argv)[0].config_file
    if not path:
        return []
    import tomllib  # noqa: PLC0415 - only a node given a config file needs the TOML parser

    try:
        with open(path, "rb") as handle:
            table = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        parser.error(f"cannot read config file {path}: {exc}")
    args: list[str] = []
    for key, value in table.items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, bool):
                args.extend([f"--{key}"] if item else [])
            else:
                args.append(f"--{key}={item}")
    return args


def parse_args(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> NodeConfig:
    """Parse a ``codex`` argv (plus ``CODEX_*`` variables and ``--config-file``, in rising
    precedence: file, environment, command line); exits 2 with a message on bad input."""
    parser = _build_parser()
    env = os.environ if environ is None else environ
    from_file = _config_file_arguments(argv, env, parser)
    ns = parser.parse_args([*from_file, *_env_arguments(env, parser), *argv])
    return NodeConfig(
        data_dir=ns.data_dir,
        listen_addrs=tuple(ns.listen_addrs or [("0.0.0.0", 0)]),
        api_bindaddr=ns.api_bindaddr,
        api_port=ns.api_port,
        disc_port=ns.disc_port,
        bootstrap_nodes=tuple(ns.bootstrap_node),
        storage_quota=ns.storage_quota,
        block_ttl=ns.block_ttl,
        block_maintenance_interval=ns.block_mi,
        block_maintenance_count=ns.block_mn,
        block_retries=ns.block_retries,
        log_level=ns.log_level,
        api_cors_origin=ns.api_cors_origin,
    )
