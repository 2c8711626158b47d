"""The ``/api/codex/v1`` REST surface, answering exactly as nim-codex does (codex.md §1–2)."""

from __future__ import annotations

import contextlib
import os
import re
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.client import HTTPMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import base58

from emulators.codex import errors, nim_json
from emulators.codex.chronos_http import (
    POST_METHODS,
    Body,
    HeadError,
    PeerClosedError,
    RequestHead,
    decode_url,
    error_response,
    parse_request,
    prepare_request,
    query_params,
    read_head,
    split_target,
)
from emulators.codex.exchange import PeerUnreachableError
from emulators.codex.filenames import filename_from_content_disposition, is_valid_filename
from emulators.codex.http_io import (
    BadChunkedBodyError,
    BodyAbortedError,
    ChunkedReader,
    LengthReader,
    header_bytes,
    header_text,
    prefers_plain_text,
    send_file_range,
)
from emulators.codex.identity import InvalidRecordError
from emulators.codex.logs import LogLevelError
from emulators.codex.node import (
    BlockNotFoundError,
    CodexNode,
    EmptyUploadError,
    ManifestQuotaError,
    RetriesExhaustedError,
)
from emulators.codex.store import BlockInUseError, QuotaExceededError
from emulators.serving import PromptStop
from wire.cid import CODEX_MANIFEST, IDENTITY, SHA2_256, Cid, CidError, decode_varint
from wire.codex_manifest import Manifest, ManifestError

PREFIX = "/api/codex/v1"
HEADERS_TIMEOUT = 10.0
VERSION_INFO = {"version": "untagged build", "revision": "bd360322", "contracts": "unknown"}
HTML = "text/html"
HTML_UTF8 = "text/html; charset=utf-8"
PLAIN = "text/plain"
JSON_TYPE = "application/json"
_CPU_NAMES = {"x86_64": "amd64", "aarch64": "arm64", "i686": "i386", "armv7l": "arm"}
_UNAME = os.uname()  # what platform.machine() and platform.system() report, without importing it
_NIM_CPU = _CPU_NAMES.get(_UNAME.machine, _UNAME.machine.lower())
SERVER_HEADER = f"nim-presto/0.0.3 ({_NIM_CPU}/{_UNAME.sysname.lower()})"
MIME_TYPES = frozenset(
    Path(__file__).with_name("nim_mimetypes.txt").read_text().split()
)
_DRAIN_LIMIT = 64 * 1024 * 1024
# presto's SegmentedPath refuses paths of more than 64 segments (the method is the first one).
_MAX_SEGMENTS = 64


def _lower_ascii(text: str) -> str:
    """Nim's toLowerAscii: only A-Z change."""
    return text.translate(_ASCII_LOWER)


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def compact_json(value: object) -> bytes:
    """``$node`` of Nim's std/json: raw bytes of stored strings go out unchanged."""
    return nim_json.dumps(value)


class ResponseSent(Exception):  # noqa: N818 - control flow, not an error
    """Raised by a handler once it has written its response itself (streams)."""


