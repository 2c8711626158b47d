"""support.expect: the exact sentences a failed check says, and what reaches the Allure result.

The expected strings are written out by hand: they are the rule for failure messages."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from allure_commons import model2
from attr import asdict

from support import expect
from support.archive.expectations import windows
from support.chat.cluster import ChatCluster
from support.chat.expectations import exit_codes, greeting, refusal
from support.codex.expectations import (
    blocks_and_bytes,
    node_answer,
    status_and_message,
    tool_outcome,
)
from support.commands import CommandResult
from support.expect import MismatchError, ReportDifferences


def failure(check: object, *args: object, **kwargs: object) -> MismatchError:
    with pytest.raises(MismatchError) as caught:
        check(*args, **kwargs)  # type: ignore[operator]
    return caught.value


def test_storage_growth_names_node_blocks_and_bytes() -> None:
    error = failure(expect.equal, (4, 196666), (3, 196666), "node A's storage use grew by",
                    show=blocks_and_bytes)
    assert str(error) == ("node A's storage use grew by 4 blocks and 196,666 bytes; "
                          "expected 3 blocks and 196,666 bytes")
    assert (error.expected, error.actual) == ("3 blocks and 196,666 bytes",
                                              "4 blocks and 196,666 bytes")


def test_one_block_is_singular() -> None:
    assert blocks_and_bytes((1, 1)) == "1 block and 1 byte"


def test_leftover_partial_file() -> None:
    error = failure(expect.none_of, [".codex-download-a8whmg54.tmp"],
                    "Bob's node keeps files a download left half-written:")
    assert str(error) == ("Bob's node keeps files a download left half-written: "
                          ".codex-download-a8whmg54.tmp; expected none")
    assert (error.expected, error.actual) == ("none", ".codex-download-a8whmg54.tmp")


def test_listing_joins_with_and() -> None:
    assert expect.listing([]) == "none"
    assert expect.listing(["a"]) == "a"
    assert expect.listing(["a", "b", "c"]) == "a, b and c"
    assert expect.quoted(["hello", "bye"]) == '"hello" and "bye"'


def test_answer_with_status_and_message() -> None:
    error = failure(expect.equal, ("A", 404, "Not found"), ("A", 400, ""), "the answer came from",
                    show=node_answer)
    assert str(error) == ('the answer came from node A with status 404 and the message '
                          '"Not found"; expected node A with status 400 and an empty body')
    assert status_and_message((422, "bad")) == 'status 422 and the message "bad"'


def test_at_most_in_seconds() -> None:
    error = failure(expect.at_most, 12.34, 10.0, "the cluster became ready to chat in")
    assert str(error) == "the cluster became ready to chat in 12.3 s; expected at most 10 s"
    assert (error.expected, error.actual) == ("at most 10 s", "12.3 s")
    expect.at_most(10.0, 10.0, "never said")


def test_that_says_the_message_as_given() -> None:
    error = failure(expect.that, False, '"lobby" is still served by node-1; expected another '
                    "server")
    assert str(error) == '"lobby" is still served by node-1; expected another server'
    assert (error.expected, error.actual) == ("", "")
    expect.that(True, "never said")


def test_present_returns_the_value_or_says_what_is_missing() -> None:
    assert expect.present(0, "never said") == 0
    assert str(failure(expect.present, None, "no request was made")) == "no request was made"


def test_chat_refusal_greeting_and_exit_codes() -> None:
    error = failure(expect.equal, ("UNAVAILABLE", "gone"), ("UNAUTHENTICATED", "no identity"),
                    "the call was refused as", show=refusal)
    assert str(error) == ('the call was refused as UNAVAILABLE with "gone"; expected '
                          'UNAUTHENTICATED with "no identity"')
    assert greeting(("lobby", [("SYSTEM", "Hi"), ("SYSTEM", "Bye")])) == \
        '"lobby" with SYSTEM: "Hi" and SYSTEM: "Bye"'
    assert greeting(("lobby", [])) == '"lobby" with no message'
    assert exit_codes({"node-2": None, "gate-1": 0, "node-1": 2}) == \
        "gate-1 code 0, node-1 code 2 and node-2 still running"


def test_archive_windows_read_like_the_table() -> None:
    rows = [{"from": "10:00", "to": "11:00", "messages": "2"},
            {"from": "11:00", "to": "12:00", "messages": "0"}]
    assert windows(rows) == "10:00 to 11:00 with 2 messages; 11:00 to 12:00 with 0 messages"
    assert windows([]) == "no window"
    assert windows([{"from": "10:00", "to": "11:00", "messages": "1"}]) == (
        "10:00 to 11:00 with 1 message")


def test_a_mismatch_is_an_assertion_error() -> None:
    """behave counts it as a failure and support.waiting.eventually retries it."""
    assert issubclass(MismatchError, AssertionError)


def _failed_result(message: str) -> model2.TestResult:
    step = model2.TestStepResult(name="Then it fits", status="failed",
                          statusDetails=model2.StatusDetails(message=message, trace="trace"))
    return model2.TestResult(name="a scenario", status="failed", steps=[step],
                             statusDetails=model2.StatusDetails(message=message, trace="trace"))


def test_the_report_gets_expected_and_actual() -> None:
    plugin = ReportDifferences()
    mismatch = MismatchError("node A stores 4 blocks; expected 3 blocks", expected="3 blocks",
                             actual="4 blocks")
    passed = SimpleNamespace(exception=None)
    failed = SimpleNamespace(exception=mismatch)
    plugin.stop_test(context={"scenario": SimpleNamespace(all_steps=[passed, failed])})
    result = _failed_result("support.expect.MismatchError: node A stores 4 blocks; expected 3 "
                            "blocks")
    plugin.report_result(result)
    details = asdict(result, filter=lambda _, v: v or v is False)["statusDetails"]
    assert details == {"message": "node A stores 4 blocks; expected 3 blocks", "trace": "trace",
                       "expected": "3 blocks", "actual": "4 blocks"}
    assert result.steps[0].statusDetails.expected == "3 blocks"


def test_the_report_is_left_alone_for_other_failures() -> None:
    plugin = ReportDifferences()
    plugin.stop_test(context={"scenario": SimpleNamespace(
        all_steps=[SimpleNamespace(exception=AssertionError("plain"))])})
    result = _failed_result("AssertionError: plain")
    plugin.report_result(result)
    assert asdict(result.statusDetails, filter=lambda _, v: v) == {
        "message": "AssertionError: plain", "trace": "trace"}


def test_a_noted_mismatch_does_not_leak_into_the_next_result() -> None:
    plugin = ReportDifferences()
    plugin.stop_test(context={"scenario": SimpleNamespace(
        all_steps=[SimpleNamespace(exception=MismatchError("x", expected="1", actual="2"))])})
    plugin.report_result(model2.TestResult(name="broken", status="broken"))
    later = _failed_result("AssertionError: other")
    plugin.report_result(later)
    assert later.statusDetails.message == "AssertionError: other"


class _Inspected(ChatCluster):
    """A cluster of two servers, as far as the inspector's checks see it, with a fixed view."""

    def __init__(self, view: dict[str, Any]) -> None:  # no processes: only what the checks read
        servers: Any = {"node-1": SimpleNamespace(address="127.0.0.1:4001"),
                        "node-2": SimpleNamespace(address="127.0.0.1:4002")}
        self.nodes = servers
        self.view = view

    def inspector_view(self, path: str) -> Any:
        return self.view


