"""Building Goverse from a source tree (with a stand-in ``go``: no Go toolchain is needed here)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from support.chat.binaries import PACKAGES, GoverseBuildError, build
from support.config import SettingsError, load_settings

FAKE_GO = """#!/bin/sh
# Records its arguments and writes the -o target, as go build would.
echo "$PWD $*" >> "{log}"
while [ $# -gt 0 ]; do
  if [ "$1" = "-o" ]; then shift; printf '#!/bin/sh\\n' > "$1"; chmod +x "$1"; fi
  shift
done
{fail}
"""


def fake_go(tmp_path: Path, fail: bool = False) -> Path:
    folder = tmp_path / "gobin"
    folder.mkdir()
    script = folder / "go"
    script.write_text(FAKE_GO.format(log=tmp_path / "go.log",
                                     fail='echo "compile error" >&2; exit 1' if fail else ""))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return folder


def test_build_runs_go_build_like_goverses_harness(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", f"{fake_go(tmp_path)}{os.pathsep}{os.environ['PATH']}")
    source = tmp_path / "goverse"
    source.mkdir()
    out = build(source, tmp_path / "out", cover=True)
    assert sorted(p.name for p in out.iterdir()) == sorted(PACKAGES)
    calls = (tmp_path / "go.log").read_text().splitlines()
    assert calls == [f"{source} build -buildvcs=false -cover -o {out / name} {package}"
                     for name, package in PACKAGES.items()]


def test_a_failed_build_says_which_package_and_why(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", f"{fake_go(tmp_path, fail=True)}{os.pathsep}"
                               f"{os.environ['PATH']}")
    with pytest.raises(GoverseBuildError, match=r"(?s)samples/chat/server/ failed.*compile error"):
        build(tmp_path, tmp_path / "out", cover=False)


def test_missing_go_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(GoverseBuildError, match="not on PATH"):
        build(tmp_path, tmp_path / "out", cover=False)


def test_source_and_coverage_settings(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="not a Go module"):
        load_settings({"goverse_source": str(tmp_path)}, environ={})
    (tmp_path / "go.mod").write_text("module github.com/xiaonanln/goverse\n")
    assert load_settings({"goverse_source": str(tmp_path)}, environ={}).goverse_source == tmp_path
    with pytest.raises(SettingsError, match="needs goverse_source"):
        load_settings({"goverse_coverage_dir": str(tmp_path)}, environ={})
