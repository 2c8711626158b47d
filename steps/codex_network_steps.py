"""Steps for Codex networks: topologies, transfers between nodes, failures and expiry."""

from __future__ import annotations

from behave import given, then, when
from behave.runner import Context

from support import expect, step_types  # noqa: F401 - step_types registers the parse types
from support.codex.expectations import all_same_content, node_answer, same_content
from support.codex.world import CidRequest
from support.expect import plural


@given("a Codex network of {count:d} nodes")
def step_network(context: Context, count: int) -> None:
    """Starts that many nodes, A, B, C…, each bootstrapped from the ones started before."""
    context.codex.start_network(count)


@given("a Codex network of {count:d} nodes that each try {retries:d} times to find a block")
def step_network_retries(context: Context, count: int, retries: int) -> None:
    """Starts the network; each node gives up on a block after that many tries."""
    context.codex.start_network(count, block_retries=retries)


@given("a Codex network of these nodes:")
def step_network_table(context: Context) -> None:
    """Starts the table's nodes in order, each bootstrapped from the nodes it names."""
    table = expect.present(context.table, "this step takes a table of nodes")
    bootstrap = {row["node"]: [name.strip() for name in row["bootstraps from"].split(",")
                               if name.strip()] for row in table}
    context.codex.start_network_of(bootstrap)


@given("the nodes have found each other within {seconds:d} seconds")
def step_found_each_other(context: Context, seconds: int) -> None:
    """Waits (within the budget) until every node lists every other node as a peer."""
    context.codex.wait_until_acquainted(seconds)


@given('a Codex node "{name:Text}" that keeps blocks for {ttl:d} seconds and checks every '
       "{interval:d} second")
def step_node_with_ttl(context: Context, name: str, ttl: int, interval: int) -> None:
    """Starts a node whose blocks expire after the TTL, checked at that interval."""
    context.codex.start_node(name, block_ttl=ttl, block_maintenance_interval=interval)


@given("{user:Name} has downloaded it from node {node:Name} through the network stream")
def step_has_streamed(context: Context, user: str, node: str) -> None:
    """Downloads the last upload through the network stream; it must come back unchanged."""
    world = context.codex
    result = world.download(node, by=user, network=True)
    same_content(result, world.last_upload, f"{world.actor} streamed from node {node}")


@when("{user:Name} asks node {node:Name} for the manifest of the file")
def step_ask_manifest(context: Context, user: str, node: str) -> None:
    """Asks the node for the last upload's manifest from the network."""
    context.codex.fetch_manifest(node, by=user)


@when("{user:Name} asks node {node:Name} for the manifest of a file nobody stored")
def step_ask_unknown_manifest(context: Context, user: str, node: str) -> None:
    """Asks the node for the network manifest of a well-formed CID nobody stored."""
    world = context.codex
    world.request(node, CidRequest.FETCH_MANIFEST, world.unknown_manifest_cid(), by=user)


@then('node {node:Name} answers {status:d} with the message "{message:Text}" within '
      "{seconds:d} seconds")
def step_answer_within(context: Context, node: str, status: int, message: str,
                       seconds: int) -> None:
    """Checks the last answer's node, status and body, and that it came within the budget."""
    answer = expect.present(context.codex.last_answer, "no request was made")
    expect.equal((answer.node, answer.status, answer.body), (node, status, message),
                 "the answer came from", show=node_answer)
    expect.at_most(answer.seconds, context.settings.timeout(seconds), f"node {node} answered in")


@then("node {node:Name} lists the file")
def step_lists_file(context: Context, node: str) -> None:
    """Checks the node's list of files holds the last upload exactly once."""
    world = context.codex
    listed = [item.cid for item in world.listed(node)]
    expect.equal(listed.count(world.last_upload.cid), 1,
                 f"node {node} lists {world.last_upload.describe()}",
                 show=lambda times: plural(times, "time"))


@then("node {node:Name} holds every block of the file within {seconds:Seconds}")
def step_holds_every_block(context: Context, node: str, seconds: int) -> None:
    """Waits (within the budget) until the node holds every block of the last upload."""
    context.codex.wait_until_holds_every_block(node, seconds)


