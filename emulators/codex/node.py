"""What a Codex node does with data, independent of HTTP: store, fetch, stream, list, delete."""

from __future__ import annotations

import hashlib
import os
import queue
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol, TypeVar

from emulators.codex import errors
from emulators.codex.cli import NodeConfig
from emulators.codex.exchange import ExchangeClient, PeerUnreachableError
from emulators.codex.identity import NodeIdentity, decode_spr, multiaddr_bytes
from emulators.codex.logs import ChroniclesLogger
from emulators.codex.peers import Discovery, Peer, PeerTable
from emulators.codex.store import QuotaExceededError, RepoStore, Space
from emulators.codex.verify import verified_leaves
from wire.cid import CODEX_BLOCK, CODEX_MANIFEST, CODEX_ROOT, Cid
from wire.codex_manifest import (
    BLOCK_SIZE,
    Manifest,
    ManifestError,
    merkle_layers,
    merkle_proof,
    pad_block,
)

_SHA2_256 = 0x12  # multihash code of sha2-256
EMPTY_BLOCK_CID = str(Cid.of_bytes(CODEX_BLOCK, b""))
# Block-exchange timing (nim-codex engine.nim): a round with no holder waits rand(0..2) whole
# seconds, but at least until the 3 s discovery rate limit since the last peer search has passed.
_RETRY_INTERVAL_SECONDS = 2
_DISCOVERY_RATE_LIMIT = 3.0
# nim-codex streams with a background prefetch of this many blocks ahead of the reader.
PREFETCH_WINDOW = 1024
# Want-lists in flight at once for one download, pipelined on one connection per peer and
# spread over the peers that have the blocks.
_PREFETCH_WORKERS = 6
# Blocks asked of a peer in one exchange request (a want-list of this length).
CHUNK_BLOCKS = 32
T = TypeVar("T")


class BlockNotFoundError(Exception):
    """The block is not in the local store (and only the local store was asked)."""

    def __init__(self) -> None:
        super().__init__(errors.BLOCK_NOT_FOUND)


class RetriesExhaustedError(Exception):
    """No peer delivered the block within ``--block-retries`` rounds."""


class ManifestQuotaError(Exception):
    """The dataset's blocks fit, but its manifest block did not."""


class EmptyUploadError(Exception):
    """The upload stream carried no bytes at all."""


class UploadStream(Protocol):
    """An upload body: ``readinto`` fills the buffer, or stops short only where the body ends."""

    def readinto(self, buffer: memoryview, /) -> int: ...


# An upload is read, hashed and stored this many blocks at a time (one transaction each).
UPLOAD_BATCH_BLOCKS = 64
# At most this many stored blocks go out in one sendfile when a dataset is streamed.
STREAM_RUN_BLOCKS = 256


@dataclass(frozen=True)
class DatasetEntry:
    cid: Cid
    manifest: Manifest


_Fetched = list[tuple[int, str, bytes, bytes | memoryview]]  # (index, CID, proof, data)


class _BlockWriter:
    """Stores the verified blocks every fetch of the node delivers, from one thread, all that
    arrived meanwhile in one transaction per tree: fetches wait for their blocks to be stored
    without each taking the store's lock in turn."""

    def __init__(self, store: RepoStore) -> None:
        self._store = store
        self._queue: queue.SimpleQueue[tuple[str, _Fetched, Future[None]]] = queue.SimpleQueue()
        threading.Thread(target=self._run, name="block-writer", daemon=True).start()

    def put(self, tree: str, blocks: _Fetched) -> None:
        """Store the blocks of ``tree``; returns once they are stored (or raises why not)."""
        if not blocks:
            return
        done: Future[None] = Future()
        self._queue.put((tree, blocks, done))
        done.result()

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while not self._queue.empty():
                batch.append(self._queue.get())
            by_tree: dict[str, list[tuple[_Fetched, Future[None]]]] = {}
            for tree, blocks, done in batch:
                by_tree.setdefault(tree, []).append((blocks, done))
            for tree, items in by_tree.items():
                try:
                    self._store.put_dataset_blocks(
                        tree, [block for blocks, _done in items for block in blocks])
                except Exception as exc:  # every waiter gets the store's error
                    for _blocks, done in items:
                        done.set_exception(exc)
                else:
                    for _blocks, done in items:
                        done.set_result(None)


