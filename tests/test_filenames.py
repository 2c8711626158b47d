"""Tests for the Python copy of Nim's ``isValidFilename`` / ``splitFile``.

Cases come from three places: the contract for the emulator, Nim's own tests
(``tests/stdlib/tos.nim``: the ``isValidFilename`` and ``splitFile`` blocks,
plus the runnableExamples in ``lib/pure/os.nim`` and
``lib/std/private/ospaths2.nim``), and edge cases that were checked against a
real Nim 1.6.10 build of ``std/os``.
"""

from __future__ import annotations

import pytest

from emulators.codex.filenames import (
    DEFAULT_MAX_LEN,
    INVALID_FILENAME_CHARS,
    INVALID_FILENAMES,
    filename_from_content_disposition,
    is_valid_filename,
    split_file,
)

# --- contract ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["dir/x.bin", "x.t*t", "file.txt", "a", "report.final.pdf"])
def test_contract_valid(name: str) -> None:
    assert is_valid_filename(name)


@pytest.mark.parametrize(
    "name",
    [
        "exam*ple.txt",  # '*' in the name part
        "",  # empty
        " foo.txt",  # leading space
        "foo .txt",  # trailing space on the name part
        "foo ",  # trailing space
        "foo.",  # ends with a dot
        "CON",
        "NUL",
        "COM1",
        "LPT1",
    ],
)
def test_contract_invalid(name: str) -> None:
    assert not is_valid_filename(name)


@pytest.mark.parametrize(
    "name", ["con", "Con", "nul", "aux", "PrN", "com1", "Com9", "lpt1", "lPt9", "COM0", "lpt0"]
)
def test_device_names_are_case_insensitive(name: str) -> None:
    assert not is_valid_filename(name)


@pytest.mark.parametrize(
    "name", ["CON.txt", "con.bin", "nul.x", "COM1.log", "LPT1.dat", "dir/aux.bat", "/a/b/Nul.c"]
)
def test_device_name_with_one_extension_is_invalid(name: str) -> None:
    assert not is_valid_filename(name)


@pytest.mark.parametrize(
    "name", ["con.tar.gz", "COM1.txt.bak", "CONSOLE", "COM10", "LPT", "COMX", "xcon", "con_"]
)
def test_only_exact_device_name_part_is_rejected(name: str) -> None:
    # splitFile takes only the last extension, so "con.tar.gz" has name "con.tar".
    assert is_valid_filename(name)


def test_length_limit_is_259_by_default() -> None:
    assert DEFAULT_MAX_LEN == 259
    assert is_valid_filename("a" * 259)
    assert not is_valid_filename("a" * 260)
    assert is_valid_filename("a" * 255 + ".bin")  # 259 including the extension
    assert not is_valid_filename("a" * 256 + ".bin")  # 260 including the extension


def test_length_ignores_the_directory_part() -> None:
    assert is_valid_filename("d" * 500 + "/" + "a" * 259)
    assert not is_valid_filename("d/" + "a" * 260)


def test_length_counts_utf8_bytes() -> None:
    assert is_valid_filename("é" * 129)  # 258 bytes
    assert not is_valid_filename("é" * 130)  # 260 bytes, only 130 characters
    assert is_valid_filename("é" * 129 + "a")  # exactly 259 bytes


# --- Nim's own tests (tests/stdlib/tos.nim, block isValidFilename) -----------


@pytest.mark.parametrize(
    ("name", "max_len"),
    [
        ("abcd", 2),
        ("0123456789", 8),
        ("con", DEFAULT_MAX_LEN),
        ("aux", DEFAULT_MAX_LEN),
        ("prn", DEFAULT_MAX_LEN),
        ("OwO|UwU", DEFAULT_MAX_LEN),
        (" foo", DEFAULT_MAX_LEN),
        ("foo ", DEFAULT_MAX_LEN),
        ("foo.", DEFAULT_MAX_LEN),
        ("con.txt", DEFAULT_MAX_LEN),
        ("aux.bat", DEFAULT_MAX_LEN),
        ("prn.exe", DEFAULT_MAX_LEN),
        ("nim>.nim", DEFAULT_MAX_LEN),
        (" foo.log", DEFAULT_MAX_LEN),
    ],
)
def test_nim_tos_negative(name: str, max_len: int) -> None:
    assert not is_valid_filename(name, max_len)