class CodexRequestHandler(BaseHTTPRequestHandler):
    """Routes one connection's requests to the node."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without TCP_NODELAY, Nagle's algorithm and the
    # client's delayed ACK add about 40 ms to every keep-alive answer.
    disable_nagle_algorithm = True
    # chronos: request headers must arrive within 10 s; bodies may take as long as they take.
    timeout = HEADERS_TIMEOUT
    server: CodexHttpServer
    head: RequestHead
    _body: Body
    _route_method: str | None = None
    _answered = False

    @property
    def node(self) -> CodexNode:
        return self.server.node

    # --- plumbing -----------------------------------------------------------------------------
    def version_string(self) -> str:
        return SERVER_HEADER

    def handle_one_request(self) -> None:
        """One request as chronos reads it (``chronos_http``), then presto's routing."""
        self.close_connection = True
        try:
            raw = read_head(self.rfile, self.connection)
            head = parse_request(raw)
            if head is None:
                raise HeadError(400)
            self._body = prepare_request(head)
        except HeadError as exc:
            self._refuse_head(exc.code)
            return
        except PeerClosedError:
            return
        self.head = head
        self.raw_requestline = raw.split(b"\r\n", 1)[0]
        self.requestline = self.raw_requestline.decode("latin-1")
        self.command, self.path = head.method, head.target
        # chronos answers in the request's version; http.server would drop the status line of
        # an HTTP/0.9 answer, so it is told 1.1 while the status line says 0.9.
        self.protocol_version = head.version
        self.request_version = "HTTP/1.1" if head.version == "HTTP/0.9" else head.version
        self.headers = HTTPMessage()
        for name, value in head.headers:
            self.headers[name] = value
        # chronos keeps an HTTP/1.1 connection open unless Connection says anything but
        # "keep-alive"; HTTP/1.0 connections close after one answer.
        self.close_connection = not (head.version == "HTTP/1.1" and
                                     head.get("Connection") in (None, "keep-alive"))
        self._answered = False
        try:
            self._dispatch()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # presto: an unexpected handler error is an empty 503
            self.node.log.warn("Unexpected error occured while processing a request",
                               topics="presto", error=repr(exc))
            self.close_connection = True
            if not self._answered:
                with contextlib.suppress(OSError):
                    self._send(503)
        try:
            self.wfile.flush()
        except OSError:
            self.close_connection = True

    def _refuse_head(self, code: int) -> None:
        """chronos' ``sendErrorResponse`` for a head it could not take, then a graceful close."""
        self.close_connection = True
        try:
            self.wfile.write(error_response(code))
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
            # Read what the client still sends so that closing does not reset the connection
            # (which could destroy the answer before the client reads it).
            self.connection.settimeout(1.0)
            drained = 0
            while drained < _DRAIN_LIMIT and (chunk := self.connection.recv(65536)):
                drained += len(chunk)
        except OSError:
            pass

    def send_response(self, code: int, message: str | None = None) -> None:
        self._answered = True
        super().send_response(code, message)

    def _expect_continue(self) -> None:
        """chronos ``handleExpect``: an interim 100 when a body was announced with Expect."""
        expect = self.head.get("Expect")
        if (self._body.present and expect is not None and self.head.version == "HTTP/1.1"
                and expect.strip().lower() == "100-continue"):
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self.wfile.flush()

    def log_message(self, format: str, *args: object) -> None:
        self.node.log.trace("HTTP " + format % args, topics="codex restapi")

    def _cors(self, methods: str | None) -> list[tuple[str, bytes]]:
        """nim-codex's CORS trio, when ``--api-cors-origin`` is set (codex.md §1) and the handler
        passes it (``methods`` None: the handler answers without it)."""
        origin = self.node.config.api_cors_origin
        if origin is None or methods is None:
            return []
        return [("Access-Control-Allow-Origin", header_bytes(origin)),
                ("Access-Control-Allow-Methods", f"{methods}, OPTIONS".encode()),
                ("Access-Control-Max-Age", b"86400")]

    def _presto_origin(self) -> list[tuple[str, bytes]]:
        """presto's own header on ordinary answers to a request with exactly one Origin."""
        origin = self.node.config.api_cors_origin
        if origin is None or len(self.headers.get_all("Origin") or []) != 1:
            return []
        vary = [] if origin == "*" else [("Vary", b"Origin")]
        return [("Access-Control-Allow-Origin", header_bytes(origin)), *vary]

    def _send(
        self,
        status: int,
        body: bytes = b"",
        content_type: str | None = None,
        headers: Iterable[tuple[str, bytes]] = (),
    ) -> None:
        self.send_response(status)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        if status >= 400 and content_type is not None:
            headers = [*self._cors(self._route_method), *headers]
        elif status < 400 and not headers:
            headers = self._presto_origin()
        for name, value in headers:
            self._headers_buffer.append(name.encode("latin-1") + b": " + value + b"\r\n")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close" if self.close_connection else "keep-alive")
        self._headers_buffer.extend([b"\r\n", body])  # one write for headers and body
        self.flush_headers()

    def _text(self, status: int, text: str | bytes, content_type: str = HTML) -> None:
        self._send(status, nim_json.text_bytes(text), content_type)

    def _json(self, value: object) -> None:
        self._send(200, compact_json(value), JSON_TYPE)

    def _body_reader(self) -> LengthReader | ChunkedReader | None:
        """The body as chronos frames it: Content-Length first, else chunked, else none."""
        if self._body.length > 0:
            return LengthReader(self.rfile, self._body.length)
        if self._body.chunked:
            return ChunkedReader(self.rfile)
        return None

    # --- routing ------------------------------------------------------------------------------
    def _dispatch(self) -> None:
        path, query = split_target(self.path)
        self._query = query_params(query)
        # presto: SegmentedPath.init(method, path) splits on "/" and decodes every segment.
        joined = self.command + path if path.startswith("/") else self.command + "/" + path
        segments = [decode_url(part) for part in joined.split("/")]
        self.connection.settimeout(None)
        try:
            if len(segments) > _MAX_SEGMENTS:
                self._discard_body()
                self._send(400)
                return
            found = _find_route(segments)
            if found is None:
                self._discard_body()
                self._send(404)
                return
            route, args = found
            self._route_method = route.cors
            if not route.raw:
                if (self.command in POST_METHODS and self._body.length > 0
                        and not self.head.get("Content-Type")):
                    self._discard_body()
                    self._send(400)  # presto: "Incorrect/missing Content-Type header"
                    return
                if self.command in POST_METHODS and self._body.length > 0:
                    self._expect_continue()
                reader = self._body_reader()
                if reader is not None:
                    reader.drain()
            with contextlib.suppress(ResponseSent):
                route.handler(self, *args)
            if route.raw and route.handler is not CodexRequestHandler.upload:
                self._discard_body()
        except (BodyAbortedError, BadChunkedBodyError):
            self.close_connection = True
        finally:
            self.connection.settimeout(HEADERS_TIMEOUT)

    def _cid(self, text: str) -> Cid:
        try:
            return Cid.parse(text)
        except CidError as exc:
            self._text(400, errors.INCORRECT_CID)
            raise ResponseSent from exc

    # --- handlers -----------------------------------------------------------------------------
    def _discard_body(self) -> None:
        """Read an unused request body so that it is not taken for the next request on this
        keep-alive connection; a body too large to read is cut off by closing instead."""
        reader = self._body_reader()
        if reader is None:
            return
        length = self.headers.get("Content-Length", "")
        if length.strip().isdigit() and int(length) > _DRAIN_LIMIT:
            self.close_connection = True
            return
        drained = 0
        try:
            while chunk := reader.read(65536):
                drained += len(chunk)
                if drained > _DRAIN_LIMIT:
                    self.close_connection = True
                    return
        except (BodyAbortedError, BadChunkedBodyError):
            self.close_connection = True

    def upload(self) -> None:
        reader = self._body_reader()
        if reader is None:
            self._text(500, errors.NO_BODY)
            return
        self._expect_continue()
        refusal = self._upload_refusal()
        if refusal is not None:
            self._discard_body()
            self._text(*refusal)
            return
        mimetype = self.head.get("Content-Type")
        disposition = self.head.get("Content-Disposition")
        filename = None if disposition is None else \
            filename_from_content_disposition(header_text(disposition))
        try:
            cid = self.node.upload(reader, filename, header_text(mimetype) if mimetype else None)
        except QuotaExceededError as exc:
            self.close_connection = True
            self._text(500, errors.unable_to_store_block(exc.cid))
            return
        except ManifestQuotaError as exc:
            self._text(500, str(exc))
            return
        except EmptyUploadError as exc:
            self._text(500, str(exc))
            return
        except (BodyAbortedError, BadChunkedBodyError) as exc:
            self.node.log.warn("Upload stream failed", topics="codex restapi", error=exc)
            self.close_connection = True
            self._text(500, str(exc))
            return
        self._send(200, str(cid).encode(), PLAIN)

    def _upload_refusal(self) -> tuple[int, bytes] | None:
        """Why an upload is refused before its body is read (status, text), if it is."""
        mimetype = self.head.get("Content-Type")
        if mimetype and _lower_ascii(mimetype) not in MIME_TYPES:
            # The header's own bytes, as Nim echoes them.
            return 422, errors.invalid_mime_type(mimetype.encode("latin-1"))
        disposition = self.head.get("Content-Disposition")
        try:
            filename = None if disposition is None else \
                filename_from_content_disposition(header_text(disposition))
        except ValueError:
            # Nim raises a RangeDefect here (nothing after `filename="`); answer as a failed call.
            return 500, errors.FILENAME_UNREADABLE.encode()
        if filename is not None and not is_valid_filename(filename):
            return 422, errors.INVALID_FILENAME.encode()
        return None

    def list_data(self) -> None:
        content = [{"cid": str(e.cid), "manifest": e.manifest.to_json()} for e in
                   self.node.datasets()]
        self._json({"content": content})

    def preflight(self, *cid: str) -> None:
        headers = self._cors("GET,DELETE" if cid else "POST")
        if headers and not cid:
            headers.append(("Access-Control-Allow-Headers", b"content-type, content-disposition"))
        self._send(204, headers=headers)

    def local_download(self, cid_text: str) -> None:
        cid = self._cid(cid_text)
        try:
            manifest = self.node.local_manifest(cid)
        except BlockNotFoundError as exc:
            self._text(404, errors.not_retrieved(str(exc)), HTML_UTF8)
            return
        except ManifestError:
            self._text(404, errors.INVALID_MANIFEST_CID, HTML_UTF8)
            return
        self._stream(manifest, extra_headers=())

    def network_stream(self, cid_text: str) -> None:
        cid = self._cid(cid_text)
        if cid.codec != CODEX_MANIFEST:
            # nim-codex retrieve(): fetchManifest fails at once for another codec, so the node
            # streams the single block instead, fetching it from the network (within its retry
            # budget) if it is not local; then its second fetchManifest fails with the 404.
            try:
                self.node.fetch_block(cid)
            except (RetriesExhaustedError, QuotaExceededError) as exc:
                message = exc.quota_message if isinstance(exc, QuotaExceededError) else str(exc)
                self._text(500, message, HTML_UTF8)
                return
            self._text(404, errors.INVALID_MANIFEST_CID, HTML_UTF8)
            return
        try:
            try:
                manifest = self.node.obtain_manifest(cid)
            except RetriesExhaustedError:
                # nim-codex falls back to a single-block fetch: a second full round of retries.
                manifest = self.node.obtain_manifest(cid)
        except ManifestError:
            self._text(404, errors.INVALID_MANIFEST_CID, HTML_UTF8)
            return
        except RetriesExhaustedError as exc:
            self._text(500, str(exc), HTML_UTF8)
            return
        expose = (("Access-Control-Expose-Headers", b"Content-Disposition"),)
        self._stream(manifest, extra_headers=expose)

    def _stream(self, manifest: Manifest, extra_headers: Iterable[tuple[str, bytes]]) -> None:
        """Headers from the manifest, then the dataset block by block; the connection closes."""
        self.close_connection = True
        self.send_response(200)
        content_type = header_bytes(manifest.mimetype or "application/octet-stream")
        disposition = b"attachment"
        if manifest.filename is not None:
            disposition += b'; filename="' + header_bytes(manifest.filename) + b'"'
        cors = self._cors("GET")
        if cors:
            cors.append(("Access-Control-Headers", b"X-Requested-With"))
        headers = [("Content-Type", content_type), ("Content-Disposition", disposition), *cors,
                   *extra_headers, ("Content-Length", str(manifest.dataset_size).encode()),
                   ("Connection", b"close")]
        for name, value in headers:
            self._headers_buffer.append(name.encode("latin-1") + b": " + value + b"\r\n")
        self.end_headers()
        try:
            for fd, offset, length in self.node.dataset_blocks(manifest):
                send_file_range(self.connection, fd, offset, length)
        except (RetriesExhaustedError, EOFError) as exc:
            self.node.log.warn("Download cut short", topics="codex restapi", error=exc)
        except (BrokenPipeError, ConnectionResetError):
            self.node.log.debug("Client closed the download", topics="codex restapi")

    def trigger_download(self, cid_text: str) -> None:
        cid = self._cid(cid_text)
        if cid.codec != CODEX_MANIFEST:
            self._text(404, errors.INVALID_MANIFEST_CID)
            return
        manifest = self._network_manifest(cid)
        self.node.download_in_background(manifest)
        self._json({"cid": str(cid), "manifest": manifest.to_json()})

    def network_manifest(self, cid_text: str) -> None:
        cid = self._cid(cid_text)
        manifest = self._network_manifest(cid)
        self._json({"cid": str(cid), "manifest": manifest.to_json()})

    def _network_manifest(self, cid: Cid) -> Manifest:
        try:
            return self.node.obtain_manifest(cid)
        except (ManifestError, RetriesExhaustedError) as exc:
            self._text(404, str(exc))
            raise ResponseSent from exc

    def exists(self, cid_text: str) -> None:
        cid = self._cid(cid_text)
        self._json({str(cid): self.node.has_block(cid)})

    def delete(self, cid_text: str) -> None:
        cid = self._cid(cid_text)
        try:
            self.node.delete(cid)
        except BlockInUseError:
            self._text(500, errors.DELETE_IN_DATASET)
            return
        self._send(204)

    def space(self) -> None:
        space = self.node.space()
        self._json(
            {
                "totalBlocks": space.total_blocks,
                "quotaMaxBytes": space.quota_max_bytes,
                "quotaUsedBytes": space.quota_used_bytes,
                "quotaReservedBytes": space.quota_reserved_bytes,
            }
        )

    def debug_info(self) -> None:
        self._send(200, nim_json.pretty(self.node.debug_info(VERSION_INFO)), JSON_TYPE)

    def _plain_or_json(self, key: str, value: str) -> None:
        if prefers_plain_text(self.head.get("Accept")):
            self._send(200, value.encode(), PLAIN)
        else:
            self._json({key: value})

    def peer_id(self) -> None:
        self._plain_or_json("id", self.node.identity.peer_id)

    def spr(self) -> None:
        self._plain_or_json("spr", self.node.spr)

    def log_level(self) -> None:
        # presto hands over the query value as is ("" for `level=` or a bare `level`; repeated
        # values joined with ","); only an absent parameter is "Missing log level".
        levels = self._query.get("level")
        if levels is None:
            self._text(400, errors.MISSING_LOG_LEVEL)
            return
        try:
            self.node.log.set_level(",".join(levels))
        except LogLevelError as exc:
            self._text(500, str(exc))
            return
        self._send(200, b"", PLAIN)

    def connect(self, peer_id: str) -> None:
        if not is_peer_id(peer_id):
            self._text(400, errors.INCORRECT_PEER_ID)
            return
        addresses = [addr for text in self._query.get("addrs", [])
                     if (addr := parse_tcp_multiaddr(text)) is not None]
        try:
            found = self.node.connect(peer_id, addresses)
        except PeerUnreachableError:
            self._text(400, errors.DIAL_FAILED)
            return
        except (ValueError, InvalidRecordError):
            self._text(500, errors.DIAL_UNKNOWN_ERROR)
            return
        if not found:
            self._text(400, errors.PEER_NOT_FOUND)
            return
        self._send(200, b"Successfully connected to peer", PLAIN)

    def persistence_disabled(self, *_ids: str) -> None:
        """The marketplace routes of a node started without the ``persistence`` sub-command."""
        self._text(503, errors.PERSISTENCE_DISABLED)

    def marketplace_preflight(self, _id: str) -> None:
        """``OPTIONS /sales/availability/{id}``: 204, with the CORS trio for PATCH if set."""
        self._send(204, headers=self._cors("PATCH"))


