"""Watchdog: waits for its runner to go away, then kills every process of the runner's run.

Started by ``reaper.ensure_watchdog()`` with a pipe on stdin whose other end only the runner
holds. EOF on stdin means the runner exited or was killed (even by SIGKILL).
"""

from __future__ import annotations

import signal
import sys

from support.processes.reaper import RUN_MARKER, kill_marked


def main() -> None:
    marker = sys.argv[1]
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while sys.stdin.buffer.read(4096):
        pass
    kill_marked(RUN_MARKER, marker, grace=3.0)


if __name__ == "__main__":
    main()
