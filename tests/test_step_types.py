"""The step parse types: a phrase the feature misspells matches no step (behave reports it
undefined) instead of reaching a step function with text it cannot use."""

from __future__ import annotations

import pytest
from behave.matchers import ParseMatcher

from support import step_types  # noqa: F401 - registers the parse types
from support.archive.world import SCENARIO_DAY
from support.codex.world import CidRequest

ASK = '{user:Name} asks node {node:Name} to {action:CidRequest} the CID "{cid:Text}"'
ARCHIVE = ("{owner:Name} archives the history of {channels:Channels} from {start:Clock} to "
           "{end:Clock} in {partition:Partition} partitions")


def _arguments(pattern: str, text: str) -> dict[str, object] | None:
    match = ParseMatcher(lambda context: None, pattern).match(text)
    return None if match is None else {arg.name: arg.value for arg in match.arguments}


@pytest.mark.parametrize("request_", list(CidRequest))
def test_every_request_phrase_matches_its_request(request_: CidRequest) -> None:
    found = _arguments(ASK, f'Alice asks node A to {request_.phrase} the CID "zDv"')
    assert found is not None
    assert found["action"] is request_


@pytest.mark.parametrize("text", [
    'Alice asks node A to downlaod the CID "zDv"',
    'Alice asks node A to  delete the CID "zDv"',
    "Alice archives the history of general from 09:59 to 10:01 in 2-minute partitions",
    "Alice archives the history of #general from 9.59 to 10:01 in 2-minute partitions",
    "Alice archives the history of #general from 09:59 to 10:01 in 2-minutes partitions",
    "Alice archives the history of #general from 09:59 to 10:01 in 2-fortnight partitions",
])
def test_a_misspelt_phrase_matches_no_step(text: str) -> None:
    assert _arguments(ASK if "asks" in text else ARCHIVE, text) is None


def test_channels_clocks_and_partitions_become_values() -> None:
    found = _arguments(ARCHIVE, "Alice archives the history of #general, #dev and #random from "
                                "09:59:59.9 to 10:01 in 3-minute partitions")
    day = SCENARIO_DAY.timestamp()
    assert found == {"owner": "Alice", "channels": ["#general", "#dev", "#random"],
                     "start": pytest.approx(day + 10 * 3600 - 0.1), "end": day + 36060,
                     "partition": 180}


@pytest.mark.parametrize(("text", "seconds"), [("within 1 second", 1), ("within 10 seconds", 10)])
def test_a_duration_reads_in_the_singular_and_the_plural(text: str, seconds: int) -> None:
    assert _arguments("within {seconds:Seconds}", text) == {"seconds": seconds}


@pytest.mark.parametrize(("text", "size"), [
    ("68 bytes", 68), ("65536 bytes", 65536), ("196,666 bytes", 196666),
    ("1,048,576 bytes", 1048576)])
def test_a_number_reads_with_or_without_thousands_separators(text: str, size: int) -> None:
    assert _arguments("{size:Number} bytes", text) == {"size": size}


@pytest.mark.parametrize("text", ["19,66,66 bytes", "196.666 bytes", "1,0000 bytes"])
def test_a_misplaced_separator_matches_no_step(text: str) -> None:
    assert _arguments("{size:Number} bytes", text) is None
