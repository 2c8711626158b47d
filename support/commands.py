"""Running the suite's own command-line tools as a user would, with a time limit."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CommandResult:
    argv: list[str]
    exit_code: int
    stdout: str
    stderr: str

    def describe(self) -> str:
        return (f"$ {' '.join(self.argv)}\nexit code {self.exit_code}\n"
                f"--- stdout ---\n{self.stdout}--- stderr ---\n{self.stderr}")


def console_script(name: str) -> str:
    """Path of a console script installed next to the running interpreter."""
    candidate = Path(sys.executable).parent / name
    if not candidate.exists():
        raise FileNotFoundError(f"{name} is not installed next to {sys.executable}; "
                                "run `make acceptance` (it installs the suite)")
    return str(candidate)


def run_tool(name: str, args: list[str], cwd: Path, timeout: float) -> CommandResult:
    """Run an installed console script in ``cwd``; fails clearly if it overruns ``timeout``."""
    argv = [console_script(name), *args]
    try:
        done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "PYTHONUNBUFFERED": "1"}, check=False)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"{name} did not finish within {timeout:.0f} s") from exc
    return CommandResult([name, *args], done.returncode, done.stdout, done.stderr)
