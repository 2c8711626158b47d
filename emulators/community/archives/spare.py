"""``python -m emulators.community.archives.spare``: a storage node started ahead of need.

It imports the Codex emulator, then waits for one JSON line on stdin,
``{"args": [flags…], "log": path, "cwd": dir}``, and runs ``emulators.codex`` with those flags
in that folder, its output appended to the log, as ``python -m emulators.codex`` would. So the
node a login enables has already paid Python's start-up and imports (status-go runs its storage
node in-process: that cost is the emulator's, not status-go's). End of input without a line (the
backend never needed it): exit 0.
"""

from __future__ import annotations

import json
import os
import sys

from emulators.codex.main import main as codex_main


def run() -> None:
    line = sys.stdin.readline()
    if not line.strip():
        return
    request = json.loads(line)
    log = os.open(request["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
        os.dup2(log, stream.fileno())
    os.close(log)
    quiet = os.open(os.devnull, os.O_RDONLY)
    os.dup2(quiet, sys.stdin.fileno())
    os.close(quiet)
    os.chdir(request["cwd"])
    codex_main([str(arg) for arg in request["args"]])


if __name__ == "__main__":
    run()
