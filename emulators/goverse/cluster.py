"""A Goverse node's or gate's part in its cluster: the management tick (goverse.md §1.3–1.4).

Every tick, in order: try to become leader (if the leader key is empty or names a dead node);
as a stable leader, assign targets to shards without a live target (or else rebalance); as a
stable node, claim the shards targeted at this node, release shards it no longer targets, and
report eviction candidates; finally fire the one-shot "cluster ready" once every shard has a
target and a current owner and the state is stable.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

from emulators.goverse.config import ClusterSettings
from emulators.goverse.etcdview import (
    ETCD_ERRORS,
    EtcdMirror,
    EtcdUnavailableError,
    Registration,
    Shard,
)
from emulators.goverse.logs import GoverseLogger
from emulators.goverse.sharding import fixed_node, shard_of

MIN_QUORUM = 1


class RoutingError(Exception):
    """No node can be named for an object right now."""


class ClusterStartError(Exception):
    """The process could not join its cluster; the message says what failed (etcd's address
    and Go's etcd client's error, which after its dial timeout is ``context deadline
    exceeded``)."""


class Cluster:
    """Membership, leadership, shard ownership and readiness for one process."""

    def __init__(self, settings: ClusterSettings, advertise: str, role: str,
                 log: GoverseLogger) -> None:
        self.settings = settings
        self.advertise = advertise
        self.role = role  # "node" or "gate"
        self.log = log
        self.ready = threading.Event()
        self.mirror = EtcdMirror(settings.etcd_endpoint, settings.etcd_prefix,
                                 on_membership=self._membership_changed)
        self._last_change = time.monotonic()
        self._registration: Registration | None = None
        self._stopping = threading.Event()
        self.on_tick: list[Callable[[], None]] = []
        self.local_object_shards: Callable[[], set[int]] = set

    # --- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        """Load and follow the cluster's keys, register this process, start the tick; raises
        ClusterStartError if etcd cannot be used."""
        endpoint = self.settings.etcd_endpoint
        try:
            self.mirror.start()
            self._registration = Registration(self.mirror, f"{self.role}s", self.advertise)
        except (EtcdUnavailableError, *ETCD_ERRORS) as error:
            self.mirror.stop()
            raise ClusterStartError(f"failed to connect to etcd at {endpoint}: context deadline "
                                    "exceeded") from error
        threading.Thread(target=self._run, name="cluster-tick", daemon=True).start()

    def stop(self) -> None:
        self._stopping.set()
        if self._registration is not None:
            self._registration.stop()
        self.mirror.stop()

    def _membership_changed(self) -> None:
        self._last_change = time.monotonic()

    def _run(self) -> None:
        self.tick()
        while not self._stopping.wait(self.settings.tick):
            self.tick()

    # --- state --------------------------------------------------------------------------------
    @property
    def view(self):
        return self.mirror.view

    def live_nodes(self) -> list[str]:
        with self.view.lock:
            return sorted(self.view.nodes)

    def is_stable(self) -> bool:
        with self.view.lock:
            group = self.view.nodes if self.role == "node" else self.view.gates
            registered = self.view.loaded and self.advertise in group
            enough = len(self.view.nodes) >= MIN_QUORUM
        return registered and enough and \
            time.monotonic() - self._last_change >= self.settings.stability

    def _fully_claimed(self) -> bool:
        with self.view.lock:
            shards = self.view.shards
            return len(shards) >= self.settings.shards and all(
                shards.get(i, Shard()).target and shards.get(i, Shard()).current
                for i in range(self.settings.shards))

    # --- the tick -----------------------------------------------------------------------------
    def tick(self) -> None:
        try:
            if self.role == "node":
                self._try_lead()
                if self._is_leader() and self.is_stable() and self._lead():
                    return
                if self.is_stable():
                    self._claim_and_release()
            if not self.ready.is_set() and self.is_stable() and self._fully_claimed():
                self.ready.set()
                self.log.info("Cluster is now ready")
            for callback in self.on_tick:
                callback()
        except Exception as exc:
            self.log.warn(f"Cluster management tick failed: {exc}")

    def _is_leader(self) -> bool:
        with self.view.lock:
            return self.view.leader == self.advertise

    def _try_lead(self) -> None:
        with self.view.lock:
            leader, revision = self.view.leader, self.view.leader_revision
            alive = leader in self.view.nodes
        if leader and alive:
            return
        if self.mirror.cas_many([(self.mirror.key("leader"), self.advertise, revision)]):
            self.log.info(f"Became leader (previous: {leader or 'none'})")

    def _lead(self) -> bool:
        """Leader work; True if it changed anything (the rest of the tick is then skipped)."""
        nodes = self.live_nodes()
        if not nodes:
            return False
        with self.view.lock:
            shards = {i: self.view.shards.get(i, Shard()) for i in range(self.settings.shards)}
        orphans = [i for i, s in shards.items() if not s.target or s.target not in nodes]
        if orphans:
            return self._assign(orphans, shards, nodes)
        return self._rebalance(shards, nodes)

    def _assign(self, orphans: list[int], shards: dict[int, Shard], nodes: list[str]) -> bool:
        random.shuffle(orphans)
        offset = random.randrange(len(nodes))
        writes = []
        for position, shard_id in enumerate(orphans):
            shard = shards[shard_id]
            target = shard.current if shard.current in nodes else \
                nodes[(offset + position) % len(nodes)]
            value = Shard(target, shard.current, shard.flags).value()
            writes.append((self.mirror.key("shard", str(shard_id)), value, shard.mod_revision))
        self.mirror.cas_many(writes)
        return True

    def _rebalance(self, shards: dict[int, Shard], nodes: list[str]) -> bool:
        load = {node: 0 for node in nodes}
        for shard in shards.values():
            load[shard.target] = load.get(shard.target, 0) + 1
        moves = []
        limit = max(1, self.settings.shards // 128)
        movable = {node: [i for i, s in shards.items() if s.target == node and not s.pinned]
                   for node in nodes}
        while len(moves) < limit:
            most = max(nodes, key=lambda n: load[n])
            least = min(nodes, key=lambda n: load[n])
            spread = load[most] - load[least]
            if spread < 2 or spread <= 0.2 * (self.settings.shards / len(nodes)) \
                    or not movable[most]:
                break
            shard_id = movable[most].pop()
            load[most] -= 1
            load[least] += 1
            moves.append((shard_id, least))
        if not moves:
            return False
        self.mirror.cas_many(
            (self.mirror.key("shard", str(i)),
             Shard(target, shards[i].current, shards[i].flags).value(), shards[i].mod_revision)
            for i, target in moves)
        return True

    def _claim_and_release(self) -> None:
        nodes = set(self.live_nodes())
        busy = self.local_object_shards()
        writes = []
        with self.view.lock:
            items = list(self.view.shards.items())
        for shard_id, shard in items:
            key = self.mirror.key("shard", str(shard_id))
            if shard.target == self.advertise and shard.current != self.advertise and \
                    (not shard.current or shard.current not in nodes):
                writes.append((key, Shard(shard.target, self.advertise, shard.flags).value(),
                               shard.mod_revision))
            elif shard.current == self.advertise and shard.target != self.advertise and \
                    shard_id not in busy:
                writes.append((key, Shard(shard.target, "", shard.flags).value(),
                               shard.mod_revision))
        if writes:
            self.mirror.cas_many(writes)

    # --- routing ------------------------------------------------------------------------------
    def shard_of(self, object_id: str) -> int | None:
        return shard_of(object_id, self.settings.shards)

    def owns(self, shard_id: int) -> bool:
        with self.view.lock:
            shard = self.view.shards.get(shard_id, Shard())
        return shard.current == self.advertise and shard.target in ("", self.advertise)

    def owner_of(self, object_id: str) -> str:
        """The node that serves ``object_id`` now; RoutingError with Goverse's texts if none."""
        node = fixed_node(object_id, self.settings.shards)
        if node is not None:
            return node
        shard_id = self.shard_of(object_id)
        with self.view.lock:
            if not self.view.loaded:
                raise RoutingError(f"cannot determine node for object {object_id}: "
                                   "shard mapping not available")
            shard = self.view.shards.get(shard_id or 0, Shard())
            alive = shard.current in self.view.nodes
        prefix = f"cannot determine node for object {object_id}: shard {shard_id}"
        if not shard.current:
            raise RoutingError(f"{prefix} has no current node (not yet claimed)")
        if shard.target and shard.target != shard.current:
            raise RoutingError(f"{prefix} is in migration from {shard.current} to {shard.target}")
        if not alive:
            raise RoutingError(f"{prefix} is owned by {shard.current}, which is not alive")
        return shard.current