@pytest.mark.parametrize(
    ("name", "max_len"),
    [
        ("abcd", 42),
        ("c0n", DEFAULT_MAX_LEN),
        ("foo.aux", DEFAULT_MAX_LEN),
        ("bar.prn", DEFAULT_MAX_LEN),
        ("OwO_UwU", DEFAULT_MAX_LEN),
        ("cron", DEFAULT_MAX_LEN),
        ("ux.bat", DEFAULT_MAX_LEN),
        ("nim.nim", DEFAULT_MAX_LEN),
        ("foo.log", DEFAULT_MAX_LEN),
    ],
)
def test_nim_tos_positive(name: str, max_len: int) -> None:
    assert is_valid_filename(name, max_len)


@pytest.mark.parametrize(
    "name", [" foo", "foo ", "foo.", "con.txt", "OwO:UwU", "aux.bat", "", "foo/"]
)
def test_nim_runnable_examples(name: str) -> None:
    # runnableExamples of isValidFilename in lib/pure/os.nim (Nim 2.x)
    assert not is_valid_filename(name)


# --- character set and where it is checked ----------------------------------


def test_invalid_character_set() -> None:
    assert frozenset(b'/\\:*?"<>|^\x00') == INVALID_FILENAME_CHARS
    assert len(INVALID_FILENAMES) == 24


@pytest.mark.parametrize("char", ["\\", ":", "*", "?", '"', "<", ">", "|", "^", "\x00"])
def test_each_invalid_char_in_name_fails(char: str) -> None:
    assert not is_valid_filename(f"ab{char}cd.txt")
    assert not is_valid_filename(f"{char}abc")


@pytest.mark.parametrize("char", ["\\", ":", "*", "?", '"', "<", ">", "|", "^", "\x00", " "])
def test_extension_and_directory_are_not_checked(char: str) -> None:
    assert is_valid_filename(f"abc.t{char}t")
    assert is_valid_filename(f"d{char}r/abc.txt")


@pytest.mark.parametrize("name", ["\tfoo", "foo\t", "foo\n", "\u00a0foo", "foo\r"])
def test_only_ascii_space_counts_as_leading_or_trailing_space(name: str) -> None:
    assert is_valid_filename(name)


@pytest.mark.parametrize("name", ["a..b", "abc....txt", "foo..txt"])
def test_name_ending_in_dot_before_the_extension_fails(name: str) -> None:
    # splitFile("abc....txt") == ("", "abc...", ".txt"): the name ends with '.'
    assert not is_valid_filename(name)


@pytest.mark.parametrize("name", [".bashrc", ".txt", "dir/.hidden", "a.b.c", "x.y"])
def test_dotted_names_that_pass(name: str) -> None:
    # ".bashrc" and ".txt" have no extension: the whole string is the name
    assert is_valid_filename(name)


@pytest.mark.parametrize("name", ["x.", "..a", "...txt"])
def test_dotted_names_that_fail(name: str) -> None:
    # splitFile("..a") == ("", ".", ".a"): the name is "." and ends with a dot
    assert not is_valid_filename(name)


@pytest.mark.parametrize("name", [".", "..", "/", "foo/", "a/b/", "dir/.", "dir/.."])
def test_empty_or_dot_names_fail(name: str) -> None:
    assert not is_valid_filename(name)


def test_bytes_input_matches_str_input() -> None:
    for name in ["dir/x.bin", "exam*ple.txt", "é" * 130, "con.txt", "ok"]:
        assert is_valid_filename(name.encode()) == is_valid_filename(name)


def test_surrogateescape_round_trips_to_the_original_bytes() -> None:
    raw = b"caf\xe9.txt"  # latin-1 bytes, not valid UTF-8
    text = raw.decode("utf-8", "surrogateescape")
    assert is_valid_filename(text) == is_valid_filename(raw) is True
    assert not is_valid_filename(b"\xff" * 260)
    assert not is_valid_filename("\udcff" * 260)


def test_non_ascii_case_is_not_folded() -> None:
    # cmpIgnoreCase only folds ASCII letters; these are not the device name "CON".
    assert is_valid_filename("ＣＯＮ")
    assert is_valid_filename("\u212aon")  # KELVIN SIGN, lowercases to 'k' in Unicode


def test_max_len_must_be_positive() -> None:
    assert is_valid_filename("a", 1)
    assert not is_valid_filename("ab", 1)
    with pytest.raises(ValueError):
        is_valid_filename("a", 0)


