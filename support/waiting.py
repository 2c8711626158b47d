"""Eventually-true checks: "within N seconds", polling until a check passes or time is up."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_exponential

T = TypeVar("T")


def eventually(check: Callable[[], T], within: float, *, interval: float = 0.1,
               max_interval: float = 1.0) -> T:
    """Call ``check`` until it stops raising AssertionError; after ``within`` seconds the last
    AssertionError propagates. Other exceptions propagate at once. The pause between calls
    starts at ``interval`` and doubles up to ``max_interval``."""
    retrying = Retrying(
        stop=stop_after_delay(within),
        wait=wait_exponential(multiplier=interval, max=max_interval),
        retry=retry_if_exception_type(AssertionError),
        reraise=True,
    )
    return retrying(check)
