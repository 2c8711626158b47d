"""``codex-upload`` and ``codex-download``: the Go client's command-line tools (codex.md §7.4).

Same flags (Go style: ``-host``, ``-port``, ``-file``, ``-name``, ``-cid``; ``--flag`` and
``-flag=value`` work too), the same output lines, and ``log.Fatalf``-style failures (timestamped
line on stderr, exit code 1).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from support.codex.client import CodexClient, CodexError

_LONG_TIMEOUT = 3600.0


def _fatal(message: str) -> NoReturn:
    sys.stderr.write(f"{time.strftime('%Y/%m/%d %H:%M:%S')} {message}\n")
    sys.exit(1)


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, allow_abbrev=False)
    parser.add_argument("-host", "--host", default="localhost", help="Codex host")
    parser.add_argument("-port", "--port", default="8080", help="Codex API port")
    return parser


def upload_main(argv: Sequence[str] | None = None) -> None:
    """Upload a file to a Codex node and print its CID."""
    parser = _parser("codex-upload")
    parser.add_argument("-file", "--file", default="test-data.bin", help="file to upload")
    parser.add_argument("-name", "--name", default=None,
                        help="filename to store (default: the -file value)")
    args = parser.parse_args(argv)
    path = Path(args.file)
    try:
        size = path.stat().st_size
        handle = open(path, "rb")  # noqa: SIM115 - closed below, after the upload
    except OSError as exc:
        _fatal(f"Failed to read file: {exc}")
    print(f"Uploading {args.file} ({size} bytes) to Codex at {args.host}:{args.port}...")
    client = CodexClient(f"http://{args.host}:{args.port}", timeout=_LONG_TIMEOUT)
    try:
        with handle:
            cid = client.upload(handle, filename=args.name or args.file,
                                mimetype="application/octet-stream")
    except CodexError as exc:
        _fatal(f"Upload failed: {exc}")
    print("✅ Upload successful!")
    print(f"CID: {cid}")


def download_main(argv: Sequence[str] | None = None) -> None:
    """Download a CID from a Codex node (network stream) into a file."""
    parser = _parser("codex-download")
    parser.add_argument("-cid", "--cid", default="", help="CID to download (required)")
    parser.add_argument("-file", "--file", default="downloaded-file.bin", help="output file")
    args = parser.parse_args(argv)
    if not args.cid:
        _fatal("CID is required (use -cid flag)")
    path = Path(args.file)
    try:
        handle = open(path, "wb")  # noqa: SIM115 - closed below, before any removal
    except OSError as exc:
        _fatal(f"Failed to create output file: {exc}")
    print(f"Downloading CID {args.cid} from Codex at {args.host}:{args.port}...")
    client = CodexClient(f"http://{args.host}:{args.port}", timeout=_LONG_TIMEOUT)
    try:
        with handle:
            client.download(args.cid, handle, network=True)
    except CodexError as exc:
        path.unlink(missing_ok=True)
        _fatal(f"Download failed: {exc}")
    print("✅ Download successful!")
    print(f"Saved to: {args.file}")
