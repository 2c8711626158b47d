"""Capability tags: what a scenario needs of its targets, matched by behave's ``ActiveTagMatcher``.

A scenario that needs something only some targets can do carries ``@use.with_<category>=true``
(e.g. ``@use.with_node_control=true``). Each system's target says which of its system's
capabilities it offers, and why it lacks the others; ``CapabilityMatcher`` asks behave's matcher
whether a scenario must be skipped and, if so, says which capability is missing and why.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from behave.model import Scenario
from behave.tag_matcher import ActiveTagMatcher, BoolValueObject


def active_tag(category: str) -> str:
    """The tag a scenario needing the capability ``category`` carries (without the ``@``)."""
    return f"use.with_{category}=true"


class Need(Protocol):
    """Something only some targets can do, named by its active-tag category."""

    @property
    def category(self) -> str: ...

    @property
    def what(self) -> str:
        """What a scenario with the tag does or needs, in the domain's words."""
        ...


@dataclass(frozen=True)
class Capability:
    """A capability of one system (``Need``)."""

    category: str
    what: str

    @property
    def tag(self) -> str:
        return active_tag(self.category)


class Offers(Protocol):
    """What one system's target says about the capabilities of its system."""

    def offers(self, capability: Need) -> bool: ...

    def lacks(self, capability: Need) -> str:
        """Why this target does not offer ``capability``, in words."""
        ...


class CapabilityMatcher:
    """behave's ActiveTagMatcher over the capabilities the targets offer (one value provider,
    ``{category: offered}``), with a skip reason in words."""

    def __init__(self, targets: Mapping[Need, Offers]) -> None:
        self._targets = dict(targets)
        self._by_category = {capability.category: capability for capability in targets}
        provider = {capability.category: BoolValueObject(target.offers(capability))
                    for capability, target in self._targets.items()}
        self.matcher = ActiveTagMatcher(provider, ignore_unknown_categories=False)

    def skip_reason(self, scenario: Scenario) -> str | None:
        """Why the targets cannot run ``scenario`` (None: they can)."""
        tags = list(scenario.effective_tags)
        if not self.matcher.should_skip_with_tags(tags):
            return None
        return self._why(tags)

    def _why(self, tags: Iterable[str]) -> str:
        """The first missing capability, in the order the targets were given (a misspelt one
        before all)."""
        order = list(self._by_category)
        missing = sorted(((category, pairs) for category, pairs
                          in self.matcher.group_active_tags_by_category(tags)
                          if not self.matcher.is_tag_group_enabled(category, pairs)),
                         key=lambda group: order.index(group[0]) if group[0] in order else -1)
        if not missing:
            raise AssertionError(f"the tag matcher skips a scenario tagged {sorted(tags)} "
                                 "but no capability is missing")
        category, pairs = missing[0]
        capability = self._by_category.get(category)
        if capability is None:
            return (f"@{pairs[0][0]} names no capability the suite knows (known: "
                    f"{', '.join(order)})")
        return self._targets[capability].lacks(capability)