# --- splitFile (tests/stdlib/tos.nim block splitFile + runnableExamples) -----


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("", ("", "", "")),
        ("abc/", ("abc", "", "")),
        ("/", ("/", "", "")),
        ("./abc", (".", "abc", "")),
        (".txt", ("", ".txt", "")),
        ("abc/.txt", ("abc", ".txt", "")),
        ("abc", ("", "abc", "")),
        ("abc.txt", ("", "abc", ".txt")),
        ("/abc.txt", ("/", "abc", ".txt")),
        ("/foo/abc.txt", ("/foo", "abc", ".txt")),
        ("/foo/abc.txt.gz", ("/foo", "abc.txt", ".gz")),
        (".", ("", ".", "")),
        ("abc/.", ("abc", ".", "")),
        ("..", ("", "..", "")),
        ("a/..", ("a", "..", "")),
        ("/foo/abc....txt", ("/foo", "abc...", ".txt")),
        ("usr/local/nimc.html", ("usr/local", "nimc", ".html")),
        ("/usr/local/os", ("/usr/local", "os", "")),
        ("/usr/local/", ("/usr/local", "", "")),
        ("/tmp.txt", ("/", "tmp", ".txt")),
    ],
)
def test_split_file_matches_nim(path: str, expected: tuple[str, str, str]) -> None:
    assert split_file(path) == expected
    assert split_file(path.encode()) == tuple(part.encode() for part in expected)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("x.", ("", "x.", "")),  # a dot at the very end is not an extension
        ("..a", ("", ".", ".a")),
        ("a..b", ("", "a.", ".b")),
        ("a\\b.c", ("", "a\\b", ".c")),  # backslash is not a separator on POSIX
        ("//x", ("/", "x", "")),
        ("a//b.c", ("a/", "b", ".c")),
    ],
)
def test_split_file_edge_cases(path: str, expected: tuple[str, str, str]) -> None:
    # checked against Nim 1.6.10's std/os.splitFile
    assert split_file(path) == expected


# --- nim-codex Content-Disposition parsing ----------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('attachment; filename="example.txt"', "example.txt"),
        ('filename="x.bin"', "x.bin"),
        ('attachment; filename="x.bin"; size=3', 'x.bin"; size='),
        ('filename="a"', "a"),
        ('filename="a', ""),
        ('filename="a.txt" \t', "a.txt"),
        ('filename="one"; filename="two"', 'one"'),
        ("filename=x.bin", None),  # unquoted: no 'filename="' -> not validated
        ("attachment", None),
        ("", None),
        ("filename*=UTF-8''x.bin", None),
    ],
)
def test_filename_from_content_disposition(header: str, expected: str | None) -> None:
    assert filename_from_content_disposition(header) == expected


def test_content_disposition_with_nothing_after_the_quote_is_a_nim_defect() -> None:
    # Nim evaluates ""[0..^2], which raises RangeDefect (checked on Nim 1.6.10).
    for header in ['filename="', 'filename="   ', 'x; filename="\t']:
        with pytest.raises(ValueError):
            filename_from_content_disposition(header)


def test_content_disposition_strips_only_nim_whitespace() -> None:
    # 0xA0 (NBSP in latin-1) is whitespace for Python's str.strip(), not for Nim's
    # strip(): Nim keeps it and then drops it as the "closing quote".
    assert filename_from_content_disposition(b'filename="ab"\xa0') == b'ab"'
    assert filename_from_content_disposition(b'filename="ab"\x1c') == b'ab"'


def test_content_disposition_drops_one_byte_not_one_character() -> None:
    text = filename_from_content_disposition('filename="é')  # no closing quote
    assert isinstance(text, str)
    assert text.encode("utf-8", "surrogateescape") == b"\xc3"
    assert filename_from_content_disposition(b'filename="\xc3\xa9') == b"\xc3"


def test_upload_flow_examples() -> None:
    def accepted(header: str) -> bool:
        name = filename_from_content_disposition(header)
        return name is None or is_valid_filename(name)

    assert accepted('attachment; filename="dir/x.bin"')
    assert accepted('attachment; filename="x.t*t"')
    assert not accepted('attachment; filename="exam*ple.txt"')
    assert not accepted('attachment; filename=""')  # empty name
    assert not accepted('attachment; filename="CON"')
    assert accepted("attachment; filename=CON")  # unquoted: never checked
