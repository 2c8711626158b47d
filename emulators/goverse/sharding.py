"""Object id → shard, as Goverse's ``cluster/sharding`` computes it (goverse.md §1.3).

- ``shard#<n>/<rest>`` with ``0 <= n < shards``: fixed to shard ``n``;
- any other id containing ``/`` is fixed-node (``<nodeAddr>/<rest>``): no shard at all;
- otherwise FNV-1a (32-bit) over the id's UTF-8 bytes, modulo the shard count.
"""

from __future__ import annotations

import re

DEFAULT_SHARDS = 8192
_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193
_FIXED_SHARD = re.compile(r"^shard#(\d+)/")


def fnv1a_32(data: bytes) -> int:
    value = _FNV_OFFSET
    for byte in data:
        value = ((value ^ byte) * _FNV_PRIME) & 0xFFFFFFFF
    return value


def fixed_node(object_id: str, shards: int = DEFAULT_SHARDS) -> str | None:
    """The node address of a fixed-node id (``<addr>/<rest>``), else None."""
    if "/" not in object_id or shard_of(object_id, shards) is not None:
        return None
    return object_id.split("/", 1)[0]


def shard_of(object_id: str, shards: int = DEFAULT_SHARDS) -> int | None:
    """The shard an object id lives in, or None for a fixed-node id."""
    match = _FIXED_SHARD.match(object_id)
    if match and int(match.group(1)) < shards:
        return int(match.group(1))
    if "/" in object_id:
        return None
    return fnv1a_32(object_id.encode("utf-8")) % shards
