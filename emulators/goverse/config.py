"""The command lines and YAML config of Goverse's node, gate and inspector (goverse.md §4.1).

Flags follow Go's ``flag`` package (``emulators.goflag``): ``-name value``, ``-name=value`` and
the same with ``--``; the flag names, defaults and usage texts are those of Goverse's loaders
(``node/serverconfig``, ``cmd/gate/gateconfig``, ``cmd/inspector/inspectorconfig``). A command
line the flag package refuses raises ``goflag.FlagError`` (or ``goflag.HelpRequested``); a
problem the loader finds afterwards raises ConfigError with the loader's words. With
``-config``, the process takes its settings from the YAML entry named by ``-node-id`` /
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

import yaml

from emulators import goflag
from emulators.goflag import Flag

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
    except OSError as exc:  # Go's os.ReadFile error text
        why = (exc.strerror or str(exc)).lower()
        raise ConfigError(f"failed to load config: open {path}: {why}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"failed to load config: yaml: {exc}") from exc
    if not isinstance(document, dict) or document.get("version") != 1:
        raise ConfigError(f"failed to load config: {path}: version must be 1")
    return document


def _cluster_from_yaml(document: dict) -> ClusterSettings:
    cluster = document.get("cluster") or {}
    shards = cluster.get("shards")
    if not isinstance(shards, int) or shards <= 0:
        raise ConfigError("failed to load config: cluster.shards must be a positive number")
    etcd = cluster.get("etcd") or {}
    endpoints = etcd.get("endpoints") or []
    if not endpoints:
        raise ConfigError("failed to load config: cluster.etcd.endpoints must list at least one "
                          "endpoint")
    if not etcd.get("prefix"):
        raise ConfigError("failed to load config: cluster.etcd.prefix is required")
    stability = cluster.get("cluster_state_stability_duration")
    return ClusterSettings(
        etcd_endpoint=str(endpoints[0]), etcd_prefix=str(etcd["prefix"]), shards=shards,
        stability=DEFAULT_STABILITY if stability is None else parse_duration(stability),
        **_emulator_timing(),
    )


def _reject_overrides(values: Mapping[str, str], flags: Sequence[Flag],
                      allowed: set[str]) -> None:
    """Goverse's loaders check the flags in the order they define them."""
    for flag in flags:
        if flag.name not in allowed and values[flag.name] != flag.default:
            raise ConfigError(f"--{flag.name} cannot be used with --config; configure in config "
                              "file instead")


_NOT_WITH_CONFIG = "(cannot be used with --config)"


def _process_flags(kind: str, port: int) -> list[Flag]:
    """The first flags of serverconfig (``kind`` Node) and gateconfig (Gate), alike but for the
    kind and the default port."""
    return [
        Flag("config", "Path to YAML config file", ""),
        Flag(f"{kind.lower()}-id", f"{kind} ID (required if config is provided, defaults to "
             "advertise address otherwise)", ""),
        Flag("listen", f"{kind} listen address {_NOT_WITH_CONFIG}", f":{port}"),
        Flag("advertise", f"{kind} advertise address {_NOT_WITH_CONFIG}", f"localhost:{port}"),
    ]


NODE_FLAGS = [
    *_process_flags("Node", 48000),
    Flag("http-listen", f"HTTP listen address for metrics {_NOT_WITH_CONFIG}", ""),
    Flag("etcd", f"Etcd address {_NOT_WITH_CONFIG}", "localhost:2379"),
    Flag("etcd-prefix", f"Etcd key prefix {_NOT_WITH_CONFIG}", "/goverse"),
    Flag("inspector-address", "Inspector service address (optional, cannot be used with "
         "--config)", ""),
]
GATE_FLAGS = [
    *_process_flags("Gate", 49000),
    Flag("http-listen", "HTTP listen address for REST API and metrics (cannot be used with "
         "--config)", ""),
    # -ops-listen's usage text is not in the gateconfig version read (inferred wording).
    Flag("ops-listen", "Ops HTTP listen address for health, readiness and metrics (cannot be "
         "used with --config)", ""),
    Flag("etcd", f"Etcd address {_NOT_WITH_CONFIG}", "localhost:2379"),
    Flag("etcd-prefix", f"Etcd key prefix {_NOT_WITH_CONFIG}", "/goverse"),
    Flag("inspector-address", f"Inspector service address {_NOT_WITH_CONFIG}", ""),
]
INSPECTOR_FLAGS = [
    Flag("config", "Path to YAML config file", ""),
    Flag("grpc-addr", f"gRPC server address {_NOT_WITH_CONFIG}", ":8081"),
    Flag("http-addr", f"HTTP server address {_NOT_WITH_CONFIG}", ":8080"),
    Flag("static-dir", f"Static files directory for web UI {_NOT_WITH_CONFIG}",
         "cmd/inspector/web"),
    Flag("etcd-addr", "etcd server address (optional, cannot be used with --config)", ""),
    Flag("etcd-prefix", f"etcd key prefix {_NOT_WITH_CONFIG}", "/goverse"),
]


def _strings(flags: Sequence[Flag], argv: Sequence[str]) -> dict[str, str]:
    return {name: str(value) for name, value in goflag.parse_args(flags, argv).items()}


def _process_settings(argv: Sequence[str], flags: Sequence[Flag], id_flag: str,
                      section: str) -> ProcessSettings:
    values = _strings(flags, argv)
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
    if not values[id_flag]:
        raise ConfigError(f"--{id_flag} is required when using --config")
    _reject_overrides(values, flags, {"config", id_flag})
    document = _load_yaml(values["config"])
    cluster = _cluster_from_yaml(document)  # the whole config is validated before the lookup
    entries = {entry.get("id"): entry for entry in document.get(section) or []}
    entry = entries.get(values[id_flag])
    role = section[:-1]
    if entry is None:
        raise ConfigError(f"failed to find {role} config: {role} {values[id_flag]} not found "
                          "in config")
    listen = entry.get("grpc_addr")
    advertise = entry.get("advertise_addr") or (listen if section == "gates" else None)
    if not listen or not advertise:
        raise ConfigError(f"failed to find {role} config: {role} {values[id_flag]}: grpc_addr "
                          "and advertise_addr are required")
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
    values = _strings(INSPECTOR_FLAGS, argv)
    if not values["config"]:
        return InspectorSettings(values["grpc-addr"], values["http-addr"], values["static-dir"],
                                 values["etcd-addr"] or None, values["etcd-prefix"])
    _reject_overrides(values, INSPECTOR_FLAGS, {"config"})
    document = _load_yaml(values["config"])
    section = document.get("inspector") or {}
    if not section.get("grpc_addr") and not section.get("http_addr"):
        raise ConfigError("inspector configuration is missing in config file")
    if not section.get("grpc_addr"):
        raise ConfigError("inspector.grpc_addr is required in config file")
    if not section.get("http_addr"):
        raise ConfigError("inspector.http_addr is required in config file")
    etcd = ((document.get("cluster") or {}).get("etcd") or {})
    endpoints = etcd.get("endpoints") or []
    return InspectorSettings(section["grpc_addr"], section.get("http_addr") or ":8080",
                             values["static-dir"], str(endpoints[0]) if endpoints else None,
                             etcd.get("prefix") or "/goverse",
                             int((document.get("cluster") or {}).get("shards") or DEFAULT_SHARDS))