class _Prefetch:
    """Fetches a dataset's missing blocks into the local store, at most ``window`` blocks ahead
    of the reader (no window: everything, for background downloads)."""

    def __init__(self, node: CodexNode, manifest: Manifest, window: int | None) -> None:
        self._node = node
        self._manifest = manifest
        self._window = window
        self._reader = 0
        self._cond = threading.Condition()
        self._stopped = False
        self.failed: BaseException | None = None
        self.done = threading.Event()
        threading.Thread(target=self._run, name="prefetch", daemon=True).start()

    def advance(self, index: int) -> None:
        with self._cond:
            self._reader = index
            self._cond.notify_all()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    def _ahead_allowed(self, index: int) -> bool:
        return self._stopped or self._window is None or index < self._reader + self._window

    def _fetch(self, index: int) -> None:
        if self._stopped or self.failed is not None:
            return
        tree = self._manifest.tree_cid
        try:
            if self._node.store.local_run(str(tree), index, 1) is None:
                self._node.fetch_chunk_of(tree, index)
        except RetriesExhaustedError as exc:
            self.failed = exc
            self.stop()

    def _run(self) -> None:
        with ThreadPoolExecutor(_PREFETCH_WORKERS, thread_name_prefix="prefetch") as pool:
            for index in range(0, self._manifest.blocks_count, CHUNK_BLOCKS):
                with self._cond:
                    self._cond.wait_for(lambda i=index: self._ahead_allowed(i))
                    if self._stopped:
                        break
                pool.submit(self._fetch, index)
        self.done.set()


