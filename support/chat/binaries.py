"""Which Goverse programs a chat cluster runs: the emulators (default), prebuilt binaries
(``goverse_bin_dir``), or binaries built once per run from a Goverse source tree
(``goverse_source``), the way Goverse's own harness builds them (goverse.md §4.4):
``go build -buildvcs=false [-cover] -o <out> <package>`` in the source root. With
``goverse_coverage_dir`` the build adds ``-cover`` and every process writes its counters to
``<coverage dir>/<process>`` (Go writes them on a clean exit only).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from support.config import Settings

PACKAGES = {"chat_server": "./samples/chat/server/", "chat_gateway": "./samples/chat/gate/",
            "inspector": "./cmd/inspector/"}
BUILD_TIMEOUT = 600.0


class GoverseBuildError(RuntimeError):
    """``go build`` failed or is not available; the message carries its output."""


def build(source: Path, out: Path, cover: bool, go: str = "go",
          within: float = BUILD_TIMEOUT) -> Path:
    """Build the chat server, the chat gate and the inspector into ``out``, each within
    ``within`` seconds."""
    binary = shutil.which(go)
    if binary is None:
        raise GoverseBuildError(f"goverse_source is set but {go!r} is not on PATH")
    out.mkdir(parents=True, exist_ok=True)
    for name, package in PACKAGES.items():
        argv = [binary, "build", "-buildvcs=false", *(["-cover"] if cover else []),
                "-o", str(out / name), package]
        try:
            done = subprocess.run(argv, cwd=source, capture_output=True, text=True,
                                  timeout=within, check=False)
        except subprocess.TimeoutExpired as exc:
            raise GoverseBuildError(f"go build of {package} took over {within:.0f} s") \
                from exc
        if done.returncode != 0:
            raise GoverseBuildError(f"go build of {package} failed (exit {done.returncode}):\n"
                                    f"{done.stdout}{done.stderr}")
    return out


class GoverseBinaries:
    """Resolves, once per run, the folder of Goverse binaries to start (None: the emulators)."""

    def __init__(self, settings: Settings, run_dir: Path) -> None:
        self._settings = settings
        self._run_dir = run_dir
        self._built: Path | None = None

    @property
    def coverage_dir(self) -> Path | None:
        return self._settings.goverse_coverage_dir

    def directory(self) -> Path | None:
        settings = self._settings
        if settings.goverse_bin_dir is not None:
            return settings.goverse_bin_dir
        if settings.goverse_source is None:
            return None
        if self._built is None:
            self._built = build(settings.goverse_source, self._run_dir / "goverse-bin",
                                cover=settings.goverse_coverage_dir is not None,
                                within=settings.timeout(BUILD_TIMEOUT))
        return self._built
