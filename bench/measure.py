"""Measuring helpers shared by the benchmarks (run them as ``python bench/<name>.py``)."""

from __future__ import annotations

import threading

import psutil

MIB = 1024 * 1024


class PeakRss:
    """Samples processes' resident set sizes in the background and keeps each one's maximum."""

    def __init__(self, pids: dict[str, int], interval: float = 0.02) -> None:
        self._processes = {name: psutil.Process(pid) for name, pid in pids.items()}
        self._interval = interval
        self._stop = threading.Event()
        self.peaks = dict.fromkeys(pids, 0)
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for name, process in self._processes.items():
                try:
                    self.peaks[name] = max(self.peaks[name], process.memory_info().rss)
                except psutil.Error:
                    continue
            self._stop.wait(self._interval)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
