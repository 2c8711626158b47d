"""Re-implementation of Nim's ``os.isValidFilename`` (and the POSIX ``splitFile``
it relies on), as used by nim-codex to validate upload filenames.

nim-codex (``codex/rest/api.nim``, ``POST /api/codex/v1/data``) takes the
filename out of the ``Content-Disposition`` header and rejects the upload with
``422 "The filename is not valid."`` when ``not isValidFilename(filename)``
(default ``maxLen = 259``).  This module reproduces that check so the emulator
accepts and rejects exactly the same names.

Nim strings are byte strings, so every check here runs on the UTF-8 bytes of
the name: lengths are byte counts, and case folding is ASCII-only.  A ``str``
argument is encoded to UTF-8 first (``surrogateescape``, so a ``str`` decoded
from raw bytes with ``surrogateescape`` gets its original bytes back); a
``bytes`` argument is used as it is.

Behaviour, from Nim's source (``lib/pure/os.nim`` /
``lib/std/private/ospaths2.nim``; the same on Nim 1.6.x and 2.x for POSIX):

* ``splitFile`` splits the path into ``(dir, name, ext)``.  Only ``/`` is a
  directory separator (a backslash is an ordinary character on POSIX).
  Everything after the last ``/`` is ``name & ext``.  ``ext`` starts at the
  *last* ``.`` of that part, but only if that dot is not the first character
  of the part, not its last character, and not directly followed by another
  ``.``.  So ``".bashrc"`` has no extension, ``"a.b.c"`` -> (``"a.b"``, ``".c"``),
  ``"abc....txt"`` -> (``"abc..."``, ``".txt"``), and ``"foo/"`` has an empty name.
* ``isValidFilename`` returns false when any of these is true:
  ``len(name) + len(ext) > maxLen`` (the directory part is not counted);
  ``name`` is empty; ``name`` starts or ends with a space (``' '`` only, not
  other whitespace); ``name`` ends with ``.``; ``name`` contains one of
  ``/ \\ : * ? " < > | ^ NUL``; or ``name`` equals one of the Windows device
  names ``CON PRN AUX NUL COM0-COM9 LPT0-LPT9``, ignoring ASCII case.
* Only ``name`` is checked for bad characters, spaces, the trailing dot and
  device names.  The extension and the directory part are not checked at all:
  ``"x.t*t"`` and ``"a:b/x.bin"`` are valid, ``"con.txt"`` is invalid, but
  ``"con.tar.gz"`` is valid (its name is ``"con.tar"``).
"""

from __future__ import annotations

from typing import AnyStr

__all__ = [
    "DEFAULT_MAX_LEN",
    "INVALID_FILENAMES",
    "INVALID_FILENAME_CHARS",
    "filename_from_content_disposition",
    "is_valid_filename",
    "split_file",
]

#: Nim ``os.invalidFilenameChars``: ``/ \ : * ? " < > | ^`` and NUL.
INVALID_FILENAME_CHARS: frozenset[int] = frozenset(b'/\\:*?"<>|^\x00')

#: Nim ``os.invalidFilenames``, matched against ``name`` ignoring ASCII case.
INVALID_FILENAMES: tuple[bytes, ...] = (
    b"CON",
    b"PRN",
    b"AUX",
    b"NUL",
    *(b"COM%d" % i for i in range(10)),
    *(b"LPT%d" % i for i in range(10)),
)

#: Nim's default ``maxLen`` for ``isValidFilename`` (used by nim-codex).
DEFAULT_MAX_LEN: int = 259