def is_peer_id(text: str) -> bool:
    """Whether ``text`` parses as a libp2p peer ID (base58btc of a valid multihash)."""
    try:
        raw = base58.b58decode(text.encode("ascii"))
        code, offset = decode_varint(raw)
        length, offset = decode_varint(raw, offset)
    except (ValueError, UnicodeEncodeError, CidError):
        return False
    return code in (IDENTITY, SHA2_256) and len(raw) == offset + length and (
        code == IDENTITY or length == 32)


def parse_tcp_multiaddr(text: str) -> tuple[str, int] | None:
    """``/ip4/<host>/tcp/<port>`` → (host, port); anything else is None (ignored, as in nim)."""
    match = re.fullmatch(r"/ip4/(\d{1,3}(?:\.\d{1,3}){3})/tcp/(\d{1,5})", text)
    return (match.group(1), int(match.group(2))) if match else None


@dataclass(frozen=True)
class Route:
    """One of nim-codex's ``router.api``/``router.rawApi`` registrations."""

    method: str
    segments: tuple[str, ...]  # after the method; "{name}" matches any one segment
    handler: Callable[..., None]
    raw: bool = False  # rawApi: presto leaves the body to the handler
    cors: str | None = None  # the method named in the handler's buildCorsHeaders, if any


def _routes(table: str) -> list[Route]:
    """Routes written one a line: the method, the path under PREFIX, the handler's name, then
    ``raw`` and ``cors=<method>`` where they apply."""
    routes = []
    for line in table.strip().splitlines():
        method, path, name, *options = line.split()
        cors = [option.removeprefix("cors=") for option in options if option.startswith("cors=")]
        if set(options) - {"raw", *(f"cors={named}" for named in cors)} or len(cors) > 1:
            raise ValueError(f"unreadable route {line.strip()!r}")
        routes.append(Route(method, tuple((PREFIX + path).split("/")[1:]),
                            getattr(CodexRequestHandler, name), "raw" in options,
                            cors[0] if cors else None))
    return routes