@then("node {node:Name} holds none of the blocks of the file")
def step_holds_no_block(context: Context, node: str) -> None:
    """Checks the node holds none of the last upload's blocks (computed from its content)."""
    expect.none_of(context.codex.held_blocks(node), f"node {node} holds blocks of the file:")


@then("node {node:Name} does not hold the file within {seconds:d} seconds")
def step_forgets(context: Context, node: str, seconds: int) -> None:
    """Waits (within the budget) until the node no longer holds the file (its blocks expired)."""
    context.codex.wait_until_forgotten(node, seconds)


@when("{count:d} people each upload a different {size:Size} file to the nodes at the same time")
def step_share(context: Context, count: int, size: int) -> None:
    """That many people upload different files at once, round-robin over the nodes."""
    context.codex.share_across(count, size)


@then("each file downloads from another node with an identical SHA-256")
def step_shared_downloads(context: Context) -> None:
    """Downloads each shared file from another node; all must come back unchanged."""
    results = context.codex.download_shared()
    expect.equal(len(results), len(context.codex.shared), "the downloads returned",
                 show=lambda count: plural(count, "file"))
    all_same_content(results, "files came back different:")


@when("{user:Name} downloads it from node {node:Name} through the network stream while node "
      "{victim:Name} is killed after {size:Size}")
def step_download_killing(context: Context, user: str, node: str, victim: str,
                          size: int) -> None:
    """Streams the file while the holder is SIGKILLed once that much has arrived."""
    context.codex.download_killing(node, victim, size, by=user)


@then("{user:Name} gets an identical SHA-256")
def step_interrupted_identical(context: Context, user: str) -> None:
    """Checks the interrupted download was this person's and delivered the file unchanged."""
    world = context.codex
    world.check_identical(expect.present(world.interrupted, "no interrupted download happened"),
                          user)


@then("the download ends incomplete within {seconds:d} seconds")
def step_interrupted_short(context: Context, seconds: int) -> None:
    """Checks the download failed, incomplete, and ended within the budget."""
    world = context.codex
    outcome = expect.present(world.interrupted, "no interrupted download happened")
    complete = outcome.result is not None and \
        outcome.result.sha256 == world.last_upload.content.sha256
    expect.that(not complete, f"{outcome.by}'s download completed although the holder was "
                "killed; expected it incomplete")
    expect.that(outcome.error is not None, f"{outcome.by}'s download ended without an error; "
                "expected it to fail")
    expect.at_most(outcome.seconds, context.settings.timeout(seconds),
                   f"{outcome.by}'s download ended after")


@then("node {node:Name} still answers")
def step_still_answers(context: Context, node: str) -> None:
    """Checks the node still answers its API (with a storage quota)."""
    expect.that(context.codex.answers(node), f"node {node} does not answer (it reports no "
                "storage quota); expected it to answer")


@when("{user:Name} downloads it from node {node:Name} through the network stream while node "
      "{victim:Name} hangs after {size:Size}")
def step_download_hanging(context: Context, user: str, node: str, victim: str,
                          size: int) -> None:
    """Starts streaming the file; the holder is frozen (SIGSTOP) once that much arrived."""
    context.codex.start_download_hanging(node, victim, size, by=user)


@then("{user:Name}'s download keeps waiting for {seconds:d} seconds")
def step_download_keeps_waiting(context: Context, user: str, seconds: int) -> None:
    """For the whole time after the holder hung, the download neither ends nor fails."""
    context.codex.download_keeps_waiting(seconds, user)


@when("node {node:Name} wakes up")
def step_node_wakes(context: Context, node: str) -> None:
    """Lets a frozen node run again (SIGCONT)."""
    context.codex.wake(node)


@then("{user:Name} gets an identical SHA-256 within {seconds:d} seconds")
def step_hung_identical(context: Context, user: str, seconds: int) -> None:
    """Waits (within the budget) for the download to end; the file must be unchanged."""
    world = context.codex
    world.check_identical(world.finish_hung_download(seconds), user)
