"""Go's ``flag`` package as ``flag.Parse()`` runs it (ExitOnError): ``-name`` or ``--name``,
``=value`` or the next argument (booleans take only ``=value``), parsing stops at the first
non-flag argument or ``--``; a bad flag prints Go's message and usage on stderr and exits 2,
``-h``/``-help`` prints the usage and exits 0."""

from __future__ import annotations

import sys
from dataclasses import dataclass
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


def usage(program: str, flags: list[Flag]) -> str:
    """``flag.PrintDefaults`` under ``Usage of <program>:``."""
    lines = [f"Usage of {program}:"]
    for flag in sorted(flags, key=lambda f: f.name):
        line = f"  -{flag.name}" + ("" if flag.is_bool else " string")
        line += "\t" if len(line) <= 4 else "\n    \t"
        line += flag.usage
        if not flag.is_bool and flag.default:
            line += f' (default "{flag.default}")'
        lines.append(line)
    return "\n".join(lines) + "\n"


def parse(program: str, flags: list[Flag], args: list[str]) -> dict[str, str | bool]:
    """The flags' values after parsing ``args`` (the remaining arguments are ignored, as
    status-backend ignores them)."""
    known = {flag.name: flag for flag in flags}
    values: dict[str, str | bool] = {flag.name: flag.default for flag in flags}
    rest = list(args)
    while rest:
        arg = rest[0]
        if len(arg) < 2 or arg[0] != "-":
            break
        rest.pop(0)
        name = arg[2:] if arg.startswith("--") else arg[1:]
        if arg == "--":
            break
        if not name or name[0] == "-" or name[0] == "=":
            _fail(program, flags, f"bad flag syntax: {arg}")
        name, has_value, value = name.partition("=")
        flag = known.get(name)
        if flag is None:
            if name in ("help", "h"):
                sys.stderr.write(usage(program, flags))
                sys.exit(0)
            _fail(program, flags, f"flag provided but not defined: -{name}")
        if flag.is_bool:
            if not has_value:
                values[name] = True
            elif value in _TRUE or value in _FALSE:
                values[name] = value in _TRUE
            else:
                _fail(program, flags,
                      f'invalid boolean value "{value}" for -{name}: parse error')
            continue
        if not has_value:
            if not rest:
                _fail(program, flags, f"flag needs an argument: -{name}")
            value = rest.pop(0)
        values[name] = value
    return values


def _fail(program: str, flags: list[Flag], message: str) -> NoReturn:
    sys.stderr.write(message + "\n" + usage(program, flags))
    sys.exit(2)
