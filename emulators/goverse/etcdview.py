"""A Goverse process's mirror of its cluster's etcd keys (goverse.md §1.2), kept by a watch.

Keys under the prefix: ``nodes/<addr>`` and ``gates/<addr>`` (leased), ``leader`` and
``shard/<id>`` = ``"<target>,<current>[,f=<flag>…]"`` (plain keys written by compare-and-swap on
their mod revision).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from emulators.goverse.etcdclient import ETCD_ERRORS, EtcdClient, b64, unb64

__all__ = ["ETCD_ERRORS", "ClusterView", "EtcdMirror", "EtcdUnavailableError", "Registration",
           "Shard", "parse_shard"]

TXN_MAX_OPS = 128  # etcd's default --max-txn-ops
LEASE_TTL = 15  # etcdmanager.NodeLeaseTTL
DIAL_TIMEOUT = 5.0  # seconds: Goverse's etcd client (clientv3.Config.DialTimeout)


class EtcdUnavailableError(Exception):
    """etcd cannot be reached at the endpoint (Go's client gives up after its dial timeout)."""


@dataclass(frozen=True)
class Shard:
    target: str = ""
    current: str = ""
    flags: tuple[str, ...] = ()
    mod_revision: int = 0

    @property
    def pinned(self) -> bool:
        return "pinned" in self.flags

    def value(self) -> str:
        return ",".join([self.target, self.current, *(f"f={flag}" for flag in self.flags)])


def parse_shard(text: str, mod_revision: int = 0) -> Shard:
    """Goverse's tolerant parse: flags anywhere, the first two other parts are target, current."""
    parts = [part.strip() for part in text.split(",")]
    flags = tuple(part[2:] for part in parts if part.startswith("f="))
    plain = [part for part in parts if not part.startswith("f=")]
    target = plain[0] if plain else ""
    current = plain[1] if len(plain) > 1 else ""
    return Shard(target, current, flags, mod_revision)


@dataclass
class ClusterView:
    """What the process currently believes about the cluster (guarded by ``lock``)."""

    nodes: set[str] = field(default_factory=set)
    gates: set[str] = field(default_factory=set)
    leader: str = ""
    leader_revision: int = 0
    shards: dict[int, Shard] = field(default_factory=dict)
    loaded: bool = False
    lock: threading.RLock = field(default_factory=threading.RLock)


class EtcdMirror:
    """Loads the prefix, then follows it with a watch; ``on_membership`` fires on node/gate
    add/remove and leader changes (what resets the stability window), ``on_shards`` once per
    load or watch batch that changed the shard mapping."""

    def __init__(self, endpoint: str, prefix: str,
                 on_membership: Callable[[], None],
                 on_shards: Callable[[], None] | None = None) -> None:
        self.endpoint = endpoint
        self.prefix = prefix.rstrip("/")
        host, _, port = endpoint.rpartition(":")
        # Go's etcd client takes any endpoint text and fails only when it cannot dial it.
        self.client = (EtcdClient(host, int(port), DIAL_TIMEOUT)
                       if host and port.isdigit() else None)
        self.view = ClusterView()
        self._on_membership = on_membership
        self._on_shards = on_shards
        self._stopping = threading.Event()

    # --- keys ---------------------------------------------------------------------------------
    def key(self, *parts: str) -> str:
        return "/".join([self.prefix, *parts])

    def _apply(self, key: str, value: str | None, mod_revision: int) -> bool:
        """Take one key's new state into the view; True if it was a shard's."""
        relative = key[len(self.prefix) + 1:]
        membership_changed = False
        with self.view.lock:
            if relative.startswith("nodes/") or relative.startswith("gates/"):
                group = self.view.nodes if relative.startswith("nodes/") else self.view.gates
                address = relative.split("/", 1)[1]
                before = address in group
                if value is None:
                    group.discard(address)
                else:
                    group.add(address)
                membership_changed = before != (value is not None)
            elif relative == "leader":
                new_leader = value or ""
                membership_changed = new_leader != self.view.leader
                self.view.leader = new_leader
                self.view.leader_revision = mod_revision if value is not None else 0
            elif relative.startswith("shard/"):
                try:
                    shard_id = int(relative.split("/", 1)[1])
                except ValueError:
                    return False
                if value is None:
                    self.view.shards.pop(shard_id, None)
                else:
                    self.view.shards[shard_id] = parse_shard(value, mod_revision)
                return True
        if membership_changed:
            self._on_membership()
        return False

    def _shards_changed(self) -> None:
        if self._on_shards is not None:
            self._on_shards()

    # --- load and watch -----------------------------------------------------------------------
    def _range(self) -> tuple[list[dict], int]:
        return self.require_client().range_prefix(self.prefix + "/")

    def load(self) -> int:
        """Read the whole prefix; returns the revision to watch from."""
        kvs, revision = self._range()
        with self.view.lock:
            self.view.nodes.clear()
            self.view.gates.clear()
            self.view.shards.clear()
            self.view.leader, self.view.leader_revision = "", 0
        for kv in kvs:
            self._apply(unb64(kv["key"]), unb64(kv.get("value", "")), int(kv["mod_revision"]))
        self.view.loaded = True
        self._on_membership()
        self._shards_changed()
        return revision

    def start(self) -> None:
        """Load the prefix, then follow it; EtcdUnavailableError if etcd does not answer within
        the dial timeout of Goverse's etcd client."""
        deadline = time.monotonic() + DIAL_TIMEOUT
        while True:
            try:
                revision = self.load()
                break
            except (EtcdUnavailableError, *ETCD_ERRORS) as error:
                if self.client is None or time.monotonic() >= deadline or \
                        self._stopping.wait(0.1):
                    raise EtcdUnavailableError(f"cannot reach etcd at {self.endpoint}") from error
        threading.Thread(target=self._follow, args=(revision,), name="etcd-watch",
                         daemon=True).start()

    def start_following(self) -> None:
        """Follow the prefix, loading it as soon as etcd answers (it may not yet)."""
        threading.Thread(target=self._follow, args=(None,), name="etcd-watch",
                         daemon=True).start()

    def stop(self) -> None:
        """Stop following. The watch thread is a daemon blocked in a read: closing its response
        from here would wait on the reader's lock, so it simply ends with the process."""
        self._stopping.set()

    def _follow(self, revision: int | None) -> None:
        backoff = 0.1
        while not self._stopping.is_set():
            if revision is not None:
                with contextlib.suppress(*ETCD_ERRORS, AttributeError):
                    self._watch(revision + 1)
            if self._stopping.wait(backoff):
                return
            backoff = min(backoff * 2, 2.0)
            try:
                revision = self.load()
                backoff = 0.1
            except (EtcdUnavailableError, *ETCD_ERRORS):
                continue

    def _watch(self, start_revision: int) -> None:
        for result in self.require_client().watch(self.prefix + "/", start_revision):
            if self._stopping.is_set():
                return
            shards_changed = False
            for event in result.get("events", []):
                kv = event["kv"]
                deleted = event.get("type") == "DELETE"
                value = None if deleted else unb64(kv.get("value", ""))
                shards_changed |= self._apply(unb64(kv["key"]), value,
                                              int(kv.get("mod_revision", 0)))
            if shards_changed:
                self._shards_changed()

    # --- writes -------------------------------------------------------------------------------
    def require_client(self) -> EtcdClient:
        """The etcd client; EtcdUnavailableError if the endpoint cannot even be dialled."""
        if self.client is None:
            raise EtcdUnavailableError(f"cannot dial etcd at {self.endpoint}")
        return self.client

    def cas_many(self, writes: Iterable[tuple[str, str, int]]) -> bool:
        """Put each (key, value) if its mod revision is still the expected one, in transactions
        of at most TXN_MAX_OPS keys; True if every transaction succeeded. A shard stored is
        taken into the view at once, before its watch event arrives, as Goverse's
        ``storeShardMapping`` does (``cluster/consensusmanager``); ``on_shards`` still fires
        when the watch brings the change."""
        client = self.require_client()
        pending = list(writes)
        all_ok = True
        for start in range(0, len(pending), TXN_MAX_OPS):
            batch = pending[start : start + TXN_MAX_OPS]
            reply = client.txn({
                "compare": [{"key": b64(key), "result": "EQUAL", "target": "MOD",
                             "mod_revision": str(revision)} for key, _, revision in batch],
                "success": [{"request_put": {"key": b64(key), "value": b64(value)}}
                            for key, value, _ in batch],
            })
            if not reply.get("succeeded"):
                all_ok = False
                continue
            revision = int(reply["header"]["revision"])
            for key, value, _ in batch:
                self._take_stored(key, value, revision)
        return all_ok

    def _take_stored(self, key: str, value: str, revision: int) -> None:
        """A shard this process stored at ``revision`` into the view, unless the view already
        holds a later state of it."""
        relative = key[len(self.prefix) + 1:]
        if not relative.startswith("shard/"):
            return
        shard_id = int(relative.split("/", 1)[1])
        with self.view.lock:
            known = self.view.shards.get(shard_id)
            if known is None or known.mod_revision < revision:
                self.view.shards[shard_id] = parse_shard(value, revision)


class Registration:
    """A leased ``nodes/<addr>`` or ``gates/<addr>`` key, kept alive until ``stop``."""

    def __init__(self, mirror: EtcdMirror, group: str, address: str) -> None:
        self._client = mirror.require_client()
        self._key = mirror.key(group, address)
        self._address = address
        self._lease = self._register()
        self._stopping = threading.Event()
        threading.Thread(target=self._keep_alive, name="lease-keepalive", daemon=True).start()

    def _register(self) -> str:
        lease = self._client.lease_grant(LEASE_TTL)
        self._client.put(self._key, self._address, lease=lease)
        return lease

    def _keep_alive(self) -> None:
        """Refresh the lease every third of its TTL, as Go's ``KeepAlive`` does; with etcd away,
        the next refresh is simply the next one due."""
        while not self._stopping.wait(LEASE_TTL / 3):
            with contextlib.suppress(*ETCD_ERRORS):
                if self._client.lease_refresh(self._lease) <= 0:
                    self._lease = self._register()  # expired meanwhile (etcd was away)

    def stop(self) -> None:
        """Delete the key and revoke the lease (a clean stop is seen at once). With etcd away
        the key simply expires with its lease, as a Go process's would."""
        self._stopping.set()
        with contextlib.suppress(*ETCD_ERRORS):
            self._client.delete(self._key)
            self._client.lease_revoke(self._lease)
