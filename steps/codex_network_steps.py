"""Steps for Codex networks: topologies, transfers between nodes, failures and expiry."""

from __future__ import annotations

from string import ascii_uppercase

from behave import given, then, when
from behave.runner import Context
from hamcrest import assert_that, equal_to, is_, is_not, less_than_or_equal_to, none

from support import step_types  # noqa: F401 - registers the parse types
from support.codex.nodes import NodeOptions
from support.waiting import eventually


def _names(count: int) -> list[str]:
    return list(ascii_uppercase[:count])


@given("a Codex network of {count:d} nodes")
def step_network(context: Context, count: int) -> None:
    context.codex.fleet.start_network(_names(count))


@given("a Codex network of {count:d} nodes that each try {retries:d} times to find a block")
def step_network_retries(context: Context, count: int, retries: int) -> None:
    context.codex.fleet.start_network(_names(count), options=NodeOptions(block_retries=retries))


@given("a Codex network of these nodes:")
def step_network_table(context: Context) -> None:
    bootstrap = {row["node"]: [name.strip() for name in row["bootstraps from"].split(",")
                               if name.strip()] for row in context.table}
    context.codex.fleet.start_network(list(bootstrap), bootstrap=bootstrap)


@given("the nodes have found each other within {seconds:d} seconds")
def step_found_each_other(context: Context, seconds: int) -> None:
    eventually(context.codex.peers_acquainted(), context.settings.timeout(seconds))


@given('a Codex node "{name:Text}" that keeps blocks for {ttl:d} seconds and checks every '
       "{interval:d} second")
def step_node_with_ttl(context: Context, name: str, ttl: int, interval: int) -> None:
    options = NodeOptions(block_ttl=ttl, block_maintenance_interval=interval)
    context.codex.fleet.start(name, options=options)


@given("{user:Name} has downloaded it from node {node:Name} through the network stream")
def step_has_streamed(context: Context, user: str, node: str) -> None:
    world = context.codex
    result = world.download(node, network=True)
    assert_that(result.sha256, equal_to(world.last_upload.content.sha256))


@when("{user:Name} asks node {node:Name} for the manifest of the file")
def step_ask_manifest(context: Context, user: str, node: str) -> None:
    world = context.codex
    world.last_item = world.client(node).fetch_manifest(world.last_upload.cid)


@when("{user:Name} asks node {node:Name} for the manifest of a file nobody stored")
def step_ask_unknown_manifest(context: Context, user: str, node: str) -> None:
    world = context.codex
    world.ask(node, "GET", f"/data/{world.unknown_manifest_cid()}/network/manifest")


@then('node {node:Name} answers {status:d} with the message "{message:Text}" within '
      "{seconds:d} seconds")
def step_answer_within(context: Context, node: str, status: int, message: str,
                       seconds: int) -> None:
    answer = context.codex.last_answer
    assert answer is not None, "no request was made"
    assert_that((answer.status, answer.body), equal_to((status, message)))
    assert_that(answer.seconds, less_than_or_equal_to(context.settings.timeout(seconds)))


@then("node {node:Name} lists the file")
def step_lists_file(context: Context, node: str) -> None:
    world = context.codex
    listed = [item.cid for item in world.client(node).list_data()]
    assert_that(listed.count(world.last_upload.cid), equal_to(1))


@then("node {node:Name} holds every block of the file within {seconds:d} seconds")
def step_holds_every_block(context: Context, node: str, seconds: int) -> None:
    world = context.codex
    client, blocks = world.client(node), world.block_cids()

    def all_held() -> None:
        missing = [cid for cid in blocks if not client.exists(cid)]
        assert not missing, f"{len(missing)} of {len(blocks)} blocks not on node {node} yet"

    eventually(all_held, context.settings.timeout(seconds))


@then("node {node:Name} holds none of the blocks of the file")
def step_holds_no_block(context: Context, node: str) -> None:
    world = context.codex
    client = world.client(node)
    held = [cid for cid in world.block_cids() if client.exists(cid)]
    assert_that(held, equal_to([]))


@then("node {node:Name} does not hold the file within {seconds:d} seconds")
def step_forgets(context: Context, node: str, seconds: int) -> None:
    world = context.codex

    def gone() -> None:
        assert not world.client(node).exists(world.last_upload.cid), "the file is still held"

    eventually(gone, context.settings.timeout(seconds))


@when("{count:d} people each upload a different {size:Size} file to the nodes at the same time")
def step_share(context: Context, count: int, size: int) -> None:
    world = context.codex
    world.share_across(list(world.fleet.nodes), count, size)


@then("each file downloads from another node with an identical SHA-256")
def step_shared_downloads(context: Context) -> None:
    results = context.codex.download_shared()
    mismatches = [(upload.cid, upload.node) for upload, result in results
                  if result.sha256 != upload.content.sha256]
    assert_that(mismatches, equal_to([]))
    assert_that(len(results), equal_to(len(context.codex.shared)))


@when("{user:Name} downloads it from node {node:Name} through the network stream while node "
      "{victim:Name} is killed after {size:Size}")
def step_download_killing(context: Context, user: str, node: str, victim: str,
                          size: int) -> None:
    context.codex.download_killing(node, victim, size)


@then("{user:Name} gets an identical SHA-256")
def step_interrupted_identical(context: Context, user: str) -> None:
    outcome = context.codex.interrupted
    assert outcome is not None, "no interrupted download happened"
    assert_that(outcome.error, is_(none()))
    assert outcome.result is not None
    assert_that(outcome.result.sha256, equal_to(context.codex.last_upload.content.sha256))


@then("the download ends incomplete within {seconds:d} seconds")
def step_interrupted_short(context: Context, seconds: int) -> None:
    outcome = context.codex.interrupted
    assert outcome is not None, "no interrupted download happened"
    complete = outcome.result is not None and \
        outcome.result.sha256 == context.codex.last_upload.content.sha256
    assert_that(complete, is_(False))
    assert_that(outcome.error, is_not(none()))
    assert_that(outcome.seconds, less_than_or_equal_to(context.settings.timeout(seconds)))


@then("node {node:Name} still answers")
def step_still_answers(context: Context, node: str) -> None:
    assert_that(context.codex.client(node).space().quota_max_bytes > 0, is_(True))
