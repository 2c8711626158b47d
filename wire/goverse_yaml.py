"""The Goverse cluster YAML file (goverse.md §2): the keys the real ``-config`` flag reads.

The suite writes it; the emulated programs (and real Goverse) read it with their own parsers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml


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
