"""The ``/api/codex/v1`` REST surface, answering exactly as nim-codex does (codex.md §1–2)."""

from __future__ import annotations

import json
import platform
import re
import socket
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from urllib.parse import parse_qs

import base58

from emulators.codex.exchange import PeerUnreachableError
from emulators.codex.filenames import filename_from_content_disposition, is_valid_filename
from emulators.codex.http_io import (
    BadChunkedBodyError,
    BodyAbortedError,
    ChunkedReader,
    LengthReader,
    header_bytes,
    header_text,
    is_valid_media_type,
    prefers_plain_text,
)
from emulators.codex.identity import InvalidRecordError
from emulators.codex.logs import LEVELS
from emulators.codex.node import (
    BlockNotFoundError,
    CodexNode,
    EmptyUploadError,
    ManifestQuotaError,
    RetriesExhaustedError,
)
from emulators.codex.store import BlockInUseError, QuotaExceededError
from support.codex.cid import CODEX_MANIFEST, Cid, CidError, decode_varint
from support.codex.manifest import Manifest, ManifestError

PREFIX = "/api/codex/v1"
HEADERS_TIMEOUT = 10.0
VERSION_INFO = {"version": "untagged build", "revision": "bd360322", "contracts": "unknown"}
HTML = "text/html"
HTML_UTF8 = "text/html; charset=utf-8"
PLAIN = "text/plain"
JSON_TYPE = "application/json"
INVALID_MANIFEST_CID = "CID has invalid content type for manifest {$cid}"
_CPU_NAMES = {"x86_64": "amd64", "aarch64": "arm64", "i686": "i386", "armv7l": "arm"}
_NIM_CPU = _CPU_NAMES.get(platform.machine(), platform.machine().lower())
SERVER_HEADER = f"nim-presto/0.0.3 ({_NIM_CPU}/{platform.system().lower()})"
MIME_TYPES = frozenset(
    resources.files("emulators.codex").joinpath("nim_mimetypes.txt").read_text().split()
)
_DRAIN_LIMIT = 64 * 1024 * 1024
_MARKETPLACE = re.compile(r"^/(sales|storage)(/.*)?$")


