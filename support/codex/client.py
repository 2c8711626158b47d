"""A typed client for the Codex REST data API (``/api/codex/v1``), over requests.

Mirrors go-codex-client's calls and error texts (codex.md §7.1): every failure says which call
failed and carries the HTTP status and body, or the transport error.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import requests
import urllib3
from requests.adapters import HTTPAdapter

from support.journal import Journal

API_PREFIX = "/api/codex/v1"
DEFAULT_TIMEOUT = 60.0
# Upload bodies go out, and downloads come in, this many bytes at a time (urllib3 writes 16 KiB
# at a time unless told otherwise): fewer, larger socket calls and hash updates.
_CHUNK = 1 << 20


class Readable(Protocol):
    """A binary stream as requests reads an upload body (a file, or a wrapper around one)."""

    def read(self, size: int = -1, /) -> bytes: ...


UploadSource = bytes | Path | Readable | Iterable[bytes]
ProgressCallback = Callable[[int], None]


class CodexError(Exception):
    """A Codex API call failed; ``status`` and ``body`` are set when the node answered."""

    def __init__(self, message: str, status: int | None = None, body: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class DownloadCancelledError(CodexError):
    """The caller cancelled a download mid-stream."""


@dataclass(frozen=True)
class ManifestInfo:
    """A dataset's manifest as the API reports it (codex.md §4)."""

    tree_cid: str
    dataset_size: int
    block_size: int
    filename: str | None
    mimetype: str | None
    protected: bool

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ManifestInfo:
        return cls(
            tree_cid=str(data["treeCid"]),
            dataset_size=int(data["datasetSize"]),
            block_size=int(data["blockSize"]),
            filename=data.get("filename"),
            mimetype=data.get("mimetype"),
            protected=bool(data["protected"]),
        )


@dataclass(frozen=True)
class DataItem:
    """A manifest CID with its manifest (items of ``GET /data``, ``…/network/manifest``)."""

    cid: str
    manifest: ManifestInfo


@dataclass(frozen=True)
class Space:
    total_blocks: int
    quota_max_bytes: int
    quota_used_bytes: int
    quota_reserved_bytes: int


@dataclass(frozen=True)
class DownloadResult:
    """What a download delivered: size and digest of the body, and the response headers."""

    size: int
    sha256: str
    status: int
    headers: dict[str, str]

    @property
    def content_type(self) -> str | None:
        return self.headers.get("Content-Type")

    @property
    def filename(self) -> str | None:
        """The filename of ``Content-Disposition`` (raw UTF-8 as the node sends it)."""
        disposition = self.headers.get("Content-Disposition", "")
        marker = 'filename="'
        if marker not in disposition:
            return None
        raw = disposition.split(marker, 1)[1].rsplit('"', 1)[0]
        return raw.encode("latin-1").decode("utf-8", "replace")


