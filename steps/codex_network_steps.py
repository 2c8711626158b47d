"""Steps for Codex networks: topologies, transfers between nodes, failures and expiry."""

from __future__ import annotations

from behave import given, then, when
from behave.runner import Context
from hamcrest import assert_that, equal_to, less_than_or_equal_to

from support import step_types  # noqa: F401 - registers the parse types
from support.codex.world import CidRequest


@given("a Codex network of {count:d} nodes")
def step_network(context: Context, count: int) -> None:
    context.codex.start_network(count)


@given("a Codex network of {count:d} nodes that each try {retries:d} times to find a block")
def step_network_retries(context: Context, count: int, retries: int) -> None:
    context.codex.start_network(count, block_retries=retries)


@given("a Codex network of these nodes:")
def step_network_table(context: Context) -> None:
    assert context.table is not None, "this step takes a table of nodes"
    bootstrap = {row["node"]: [name.strip() for name in row["bootstraps from"].split(",")
                               if name.strip()] for row in context.table}
    context.codex.start_network_of(bootstrap)


@given("the nodes have found each other within {seconds:d} seconds")
def step_found_each_other(context: Context, seconds: int) -> None:
    context.codex.wait_until_acquainted(seconds)


@given('a Codex node "{name:Text}" that keeps blocks for {ttl:d} seconds and checks every '
       "{interval:d} second")
def step_node_with_ttl(context: Context, name: str, ttl: int, interval: int) -> None:
    context.codex.start_node(name, block_ttl=ttl, block_maintenance_interval=interval)


@given("{user:Name} has downloaded it from node {node:Name} through the network stream")
def step_has_streamed(context: Context, user: str, node: str) -> None:
    world = context.codex
    result = world.download(node, by=user, network=True)
    assert_that(result.sha256, equal_to(world.last_upload.content.sha256),
                f"SHA-256 of the {result.size} bytes {world.actor} streamed from node {node}, "
                f"against {world.last_upload.describe()}")


@when("{user:Name} asks node {node:Name} for the manifest of the file")
def step_ask_manifest(context: Context, user: str, node: str) -> None:
    context.codex.fetch_manifest(node, by=user)


@when("{user:Name} asks node {node:Name} for the manifest of a file nobody stored")
def step_ask_unknown_manifest(context: Context, user: str, node: str) -> None:
    world = context.codex
    world.request(node, CidRequest.FETCH_MANIFEST, world.unknown_manifest_cid(), by=user)


@then('node {node:Name} answers {status:d} with the message "{message:Text}" within '
      "{seconds:d} seconds")
def step_answer_within(context: Context, node: str, status: int, message: str,
                       seconds: int) -> None:
    answer = context.codex.last_answer
    assert answer is not None, "no request was made"
    assert_that((answer.node, answer.status, answer.body), equal_to((node, status, message)))
    assert_that(answer.seconds, less_than_or_equal_to(context.settings.timeout(seconds)),
                f"seconds node {node} took to answer")


@then("node {node:Name} lists the file")
def step_lists_file(context: Context, node: str) -> None:
    world = context.codex
    listed = [item.cid for item in world.listed(node)]
    assert_that(listed.count(world.last_upload.cid), equal_to(1),
                f"times node {node} lists {world.last_upload.describe()}")


@then("node {node:Name} holds every block of the file within {seconds:d} seconds")
def step_holds_every_block(context: Context, node: str, seconds: int) -> None:
    context.codex.wait_until_holds_every_block(node, seconds)


@then("node {node:Name} holds none of the blocks of the file")
def step_holds_no_block(context: Context, node: str) -> None:
    assert_that(context.codex.held_blocks(node), equal_to([]), f"blocks node {node} holds")


@then("node {node:Name} does not hold the file within {seconds:d} seconds")
def step_forgets(context: Context, node: str, seconds: int) -> None:
    context.codex.wait_until_forgotten(node, seconds)


@when("{count:d} people each upload a different {size:Size} file to the nodes at the same time")
def step_share(context: Context, count: int, size: int) -> None:
    context.codex.share_across(count, size)


@then("each file downloads from another node with an identical SHA-256")
def step_shared_downloads(context: Context) -> None:
    results = context.codex.download_shared()
    mismatches = [upload.describe() for upload, result in results
                  if result.sha256 != upload.content.sha256]
    assert_that(mismatches, equal_to([]), "files that came back different")
    assert_that(len(results), equal_to(len(context.codex.shared)))


@when("{user:Name} downloads it from node {node:Name} through the network stream while node "
      "{victim:Name} is killed after {size:Size}")
def step_download_killing(context: Context, user: str, node: str, victim: str,
                          size: int) -> None:
    context.codex.download_killing(node, victim, size, by=user)


@then("{user:Name} gets an identical SHA-256")
def step_interrupted_identical(context: Context, user: str) -> None:
    world = context.codex
    assert world.interrupted is not None, "no interrupted download happened"
    world.check_identical(world.interrupted, user)


@then("the download ends incomplete within {seconds:d} seconds")
def step_interrupted_short(context: Context, seconds: int) -> None:
    world = context.codex
    outcome = world.interrupted
    assert outcome is not None, "no interrupted download happened"
    complete = outcome.result is not None and \
        outcome.result.sha256 == world.last_upload.content.sha256
    assert not complete, f"{outcome.by}'s download completed although the holder was killed"
    assert outcome.error is not None, f"{outcome.by}'s download ended without an error"
    assert_that(outcome.seconds, less_than_or_equal_to(context.settings.timeout(seconds)),
                f"seconds until {outcome.by}'s download ended")


@then("node {node:Name} still answers")
def step_still_answers(context: Context, node: str) -> None:
    assert context.codex.answers(node), f"node {node} reports no storage quota"


@when("{user:Name} downloads it from node {node:Name} through the network stream while node "
      "{victim:Name} hangs after {size:Size}")
def step_download_hanging(context: Context, user: str, node: str, victim: str,
                          size: int) -> None:
    context.codex.start_download_hanging(node, victim, size, by=user)


@then("{user:Name}'s download keeps waiting for {seconds:d} seconds")
def step_download_keeps_waiting(context: Context, user: str, seconds: int) -> None:
    context.codex.download_keeps_waiting(seconds, user)


@when("node {node:Name} wakes up")
def step_node_wakes(context: Context, node: str) -> None:
    context.codex.wake(node)


@then("{user:Name} gets an identical SHA-256 within {seconds:d} seconds")
def step_hung_identical(context: Context, user: str, seconds: int) -> None:
    world = context.codex
    world.check_identical(world.finish_hung_download(seconds), user)
