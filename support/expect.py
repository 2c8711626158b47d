"""Checks whose failure says what went wrong in the domain's words.

Every check in ``steps/`` and the worlds goes through these helpers, never a bare ``assert`` or a
matcher's ``Expected: <True>``. A failed check raises :class:`MismatchError`, an ``AssertionError``
(so behave and Allure count it as a failure, and :func:`support.waiting.eventually` retries it)
that also carries the expected and the actual value as text: :class:`ReportDifferences` puts them
in the Allure result, where Allure 3 offers "Show difference" on the failed scenario.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from typing import Any, TypeVar

import allure_commons
from allure_commons.model2 import StatusDetails
from attr import attrib, attrs

T = TypeVar("T")


class MismatchError(AssertionError):
    """A check that failed: ``str()`` is the whole sentence; ``expected`` and ``actual`` are the
    two values as the sentence shows them (empty when the check compares no two values)."""

    def __init__(self, message: str, *, expected: str = "", actual: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.expected = expected
        self.actual = actual


# --- words ---------------------------------------------------------------------------------------
def number(value: int) -> str:
    """``196666`` as ``196,666``."""
    return f"{value:,}"


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``1 block``, ``4 blocks``, ``0 blocks``; ``nouns`` for an irregular plural."""
    word = noun if count == 1 else (nouns or noun + "s")
    return f"{number(count)} {word}"


def listing(items: Iterable[object], *, empty: str = "none") -> str:
    """``a``, ``a and b``, ``a, b and c``; ``empty`` when there is nothing."""
    words = [str(item) for item in items]
    if not words:
        return empty
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " and " + words[-1]


def quoted(items: Iterable[str], *, empty: str = "none") -> str:
    """Like :func:`listing`, each item in double quotes: ``"hello" and "bye"``."""
    return listing((f'"{item}"' for item in items), empty=empty)


def seconds(value: float) -> str:
    """``3.25`` as ``3.2 s``; whole numbers without a decimal: ``10 s``."""
    return f"{value:g} s" if float(value).is_integer() else f"{value:.1f} s"


# --- checks --------------------------------------------------------------------------------------
def that(holds: bool, message: str, *, expected: str = "", actual: str = "") -> None:
    """Fail with ``message`` unless ``holds``. ``message`` says what was found instead, e.g.
    ``"node B holds the file zDv…; expected it gone"``."""
    if not holds:
        raise MismatchError(message, expected=expected, actual=actual)


def matches(holds: bool, said: str, *, actual: str, expected: str) -> None:
    """Fail unless ``holds``, saying ``"<said> <actual>; expected <expected>"`` (both already
    in words), for a comparison :func:`equal` cannot make, such as a prefix."""
    if not holds:
        raise MismatchError(f"{said} {actual}; expected {expected}", expected=expected,
                            actual=actual)


def equal(actual: T, expected: T, said: str, show: Callable[[T], str] = str) -> None:
    """Fail unless ``actual == expected``, saying ``"<said> <actual>; expected <expected>"``
    with both values shown by ``show``: ``equal(grown, (3, 196666), "node A's storage use grew
    by", show=...)`` says ``node A's storage use grew by 4 blocks and 196,666 bytes; expected 3
    blocks and 196,666 bytes``."""
    if actual != expected:
        matches(False, said, actual=show(actual), expected=show(expected))


def at_most(actual: float, limit: float, said: str, show: Callable[[float], str] = seconds) -> None:
    """Fail if ``actual`` exceeds ``limit``: ``"<said> <actual>; expected at most <limit>"``."""
    matches(actual <= limit, said, actual=show(actual), expected=f"at most {show(limit)}")


def none_of(found: Collection[T], said: str, show: Callable[[Collection[T]], str] = listing,
            ) -> None:
    """Fail if anything was ``found``: ``"<said> <found>; expected none"``, e.g. ``Bob's node
    keeps a half-written file: .codex-download-a8whmg54.tmp; expected none``."""
    if found:
        matches(False, said, actual=show(found), expected="none")


def present(value: T | None, message: str) -> T:
    """``value`` unless it is None, in which case fail with ``message`` (what is missing)."""
    if value is None:
        raise MismatchError(message)
    return value


# --- the report ----------------------------------------------------------------------------------
@attrs
class _Difference(StatusDetails):
    """allure-python's status details (message, trace) plus the two fields Allure 3 reads for
    its comparison view."""

    expected: str | None = attrib(default=None)
    actual: str | None = attrib(default=None)


class ReportDifferences:
    """An allure-python plugin: when a scenario failed on a :class:`MismatchError`, its result
    gets the plain sentence as its message (not ``support.expect.MismatchError: …``) and the
    expected and actual values, which Allure 3 shows side by side ("Show difference").
    allure-behave itself writes only the message and the trace."""

    NAME = "support.expect differences"

    def __init__(self) -> None:
        self._pending: MismatchError | None = None

    @staticmethod
    def install() -> None:
        """Register the plugin once per process (a no-op when it already is)."""
        if not allure_commons.plugin_manager.has_plugin(ReportDifferences.NAME):
            allure_commons.plugin_manager.register(ReportDifferences(), ReportDifferences.NAME)

    @allure_commons.hookimpl(tryfirst=True)
    def stop_test(self, context: dict[str, Any]) -> None:
        """Runs before allure-behave closes the scenario's result: note the failed check."""
        scenario = context.get("scenario")
        steps = getattr(scenario, "all_steps", ())
        self._pending = next((step.exception for step in steps
                              if isinstance(getattr(step, "exception", None), MismatchError)),
                             None)

    @allure_commons.hookimpl(tryfirst=True)
    def report_result(self, result: Any) -> None:
        """Runs before the result is written: put the noted check's texts in it."""
        mismatch, self._pending = self._pending, None
        if mismatch is None or result.status != "failed":
            return
        result.statusDetails = self._details(result.statusDetails, mismatch)
        for step in result.steps:
            if step.status == "failed" and step.statusDetails is not None:
                step.statusDetails = self._details(step.statusDetails, mismatch)

    @staticmethod
    def _details(details: StatusDetails | None, mismatch: MismatchError) -> _Difference:
        return _Difference(known=getattr(details, "known", None),
                           flaky=getattr(details, "flaky", None), message=mismatch.message,
                           trace=getattr(details, "trace", None),
                           expected=mismatch.expected or None, actual=mismatch.actual or None)
