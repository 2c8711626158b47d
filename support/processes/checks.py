"""The checks made on every process the suite stops, whatever its domain: its exit code and its log.

A process the scenario ended on purpose (``ManagedProcess.kill``, a crash it asked for) is not
held to its exit code. Its log, and every other process's, is scanned for what a system writes
only when it is broken (a Python traceback, a Go panic, a nim-codex ``ERR`` line): the target of
each system says which patterns apply (``LogScan``), as patroni scans its logs for "please report
it as a BUG".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from support.processes.launcher import ManagedProcess, ProcessLog

_TRACEBACK = re.compile(r"^Traceback \(most recent call last\):")


@dataclass(frozen=True)
class LogScan:
    """Patterns of log lines that mean the process is broken, each with a name for the report."""

    patterns: tuple[tuple[str, re.Pattern[str]], ...] = ()

    def __add__(self, other: LogScan) -> LogScan:
        return LogScan(self.patterns + other.patterns)

    def first_offence(self, path: Path, since: int = 0) -> str | None:
        """The first offending line the log holds from byte ``since`` on, in words; a traceback is
        shown by the exception it ends with."""
        lines = _read_lines(path, since)
        for index, line in enumerate(lines):
            for what, pattern in self.patterns:
                if pattern.search(line):
                    if _TRACEBACK.search(line):
                        return f"{what}: {_exception_of(lines, index)}"
                    return f"{what}: {line.strip()}"
        return None


def scan(what: str, pattern: str) -> LogScan:
    """A scan for one multi-line regular expression, named for the report."""
    return LogScan(((what, re.compile(pattern, re.MULTILINE)),))


# A target whose logs mean nothing to the suite (someone else's processes).
NOTHING = LogScan()
# What any Python program the suite starts (every emulator) writes when an exception escapes.
PYTHON_TRACEBACK = scan("a Python traceback", _TRACEBACK.pattern)
# What a Go program writes when it panics or the runtime gives up.
GO_PANIC = scan("a Go panic", r"^(panic: |fatal error: |goroutine \d+ \[running\]:)")
# nim-codex's chronicles lines at ERROR and FATAL level (``ERR``/``FAT`` in the first column).
NIM_ERROR = scan("a nim-codex ERR line", r"^(ERR|FAT|FTL) ")
# Only its FATAL lines: what counts where the scenario provoked errors on purpose.
NIM_FATAL = scan("a nim-codex FATAL line", r"^(FAT|FTL) ")


def _read_lines(path: Path, since: int) -> list[str]:
    try:
        with open(path, "rb") as handle:
            handle.seek(since)
            return handle.read().decode("utf-8", "replace").splitlines()
    except FileNotFoundError:
        return []


def _exception_of(lines: list[str], start: int) -> str:
    """The ``SomeError: message`` line that ends the traceback beginning at ``start``."""
    for line in lines[start + 1:]:
        if line and not line[0].isspace():
            return line.strip()
    return lines[start].strip()


def exit_problem(process: ManagedProcess, clean: Iterable[int] = (0,)) -> str | None:
    """The first unclean end of ``process`` the scenario did not cause (None: every stop was
    clean, every kill on purpose)."""
    unclean = [code for code in process.exits if code not in set(clean)]
    if not unclean:
        return None
    code = unclean[0]
    how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
    return f"{process.name} {how}"


def log_problem(name: str, path: Path, log_scan: LogScan, since: int = 0) -> str | None:
    """The first offending line of the log of the process ``name`` from byte ``since`` on."""
    offence = log_scan.first_offence(path, since)
    if offence is None:
        return None
    return f"{name} logged {offence} (in {path})"


def scan_logs(logs: Iterable[ProcessLog], log_scan: LogScan) -> list[str]:
    """The first offending line of each log, from where its part of the scenario begins."""
    found = [log_problem(log.name, log.path, log_scan, log.since) for log in logs]
    return [problem for problem in found if problem is not None]


def stop_and_check(process: ManagedProcess, log_scan: LogScan, since: int = 0,
                   clean: Iterable[int] = (0,)) -> list[str]:
    """Stop ``process`` (if it still runs) and say what is wrong: how it ended, then the first
    offending line of its log from ``since`` on. Empty when all is well."""
    process.stop()
    found = [exit_problem(process, clean),
             log_problem(process.name, process.log_path, log_scan, since)]
    return [problem for problem in found if problem is not None]


def log_size(path: Path) -> int:
    """Where a log ends now: the next scenario's part of a shared process's log starts here."""
    return path.stat().st_size if path.exists() else 0
