"""A Goverse process's mirror of its cluster's etcd keys (goverse.md §1.2), kept by a watch.

Keys under the prefix: ``nodes/<addr>`` and ``gates/<addr>`` (leased), ``leader`` and
``shard/<id>`` = ``"<target>,<current>[,f=<flag>…]"`` (plain keys written by compare-and-swap on
their mod revision).
"""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import etcd3gw
import requests
from etcd3gw.exceptions import Etcd3Exception

TXN_MAX_OPS = 128  # etcd's default --max-txn-ops
LEASE_TTL = 15
DIAL_TIMEOUT = 5.0  # seconds: Goverse's etcd client (clientv3.Config.DialTimeout)
# What talking to etcd can fail with (connection, HTTP, or an answer that is not etcd's).
ETCD_ERRORS = (Etcd3Exception, requests.RequestException, OSError, ValueError, KeyError)


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


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


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
        self.client = (etcd3gw.client(host=host, port=int(port), timeout=DIAL_TIMEOUT)
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
        if self.client is None:
            raise EtcdUnavailableError(f"cannot dial etcd at {self.endpoint}")
        prefix = self.prefix + "/"
        end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        reply = self.client.post(self.client.get_url("/kv/range"),
                                 json={"key": _b64(prefix), "range_end": _b64(end)})
        return reply.get("kvs", []), int(reply["header"]["revision"])

    def load(self) -> int:
        """Read the whole prefix; returns the revision to watch from."""
        kvs, revision = self._range()
        with self.view.lock:
            self.view.nodes.clear()
            self.view.gates.clear()
            self.view.shards.clear()
            self.view.leader, self.view.leader_revision = "", 0
        for kv in kvs:
            self._apply(base64.b64decode(kv["key"]).decode(),
                        base64.b64decode(kv.get("value", "")).decode(), int(kv["mod_revision"]))
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
        prefix = self.prefix + "/"
        end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        request = {"create_request": {"key": _b64(prefix), "range_end": _b64(end),
                                      "start_revision": start_revision}}
        response = self.client.session.post(self.client.get_url("/watch"), json=request,
                                            stream=True, timeout=(5, None))
        for line in response.iter_lines():
            if self._stopping.is_set():
                return
            if not line.strip():
                continue
            result = json.loads(line)["result"]
            shards_changed = False
            for event in result.get("events", []):
                kv = event["kv"]
                key = base64.b64decode(kv["key"]).decode()
                deleted = event.get("type") == "DELETE"
                value = None if deleted else base64.b64decode(kv.get("value", "")).decode()
                shards_changed |= self._apply(key, value, int(kv.get("mod_revision", 0)))
            if shards_changed:
                self._shards_changed()

    # --- writes -------------------------------------------------------------------------------
    def cas_many(self, writes: Iterable[tuple[str, str, int]]) -> bool:
        """Put each (key, value) if its mod revision is still the expected one, in transactions
        of at most TXN_MAX_OPS keys; True if every transaction succeeded."""
        pending = list(writes)
        all_ok = True
        for start in range(0, len(pending), TXN_MAX_OPS):
            batch = pending[start : start + TXN_MAX_OPS]
            txn = {
                "compare": [{"key": _b64(key), "result": "EQUAL", "target": "MOD",
                             "mod_revision": str(revision)} for key, _, revision in batch],
                "success": [{"request_put": {"key": _b64(key), "value": _b64(value)}}
                            for key, value, _ in batch],
            }
            reply = self.client.transaction(txn)
            all_ok = all_ok and bool(reply.get("succeeded"))
        return all_ok


class Registration:
    """A leased ``nodes/<addr>`` or ``gates/<addr>`` key, kept alive until ``stop``."""

    def __init__(self, mirror: EtcdMirror, group: str, address: str) -> None:
        self._mirror = mirror
        self._key = mirror.key(group, address)
        self._address = address
        self._lease = mirror.client.lease(ttl=LEASE_TTL)
        mirror.client.put(self._key, address, lease=self._lease)
        self._stopping = threading.Event()
        threading.Thread(target=self._keep_alive, name="lease-keepalive", daemon=True).start()

    def _keep_alive(self) -> None:
        """Refresh the lease every third of its TTL, as Go's ``KeepAlive`` does; with etcd away,
        the next refresh is simply the next one due."""
        while not self._stopping.wait(LEASE_TTL / 3):
            with contextlib.suppress(*ETCD_ERRORS):
                if self._lease.refresh() <= 0:  # expired meanwhile (etcd was away): register again
                    self._lease = self._mirror.client.lease(ttl=LEASE_TTL)
                    self._mirror.client.put(self._key, self._address, lease=self._lease)

    def stop(self) -> None:
        """Delete the key and revoke the lease (a clean stop is seen at once). With etcd away
        the key simply expires with its lease, as a Go process's would."""
        self._stopping.set()
        with contextlib.suppress(*ETCD_ERRORS):
            self._mirror.client.delete(self._key)
            self._lease.revoke()