def _lower_ascii(text: str) -> str:
    """Nim's toLowerAscii: only A-Z change."""
    return text.translate(_ASCII_LOWER)


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def compact_json(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


class ResponseSent(Exception):  # noqa: N818 - control flow, not an error
    """Raised by a handler once it has written its response itself (streams)."""


class CodexRequestHandler(BaseHTTPRequestHandler):
    """Routes one connection's requests to the node."""

    protocol_version = "HTTP/1.1"
    # chronos: request headers must arrive within 10 s; bodies may take as long as they take.
    timeout = HEADERS_TIMEOUT
    server: CodexHttpServer

    @property
    def node(self) -> CodexNode:
        return self.server.node

    # --- plumbing -----------------------------------------------------------------------------
    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without this, Nagle's algorithm and the
        # client's delayed ACK add about 40 ms to every keep-alive answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def version_string(self) -> str:
        return SERVER_HEADER

    def log_message(self, format: str, *args: object) -> None:
        self.node.log.trace("HTTP " + format % args, topics="codex restapi")

    def __getattr__(self, name: str) -> Callable[[], None]:
        # Every method (HEAD, PUT, PATCH, …) goes through the router, which answers 404 itself.
        if name.startswith("do_"):
            return self._dispatch
        raise AttributeError(name)

    def _cors(self, methods: str) -> list[tuple[str, bytes]]:
        """nim-codex's CORS trio, when ``--api-cors-origin`` is set (codex.md §1)."""
        origin = self.node.config.api_cors_origin
        if origin is None:
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

    def _text(self, status: int, text: str, content_type: str = HTML) -> None:
        self._send(status, text.encode(), content_type)

    def _json(self, value: object) -> None:
        self._send(200, compact_json(value), JSON_TYPE)

    def _body_reader(self) -> LengthReader | ChunkedReader | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return ChunkedReader(self.rfile)
        length = self.headers.get("Content-Length")
        if length is None or not length.strip().isdigit() or int(length) == 0:
            return None
        return LengthReader(self.rfile, int(length))

    # --- routing ------------------------------------------------------------------------------
    def _dispatch(self) -> None:
        path, _, query = self.path.partition("?")
        self._query = parse_qs(query)
        handler, args = self._route(self.command, path)
        self._route_method = self.command
        is_upload = handler == CodexRequestHandler.upload
        self.connection.settimeout(None)
        body = None if is_upload else self._body_reader()
        try:
            if body is not None:
                body.drain()
        except (BodyAbortedError, BadChunkedBodyError):
            self.close_connection = True
            return
        if handler is None:
            self._send(404)
            return
        if (self.command == "POST" and not is_upload and body is not None
                and not self.headers.get("Content-Type")):
            self._send(400)
            return
        try:
            handler(self, *args)
        except ResponseSent:
            pass
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            self.connection.settimeout(HEADERS_TIMEOUT)

    def _route(self, method: str, path: str) -> tuple[Callable[..., None] | None, tuple[str, ...]]:
        if not path.startswith(PREFIX + "/"):
            return None, ()
        rest = path[len(PREFIX) :]
        for route_method, pattern, handler in _ROUTES:
            match = pattern.fullmatch(rest)
            if match and route_method == method:
                return handler, match.groups()
        if _MARKETPLACE.match(rest) and method in ("GET", "POST", "PATCH"):
            return CodexRequestHandler.persistence_disabled, ()
        return None, ()

    def _cid(self, text: str) -> Cid:
        try:
            return Cid.parse(text)
        except CidError as exc:
            self._text(400, CidError.message)
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
        refusal = self._upload_refusal()
        if refusal is not None:
            self._discard_body()
            status, text = refusal
            if text is None:
                self._send(status)
            else:
                self._text(status, text)
            return
        mimetype = self.headers.get("Content-Type")
        disposition = self.headers.get("Content-Disposition")
        filename = None if disposition is None else \
            filename_from_content_disposition(header_text(disposition))
        reader = self._body_reader()
        if reader is None:
            self._text(500, "Request do not have body available")
            return
        try:
            cid = self.node.upload(reader, filename, header_text(mimetype) if mimetype else None)
        except QuotaExceededError as exc:
            self.close_connection = True
            self._text(500, f"Unable to store block {exc.cid}")
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

    def _upload_refusal(self) -> tuple[int, str | None] | None:
        """Why an upload is refused before its body is read (status, text), if it is."""
        mimetype = self.headers.get("Content-Type")
        if mimetype:
            if not is_valid_media_type(mimetype):
                return 415, None
            if _lower_ascii(mimetype) not in MIME_TYPES:
                return 422, f"The MIME type '{mimetype}' is not valid."
        disposition = self.headers.get("Content-Disposition")
        try:
            filename = None if disposition is None else \
                filename_from_content_disposition(header_text(disposition))
        except ValueError:
            # Nim raises a RangeDefect here (nothing after `filename="`); answer as a failed call.
            return 500, "The filename could not be read."
        if filename is not None and not is_valid_filename(filename):
            return 422, "The filename is not valid."
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
            message = f"The requested CID could not be retrieved ({exc})."
            self._text(404, message, HTML_UTF8)
            return
        except ManifestError:
            self._text(404, INVALID_MANIFEST_CID, HTML_UTF8)
            return
        self._stream(manifest, extra_headers=())

    def network_stream(self, cid_text: str) -> None:
        cid = self._cid(cid_text)
        try:
            try:
                manifest = self.node.obtain_manifest(cid)
            except RetriesExhaustedError:
                # nim-codex falls back to a single-block fetch: a second full round of retries.
                manifest = self.node.obtain_manifest(cid)
        except ManifestError:
            self._text(404, INVALID_MANIFEST_CID, HTML_UTF8)
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
            for block in self.node.dataset_blocks(manifest):
                self.wfile.write(block)
        except RetriesExhaustedError as exc:
            self.node.log.warn("Download cut short", topics="codex restapi", error=exc)
        except (BrokenPipeError, ConnectionResetError):
            self.node.log.debug("Client closed the download", topics="codex restapi")

    def trigger_download(self, cid_text: str) -> None:
        cid = self._cid(cid_text)
        if cid.codec != CODEX_MANIFEST:
            self._text(404, INVALID_MANIFEST_CID)
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
            self._text(500, "Directly deleting a block that is part of a dataset is not allowed.")
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
        body = json.dumps(self.node.debug_info(VERSION_INFO), indent=2, ensure_ascii=False)
        self._send(200, body.encode(), JSON_TYPE)

    def _plain_or_json(self, key: str, value: str) -> None:
        if prefers_plain_text(self.headers.get("Accept")):
            self._send(200, value.encode(), PLAIN)
        else:
            self._json({key: value})

    def peer_id(self) -> None:
        self._plain_or_json("id", self.node.identity.peer_id)

    def spr(self) -> None:
        self._plain_or_json("spr", self.node.spr)

    def log_level(self) -> None:
        levels = self._query.get("level")
        if not levels:
            self._text(400, "Missing log level")
            return
        spec = levels[0]
        if any(part.rsplit(":", 1)[-1].strip().lower() not in LEVELS for part in spec.split(";")):
            self._text(500, "Please specify one of: trace, debug, info, notice, warn, error or "
                            "fatal")
            return
        self.node.log.set_level(spec)
        self._send(200, b"", PLAIN)

    def connect(self, peer_id: str) -> None:
        if not is_peer_id(peer_id):
            self._text(400, "peerid: incorrect PeerId string")
            return
        addresses = [addr for text in self._query.get("addrs", [])
                     if (addr := parse_tcp_multiaddr(text)) is not None]
        try:
            found = self.node.connect(peer_id, addresses)
        except PeerUnreachableError:
            self._text(400, "Unable to dial peer")
            return
        except (ValueError, InvalidRecordError):
            self._text(500, "Unknown error dialling peer")
            return
        if not found:
            self._text(400, "Unable to find Peer!")
            return
        self._send(200, b"Successfully connected to peer", PLAIN)

    def persistence_disabled(self) -> None:
        self._text(503, "Persistence is not enabled")


def is_peer_id(text: str) -> bool:
    """Whether ``text`` parses as a libp2p peer ID (base58btc of a valid multihash)."""
    try:
        raw = base58.b58decode(text.encode("ascii"))
        code, offset = decode_varint(raw)
        length, offset = decode_varint(raw, offset)
    except (ValueError, UnicodeEncodeError, CidError):
        return False
    return code in (0x00, 0x12) and len(raw) == offset + length and (code == 0 or length == 32)


def parse_tcp_multiaddr(text: str) -> tuple[str, int] | None:
    """``/ip4/<host>/tcp/<port>`` → (host, port); anything else is None (ignored, as in nim)."""
    match = re.fullmatch(r"/ip4/(\d{1,3}(?:\.\d{1,3}){3})/tcp/(\d{1,5})", text)
    return (match.group(1), int(match.group(2))) if match else None


_CID = r"/([^/]+)"
_ROUTES: list[tuple[str, re.Pattern[str], Callable[..., None]]] = [
    (method, re.compile(pattern), handler)
    for method, pattern, handler in [
        ("POST", r"/data", CodexRequestHandler.upload),
        ("GET", r"/data", CodexRequestHandler.list_data),
        ("OPTIONS", r"/data", CodexRequestHandler.preflight),
        ("GET", r"/data" + _CID, CodexRequestHandler.local_download),
        ("DELETE", r"/data" + _CID, CodexRequestHandler.delete),
        ("OPTIONS", r"/data" + _CID, CodexRequestHandler.preflight),
        ("POST", r"/data" + _CID + r"/network", CodexRequestHandler.trigger_download),
        ("GET", r"/data" + _CID + r"/network/stream", CodexRequestHandler.network_stream),
        ("GET", r"/data" + _CID + r"/network/manifest", CodexRequestHandler.network_manifest),
        ("GET", r"/data" + _CID + r"/exists", CodexRequestHandler.exists),
        ("GET", r"/space", CodexRequestHandler.space),
        ("GET", r"/debug/info", CodexRequestHandler.debug_info),
        ("GET", r"/peerid", CodexRequestHandler.peer_id),
        ("GET", r"/spr", CodexRequestHandler.spr),
        ("POST", r"/debug/chronicles/loglevel", CodexRequestHandler.log_level),
        ("GET", r"/connect" + _CID, CodexRequestHandler.connect),
    ]
]


class CodexHttpServer(ThreadingHTTPServer):
    """A threaded HTTP/1.1 server bound to ``--api-bindaddr:--api-port``."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, node: CodexNode) -> None:
        self.node = node
        super().__init__((node.config.api_bindaddr, node.config.api_port), CodexRequestHandler)
