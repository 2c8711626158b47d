"""The command lines and YAML config of Goverse's node, gate and inspector (goverse.md §4.1).

Flags follow Go's ``flag`` package: ``-name value``, ``-name=value`` and the same with ``--``.
With ``-config``, the process takes its settings from the YAML entry named by ``-node-id`` /
``-gate-id`` (or the ``inspector`` section), and any other flag set to a non-default value is an
error, as in Goverse's loader.

Timings the real binaries fix in code (the 5 s management tick and the chat server's 5 s delay
before creating ``ChatRoomMgr0``) can be shortened for the emulator only, through the environment
variables ``GOVERSE_EMULATOR_TICK`` and ``GOVERSE_EMULATOR_CHAT_DELAY`` (seconds); real binaries
ignore them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

DEFAULT_SHARDS = 8192
DEFAULT_STABILITY = 10.0
DEFAULT_TICK = 5.0
DEFAULT_CHAT_DELAY = 5.0
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0,
                   "h": 3600.0}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")


class ConfigError(ValueError):
    """A flag or config problem; the message says which one (Go's wording where known)."""


def parse_duration(text: str) -> float:
    """A Go ``time.Duration`` string (``10s``, ``500ms``, ``1m30s``) → seconds."""
    text = str(text).strip()
    if text in ("0", ""):
        return 0.0
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ConfigError(f'time: invalid duration "{text}"')
    return sum(float(number) * _DURATION_UNITS[unit] for number, unit in parts)


def parse_go_flags(argv: Sequence[str], defaults: Mapping[str, str]) -> dict[str, str]:
    """Go ``flag`` parsing of string flags; returns every flag's value (defaults filled in)."""
    values = dict(defaults)
    index = 0
    while index < len(argv):
        arg = argv[index]
        if arg in ("-", "--") or not arg.startswith("-"):
            break
        name, has_value, value = arg.lstrip("-").partition("=")
        if name not in defaults:
            raise ConfigError(f"flag provided but not defined: -{name}")
        if not has_value:
            index += 1
            if index >= len(argv):
                raise ConfigError(f"flag needs an argument: -{name}")
            value = argv[index]
        values[name] = value
        index += 1
    return values


@dataclass(frozen=True)
class ClusterSettings:
    """What every process of one cluster must agree on."""

    etcd_endpoint: str = "localhost:2379"
    etcd_prefix: str = "/goverse"
    shards: int = DEFAULT_SHARDS
    stability: float = DEFAULT_STABILITY
    tick: float = DEFAULT_TICK


@dataclass(frozen=True)
class ProcessSettings:
    """A node's or gate's addresses and cluster settings."""

    id: str
    listen: str
    advertise: str
    cluster: ClusterSettings
    http_listen: str | None = None
    ops_listen: str | None = None
    inspector_address: str | None = None


@dataclass(frozen=True)
class InspectorSettings:
    grpc_addr: str = ":8081"
    http_addr: str = ":8080"
    static_dir: str = "cmd/inspector/web"
    etcd_addr: str | None = None
    etcd_prefix: str = "/goverse"
    shards: int = DEFAULT_SHARDS


def _emulator_timing() -> dict[str, float]:
    """The management tick from GOVERSE_EMULATOR_TICK, if set (see the module docstring)."""
    tick = os.environ.get("GOVERSE_EMULATOR_TICK")
    return {"tick": float(tick)} if tick else {}


def chat_delay() -> float:
    """Seconds the chat server waits after ClusterReady before creating ChatRoomMgr0."""
    return float(os.environ.get("GOVERSE_EMULATOR_CHAT_DELAY") or DEFAULT_CHAT_DELAY)


def _load_yaml(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as handle:
            document = yaml.safe_load(handle)
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"failed to load config {path}: {exc}") from exc
    if not isinstance(document, dict) or document.get("version") != 1:
        raise ConfigError(f"config {path}: version must be 1")
    return document


def _cluster_from_yaml(document: dict) -> ClusterSettings:
    cluster = document.get("cluster") or {}
    shards = cluster.get("shards")
    if not isinstance(shards, int) or shards <= 0:
        raise ConfigError("cluster.shards must be a positive number")
    etcd = cluster.get("etcd") or {}
    endpoints = etcd.get("endpoints") or []
    if not endpoints:
        raise ConfigError("cluster.etcd.endpoints must list at least one endpoint")
    if not etcd.get("prefix"):
        raise ConfigError("cluster.etcd.prefix is required")
    stability = cluster.get("cluster_state_stability_duration")
    return ClusterSettings(
        etcd_endpoint=str(endpoints[0]), etcd_prefix=str(etcd["prefix"]), shards=shards,
        stability=DEFAULT_STABILITY if stability is None else parse_duration(stability),
        **_emulator_timing(),
    )


def _reject_overrides(values: dict[str, str], defaults: Mapping[str, str],
                      allowed: set[str]) -> None:
    for name, value in values.items():
        if name not in allowed and value != defaults[name]:
            raise ConfigError(f"--{name} cannot be used with --config")


NODE_FLAGS = {"config": "", "node-id": "", "listen": ":48000", "advertise": "localhost:48000",
              "http-listen": "", "etcd": "localhost:2379", "etcd-prefix": "/goverse",
              "inspector-address": ""}
GATE_FLAGS = {"config": "", "gate-id": "", "listen": ":49000", "advertise": "localhost:49000",
              "http-listen": "", "ops-listen": "", "etcd": "localhost:2379",
              "etcd-prefix": "/goverse", "inspector-address": ""}
INSPECTOR_FLAGS = {"config": "", "grpc-addr": ":8081", "http-addr": ":8080",
                   "static-dir": "cmd/inspector/web", "etcd-addr": "", "etcd-prefix": "/goverse"}


def _process_settings(argv: Sequence[str], defaults: Mapping[str, str], id_flag: str,
                      section: str) -> ProcessSettings:
    values = parse_go_flags(argv, defaults)
    if not values["config"]:
        cluster = ClusterSettings(etcd_endpoint=values["etcd"], etcd_prefix=values["etcd-prefix"],
                                  **_emulator_timing())
        return ProcessSettings(
            id=values[id_flag] or values["advertise"], listen=values["listen"],
            advertise=values["advertise"], cluster=cluster,
            http_listen=values["http-listen"] or None,
            ops_listen=values.get("ops-listen") or None,
            inspector_address=values["inspector-address"] or None,
        )
    _reject_overrides(values, defaults, {"config", id_flag})
    if not values[id_flag]:
        raise ConfigError(f"--{id_flag} is required when using --config")
    document = _load_yaml(values["config"])
    cluster = _cluster_from_yaml(document)  # the whole config is validated before the lookup
    entries = {entry.get("id"): entry for entry in document.get(section) or []}
    entry = entries.get(values[id_flag])
    if entry is None:
        raise ConfigError(f"{section[:-1]} {values[id_flag]!r} not found in config")
    listen = entry.get("grpc_addr")
    advertise = entry.get("advertise_addr") or (listen if section == "gates" else None)
    if not listen or not advertise:
        raise ConfigError(f"{section[:-1]} {values[id_flag]!r}: grpc_addr and advertise_addr "
                          "are required")
    inspector = (document.get("inspector") or {}).get("advertise_addr")
    return ProcessSettings(
        id=values[id_flag], listen=listen, advertise=advertise,
        cluster=cluster, http_listen=entry.get("http_addr") or None,
        ops_listen=entry.get("ops_addr") or None, inspector_address=inspector or None,
    )


def node_settings(argv: Sequence[str]) -> ProcessSettings:
    """A node's (chat server's) settings from its command line."""
    return _process_settings(argv, NODE_FLAGS, "node-id", "nodes")


def gate_settings(argv: Sequence[str]) -> ProcessSettings:
    """A gate's settings from its command line."""
    return _process_settings(argv, GATE_FLAGS, "gate-id", "gates")


def inspector_settings(argv: Sequence[str]) -> InspectorSettings:
    """The inspector's settings from its command line."""
    values = parse_go_flags(argv, INSPECTOR_FLAGS)
    if not values["config"]:
        return InspectorSettings(values["grpc-addr"], values["http-addr"], values["static-dir"],
                                 values["etcd-addr"] or None, values["etcd-prefix"])
    _reject_overrides(values, INSPECTOR_FLAGS, {"config", "static-dir"})
    document = _load_yaml(values["config"])
    section = document.get("inspector") or {}
    if not section.get("grpc_addr"):
        raise ConfigError("inspector.grpc_addr is required when using --config")
    etcd = ((document.get("cluster") or {}).get("etcd") or {})
    endpoints = etcd.get("endpoints") or []
    return InspectorSettings(section["grpc_addr"], section.get("http_addr") or ":8080",
                             values["static-dir"], str(endpoints[0]) if endpoints else None,
                             etcd.get("prefix") or "/goverse",
                             int((document.get("cluster") or {}).get("shards") or DEFAULT_SHARDS))


def write_cluster_yaml(path: Path, *, shards: int, etcd_endpoint: str, prefix: str,
                       stability: str, nodes: Sequence[Mapping[str, str]],
                       gates: Sequence[Mapping[str, str]],
                       inspector: Mapping[str, str] | None = None) -> Path:
    """Write a Goverse YAML config (the real keys) for a whole cluster."""
    document: dict[str, object] = {
        "version": 1,
        "cluster": {"shards": shards, "provider": "etcd",
                    "etcd": {"endpoints": [etcd_endpoint], "prefix": prefix},
                    "cluster_state_stability_duration": stability},
        "nodes": [dict(node) for node in nodes],
        "gates": [dict(gate) for gate in gates],
    }
    if inspector:
        document["inspector"] = dict(inspector)
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path