def _to_bytes(value: str | bytes) -> bytes:
    """Return the bytes Nim would see for ``value`` (UTF-8 for ``str``)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    try:
        return value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        # Lone surrogates outside the surrogateescape range: keep them as
        # bytes instead of failing.
        return value.encode("utf-8", "surrogatepass")


def split_file(path: AnyStr) -> tuple[AnyStr, AnyStr, AnyStr]:
    """Split ``path`` into ``(dir, name, ext)`` the way Nim's POSIX ``splitFile`` does.

    ``ext`` keeps its leading dot.  Works on ``str`` or ``bytes`` and returns
    the same type.  Only ``/`` and ``.`` matter, and both are single ASCII
    bytes in UTF-8, so splitting a ``str`` gives the same parts as splitting
    its UTF-8 bytes.

    Examples (from Nim's own tests)::

        split_file("")                -> ("", "", "")
        split_file("abc/")            -> ("abc", "", "")
        split_file("/")               -> ("/", "", "")
        split_file(".txt")            -> ("", ".txt", "")
        split_file("/abc.txt")        -> ("/", "abc", ".txt")
        split_file("/foo/abc.txt.gz") -> ("/foo", "abc.txt", ".gz")
        split_file("/foo/abc....txt") -> ("/foo", "abc...", ".txt")
    """
    sep = path[:0] + ("/" if isinstance(path, str) else b"/")
    dot = path[:0] + ("." if isinstance(path, str) else b".")
    empty = path[:0]
    n = len(path)
    dir_part, name, ext = empty, empty, empty
    name_pos = 0
    dot_pos = 0
    for i in range(n - 1, -1, -1):
        ch = path[i : i + 1]
        if ch == sep or i == 0:
            if ch == sep:
                # Nim: substr(path, 0, if i >= 1: i - 1 else: 0)
                dir_part = path[: i if i >= 1 else 1]
                name_pos = i + 1
            if dot_pos > i:
                name = path[name_pos:dot_pos]
                ext = path[dot_pos:]
            else:
                name = path[name_pos:]
            break
        if (
            ch == dot
            and 0 < i < n - 1
            and path[i - 1 : i] != sep
            and path[i + 1 : i + 2] != dot
            and dot_pos == 0
        ):
            dot_pos = i
    return dir_part, name, ext


def is_valid_filename(filename: str | bytes, max_len: int = DEFAULT_MAX_LEN) -> bool:
    """Return what Nim's ``isValidFilename(filename, maxLen)`` returns on POSIX.

    ``filename`` is split with :func:`split_file`; only the ``name`` part
    (everything after the last ``/``, minus the extension) is checked, and the
    length limit applies to ``name + ext`` counted in UTF-8 bytes.  Returns
    false for an empty name, a name starting or ending with ``' '``, a name
    ending with ``'.'``, a name containing any of ``/ \\ : * ? " < > | ^ NUL``,
    a name equal (ignoring ASCII case) to ``CON``, ``PRN``, ``AUX``, ``NUL``,
    ``COM0``-``COM9`` or ``LPT0``-``LPT9``, or ``len(name) + len(ext) > max_len``.

    ``max_len`` must be at least 1 (Nim's ``Positive``).  Nim fails with a
    range error otherwise; here that is a ``ValueError``.
    """
    if max_len < 1:
        raise ValueError(f"max_len must be a positive integer (Nim Positive), got {max_len}")
    raw = _to_bytes(filename)
    _dir, name, ext = split_file(raw)
    if (
        len(name) + len(ext) > max_len
        or len(name) == 0
        or name[0] == 0x20
        or name[-1] == 0x20
        or name[-1] == 0x2E
        or any(b in INVALID_FILENAME_CHARS for b in name)
    ):
        return False
    folded = name.lower()  # bytes.lower() folds ASCII only, like cmpIgnoreCase
    return all(folded != invalid.lower() for invalid in INVALID_FILENAMES)


_STRIP_WS = b" \t\v\r\n\f"  # Nim strutils.Whitespace, the default set for strip()


def filename_from_content_disposition(content_disposition: AnyStr) -> AnyStr | None:
    """Get the filename out of a ``Content-Disposition`` value the way nim-codex does.

    Follows ``getFilenameFromContentDisposition`` in nim-codex
    ``codex/rest/api.nim``:

    * no ``filename=`` anywhere in the value -> ``None`` (nothing to check);
    * split on every ``filename="``; fewer than 2 parts -> ``None`` (so an
      unquoted ``filename=x.bin`` gives ``None`` and is not validated);
    * take part 1 (the text between the first and any second ``filename="``),
      strip Nim whitespace (space, tab, VT, CR, LF, FF) from both ends, then
      drop its last *byte* (meant to be the closing quote).  Nothing else is
      parsed, so ``'a; filename="x.bin"; size=3'`` gives ``'x.bin"; size='``
      and ``'filename="a'`` gives ``''``.

    This works on bytes, as Nim does.  A ``str`` argument is encoded to UTF-8
    (``surrogateescape``) and the result decoded back the same way, so a
    multi-byte character cut in half by the dropped byte still turns back into
    the right bytes in :func:`is_valid_filename`.  Returns the same type it is
    given.

    Edge case: if part 1 is empty after stripping (``'filename="'`` at the
    very end, or followed only by whitespace), Nim's ``filename[0..^2]`` asks
    for a string of length -1, and Nim 1.6 raises ``RangeDefect`` (a Defect,
    not a normal error).  Here that raises ``ValueError``, so the emulator has
    to decide how to answer.
    """
    raw = _to_bytes(content_disposition)
    if b"filename=" not in raw:
        return None
    parts = raw.split(b'filename="')
    if len(parts) < 2:
        return None
    filename = parts[1].strip(_STRIP_WS)
    if len(filename) == 0:
        raise ValueError(
            "nim-codex would evaluate ''[0..^2] here (a RangeDefect in Nim); no filename result"
        )
    result = filename[:-1]
    if isinstance(content_disposition, str):
        return result.decode("utf-8", "surrogateescape")
    return result
