"""Go's ``flag`` package (``src/flag/flag.go``), shared by every emulated Go program.

``parse_args`` is ``FlagSet.Parse`` with ContinueOnError: ``-name`` or ``--name``, ``=value`` or
the next argument (booleans take only ``=value``); parsing stops at the first non-flag argument,
at ``-`` or after ``--``. ``parse`` is ``flag.Parse()`` on ``flag.CommandLine`` (ExitOnError): a
bad flag prints Go's one-line message and the usage on stderr and exits 2; ``-h``/``-help`` (when
not defined) print the usage and exit 0, as Go 1.15 and later do.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_FALSE = ("0", "f", "F", "FALSE", "false", "False")


@dataclass(frozen=True)
class Flag:
    name: str
    usage: str
    default: str | bool

    @property
    def is_bool(self) -> bool:
        return isinstance(self.default, bool)


class FlagError(ValueError):
    """A command line ``FlagSet.Parse`` refuses; the message is Go's, word for word."""


class HelpRequested(Exception):  # noqa: N818 - flag.ErrHelp: not a failure
    """``-h`` or ``-help`` was given and the program does not define it (``flag.ErrHelp``)."""


def go_quote(text: str) -> str:
    """``%q`` of a Go string (``strconv.Quote``) for the printable ASCII Goverse uses."""
    escaped = []
    for char in text:
        if char in ('"', "\\"):
            escaped.append("\\" + char)
        elif char == "\n":
            escaped.append("\\n")
        elif char == "\t":
            escaped.append("\\t")
        elif char.isprintable():
            escaped.append(char)
        else:
            escaped.append(f"\\u{ord(char):04x}" if ord(char) < 0x10000 else f"\\U{ord(char):08x}")
    return '"' + "".join(escaped) + '"'


def _unquote_usage(flag: Flag) -> tuple[str, str]:
    """``flag.UnquoteUsage``: a back-quoted word in the usage names the value."""
    first = flag.usage.find("`")
    if first >= 0:
        last = flag.usage.find("`", first + 1)
        if last >= 0:
            name = flag.usage[first + 1:last]
            return name, flag.usage[:first] + name + flag.usage[last + 1:]
    return ("" if flag.is_bool else "string"), flag.usage


def usage(program: str, flags: Sequence[Flag]) -> str:
    """``flag.Usage``: ``Usage of <os.Args[0]>:`` and ``PrintDefaults`` (sorted by name)."""
    lines = [f"Usage of {program}:"]
    for flag in sorted(flags, key=lambda f: f.name):
        name, text = _unquote_usage(flag)
        line = f"  -{flag.name}" + (f" {name}" if name else "")
        line += "\t" if len(line) <= 4 else "\n    \t"
        line += text.replace("\n", "\n    \t")
        if flag.is_bool:
            if flag.default:
                line += " (default true)"
        elif flag.default:
            line += f" (default {go_quote(str(flag.default))})"
        lines.append(line)
    return "\n".join(lines) + "\n"


def parse_args(flags: Sequence[Flag], args: Sequence[str]) -> dict[str, str | bool]:
    """Every flag's value after parsing ``args`` (``FlagSet.Parse``, ContinueOnError); raises
    FlagError or HelpRequested. The arguments after the flags are ignored."""
    known = {flag.name: flag for flag in flags}
    values: dict[str, str | bool] = {flag.name: flag.default for flag in flags}
    rest = list(args)
    while rest:
        arg = rest[0]
        if len(arg) < 2 or arg[0] != "-":
            break
        rest.pop(0)
        if arg == "--":
            break
        name = arg[2:] if arg.startswith("--") else arg[1:]
        if not name or name[0] in "-=":
            raise FlagError(f"bad flag syntax: {arg}")
        name, has_value, value = name.partition("=")
        flag = known.get(name)
        if flag is None:
            if name in ("help", "h"):
                raise HelpRequested
            raise FlagError(f"flag provided but not defined: -{name}")
        if flag.is_bool:
            if not has_value:
                values[name] = True
            elif value in _TRUE or value in _FALSE:
                values[name] = value in _TRUE
            else:
                raise FlagError(f'invalid boolean value {go_quote(value)} for -{name}: '
                                "parse error")
            continue
        if not has_value:
            if not rest:
                raise FlagError(f"flag needs an argument: -{name}")
            value = rest.pop(0)
        values[name] = value
    return values


def exit_on_error(program: str, flags: Sequence[Flag], problem: Exception) -> NoReturn:
    """What ExitOnError does with a parse problem: usage (after the message) and exit 2, or for
    ``-h``/``-help`` the usage alone and exit 0."""
    if isinstance(problem, HelpRequested):
        sys.stderr.write(usage(program, flags))
        sys.stderr.flush()
        sys.exit(0)
    sys.stderr.write(f"{problem}\n" + usage(program, flags))
    sys.stderr.flush()
    sys.exit(2)


def parse(program: str, flags: Sequence[Flag], args: Sequence[str]) -> dict[str, str | bool]:
    """``flag.Parse()``: the values, or Go's message and usage on stderr and exit 2 (0 for
    ``-h``/``-help``)."""
    try:
        return parse_args(flags, args)
    except (FlagError, HelpRequested) as problem:
        exit_on_error(program, flags, problem)


def program_name(binary: str) -> str:
    """``os.Args[0]``: the command as typed, or ``binary`` (the name the real program is built
    as) when Python runs the emulator as ``-m module`` or a ``.py`` file."""
    typed = sys.argv[0] if sys.argv and sys.argv[0] else ""
    if not typed or typed in {"-m", "-c"} or Path(typed).suffix == ".py":
        return binary
    return typed
