"""Where a run keeps its files: ``<artifacts>/<run id>/<feature>/<scenario>/{logs,work}``.

Passing scenarios' folders are removed unless ``keep_logs`` is set; failing ones stay for
inspection. Only the newest few runs are kept.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

KEEP_RUNS = 5


def slug(text: str, limit: int = 60) -> str:
    """A file-name-safe form of a feature or scenario name."""
    cleaned = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()
    return cleaned[:limit].rstrip("-") or "unnamed"


class RunArtifacts:
    """The folder of one suite run."""

    def __init__(self, root: Path, keep_logs: bool) -> None:
        self.root = root.resolve()
        self.keep_logs = keep_logs
        run_id = time.strftime("%Y%m%d-%H%M%S") + f"-{os.getpid()}"
        self.run_dir = self.root / run_id
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._prune()

    def _prune(self) -> None:
        runs = sorted((p for p in self.root.iterdir() if p.is_dir()), key=lambda p: p.name)
        for old in runs[:-KEEP_RUNS]:
            shutil.rmtree(old, ignore_errors=True)

    def scenario_dir(self, feature: str, scenario: str) -> Path:
        """A fresh folder for one scenario (outline rows get distinct folders)."""
        base = self.run_dir / slug(feature) / slug(scenario)
        path, counter = base, 1
        while path.exists():
            counter += 1
            path = base.with_name(f"{base.name}-{counter}")
        (path / "logs").mkdir(parents=True)
        (path / "work").mkdir()
        return path

    def shared_dir(self, feature: str) -> Path:
        """The folder for systems a feature's scenarios share (a name no scenario slug takes)."""
        return self.run_dir / slug(feature) / "_shared"

    def finish_scenario(self, path: Path, passed: bool) -> None:
        """Drop the scenario's scratch data; drop its logs too if it passed and logs aren't kept."""
        shutil.rmtree(path / "work", ignore_errors=True)
        if passed and not self.keep_logs:
            shutil.rmtree(path, ignore_errors=True)
