"""Nodes and clusters that the scenarios of one feature share.

Starting a Codex node or a chat cluster costs more than most scenarios' own steps, so a system a
scenario leaves behind in working order is kept for the next scenario of the same feature that
asks for one of the same shape (a Codex node with the same name and options, a chat cluster with
as many servers and gates). A system is kept only when its scenario passed, nothing changed its
topology (no process stopped, killed or restarted, no peer joined it, etcd not restarted) and the
scenario is not tagged ``@isolated``; otherwise it is stopped as before, and the next
scenario starts a fresh one. Whatever is kept when the feature ends is stopped then.

With the setting ``share_systems=false`` every scenario starts its own systems.

Shared systems live in a folder of the feature's own, so that a scenario's folder can be tidied
away while the node it used goes on serving the next scenario.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# A scenario with this tag neither takes nor hands on anything: it starts its own systems.
ISOLATED_TAG = "isolated"

# Stops a kept system; returns the problems it found, in words (an unclean exit), if any.
Release = Callable[[Any], list[str]]


@dataclass
class _Kept:
    key: Hashable
    system: Any
    release: Release


class SharedSystems:
    """The systems one feature's scenarios hand on to each other, by slot ("codex node A",
    "chat cluster"); at most one system per slot."""

    def __init__(self, folder: Path) -> None:
        self.root = folder
        self._kept: dict[str, _Kept] = {}
        self.problems: list[str] = []
        self._failures = 0

    def new_folder(self, prefix: str) -> Path:
        """A new folder for a system that may outlive its scenario."""
        self.root.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=prefix, dir=self.root))

    def take(self, slot: str, key: Hashable) -> Any | None:
        """The system kept in ``slot`` if it has the shape ``key``; a kept system of another shape
        is stopped, since this scenario asked for something else."""
        kept = self._kept.pop(slot, None)
        if kept is None:
            return None
        if kept.key == key:
            return kept.system
        self._release(kept)
        return None

    def keep(self, slot: str, key: Hashable, system: Any, release: Release) -> None:
        """Hand ``system`` on to the next scenario that asks for this slot and shape."""
        kept = _Kept(key, system, release)
        previous = self._kept.pop(slot, None)
        if previous is not None:
            self._release(previous)
        self._kept[slot] = kept

    def kept_slots(self) -> list[str]:
        return sorted(self._kept)

    def note_failure(self) -> None:
        """A scenario of the feature failed: the shared logs it may point to stay on disk."""
        self._failures += 1

    def close(self, keep_files: bool = False) -> list[str]:
        """Stop everything still kept and remove the shared folder (kept with ``keep_files`` or
        after a failure); returns every problem met while stopping."""
        for slot in list(self._kept):
            self._release(self._kept.pop(slot))
        if not keep_files and not self._failures:
            shutil.rmtree(self.root, ignore_errors=True)
        return self.problems

    def _release(self, kept: _Kept) -> None:
        self.problems += kept.release(kept.system)