class CodexNode:
    """One emulated storage node: its identity, its repo and its view of the network."""

    def __init__(self, config: NodeConfig, identity: NodeIdentity, logger: ChroniclesLogger):
        self.config = config
        self.identity = identity
        self.log = logger
        self.store = RepoStore(config.data_dir, config.storage_quota, config.block_ttl)
        self.peers = PeerTable(identity.peer_id)
        self.exchange = ExchangeClient()
        self.listen_addrs: list[tuple[str, int]] = []
        self.spr = ""
        self.announce_spr = ""
        self._discovery: Discovery | None = None
        self._stopping = threading.Event()
        self._inflight: dict[str, Future[object]] = {}
        self._inflight_lock = threading.Lock()
        # Number of blocks of each tree being fetched (so a chunk never asks past the end).
        self._chunk_limits: dict[str, int] = {}
        self._writer = _BlockWriter(self.store)

    # --- addresses, identity and peers ------------------------------------------------------
    @property
    def announce_host(self) -> str:
        host = self.config.listen_addrs[0][0]
        return "127.0.0.1" if host == "0.0.0.0" else host

    def start_network(self, listen_addrs: list[tuple[str, int]], udp: socket.socket) -> None:
        """Sign this node's records for its bound addresses and start discovery."""
        self.listen_addrs = listen_addrs
        seq = int(time.time())
        discovery = multiaddr_bytes(self.announce_host, udp.getsockname()[1], "udp")
        self.spr = self.identity.signed_peer_record([discovery], seq=seq)
        announce = [multiaddr_bytes(self.announce_host if h == "0.0.0.0" else h, p, "tcp")
                    for h, p in listen_addrs]
        self.announce_spr = self.identity.signed_peer_record(announce, seq=seq)
        self._discovery = Discovery(udp, self.peers, dht_spr=self.spr,
                                    announce_spr=self.announce_spr,
                                    bootstrap=self.config.bootstrap_nodes, logger=self.log)
        self._discovery.start()

    def describe(self) -> dict[str, str]:
        """What ``GET /peer`` on the exchange port answers."""
        return {"id": self.identity.peer_id, "dht": self.spr, "announce": self.announce_spr}

    def connect(self, peer_id: str, addresses: list[tuple[str, int]]) -> bool:
        """Dial a peer at its exchange addresses (or find it among known peers)."""
        if not addresses:
            return self.peers.get(peer_id) is not None
        for address in addresses:
            try:
                described = self.exchange.identify(address)
            except PeerUnreachableError:
                continue
            if described.get("id") != peer_id:
                continue
            dht = decode_spr(described["dht"]) if described.get("dht") else None
            self.peers.learn(dht, described.get("dht"), decode_spr(described["announce"]),
                             described["announce"], seen=True)
            if dht is not None and self._discovery is not None and dht.first("udp"):
                self._discovery.greet(dht.first("udp"))  # type: ignore[arg-type]
            return True
        raise PeerUnreachableError(f"no address of {peer_id} answered")

    def debug_info(self, version: dict[str, str]) -> dict[str, object]:
        """The ``/debug/info`` document, keys in the node's order."""
        addrs = [f"/ip4/{host}/tcp/{port}" for host, port in self.listen_addrs]
        local_node = {
            "nodeId": self.identity.node_id,
            "peerId": self.identity.peer_id,
            "record": self.spr,
            "address": f"{self.announce_host}:{self.config.disc_port}",
            "seen": False,
        }
        return {
            "id": self.identity.peer_id,
            "addrs": addrs,
            "repo": str(self.config.data_dir),
            "spr": self.spr,
            "announceAddresses": addrs,
            "table": {"localNode": local_node,
                      "nodes": [peer.table_entry() for peer in self.peers.all()]},
            "codex": version,
        }

    # --- storing ------------------------------------------------------------------------------
    def upload(self, stream: UploadStream, filename: str | None, mimetype: str | None) -> Cid:
        """Cut ``stream`` into blocks as it arrives and store them a batch at a time (read into
        one reused buffer, each block hashed once in place); then the tree and manifest."""
        leaves: list[bytes] = []
        block_cids: list[str] = []
        size = 0
        batch = memoryview(bytearray(UPLOAD_BATCH_BLOCKS * BLOCK_SIZE))
        while filled := stream.readinto(batch):
            whole = filled - filled % BLOCK_SIZE
            blocks: list[bytes | memoryview] = [
                batch[start : start + BLOCK_SIZE] for start in range(0, whole, BLOCK_SIZE)]
            if whole < filled:
                blocks.append(pad_block(bytes(batch[whole:filled])))
            digests = [hashlib.sha256(block).digest() for block in blocks]
            cids = [str(Cid.v1(CODEX_BLOCK, digest)) for digest in digests]
            self.store.put_blocks(zip(cids, blocks, strict=True))  # one transaction a batch
            leaves += digests
            block_cids += cids
            size += filled
            if filled < len(batch):
                break
        if not leaves:
            raise EmptyUploadError(errors.EMPTY_LEAVES)
        layers = merkle_layers(leaves)
        tree = Cid.v1(CODEX_ROOT, layers[-1][0])
        proofs = [merkle_proof(layers, index) for index in range(len(leaves))]
        self.store.add_leaves(str(tree), list(zip(block_cids, proofs, strict=True)))
        manifest = Manifest(tree_cid=tree, dataset_size=size, filename=filename, mimetype=mimetype)
        manifest_cid = manifest.cid()
        try:
            self.store.put(str(manifest_cid), manifest.encode(), manifest=True)
        except QuotaExceededError as exc:
            raise ManifestQuotaError(exc.quota_message) from exc
        self.log.info("Stored data", topics="codex node", cid=manifest_cid, size=size)
        return manifest_cid

    # --- fetching from peers ------------------------------------------------------------------
    def _once(self, key: str, work: Callable[[], T]) -> T:
        """Run ``work`` once per key at a time; concurrent callers share its outcome."""
        with self._inflight_lock:
            future = self._inflight.get(key)
            owner = future is None
            if owner:
                future = self._inflight[key] = Future()
        assert future is not None
        if not owner:
            return future.result()  # type: ignore[return-value]
        try:
            result = work()
            future.set_result(result)
            return result
        except BaseException as exc:
            future.set_exception(exc)
            raise
        finally:
            with self._inflight_lock:
                del self._inflight[key]

    def _from_peers(self, what: str, attempt: Callable[[Peer], T | None],
                    wanted: str | None = None) -> T:
        """Ask every known peer, round after round, up to ``--block-retries`` rounds; peers
        that have ``wanted`` (default ``what``) as far as this node knows are asked first.

        ``attempt`` returns the verified result, or None when that peer had nothing usable.
        """
        wanted = wanted or what
        last_search = time.monotonic()
        for _round in range(self.config.block_retries):
            for peer in self.peers.ranked(wanted):
                try:
                    result = attempt(peer)
                except PeerUnreachableError as exc:
                    self.peers.note_trouble(peer)
                    self.log.trace("Peer unreachable", topics="codex blockexcengine",
                                   peer=peer.peer_id, error=exc)
                    continue
                self.peers.note_answer(peer, wanted, had=result is not None)
                if result is not None:
                    return result
            until_next_search = last_search + _DISCOVERY_RATE_LIMIT - time.monotonic()
            delay = max(random.randint(0, _RETRY_INTERVAL_SECONDS), until_next_search)
            if self._stopping.wait(delay):
                break
            if time.monotonic() - last_search >= _DISCOVERY_RATE_LIMIT:
                last_search = time.monotonic()
        self.log.warn("Block retries exhausted", topics="codex blockexcengine", wanted=what)
        raise RetriesExhaustedError(errors.RETRIES_EXHAUSTED)

    def _fetch_manifest(self, cid: Cid) -> Manifest:
        def attempt(peer: Peer) -> Manifest | None:
            for address in peer.tcp:
                data = self.exchange.block(address, str(cid))
                if data is None:
                    continue
                if hashlib.sha256(data).digest() != cid.digest:
                    self.log.warn("Block failed verification", topics="codex blockexcengine",
                                  cid=cid, peer=peer.peer_id)
                    continue
                return Manifest.decode(data)
            return None

        manifest = self._from_peers(str(cid), attempt)
        self.store.put(str(cid), manifest.encode(), manifest=True)
        return manifest

    def fetch_block(self, cid: Cid) -> bytes:
        """One block by CID: local, or else from peers within the retry budget (nim-codex's
        ``networkStore.getBlock``); a fetched block is verified against its sha2-256 digest and
        kept in the local store."""
        local = self.store.read(str(cid))
        if local is not None:
            return local

        def attempt(peer: Peer) -> bytes | None:
            for address in peer.tcp:
                data = self.exchange.block(address, str(cid))
                if data is None:
                    continue
                if cid.hash_code != _SHA2_256 or hashlib.sha256(data).digest() != cid.digest:
                    self.log.warn("Block failed verification", topics="codex blockexcengine",
                                  cid=cid, peer=peer.peer_id)
                    continue
                return data
            return None

        def fetch() -> bytes:
            data = self._from_peers(str(cid), attempt)
            self.store.put(str(cid), data, manifest=cid.codec == CODEX_MANIFEST)
            return data

        return self._once(f"block:{cid}", fetch)

    def _local_block(self, tree: Cid, index: int) -> str | None:
        known = self.store.leaf(str(tree), index)
        return known[0] if known is not None and self.store.has(known[0]) else None

    def ensure_leaf(self, tree: Cid, index: int) -> str:
        """Make block ``index`` of ``tree`` local, fetching (and verifying) its whole chunk of
        ``CHUNK_BLOCKS`` blocks from peers if needed; returns the block's CID."""
        local = self._local_block(tree, index)
        if local is not None:
            return local
        self.fetch_chunk_of(tree, index)
        local = self._local_block(tree, index)
        if local is None:
            raise RetriesExhaustedError(errors.RETRIES_EXHAUSTED)
        return local

    def fetch_chunk_of(self, tree: Cid, index: int) -> None:
        """Fetch the missing blocks of the chunk that holds block ``index`` (one fetch at a
        time per chunk: concurrent callers share its outcome)."""
        start = index - index % CHUNK_BLOCKS
        self._once(f"chunk:{tree}:{start}", lambda: self._fetch_chunk(tree, start))

    def _fetch_chunk(self, tree: Cid, start: int) -> None:
        """Fetch the missing blocks of ``start … start + CHUNK_BLOCKS - 1`` (those that exist):
        the whole chunk is asked for, and the local store is consulted only for blocks a peer
        did not deliver."""
        size = self._chunk_limits.get(str(tree), start + CHUNK_BLOCKS)
        missing = set(range(start, min(start + CHUNK_BLOCKS, size)))

        def attempt(peer: Peer) -> bool | None:
            for address in peer.tcp:
                replies = [r for r in self.exchange.leaves(address, str(tree), start,
                                                           CHUNK_BLOCKS) if r.index in missing]
                good = verified_leaves(tree.digest, replies)
                if len(good) < len(replies):
                    self.log.warn("Block failed verification", topics="codex blockexcengine",
                                  tree=tree, peer=peer.peer_id)
                self._writer.put(str(tree), [(r.index, r.block_cid, r.proof, r.data)
                                             for r in good])
                missing.difference_update(r.index for r in good)
                if good:  # a partial holder: what it lacks may be here already
                    missing.difference_update([i for i in missing
                                               if self._local_block(tree, i) is not None])
                if not missing:
                    return True
            return None

        if missing:
            self._from_peers(f"{tree}/{start}", attempt, wanted=str(tree))

    # --- reading ------------------------------------------------------------------------------
    def has_block(self, cid: Cid) -> bool:
        text = str(cid)
        return text == EMPTY_BLOCK_CID or self.store.has(text)

    def local_manifest(self, cid: Cid) -> Manifest:
        """The manifest if its block is local; BlockNotFoundError or ManifestError otherwise."""
        data = self.store.read(str(cid))
        if data is None:
            raise BlockNotFoundError()
        if cid.codec != CODEX_MANIFEST:
            raise ManifestError(errors.INVALID_MANIFEST_CID)
        return Manifest.decode(data)

    def obtain_manifest(self, cid: Cid) -> Manifest:
        """The manifest, from the local store or else from the network (which may take long)."""
        if cid.codec != CODEX_MANIFEST:
            raise ManifestError(errors.INVALID_MANIFEST_CID)
        try:
            return self.local_manifest(cid)
        except BlockNotFoundError:
            return self._once(f"manifest:{cid}", lambda: self._fetch_manifest(cid))

    def dataset_blocks(self, manifest: Manifest) -> Iterator[tuple[int, int, int]]:
        """The dataset's blocks in order as (open file, offset, length) spans of blocks stored
        back to back, the last truncated to ``datasetSize``; missing blocks are fetched from
        peers, with a prefetch filling the local store ahead of the reader."""
        self._chunk_limits[str(manifest.tree_cid)] = manifest.blocks_count
        prefetch = _Prefetch(self, manifest, PREFETCH_WINDOW)
        tree = str(manifest.tree_cid)
        remaining = manifest.dataset_size
        index = 0
        try:
            while index < manifest.blocks_count:
                prefetch.advance(index)
                run = self.store.local_run(tree, index, STREAM_RUN_BLOCKS)
                if run is None:
                    self.ensure_leaf(manifest.tree_cid, index)
                    run = self.store.local_run(tree, index, STREAM_RUN_BLOCKS)
                vanished = f"block {index} of {tree} vanished from the store"
                if run is None:
                    raise RetriesExhaustedError(vanished)
                try:
                    fd = os.open(run.path, os.O_RDONLY)
                except FileNotFoundError as exc:
                    raise RetriesExhaustedError(vanished) from exc
                try:
                    yield fd, run.offset, min(run.length, remaining)
                finally:
                    os.close(fd)
                remaining -= run.length
                index += run.count
        finally:
            prefetch.stop()

    def download_in_background(self, manifest: Manifest) -> None:
        """Fetch every missing block of the dataset (``POST /data/{cid}/network``)."""
        self._chunk_limits[str(manifest.tree_cid)] = manifest.blocks_count
        prefetch = _Prefetch(self, manifest, window=None)

        def report() -> None:
            prefetch.done.wait()
            if prefetch.failed is not None:
                self.log.warn("Background download failed", topics="codex node",
                              tree=manifest.tree_cid, error=prefetch.failed)
            else:
                self.log.info("Background download finished", topics="codex node",
                              tree=manifest.tree_cid)

        threading.Thread(target=report, name="download-report", daemon=True).start()

    def datasets(self) -> list[DatasetEntry]:
        entries = []
        for text in self.store.manifest_cids():
            data = self.store.read(text)
            if data is not None:
                entries.append(DatasetEntry(Cid.parse(text), Manifest.decode(data)))
        return entries

    # --- deleting -----------------------------------------------------------------------------
    def delete(self, cid: Cid) -> None:
        """Delete a dataset (manifest CID) or one unreferenced block; absent is fine."""
        text = str(cid)
        if cid.codec != CODEX_MANIFEST:
            self.store.delete_block(text)
            return
        data = self.store.read(text)
        if data is None:
            return
        manifest = Manifest.decode(data)
        self.store.delete_dataset(text, str(manifest.tree_cid), manifest.blocks_count)

    def space(self) -> Space:
        return self.store.space()

    # --- maintenance --------------------------------------------------------------------------
    def run_maintenance(self) -> None:
        """Sweep expired blocks every ``--block-mi`` until the node stops."""
        while not self._stopping.wait(self.config.block_maintenance_interval):
            removed = self.store.sweep_expired(self.config.block_maintenance_count)
            if removed:
                self.log.debug("Removed expired blocks", topics="codex maintenance", count=removed)

    def stop(self) -> None:
        self._stopping.set()
        if self._discovery is not None:
            self._discovery.stop()
        self.exchange.close()  # the links to peers, once nothing fetches over them
        self.store.close()
