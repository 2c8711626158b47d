"""What a Codex scenario remembers between steps: its files, uploads, answers and measurements.

Steps speak the domain ("Alice uploads a 10 MiB file to node A"); this module does the work so
that step definitions stay one or two lines.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import requests

from support import progress
from support.codex.client import (
    CodexClient,
    CodexError,
    DataItem,
    DownloadCancelledError,
    DownloadResult,
    Space,
)
from support.codex.nodes import CodexFleet, CodexNode
from support.content import LocalFile, write_bytes_file, write_random_file
from wire.cid import CODEX_MANIFEST, Cid
from wire.codex_manifest import BLOCK_SIZE, block_cid, iter_blocks, pad_block


@dataclass(frozen=True)
class Upload:
    """A file that was uploaded, and what the node answered."""

    cid: str
    content: LocalFile
    filename: str | None
    mimetype: str | None
    node: str


@dataclass
class Answer:
    """The node's raw answer to a request whose outcome a step checks, and how long it took."""

    status: int
    body: str
    content_type: str | None
    seconds: float = 0.0


@dataclass
class Interrupted:
    """A download during which a node was killed: what arrived, or how it failed, and when."""

    result: DownloadResult | None
    error: CodexError | None
    seconds: float


@dataclass
class CodexWorld:
    """Per-scenario state of the Codex steps."""

    fleet: CodexFleet
    files_dir: Path
    uploads: list[Upload] = field(default_factory=list)
    last_error: CodexError | None = None
    last_answer: Answer | None = None
    last_item: DataItem | None = None
    noted_space: Space | None = None
    downloads: list[DownloadResult] = field(default_factory=list)
    peer_ids: dict[str, str] = field(default_factory=dict)
    interrupted: Interrupted | None = None
    shared: list[tuple[Upload, str]] = field(default_factory=list)
    _counter: int = 0

    # --- nodes ------------------------------------------------------------------------------
    def node(self, name: str) -> CodexNode:
        return self.fleet.node(name)

    def client(self, name: str) -> CodexClient:
        return self.fleet.node(name).client

    # --- content ----------------------------------------------------------------------------
    def new_file(self, size: int, *, zeros: bool = False) -> LocalFile:
        self._counter += 1
        path = self.files_dir / f"content-{self._counter}.bin"
        if zeros:
            return write_bytes_file(path, bytes(size))
        return write_random_file(path, size, seed=f"{path}-{size}")

    def text_file(self, text: str) -> LocalFile:
        self._counter += 1
        return write_bytes_file(self.files_dir / f"content-{self._counter}.txt", text.encode())

    @property
    def last_upload(self) -> Upload:
        if not self.uploads:
            raise AssertionError("no file was uploaded in this scenario yet")
        return self.uploads[-1]

    # --- uploads ----------------------------------------------------------------------------
    def upload(self, node: str, content: LocalFile, filename: str | None = None,
               mimetype: str | None = None) -> Upload:
        if content.size >= progress.LARGE:
            transfer = progress.Transfer(f"upload to node {node}", content.size)
            with open(content.path, "rb") as handle:
                cid = self.client(node).upload(progress.CountingReader(handle, transfer),
                                               filename=filename, mimetype=mimetype)
            transfer.finish()
        else:
            cid = self.client(node).upload(content.path, filename=filename, mimetype=mimetype)
        upload = Upload(cid, content, filename, mimetype, node)
        self.uploads.append(upload)
        return upload

    def try_upload(self, node: str, content: LocalFile | None, filename: str | None = None,
                   mimetype: str | None = None) -> None:
        """Upload expecting a refusal; remembers the error (a success is remembered too)."""
        self.last_error = None
        try:
            source = b"" if content is None else content.path
            cid = self.client(node).upload(source, filename=filename, mimetype=mimetype)
        except CodexError as error:
            self.last_error = error
            return
        assert content is not None
        self.uploads.append(Upload(cid, content, filename, mimetype, node))

    def upload_concurrently(self, node: str, content: LocalFile, count: int) -> list[str]:
        client = self.client(node)
        with ThreadPoolExecutor(max_workers=count) as pool:
            cids = list(pool.map(lambda _: client.upload(content.path), range(count)))
        for cid in cids:
            self.uploads.append(Upload(cid, content, None, None, node))
        return cids

    # --- downloads --------------------------------------------------------------------------
    def download(self, node: str, upload: Upload | None = None, *,
                 network: bool = False) -> DownloadResult:
        upload = upload or self.last_upload
        transfer = None
        if upload.content.size >= progress.LARGE:
            transfer = progress.Transfer(f"download from node {node}", upload.content.size)
        result = self.client(node).download(
            upload.cid, network=network, on_progress=transfer.update if transfer else None)
        if transfer is not None:
            transfer.finish()
        self.downloads.append(result)
        return result

    def download_cancelled(self, node: str, after_bytes: int) -> int:
        """Start a download and cancel it once ``after_bytes`` arrived; returns bytes received."""
        cancel = threading.Event()
        received = 0

        def progress(size: int) -> None:
            nonlocal received
            received = size
            if size >= after_bytes:
                cancel.set()

        try:
            self.client(node).download(self.last_upload.cid, cancel=cancel, on_progress=progress)
        except DownloadCancelledError:
            return received
        raise AssertionError(f"the download finished ({received} bytes) before it was cancelled")

    def download_concurrently(self, node: str, count: int) -> list[DownloadResult]:
        upload = self.last_upload
        clients = [CodexClient(self.client(node).base_url) for _ in range(count)]
        try:
            with ThreadPoolExecutor(max_workers=count) as pool:
                results = list(pool.map(lambda c: c.download(upload.cid), clients))
        finally:
            for client in clients:
                client.close()
        self.downloads.extend(results)
        return results

    # --- raw answers ------------------------------------------------------------------------
    def remember(self, response: requests.Response) -> Answer:
        self.last_answer = Answer(response.status_code, response.text,
                                  response.headers.get("Content-Type"))
        return self.last_answer

    def ask(self, node: str, method: str, path: str) -> Answer:
        started = time.monotonic()
        answer = self.remember(self.client(node).raw(method, path))
        answer.seconds = time.monotonic() - started
        return answer

    # --- networks ---------------------------------------------------------------------------
    def block_cids(self, upload: Upload | None = None) -> set[str]:
        """The distinct block CIDs of an upload, computed from its content."""
        upload = upload or self.last_upload
        cids = set()
        with open(upload.content.path, "rb") as stream:
            for padded, _length in iter_blocks(stream):
                cids.add(str(block_cid(padded)))
        return cids

    def peers_of(self, node: str) -> set[str]:
        table = self.client(node).debug_info()["table"]["nodes"]
        return {entry["peerId"] for entry in table}

    def peers_acquainted(self) -> Callable[[], None]:
        """A check (for ``eventually``) that every node lists every other node as a peer."""
        ids = {name: self.client(name).peer_id() for name in self.fleet.nodes}

        def check() -> None:
            for name in ids:
                known = self.peers_of(name)
                missing = sorted(o for o, peer in ids.items() if o != name and peer not in known)
                assert not missing, f"node {name} does not know node(s) {missing} yet"

        return check

    def download_killing(self, node: str, victim: str, after_bytes: int) -> Interrupted:
        """Stream the last upload from ``node`` and SIGKILL ``victim`` once ``after_bytes``
        arrived; remembers what happened."""
        killed = False

        def progress(size: int) -> None:
            nonlocal killed
            if not killed and size >= after_bytes:
                killed = True
                self.fleet.kill(victim)

        started = time.monotonic()
        result, error = None, None
        try:
            result = self.client(node).download(self.last_upload.cid, network=True,
                                                on_progress=progress)
        except CodexError as exc:
            error = exc
        if not killed:
            raise AssertionError(f"the download ended before node {victim} could be killed")
        self.interrupted = Interrupted(result, error, time.monotonic() - started)
        return self.interrupted

    def share_across(self, nodes: list[str], count: int, size: int) -> None:
        """``count`` people upload different files at once, round-robin over ``nodes``; each
        file is then fetched from the next node."""
        contents = [self.new_file(size) for _ in range(count)]
        targets = [nodes[i % len(nodes)] for i in range(count)]
        with ThreadPoolExecutor(max_workers=count) as pool:
            cids = list(pool.map(lambda job: CodexClient(self.client(job[0]).base_url)
                                 .upload(job[1].path), zip(targets, contents, strict=True)))
        for index, (cid, content) in enumerate(zip(cids, contents, strict=True)):
            upload = Upload(cid, content, None, None, targets[index])
            self.uploads.append(upload)
            self.shared.append((upload, nodes[(index + 1) % len(nodes)]))

    def download_shared(self) -> list[tuple[Upload, DownloadResult]]:
        def fetch(job: tuple[Upload, str]) -> tuple[Upload, DownloadResult]:
            upload, node = job
            client = CodexClient(self.client(node).base_url)
            try:
                return upload, client.download(upload.cid, network=True)
            finally:
                client.close()

        with ThreadPoolExecutor(max_workers=max(1, len(self.shared))) as pool:
            return list(pool.map(fetch, self.shared))

    def first_block_cid(self, upload: Upload | None = None) -> str:
        upload = upload or self.last_upload
        with open(upload.content.path, "rb") as handle:
            return str(block_cid(pad_block(handle.read(BLOCK_SIZE))))

    @staticmethod
    def unknown_manifest_cid() -> str:
        """A well-formed manifest CID of content nobody stored."""
        return str(Cid.of_bytes(CODEX_MANIFEST, b"never uploaded by the acceptance suite"))