class _LargeWritesAdapter(HTTPAdapter):
    """requests' adapter, with request bodies read and sent ``_CHUNK`` bytes at a time."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("blocksize", _CHUNK)
        super().init_poolmanager(*args, **kwargs)


def _content_disposition(filename: str) -> bytes:
    # Sent as raw UTF-8 bytes, like the Go client; requests passes bytes values through.
    return b'filename="' + filename.encode("utf-8") + b'"'


class CodexClient:
    """Calls one node's REST API. ``timeout`` is the default per-call budget in seconds."""

    def __init__(
        self, base_url: str, timeout: float = DEFAULT_TIMEOUT, journal: Journal | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_url = self.base_url + API_PREFIX
        self.timeout = timeout
        self.session = requests.Session()
        self.session.mount("http://", _LargeWritesAdapter())
        if journal is not None:
            journal.attach(self.session)

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> CodexClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- plumbing -------------------------------------------------------------------------------
    def _request(
        self,
        what: str,
        method: str,
        path: str,
        *,
        expect: int = 200,
        timeout: float | None = None,
        transport_error: str | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        try:
            response = self.session.request(
                method, self.api_url + path, timeout=timeout or self.timeout, **kwargs
            )
        except requests.RequestException as exc:
            prefix = transport_error or f"failed to call {what} on codex"
            raise CodexError(f"{prefix}: {exc}") from exc
        if response.status_code != expect:
            if kwargs.get("stream"):
                body = response.raw.read(4096, decode_content=True).decode("utf-8", "replace")
                response.close()
            else:
                body = response.text
            raise CodexError(
                f"{what} failed with status {response.status_code}: {body}",
                status=response.status_code,
                body=body,
            )
        return response

    @staticmethod
    def _json(response: requests.Response, parse_error: str) -> dict[str, Any]:
        try:
            value = response.json()
        except json.JSONDecodeError as exc:
            raise CodexError(f"{parse_error}: {exc}", response.status_code, response.text) from exc
        if not isinstance(value, dict):
            raise CodexError(f"{parse_error}: not an object", response.status_code, response.text)
        return value

    # --- data -----------------------------------------------------------------------------------
    def upload(
        self,
        source: UploadSource,
        filename: str | None = None,
        mimetype: str | None = None,
        timeout: float | None = None,
    ) -> str:
        """Upload bytes, a file path, a binary stream or an iterable of chunks; returns the CID."""
        headers: dict[str, str | bytes] = {}
        if filename is not None:
            headers["Content-Disposition"] = _content_disposition(filename)
        if mimetype is not None:
            headers["Content-Type"] = mimetype
        with ExitStack() as stack:
            body = source
            if isinstance(source, Path):
                body = stack.enter_context(open(source, "rb"))
            response = self._request(
                "codex upload", "POST", "/data", data=body, headers=headers, timeout=timeout,
                transport_error="failed to upload to codex",
            )
        return response.text.strip()

    def download(
        self,
        cid: str,
        destination: Path | BinaryIO | None = None,
        *,
        network: bool = False,
        cancel: threading.Event | None = None,
        on_progress: ProgressCallback | None = None,
        timeout: float | None = None,
    ) -> DownloadResult:
        """Stream a dataset (local ``/data/{cid}`` or ``/network/stream``) into ``destination``.

        The body is hashed once, as it arrives in chunks of up to 1 MiB; ``destination`` may be
        None to only hash it. Setting ``cancel`` stops the transfer before the next chunk and
        raises DownloadCancelledError.
        """
        path = f"/data/{cid}/network/stream" if network else f"/data/{cid}"
        response = self._request(
            "codex download", "GET", path, stream=True, timeout=timeout,
            transport_error="failed to download from codex",
        )
        digest = hashlib.sha256()
        size = 0
        with ExitStack() as stack:
            stack.callback(response.close)
            sink: BinaryIO | None = None
            if isinstance(destination, Path):
                sink = stack.enter_context(open(destination, "wb"))
            elif destination is not None:
                sink = destination
            try:
                while chunk := response.raw.read(_CHUNK, decode_content=True):
                    if cancel is not None and cancel.is_set():
                        raise DownloadCancelledError(
                            f"codex download of {cid} cancelled after {size} bytes"
                        )
                    digest.update(chunk)
                    size += len(chunk)
                    if sink is not None:
                        sink.write(chunk)
                    if on_progress is not None:
                        on_progress(size)
            except urllib3.exceptions.HTTPError as exc:  # what urllib3's raw.read raises
                raise CodexError(f"failed to download from codex: {exc}") from exc
        return DownloadResult(size, digest.hexdigest(), response.status_code,
                              dict(response.headers))

    def download_bytes(self, cid: str, *, network: bool = False) -> bytes:
        """Download a (small) dataset into memory."""
        response = self._request(
            "codex download", "GET",
            f"/data/{cid}/network/stream" if network else f"/data/{cid}",
            transport_error="failed to download from codex",
        )
        return response.content

    def trigger_download(self, cid: str, timeout: float | None = None) -> DataItem:
        """``POST /data/{cid}/network``: start fetching in the background; returns the manifest."""
        response = self._request(
            "codex async download", "POST", f"/data/{cid}/network", timeout=timeout,
            transport_error="failed to trigger download from codex",
        )
        return self._data_item(response, "failed to parse download manifest")

    def fetch_manifest(self, cid: str, timeout: float | None = None) -> DataItem:
        """``GET /data/{cid}/network/manifest``."""
        response = self._request(
            "codex fetch manifest", "GET", f"/data/{cid}/network/manifest", timeout=timeout,
            transport_error="failed to fetch manifest from codex",
        )
        return self._data_item(response, "failed to parse manifest")

    def _data_item(self, response: requests.Response, parse_error: str) -> DataItem:
        value = self._json(response, parse_error)
        try:
            return DataItem(str(value["cid"]), ManifestInfo.from_json(value["manifest"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise CodexError(f"{parse_error}: {exc}", response.status_code, response.text) from exc

    def exists(self, cid: str, timeout: float | None = None) -> bool:
        """``GET /data/{cid}/exists``; the answer must be keyed by exactly this CID."""
        response = self._request(
            "cid check", "GET", f"/data/{cid}/exists", timeout=timeout,
            transport_error="failed to check cid existence",
        )
        value = self._json(response, "failed to parse response")
        if cid not in value:
            raise CodexError(f'response missing CID key "{cid}"', response.status_code,
                             response.text)
        return bool(value[cid])

    def delete(self, cid: str, timeout: float | None = None) -> None:
        """``DELETE /data/{cid}``; the node must answer 204."""
        self._request("cid delete", "DELETE", f"/data/{cid}", expect=204, timeout=timeout,
                      transport_error="failed to delete cid")

    def list_data(self) -> list[DataItem]:
        response = self._request("codex list", "GET", "/data")
        value = self._json(response, "failed to parse response")
        return [DataItem(str(item["cid"]), ManifestInfo.from_json(item["manifest"]))
                for item in value["content"]]

    # --- node -----------------------------------------------------------------------------------
    def space(self) -> Space:
        value = self._json(self._request("codex space", "GET", "/space"),
                           "failed to parse response")
        return Space(int(value["totalBlocks"]), int(value["quotaMaxBytes"]),
                     int(value["quotaUsedBytes"]), int(value["quotaReservedBytes"]))

    def debug_info(self) -> dict[str, Any]:
        return self._json(self._request("codex debug info", "GET", "/debug/info"),
                          "failed to parse response")

    def peer_id(self) -> str:
        response = self._request("codex peer id", "GET", "/peerid",
                                 headers={"Accept": "text/plain"})
        return response.text

    def raw(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Any request under the API prefix, answered as is (for checking error behaviour)."""
        kwargs.setdefault("timeout", self.timeout)
        try:
            return self.session.request(method, self.api_url + path, **kwargs)
        except requests.RequestException as exc:
            raise CodexError(f"failed to call {method} {path} on codex: {exc}") from exc
