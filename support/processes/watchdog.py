"""Watchdog: waits for its runner to go away, then kills every process of the runner's run.

Started by ``reaper.ensure_watchdog()`` with a pipe on stdin whose other end only the runner
holds. EOF on stdin means the runner exited or was killed (even by SIGKILL); then everything whose
lineage holds the runner's marker goes (for the parallel runner: its workers and all they started).
"""

from __future__ import annotations

import signal
import sys

from support.processes.reaper import kill_run


def main() -> None:
    marker = sys.argv[1]
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while sys.stdin.buffer.read(4096):
        pass
    kill_run(marker, grace=3.0)


if __name__ == "__main__":
    main()
