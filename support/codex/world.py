"""What a Codex scenario remembers between steps: its files, uploads, answers and measurements.

Steps speak the domain ("Alice uploads a 10 MiB file to node A"); this module does the work so
that step definitions stay one or two lines.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import ExitStack
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from string import ascii_uppercase

from support import expect, progress
from support.codex.client import (
    CodexClient,
    CodexError,
    DataItem,
    DownloadCancelledError,
    DownloadResult,
    Space,
)
from support.codex.expectations import same_content
from support.codex.nodes import CodexFleet, CodexNode, NodeOptions
from support.commands import CommandResult, run_tool
from support.content import LocalFile, describe_size, write_bytes_file, write_random_file
from support.expect import listing, plural
from support.oracles import codex_cid
from support.waiting import eventually

PRONOUNS = frozenset({"she", "he", "they"})
TOOL_WITHIN = 120.0  # seconds a command-line tool may take
HANG_WITHIN = 60.0  # seconds a download may take to reach the point where a node hangs
FORGET_POLL = 0.1  # seconds between checks whether a node has dropped expired data
NO_SUCH_ROUTE = "/no-such-route"


class CidRequest(Enum):
    """What a person may ask a node to do with a CID: the phrase, and the API call it is."""

    DOWNLOAD = ("download", "GET", "/data/{cid}")
    STREAM = ("stream from the network", "GET", "/data/{cid}/network/stream")
    FETCH_MANIFEST = ("fetch the manifest of", "GET", "/data/{cid}/network/manifest")
    FETCH_IN_BACKGROUND = ("start fetching in the background", "POST", "/data/{cid}/network")
    CHECK = ("check for", "GET", "/data/{cid}/exists")
    DELETE = ("delete", "DELETE", "/data/{cid}")

    def __init__(self, phrase: str, method: str, path: str) -> None:
        self.phrase = phrase
        self.method = method
        self.path = path


@dataclass(frozen=True)
class Upload:
    """A file that was uploaded, by whom, and what the node answered."""

    cid: str
    content: LocalFile
    filename: str | None
    mimetype: str | None
    node: str
    by: str

    def describe(self) -> str:
        return f"the {describe_size(self.content.size)} file {self.by} uploaded to node {self.node}"


@dataclass(frozen=True)
class Answer:
    """A node's raw answer to a request whose outcome a step checks, and how long it took."""

    node: str
    status: int
    body: str
    content_type: str | None
    seconds: float


@dataclass
class Interrupted:
    """A download during which a node was killed: who downloaded, what arrived or how it
    failed, and when."""

    by: str
    result: DownloadResult | None
    error: CodexError | None
    seconds: float


