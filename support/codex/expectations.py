"""Codex checks in the words of a person storing files: answers, storage use, downloads."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from support import expect
from support.expect import listing, plural

if TYPE_CHECKING:
    from support.codex.client import DownloadResult, Space
    from support.codex.world import Upload
    from support.commands import CommandResult


def status_and_message(answer: tuple[int, str]) -> str:
    """``status 404 and the message "Not found"`` (or ``and an empty body``)."""
    status, body = answer
    return f"status {status} and " + (f'the message "{body}"' if body else "an empty body")


def node_answer(answer: tuple[str, int, str]) -> str:
    """``node A with status 404 and the message "Not found"``."""
    node, status, body = answer
    return f"node {node} with {status_and_message((status, body))}"


def blocks_and_bytes(amount: tuple[int, int]) -> str:
    """``4 blocks and 196,666 bytes``."""
    blocks, size = amount
    return f"{plural(blocks, 'block')} and {plural(size, 'byte')}"


def exit_code(codes: list[int]) -> str:
    """The last of a node's exit codes, ``code 0``, or what it means that there is none."""
    return f"code {codes[-1]}" if codes else "no exit code (it was never stopped)"


def same_content(result: DownloadResult, upload: Upload, got: str) -> None:
    """Fail unless the download has the SHA-256 of the uploaded content; ``got`` says who got
    the bytes and how (``"Alice downloaded from node B"``)."""
    expect.equal(result.sha256, upload.content.sha256,
                 f"the {plural(result.size, 'byte')} {got} are not {upload.describe()}: "
                 "their SHA-256 is")


def all_same_content(downloads: Sequence[tuple[Upload, DownloadResult]], said: str, *,
                     numbered: bool = False) -> None:
    """Fail unless every download has the SHA-256 of its upload; ``said`` introduces the ones
    that came back different, named by what was uploaded or (``numbered``) by their place in
    ``downloads``: ``number 2 and 5``."""
    wrong = [str(index) if numbered else upload.describe()
             for index, (upload, result) in enumerate(downloads, start=1)
             if result.sha256 != upload.content.sha256]
    expect.none_of(wrong, said,
                   show=(lambda numbers: "number " + listing(numbers)) if numbered else listing)


def tool_outcome(result: CommandResult, code: int, text: str,
                 stream: Literal["stdout", "stderr"]) -> None:
    """Fail unless the command-line tool exited with ``code`` and printed ``text`` on
    ``stream``: as a whole line on stdout, anywhere in what it printed on stderr."""
    printed = result.stdout if stream == "stdout" else result.stderr
    if stream == "stdout":
        found, wanted = text in printed.splitlines(), f'the line "{text}"'
    else:
        found, wanted = text in printed, f'"{text}" in what it printed on {stream}'
    expect.that(result.exit_code == code and found,
                f"the tool exited with code {result.exit_code}; expected code {code} and "
                f"{wanted}\n{result.describe()}", expected=f"exit code {code}\n{text}",
                actual=f"exit code {result.exit_code}\n{printed}")


def cid_form(form: tuple[int, str, int, str]) -> str:
    """``a CIDv1 of codec codex-manifest, 52 characters starting with "zDv"``."""
    version, codec, length, start = form
    return f'a CIDv{version} of codec {codec}, {length} characters starting with "{start}"'


def space(used: Space) -> str:
    """A node's storage use: blocks, bytes used and reserved, and the quota."""
    return (f"{blocks_and_bytes((used.total_blocks, used.quota_used_bytes))} used and "
            f"{plural(used.quota_reserved_bytes, 'byte')} reserved of a quota of "
            f"{plural(used.quota_max_bytes, 'byte')}")


def disk_file(content: bytes | None) -> str:
    """A file on the QA engineer's disk: missing, or its size and SHA-256."""
    if content is None:
        return "missing"
    return f"{plural(len(content), 'byte')} with SHA-256 {hashlib.sha256(content).hexdigest()}"