# codex/rest/api.nim: initDataApi, initSalesApi, initPurchasingApi, initNodeApi, initDebugApi.
ROUTES: list[Route] = _routes("""
    OPTIONS /data                                   preflight
    POST    /data                                   upload                  raw
    GET     /data                                   list_data
    OPTIONS /data/{cid}                             preflight
    GET     /data/{cid}                             local_download          cors=GET
    DELETE  /data/{cid}                             delete                  cors=DELETE
    POST    /data/{cid}/network                     trigger_download        cors=GET
    GET     /data/{cid}/network/stream              network_stream          cors=GET
    GET     /data/{cid}/network/manifest            network_manifest        cors=GET
    GET     /data/{cid}/exists                      exists                  cors=GET
    GET     /space                                  space
    GET     /sales/slots                            persistence_disabled    cors=GET
    GET     /sales/slots/{slotId}                   persistence_disabled    cors=GET
    GET     /sales/availability                     persistence_disabled    cors=GET
    POST    /sales/availability                     persistence_disabled    raw cors=POST
    OPTIONS /sales/availability/{id}                marketplace_preflight
    PATCH   /sales/availability/{id}                persistence_disabled    raw
    GET     /sales/availability/{id}/reservations   persistence_disabled    raw cors=GET
    POST    /storage/request/{cid}                  persistence_disabled    raw cors=POST
    GET     /storage/purchases/{id}                 persistence_disabled    cors=GET
    GET     /storage/purchases                      persistence_disabled    cors=GET
    GET     /spr                                    spr                     cors=GET
    GET     /peerid                                 peer_id                 cors=GET
    GET     /connect/{peerId}                       connect                 cors=GET
    GET     /debug/info                             debug_info              cors=GET
    POST    /debug/chronicles/loglevel              log_level               cors=POST
""")


def _find_route(segments: list[str]) -> tuple[Route, tuple[str, ...]] | None:
    """presto's ``getRoute``: the route whose segments equal the request's (method first),
    ``{pattern}`` segments matching any value; returns the route and the pattern values."""
    method, rest = segments[0], segments[1:]
    for route in ROUTES:
        if route.method != method or len(route.segments) != len(rest):
            continue
        args = []
        for pattern, value in zip(route.segments, rest, strict=True):
            if pattern.startswith("{") and pattern.endswith("}"):
                args.append(value)
            elif pattern != value:
                break
        else:
            return route, tuple(args)
    return None


class CodexHttpServer(PromptStop, ThreadingHTTPServer):
    """A threaded HTTP/1.1 server bound to ``--api-bindaddr:--api-port``."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, node: CodexNode) -> None:
        self.node = node
        super().__init__((node.config.api_bindaddr, node.config.api_port), CodexRequestHandler)
