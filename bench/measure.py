"""Measuring helpers shared by the benchmarks (run them as ``python bench/<name>.py``)."""

from __future__ import annotations

import math
import re
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

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


class Profile:
    """``py-spy record`` of one process (``--profile`` of the benches): a flame-graph-ready
    ``raw`` file, written when the block ends. Does nothing when ``path`` is None."""

    def __init__(self, pid: int, path: Path | None, rate: int = 250) -> None:
        self._argv = [str(Path(sys.executable).with_name("py-spy")), "record", "--pid", str(pid),
                      "--rate", str(rate), "--subprocesses", "--nonblocking", "-f", "raw",
                      "-o", str(path)]
        self._path = path
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Profile:
        if self._path is not None:
            self._process = subprocess.Popen(self._argv, stdout=subprocess.DEVNULL,
                                             stderr=subprocess.DEVNULL)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._process is not None:
            self._process.send_signal(signal.SIGINT)
            self._process.wait(60)


# The leaf frames of a thread that is waiting, not working.
_IDLE = re.compile(r"^([\w.<>]+\.)?(wait|_wait_for_tstate_lock|select|poll|accept|recv_into|"
                   r"readinto|_recv|sleep|acquire|read|serve_forever|run_forever|_run_once) ")


def top_frames(path: Path, count: int = 25) -> list[tuple[float, str]]:
    """The functions a ``raw`` profile spent most samples in, own time and below (share, name);
    idle threads (waits on locks, events, sockets, selectors) left out."""
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        frames = stack.split(";")
        if not samples.isdigit() or _IDLE.search(frames[-1]):
            continue
        total += int(samples)
        for frame in dict.fromkeys(f.split(" (")[0] for f in frames):
            inclusive[frame] += int(samples)
    return [(n / max(total, 1), frame) for frame, n in inclusive.most_common(count)]


LINEAR_BELOW = 1.15  # an exponent up to this reads as linear (timing noise, fixed costs)


def exponent(sizes: Sequence[float], seconds: Sequence[float]) -> float:
    """The least-squares slope of log(time) against log(size): 1 for linear growth."""
    xs, ys = [math.log(s) for s in sizes], [math.log(max(t, 1e-9)) for t in seconds]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread


def growth(unit: str, sizes: Sequence[float], seconds: Sequence[float],
           floors: Sequence[float]) -> list[str]:
    """A cost curve against the same run's floor: each point, then the exponent of time against
    size over all points and between the two largest (fixed costs flatten the small end, so the
    large end decides), the floor's, and a verdict: "linear", or the worse order seen
    (``n^1.40``). A floor that itself grows faster than linear (the machine's caches, a busy
    neighbour) is taken out: the verdict is on time relative to the floor."""
    lines = [f"  {size:>12,.0f} {unit}: {t:8.3f} s  floor {f:8.3f} s  ratio to floor "
             f"{t / f:7.2f}" for size, t, f in zip(sizes, seconds, floors, strict=True)]
    if len(sizes) < 2:
        return [*lines, "  growth: needs two sizes or more"]
    k, k_floor = exponent(sizes, seconds), exponent(sizes, floors)
    k_end, k_floor_end = exponent(sizes[-2:], seconds[-2:]), exponent(sizes[-2:], floors[-2:])
    against_floor = k_end - max(0.0, k_floor_end - 1.0)
    if k_end <= LINEAR_BELOW:
        verdict = "linear"
    elif against_floor <= LINEAR_BELOW:
        verdict = f"linear against the floor (which itself grows as n^{k_floor_end:.2f} here)"
    else:
        verdict = f"worse than linear: n^{against_floor:.2f} against the floor"
    lines.append(f"  growth: time ~ n^{k:.2f} over all points, n^{k_end:.2f} between the two "
                 f"largest (floor n^{k_floor:.2f}, n^{k_floor_end:.2f}) -> {verdict}")
    return lines