def test_a_moving_shard_is_named_with_its_servers() -> None:
    live = ["127.0.0.1:4001", "127.0.0.1:4002"]
    cluster = _Inspected({"nodes": live, "shards": [
        {"shard_id": 3, "current_node": "127.0.0.1:4001", "target_node": "127.0.0.1:4001"},
        {"shard_id": 17, "current_node": "127.0.0.1:4001", "target_node": "127.0.0.1:4002"}]})
    assert str(failure(cluster.assert_shards_settled)) == \
        "1 shard still moving: shard 17 targets node-2 but is on node-1"


def test_shards_off_the_live_servers_and_moving() -> None:
    live = ["127.0.0.1:4001", "127.0.0.1:4002"]
    cluster = _Inspected({"nodes": live, "shards": [
        {"shard_id": 5, "current_node": "", "target_node": "127.0.0.1:4002"}]})
    assert str(failure(cluster.assert_shards_settled)) == (
        "1 shard off the live servers and 1 shard still moving: shard 5 is on no server, which "
        "is not a live server; shard 5 targets node-2 but is on no server")


def test_a_tool_outcome_names_the_code_and_the_text_it_wanted() -> None:
    ran = CommandResult(["codex-upload"], 1, "zDv1\n", "no node\n")
    tool_outcome(CommandResult(["codex-upload"], 0, "zDv1\n", ""), 0, "zDv1", "stdout")
    error = failure(tool_outcome, ran, 0, "zDv1", "stdout")
    assert str(error) == ('the tool exited with code 1; expected code 0 and the line "zDv1"\n'
                          + ran.describe())
    assert (error.expected, error.actual) == ("exit code 0\nzDv1", "exit code 1\nzDv1\n")
    tool_outcome(ran, 1, "no node", "stderr")
    error = failure(tool_outcome, ran, 1, "no CID", "stderr")
    assert str(error) == ('the tool exited with code 1; expected code 1 and "no CID" in what it '
                          "printed on stderr\n" + ran.describe())
