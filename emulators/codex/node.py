"""What a Codex node does with data, independent of HTTP: store, retrieve, list, delete."""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from emulators.codex.cli import NodeConfig
from emulators.codex.identity import NodeIdentity, multiaddr_bytes
from emulators.codex.logs import ChroniclesLogger
from emulators.codex.store import QuotaExceededError, RepoStore, Space
from support.codex.cid import CODEX_BLOCK, CODEX_MANIFEST, Cid
from support.codex.manifest import Manifest, ManifestError, block_cid, iter_blocks, tree_cid

EMPTY_BLOCK_CID = str(Cid.of_bytes(CODEX_BLOCK, b""))
# Block-exchange timing (nim-codex engine.nim): a round with no holder waits rand(0..2) whole
# seconds, but at least until the 3 s discovery rate limit since the last peer search has passed.
_RETRY_INTERVAL_SECONDS = 2
_DISCOVERY_RATE_LIMIT = 3.0
RETRIES_EXHAUSTED = "Error retries exhausted"


class BlockNotFoundError(Exception):
    """The block is not in the local store (and only the local store was asked)."""

    def __init__(self) -> None:
        super().__init__("Block not found in local store")


class RetriesExhaustedError(Exception):
    """No peer delivered the block within ``--block-retries`` rounds."""


class ManifestQuotaError(Exception):
    """The dataset's blocks fit, but its manifest block did not."""


class EmptyUploadError(Exception):
    """The upload stream carried no bytes at all."""


@dataclass(frozen=True)
class DatasetEntry:
    cid: Cid
    manifest: Manifest


class CodexNode:
    """One emulated storage node: its identity, its repo and its view of the network."""

    def __init__(self, config: NodeConfig, identity: NodeIdentity, logger: ChroniclesLogger):
        self.config = config
        self.identity = identity
        self.log = logger
        self.store = RepoStore(config.data_dir, config.storage_quota, config.block_ttl)
        self.listen_addrs: list[tuple[str, int]] = []
        self._stopping = threading.Event()
        discovery = multiaddr_bytes(self.announce_host, config.disc_port, "udp")
        self.spr = identity.signed_peer_record([discovery], seq=int(time.time()))

    # --- addresses and identity -------------------------------------------------------------
    @property
    def announce_host(self) -> str:
        host = self.config.listen_addrs[0][0]
        return "127.0.0.1" if host == "0.0.0.0" else host

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
            "table": {"localNode": local_node, "nodes": []},
            "codex": version,
        }

    # --- storing ------------------------------------------------------------------------------
    def upload(self, stream: BinaryIO, filename: str | None, mimetype: str | None) -> Cid:
        """Cut ``stream`` into blocks as it arrives, store them, then the tree and manifest."""
        leaves: list[bytes] = []
        block_cids: list[str] = []
        size = 0
        for padded, length in iter_blocks(stream):
            digest = hashlib.sha256(padded).digest()
            cid = str(Cid.v1(CODEX_BLOCK, digest))
            self.store.put(cid, padded)
            leaves.append(digest)
            block_cids.append(cid)
            size += length
        if not leaves:
            raise EmptyUploadError("Empty leaves")
        tree = tree_cid(leaves)
        self.store.add_leaves(str(tree), block_cids)
        manifest = Manifest(tree_cid=tree, dataset_size=size, filename=filename, mimetype=mimetype)
        manifest_cid = manifest.cid()
        try:
            self.store.put(str(manifest_cid), manifest.encode(), manifest=True)
        except QuotaExceededError as exc:
            raise ManifestQuotaError(exc.quota_message) from exc
        self.log.info("Stored data", topics="codex node", cid=manifest_cid, size=size)
        return manifest_cid

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
            raise ManifestError("CID has invalid content type for manifest {$cid}")
        return Manifest.decode(data)

    def obtain_manifest(self, cid: Cid) -> Manifest:
        """The manifest, from the local store or else from the network (which may take long)."""
        if cid.codec != CODEX_MANIFEST:
            raise ManifestError("CID has invalid content type for manifest {$cid}")
        try:
            return self.local_manifest(cid)
        except BlockNotFoundError:
            data = self.fetch_block(cid)
            self.store.put(str(cid), data, manifest=True)
            return Manifest.decode(data)

    def fetch_block(self, wanted: Cid | str) -> bytes:
        """Ask the network for a block (a CID, or "tree/index"), up to ``--block-retries`` rounds.

        A lone node knows no holder, so every round just waits, as the real engine does.
        """
        self.log.debug("Requesting block from the network", topics="codex blockexcengine",
                       cid=wanted)
        last_search = time.monotonic()
        for _round in range(self.config.block_retries):
            until_next_search = last_search + _DISCOVERY_RATE_LIMIT - time.monotonic()
            delay = max(random.randint(0, _RETRY_INTERVAL_SECONDS), until_next_search)
            if self._stopping.wait(delay):
                break
            if time.monotonic() - last_search >= _DISCOVERY_RATE_LIMIT:
                last_search = time.monotonic()
        raise RetriesExhaustedError(RETRIES_EXHAUSTED)

    def dataset_blocks(self, manifest: Manifest) -> Iterator[bytes]:
        """Yield the dataset's blocks in order, without padding beyond ``datasetSize``."""
        tree = str(manifest.tree_cid)
        remaining = manifest.dataset_size
        for index in range(manifest.blocks_count):
            block = self._dataset_block(tree, index)
            yield block[: min(remaining, manifest.block_size)]
            remaining -= manifest.block_size

    def _dataset_block(self, tree: str, index: int) -> bytes:
        leaf = self.store.leaf_block(tree, index)
        data = self.store.read(leaf) if leaf else None
        if data is not None:
            return data
        data = self.fetch_block(leaf or f"{tree}/{index}")
        cid = str(block_cid(data))
        self.store.put(cid, data)
        return data

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
        self.store.close()
