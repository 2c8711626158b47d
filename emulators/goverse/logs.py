"""Goverse's log lines: ``[YYYY-MM-DD HH:MM:SS.mmm] [LEVEL] [Component] text`` on stdout.

Goverse logs at WARN by default with no way to change it, so INFO lines ("Cluster is now ready")
are not printed and logs are no readiness signal; the emulator does the same.
"""

from __future__ import annotations

import sys
import threading
from datetime import datetime

_LEVELS = {"DEBUG": 0, "INFO": 1, "WARN": 2, "ERROR": 3, "FATAL": 4}
THRESHOLD = _LEVELS["WARN"]


class GoverseLogger:
    def __init__(self, component: str) -> None:
        self.component = component
        self._lock = threading.Lock()

    def log(self, level: str, text: str) -> None:
        if _LEVELS[level] < THRESHOLD:
            return
        stamp = datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        with self._lock:
            sys.stdout.write(f"[{stamp}] [{level}] [{self.component}] {text}\n")
            sys.stdout.flush()

    def info(self, text: str) -> None:
        self.log("INFO", text)

    def warn(self, text: str) -> None:
        self.log("WARN", text)

    def error(self, text: str) -> None:
        self.log("ERROR", text)

    def fatal(self, text: str) -> None:
        self.log("FATAL", text)