@dataclass(frozen=True)
class HungDownload:
    """A download running in the background during which a node hangs: whose it is, the node
    it streams from, the node that hangs, whether it hung yet, and the outcome to come."""

    by: str
    node: str
    victim: str
    hung: threading.Event
    future: Future[Interrupted]


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
    hung_download: HungDownload | None = None  # a download during which a node hangs
    shared: list[tuple[Upload, str]] = field(default_factory=list)
    actor: str | None = None  # the person the steps named last ("she" is this person)
    tool_result: CommandResult | None = None  # the QA engineer's last command-line tool run
    tool_node: str | None = None  # the node that run talked to
    printed_cid: str | None = None  # the CID codex-upload printed
    _counter: int = 0

    # --- people -----------------------------------------------------------------------------
    def person(self, name: str) -> str:
        """The person a step names; a pronoun ("she") is the person named last."""
        if name.lower() in PRONOUNS:
            if self.actor is None:
                raise AssertionError(f"{name!r} refers to nobody: no one was named before")
            return self.actor
        self.actor = name
        return name

    def _act(self, person: str | None, doing: str) -> None:
        """Note who does what in the journal, so the exchanges that follow read as theirs
        (``person`` is None for a phrase that names nobody)."""
        if person is not None:
            self._note(f"{self.person(person)} {doing}")

    def _note(self, text: str) -> None:
        if self.fleet.journal is not None:
            self.fleet.journal.note(text)

    def within(self, seconds: float) -> float:
        return self.fleet.settings.timeout(seconds)

    # --- nodes ------------------------------------------------------------------------------
    def node(self, name: str) -> CodexNode:
        return self.fleet.node(name)

    def client(self, name: str) -> CodexClient:
        return self.fleet.node(name).client

    def start_node(self, name: str, *, storage_quota: int | None = None,
                   block_ttl: int | None = None,
                   block_maintenance_interval: int | None = None) -> CodexNode:
        options = NodeOptions(storage_quota=storage_quota, block_ttl=block_ttl,
                              block_maintenance_interval=block_maintenance_interval)
        return self.fleet.start(name, options=options)

    def start_network(self, count: int, *, block_retries: int | None = None) -> None:
        """``count`` nodes named A, B, C…, each bootstrapped from the ones started before."""
        self.fleet.start_network(list(ascii_uppercase[:count]),
                                 options=NodeOptions(block_retries=block_retries))

    def start_network_of(self, bootstrap: Mapping[str, Sequence[str]]) -> None:
        """Nodes started in order, each bootstrapped from the nodes it names."""
        self.fleet.start_network(list(bootstrap), bootstrap=bootstrap)

    def restart(self, name: str) -> None:
        """Restart a node, noting the peer identity it had before."""
        self.peer_ids[name] = self.client(name).peer_id()
        self.fleet.restart(name)

    def stop(self, name: str) -> None:
        self.fleet.stop(name)

    def exit_codes(self, name: str) -> list[int | None]:
        return self.node(name).exit_codes

    def peer_id(self, name: str) -> str:
        return self.client(name).peer_id()

    def peer_id_before_restart(self, name: str) -> str:
        if name not in self.peer_ids:
            raise AssertionError(f"node {name} was not restarted in this scenario")
        return self.peer_ids[name]

    def wait_until_acquainted(self, seconds: float) -> None:
        """Until every node lists every other node as a peer."""
        eventually(self.peers_acquainted(), self.within(seconds))

    def answers(self, name: str) -> bool:
        """Whether a node still answers its API (with a storage quota)."""
        return self.space(name).quota_max_bytes > 0

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

    def last_upload_by(self, person: str) -> Upload:
        """The file this person uploaded last ("her file")."""
        name = self.person(person)
        theirs = [upload for upload in self.uploads if upload.by == name]
        if not theirs:
            raise AssertionError(f"{name} has uploaded no file in this scenario")
        return theirs[-1]

    def file_cid(self) -> str:
        """The file "the file" means: the last upload, or, before any, a file nobody stored."""
        return self.last_upload.cid if self.uploads else self.unknown_manifest_cid()

    # --- uploads ----------------------------------------------------------------------------
    def upload(self, node: str, content: LocalFile, filename: str | None = None,
               mimetype: str | None = None, *, by: str) -> Upload:
        self._act(by, f"uploads a {describe_size(content.size)} file to node {node}")
        if content.size >= progress.LARGE:
            transfer = progress.Transfer(f"upload to node {node}", content.size)
            with open(content.path, "rb") as handle:
                cid = self.client(node).upload(progress.CountingReader(handle, transfer),
                                               filename=filename, mimetype=mimetype)
            transfer.finish()
        else:
            cid = self.client(node).upload(content.path, filename=filename, mimetype=mimetype)
        upload = Upload(cid, content, filename, mimetype, node, self.person(by))
        self.uploads.append(upload)
        return upload

    def try_upload(self, node: str, content: LocalFile | None, filename: str | None = None,
                   mimetype: str | None = None, *, by: str) -> None:
        """Upload expecting a refusal; remembers the error (a success is remembered too)."""
        size = 0 if content is None else content.size
        self._act(by, f"tries to upload a {describe_size(size)} file to node {node}")
        self.last_error = None
        try:
            source = b"" if content is None else content.path
            cid = self.client(node).upload(source, filename=filename, mimetype=mimetype)
        except CodexError as error:
            self.last_error = error
            return
        assert content is not None
        self.uploads.append(Upload(cid, content, filename, mimetype, node, self.person(by)))

    def upload_concurrently(self, node: str, content: LocalFile, count: int) -> list[str]:
        """``count`` people upload the same file at once; "she" is then one of them."""
        self.person(f"one of the {count} people")
        self._note(f"{count} people upload the same {describe_size(content.size)} file to node "
                   f"{node} at once")
        client = self.client(node)
        with ThreadPoolExecutor(max_workers=count) as pool:
            cids = list(pool.map(lambda _: client.upload(content.path), range(count)))
        for index, cid in enumerate(cids, start=1):
            self.uploads.append(Upload(cid, content, None, None, node,
                                       f"person {index} of {count}"))
        return cids

    # --- downloads --------------------------------------------------------------------------
    def download(self, node: str, upload: Upload | None = None, *, by: str | None = None,
                 network: bool = False) -> DownloadResult:
        upload = upload or self.last_upload
        way = " through the network stream" if network else ""
        self._act(by, f"downloads {upload.describe()} from node {node}{way}")
        transfer = None
        if upload.content.size >= progress.LARGE:
            transfer = progress.Transfer(f"download from node {node}", upload.content.size)
        result = self.client(node).download(
            upload.cid, network=network, on_progress=transfer.update if transfer else None)
        if transfer is not None:
            transfer.finish()
        self.downloads.append(result)
        return result

    def download_cancelled(self, node: str, after_bytes: int, *, by: str) -> int:
        """Start a download and cancel it once ``after_bytes`` arrived; returns bytes received."""
        self._act(by, f"starts downloading {self.last_upload.describe()} from node {node} and "
                  f"cancels after {after_bytes} bytes")
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
        with ExitStack() as stack:
            clients = [stack.enter_context(self.fleet.extra_client(node)) for _ in range(count)]
            with ThreadPoolExecutor(max_workers=count) as pool:
                results = list(pool.map(lambda c: c.download(upload.cid), clients))
        self.downloads.extend(results)
        return results

    # --- manifests, presence, listing, deletion ---------------------------------------------
    def fetch_manifest(self, node: str | None = None, upload: Upload | None = None, *,
                       by: str | None = None) -> DataItem:
        """The manifest a node (by default the uploader's) gives for the file; remembered as
        the last answer that describes a file."""
        upload = upload or self.last_upload
        node = node or upload.node
        self._act(by, f"asks node {node} for the manifest of {upload.describe()}")
        self.last_item = self.client(node).fetch_manifest(upload.cid)
        return self.last_item

    def fetch_in_background(self, node: str, *, by: str) -> DataItem:
        """Ask a node to fetch the file from the network in the background."""
        upload = self.last_upload
        self._act(by, f"asks node {node} to fetch {upload.describe()} in the background")
        self.last_item = self.client(node).trigger_download(upload.cid)
        return self.last_item

    def holds(self, node: str, cid: str) -> bool:
        return self.client(node).exists(cid)

    def listed(self, node: str) -> list[DataItem]:
        return self.client(node).list_data()

    def delete(self, node: str, *, by: str) -> None:
        self._act(by, f"deletes {self.last_upload.describe()} from node {node}")
        self.client(node).delete(self.last_upload.cid)

    def delete_unknown(self, node: str, *, by: str) -> None:
        self._act(by, f"deletes a file node {node} never stored")
        self.client(node).delete(self.unknown_manifest_cid())

    def delete_text(self, node: str, cid: str) -> None:
        """Make sure a node does not hold a CID (deleting what is not there is allowed)."""
        self.client(node).delete(cid)

    # --- space ------------------------------------------------------------------------------
    def space(self, node: str) -> Space:
        return self.client(node).space()

    def note_space(self, node: str) -> None:
        self.noted_space = self.space(node)

    # --- raw answers ------------------------------------------------------------------------
    def request(self, node: str, request: CidRequest, cid: str, *,
                by: str | None = None) -> Answer:
        """Ask a node to do something with a CID and remember its raw answer."""
        self._act(by, f"asks node {node} to {request.phrase} the CID {cid}")
        return self.ask(node, request.method, request.path.format(cid=cid))

    def call_unknown_route(self, node: str, *, by: str) -> Answer:
        self._act(by, f"calls a part of the API that does not exist on node {node}")
        return self.ask(node, "GET", NO_SUCH_ROUTE)

    def ask(self, node: str, method: str, path: str) -> Answer:
        started = time.monotonic()
        response = self.client(node).raw(method, path)
        self.last_answer = Answer(node, response.status_code, response.text,
                                  response.headers.get("Content-Type"),
                                  time.monotonic() - started)
        return self.last_answer

    # --- networks ---------------------------------------------------------------------------
    def block_cids(self, upload: Upload | None = None) -> set[str]:
        """The distinct block CIDs of an upload, computed from its content."""
        return set(codex_cid.iter_block_cids((upload or self.last_upload).content.path))

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
                expect.that(not missing, f"node {name} does not know node {listing(missing)} "
                            "yet")

        return check

    def held_blocks(self, node: str) -> list[str]:
        """Which of the file's blocks a node holds."""
        client = self.client(node)
        return [cid for cid in self.block_cids() if client.exists(cid)]

    def wait_until_holds_every_block(self, node: str, seconds: float) -> None:
        blocks = self.block_cids()

        def all_held() -> None:
            missing = blocks - set(self.held_blocks(node))
            expect.that(not missing, f"{len(missing)} of the {plural(len(blocks), 'block')} of "
                        f"{self.last_upload.describe()} are not on node {node} yet")

        eventually(all_held, self.within(seconds))

    def wait_until_forgotten(self, node: str, seconds: float) -> None:
        def gone() -> None:
            expect.that(not self.holds(node, self.last_upload.cid),
                        f"node {node} still holds {self.last_upload.describe()}")

        # The node sweeps at its own interval; polling finely notices the sweep when it happens.
        eventually(gone, self.within(seconds), max_interval=FORGET_POLL)

    def download_killing(self, node: str, victim: str, after_bytes: int, *,
                         by: str) -> Interrupted:
        """Stream the last upload from ``node`` and SIGKILL ``victim`` once ``after_bytes``
        arrived; remembers what happened."""
        self._act(by, f"streams {self.last_upload.describe()} from node {node} while node "
                  f"{victim} is killed after {after_bytes} bytes")
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
        self.interrupted = Interrupted(self.person(by), result, error,
                                       time.monotonic() - started)
        return self.interrupted

    # --- hung nodes -------------------------------------------------------------------------
    def hang(self, name: str) -> None:
        """Freeze a node in place (SIGSTOP of its process tree), as a hung host would: its
        sockets stay open and it answers nothing. Stopping the node thaws it first, so nothing
        stays frozen after the scenario."""
        self.fleet.require_control("hang a node")
        node = self.node(name)
        assert node.process is not None
        node.changed = True  # never handed on to another scenario
        node.process.pause()

    def wake(self, name: str) -> None:
        """Let a hung node run on (SIGCONT)."""
        process = self.node(name).process
        process = expect.present(process, f"node {name} was not hung")
        expect.that(process.paused, f"node {name} was not hung")
        process.resume()

    def start_download_hanging(self, node: str, victim: str, after_bytes: int, *,
                               by: str) -> None:
        """Stream the last upload from ``node`` in the background, and hang ``victim`` once
        ``after_bytes`` arrived; ``finish_hung_download`` collects the outcome."""
        upload = self.last_upload
        self._act(by, f"streams {upload.describe()} from node {node} while node {victim} "
                  f"hangs after {after_bytes} bytes")
        person, hung = self.person(by), threading.Event()

        def progress(size: int) -> None:
            if not hung.is_set() and size >= after_bytes:
                self.hang(victim)
                hung.set()

        def run() -> Interrupted:
            started = time.monotonic()
            result, error = None, None
            with self.fleet.extra_client(node) as client:
                try:
                    result = client.download(upload.cid, network=True, on_progress=progress)
                except CodexError as exc:
                    error = exc
            return Interrupted(person, result, error, time.monotonic() - started)

        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"download-from-{node}")
        self.hung_download = HungDownload(person, node, victim, hung, pool.submit(run))
        pool.shutdown(wait=False)

    def _running_hung_download(self) -> HungDownload:
        if self.hung_download is None:
            raise AssertionError("no download with a hung node was started in this scenario")
        running = self.hung_download
        if not running.hung.wait(self.within(HANG_WITHIN)):
            if running.future.done():
                raise AssertionError(f"the download from node {running.node} ended before "
                                     f"node {running.victim} could hang")
            raise AssertionError(f"the download from node {running.node} did not reach the "
                                 f"point where node {running.victim} was to hang within "
                                 f"{HANG_WITHIN:.0f} s")
        return running

    def download_keeps_waiting(self, seconds: float, person: str) -> None:
        """For ``seconds`` after the node hung, this person's download neither ends nor fails."""
        running = self._running_hung_download()
        name = self.person(person)
        expect.equal(running.by, name, "the download with a hung node was started by")
        done, _ = wait([running.future], timeout=seconds)
        if done:
            outcome = running.future.result()
            ending = f"failed ({outcome.error})" if outcome.error else \
                f"finished with {outcome.result.size if outcome.result else 0} bytes"
            raise AssertionError(f"the download from node {running.node} {ending} while node "
                                 f"{running.victim} hung; it should have waited for it")

    def finish_hung_download(self, seconds: float) -> Interrupted:
        """The outcome of the download with a hung node, once it ends within ``seconds``."""
        running = self._running_hung_download()
        try:
            self.interrupted = running.future.result(timeout=self.within(seconds))
        except TimeoutError:
            raise AssertionError(f"the download from node {running.node} had not ended "
                                 f"{seconds} s after this check began (node {running.victim} "
                                 "hung during it)") from None
        return self.interrupted

    def check_identical(self, outcome: Interrupted, person: str) -> None:
        """Fail unless the download was this person's and delivered the file unchanged."""
        name = self.person(person)
        expect.equal(outcome.by, name, "the download was started by")
        expect.that(outcome.error is None, f"{name}'s download failed: {outcome.error}")
        result = expect.present(outcome.result, f"{name}'s download delivered nothing")
        same_content(result, self.last_upload, f"{name} got")

    def share_across(self, count: int, size: int) -> None:
        """``count`` people upload different files at once, round-robin over the nodes; each
        file is then fetched from the next node."""
        nodes = list(self.fleet.nodes)
        contents = [self.new_file(size) for _ in range(count)]
        targets = [nodes[i % len(nodes)] for i in range(count)]
        def send(job: tuple[str, LocalFile]) -> str:
            node, content = job
            with self.fleet.extra_client(node) as client:
                return client.upload(content.path)

        with ThreadPoolExecutor(max_workers=count) as pool:
            cids = list(pool.map(send, zip(targets, contents, strict=True)))
        for index, (cid, content) in enumerate(zip(cids, contents, strict=True)):
            upload = Upload(cid, content, None, None, targets[index],
                            f"person {index + 1} of {count}")
            self.uploads.append(upload)
            self.shared.append((upload, nodes[(index + 1) % len(nodes)]))

    def download_shared(self) -> list[tuple[Upload, DownloadResult]]:
        def fetch(job: tuple[Upload, str]) -> tuple[Upload, DownloadResult]:
            upload, node = job
            with self.fleet.extra_client(node) as client:
                return upload, client.download(upload.cid, network=True)

        with ThreadPoolExecutor(max_workers=max(1, len(self.shared))) as pool:
            return list(pool.map(fetch, self.shared))

    def first_block_cid(self, upload: Upload | None = None) -> str:
        return next(codex_cid.iter_block_cids((upload or self.last_upload).content.path))

    # --- the QA engineer's command-line tools ----------------------------------------------
    @property
    def qa_disk(self) -> Path:
        """The QA engineer's folder, where the command-line tools run."""
        return self.files_dir.parent / "qa-disk"

    def write_qa_file(self, name: str, size: int) -> LocalFile:
        return write_random_file(self.qa_disk / name, size, seed=name)

    def qa_file(self, name: str) -> bytes | None:
        """The bytes of a file on the QA engineer's disk, or None if there is none."""
        path = self.qa_disk / name
        return path.read_bytes() if path.exists() else None

    def run_codex_upload(self, node: str, file: str) -> CommandResult:
        return self._run_tool("codex-upload", node, ["-file", file])

    def run_codex_download(self, node: str, cid: str | None = None,
                           file: str | None = None) -> CommandResult:
        args = [*(["-cid", cid] if cid is not None else []),
                *(["-file", file] if file is not None else [])]
        return self._run_tool("codex-download", node, args)

    def _run_tool(self, tool: str, node: str, args: list[str]) -> CommandResult:
        host, port = self.client(node).base_url.split("//", 1)[1].rsplit(":", 1)
        self.qa_disk.mkdir(parents=True, exist_ok=True)
        self.tool_result = run_tool(tool, ["-host", host, "-port", port, *args],
                                    cwd=self.qa_disk, timeout=self.within(TOOL_WITHIN))
        self.tool_node = node
        return self.tool_result

    def last_tool_run(self) -> CommandResult:
        if self.tool_result is None:
            raise AssertionError("the QA engineer has run no command-line tool yet")
        return self.tool_result

    def note_printed_cid(self) -> str:
        """The CID the last tool printed (on its one ``CID: …`` line), remembered."""
        result = self.last_tool_run()
        lines = [line for line in result.stdout.splitlines() if line.startswith("CID: ")]
        expect.that(len(lines) == 1, f"the tool printed {plural(len(lines), 'CID line')}; "
                    f"expected one\n{result.describe()}")
        self.printed_cid = lines[0].removeprefix("CID: ")
        return self.printed_cid

    def cid_printed(self) -> str:
        if self.printed_cid is None:
            raise AssertionError("no tool has printed a CID in this scenario")
        return self.printed_cid

    @staticmethod
    def unknown_manifest_cid() -> str:
        """A well-formed manifest CID of content nobody stored."""
        return codex_cid.content_cid(codex_cid.MANIFEST, b"never uploaded by the acceptance suite")
