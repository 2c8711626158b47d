"""Steps for Codex storage features. The work happens in support.codex.world and friends."""

from __future__ import annotations

from behave import given, step, then, when
from behave.runner import Context
from hamcrest import (
    assert_that,
    contains_string,
    equal_to,
    has_item,
    is_,
    is_not,
    starts_with,
)

from support import step_types  # noqa: F401 - registers the parse types
from support.codex.world import CidRequest
from support.oracles import codex_cid
from support.oracles.codex_manifest import manifest_cid_of_file


# --- nodes -----------------------------------------------------------------------------------
@given('a Codex node "{name:Text}" is running')
def step_node_running(context: Context, name: str) -> None:
    context.codex.start_node(name)


@given('a Codex node "{name:Text}" is running with a storage quota of {quota:Size}')
def step_node_with_quota(context: Context, name: str, quota: int) -> None:
    context.codex.start_node(name, storage_quota=quota)


@when("node {node:Name} is restarted")
def step_restart(context: Context, node: str) -> None:
    context.codex.restart(node)


@when("node {node:Name} is stopped")
def step_stop(context: Context, node: str) -> None:
    context.codex.stop(node)


@then("node {node:Name} exited cleanly")
def step_exited_cleanly(context: Context, node: str) -> None:
    codes = context.codex.exit_codes(node)
    assert_that(codes[-1:], equal_to([0]), f"exit code of node {node} after it was stopped")


@then("node {node:Name} kept its peer identity")
def step_same_peer(context: Context, node: str) -> None:
    world = context.codex
    assert_that(world.peer_id(node), equal_to(world.peer_id_before_restart(node)),
                f"node {node}'s peer ID after the restart")


# --- uploads ---------------------------------------------------------------------------------
@step("{user:Name} uploads a {size:Size} file to node {node:Name}")
@step("{user:Name} has uploaded a {size:Size} file to node {node:Name}")
def step_upload(context: Context, user: str, size: int, node: str) -> None:
    world = context.codex
    world.upload(node, world.new_file(size), by=user)


@step('{user:Name} uploads a {size:Size} file named "{filename:Text}" to node {node:Name}')
@step('{user:Name} has uploaded a {size:Size} file named "{filename:Text}" to node {node:Name}')
def step_upload_named(context: Context, user: str, size: int, filename: str, node: str) -> None:
    world = context.codex
    world.upload(node, world.new_file(size), filename=filename, by=user)


@step('{user:Name} uploads a {size:Size} file named "{filename:Text}" of type "{mimetype:Text}" to node {node:Name}')
@step('{user:Name} has uploaded a {size:Size} file named "{filename:Text}" of type "{mimetype:Text}" '
      "to node {node:Name}")
def step_upload_named_typed(context: Context, user: str, size: int, filename: str, mimetype: str,
                            node: str) -> None:
    world = context.codex
    world.upload(node, world.new_file(size), filename=filename, mimetype=mimetype, by=user)


@when("{user:Name} uploads a {size:Size} file of zero bytes to node {node:Name}")
def step_upload_zeros(context: Context, user: str, size: int, node: str) -> None:
    world = context.codex
    world.upload(node, world.new_file(size, zeros=True), by=user)


@when('{user:Name} uploads the text "{text:Text}" to node {node:Name}')
def step_upload_text(context: Context, user: str, text: str, node: str) -> None:
    world = context.codex
    world.upload(node, world.text_file(text), by=user)


@when('{user:Name} uploads the same content named "{filename:Text}" of type "{mimetype:Text}" to node {node:Name}')
def step_upload_same_typed(context: Context, user: str, filename: str, mimetype: str,
                           node: str) -> None:
    world = context.codex
    world.upload(node, world.last_upload.content, filename=filename, mimetype=mimetype, by=user)


@when('{user:Name} uploads the same content named "{filename:Text}" to node {node:Name}')
def step_upload_same_named(context: Context, user: str, filename: str, node: str) -> None:
    world = context.codex
    world.upload(node, world.last_upload.content, filename=filename, by=user)


@when("{count:d} people upload the same {size:Size} file to node {node:Name} at the same time")
def step_upload_concurrently(context: Context, count: int, size: int, node: str) -> None:
    world = context.codex
    world.upload_concurrently(node, world.new_file(size), count)


@when("{user:Name} tries to upload an empty file to node {node:Name}")
def step_try_empty(context: Context, user: str, node: str) -> None:
    context.codex.try_upload(node, None, by=user)


@when("{user:Name} tries to upload a {size:Size} file to node {node:Name}")
def step_try_upload(context: Context, user: str, size: int, node: str) -> None:
    world = context.codex
    world.try_upload(node, world.new_file(size), by=user)


@when('{user:Name} tries to upload a {size:Size} file of type "{mimetype:Text}" to node {node:Name}')
def step_try_typed(context: Context, user: str, size: int, mimetype: str, node: str) -> None:
    world = context.codex
    world.try_upload(node, world.new_file(size), mimetype=mimetype, by=user)


@when('{user:Name} tries to upload a {size:Size} file named "{filename:Text}" to node {node:Name}')
def step_try_named(context: Context, user: str, size: int, filename: str, node: str) -> None:
    world = context.codex
    world.try_upload(node, world.new_file(size), filename=filename, by=user)


@then('the upload is refused with status {status:d} and the message "{message:Text}"')
def step_refused(context: Context, status: int, message: str) -> None:
    world = context.codex
    error = world.last_error
    assert error is not None, f"{world.actor}'s upload was accepted, but it should have been refused"
    assert_that((error.status, error.body), equal_to((status, message)))


@then('the upload is refused with status {status:d} and a message starting with "{prefix:Text}"')
def step_refused_prefix(context: Context, status: int, prefix: str) -> None:
    world = context.codex
    error = world.last_error
    assert error is not None, f"{world.actor}'s upload was accepted, but it should have been refused"
    assert_that(error.status, equal_to(status))
    assert_that(error.body, starts_with(prefix))


# --- downloads -------------------------------------------------------------------------------
@then("{user:Name} downloads it from node {node:Name} with an identical SHA-256")
def step_download_identical(context: Context, user: str, node: str) -> None:
    world = context.codex
    result = world.download(node, by=user)
    assert_that(result.sha256, equal_to(world.last_upload.content.sha256),
                f"SHA-256 of the {result.size} bytes {world.actor} downloaded from node {node}, "
                f"against {world.last_upload.describe()}")


@then("{user:Name} downloads it from node {node:Name} through the network stream with an identical SHA-256")
def step_stream_identical(context: Context, user: str, node: str) -> None:
    world = context.codex
    result = world.download(node, by=user, network=True)
    assert_that(result.sha256, equal_to(world.last_upload.content.sha256),
                f"SHA-256 of the {result.size} bytes {world.actor} streamed from node {node}, "
                f"against {world.last_upload.describe()}")
    assert_that(result.headers.get("Access-Control-Expose-Headers"),
                equal_to("Content-Disposition"), "the headers a web page may read")


@then('downloading it from node {node:Name} gives the type "{mimetype:Text}" and the file name "{filename:Text}"')
def step_download_named(context: Context, node: str, mimetype: str, filename: str) -> None:
    result = context.codex.download(node)
    assert_that((result.content_type, result.filename), equal_to((mimetype, filename)))


@then('downloading it from node {node:Name} gives the type "{mimetype:Text}" and no file name')
def step_download_unnamed(context: Context, node: str, mimetype: str) -> None:
    result = context.codex.download(node)
    assert_that(result.content_type, equal_to(mimetype))
    assert_that(result.headers.get("Content-Disposition"), equal_to("attachment"))


@then('downloading it from node {node:Name} is refused with status {status:d} and the message '
      '"{message:Text}"')
def step_download_refused(context: Context, node: str, status: int, message: str) -> None:
    world = context.codex
    answer = world.request(node, CidRequest.DOWNLOAD, world.last_upload.cid)
    assert_that((answer.status, answer.body), equal_to((status, message)))


@when("{user:Name} starts downloading it from node {node:Name} and cancels after {size:Size}")
def step_cancel(context: Context, user: str, node: str, size: int) -> None:
    world = context.codex
    received = world.download_cancelled(node, size, by=user)
    assert received < world.last_upload.content.size, \
        f"{world.actor} received the whole file ({received} bytes) before cancelling"


@when("{count:d} people download it from node {node:Name} at the same time")
def step_parallel_downloads(context: Context, count: int, node: str) -> None:
    context.codex.download_concurrently(node, count)


@then("every one of them gets an identical SHA-256")
def step_all_identical(context: Context) -> None:
    world = context.codex
    digests = [result.sha256 for result in world.downloads]
    assert_that(digests, equal_to([world.last_upload.content.sha256] * len(digests)))


# --- identity of content ---------------------------------------------------------------------
@then('the file\'s tree CID is "{tree:Text}"')
def step_tree_cid(context: Context, tree: str) -> None:
    assert_that(context.codex.fetch_manifest().manifest.tree_cid, equal_to(tree))


@then("the manifest says the dataset is {size:d} bytes in {blocks:Blocks} of {block:d} bytes")
def step_manifest_size(context: Context, size: int, blocks: int, block: int) -> None:
    manifest = context.codex.fetch_manifest().manifest
    assert_that((manifest.dataset_size, manifest.block_size), equal_to((size, block)))
    assert_that(-(-manifest.dataset_size // manifest.block_size), equal_to(blocks))


@then("the CID is a Codex manifest CID")
def step_is_manifest_cid(context: Context) -> None:
    text = context.codex.last_upload.cid
    cid = codex_cid.describe_cid(text)
    assert_that((cid.version, cid.codec, len(text), text[:3]), equal_to((1, codex_cid.MANIFEST, 52,
                                                                         "zDv")))


@then("its tree CID is a Codex tree CID")
def step_is_tree_cid(context: Context) -> None:
    assert context.codex.last_item is not None
    cid = codex_cid.describe_cid(context.codex.last_item.manifest.tree_cid)
    assert_that((cid.version, cid.codec), equal_to((1, codex_cid.ROOT)))


@then("the CID is the one Codex computes for that content, name and type")
def step_cid_by_rules(context: Context) -> None:
    upload = context.codex.last_upload
    expected = manifest_cid_of_file(upload.content.path, upload.filename, upload.mimetype)
    assert_that(upload.cid, equal_to(expected))


@then("both uploads have the same CID")
@then("all of them get the same CID")
def step_same_cids(context: Context) -> None:
    cids = {upload.cid for upload in context.codex.uploads}
    assert_that(len(cids), equal_to(1), f"CIDs: {sorted(cids)}")


@then("the two uploads have different CIDs")
def step_different_cids(context: Context) -> None:
    first, second = context.codex.uploads[-2:]
    assert_that(first.cid, is_not(equal_to(second.cid)),
                f"the CIDs of {first.describe()} and {second.describe()}")


@then("both manifests have the same tree CID")
def step_same_tree(context: Context) -> None:
    world = context.codex
    trees = {world.fetch_manifest(upload=upload).manifest.tree_cid for upload in world.uploads[-2:]}
    assert_that(len(trees), equal_to(1), f"tree CIDs: {sorted(trees)}")


# --- presence, listing, manifests, deletion --------------------------------------------------
@then("node {node:Name} holds the file")
@then("node {node:Name} still holds the file")
def step_holds(context: Context, node: str) -> None:
    world = context.codex
    assert world.holds(node, world.last_upload.cid), \
        f"node {node} does not hold {world.last_upload.describe()}"


@then("node {node:Name} does not hold the file")
@then("node {node:Name} does not hold that file")
def step_not_holds(context: Context, node: str) -> None:
    world = context.codex
    assert not world.holds(node, world.file_cid()), f"node {node} holds {world.file_cid()}"


@then("node {node:Name} does not report the file's tree CID as held")
def step_tree_not_held(context: Context, node: str) -> None:
    world = context.codex
    tree = world.fetch_manifest(node).manifest.tree_cid
    assert not world.holds(node, tree), f"node {node} reports the tree CID {tree} as held"


@then('node {node:Name} lists the file with the name "{filename:Text}"')
def step_lists(context: Context, node: str, filename: str) -> None:
    world = context.codex
    listed = {item.cid: item.manifest.filename for item in world.listed(node)}
    assert_that(listed.get(world.last_upload.cid), equal_to(filename),
                f"the name node {node} lists for {world.last_upload.describe()}")


@then("node {node:Name} no longer lists the file")
def step_not_listed(context: Context, node: str) -> None:
    world = context.codex
    listed = [item.cid for item in world.listed(node)]
    cid = world.last_upload.cid
    assert cid not in listed, f"node {node} still lists the file {cid} ({len(listed)} listed)"


@then("node {node:Name} gives this manifest for the file:")
def step_manifest_table(context: Context, node: str) -> None:
    world = context.codex
    item = world.fetch_manifest(node)
    manifest = item.manifest
    actual = {
        "dataset size": str(manifest.dataset_size),
        "block size": str(manifest.block_size),
        "file name": manifest.filename or "(none)",
        "type": manifest.mimetype or "(none)",
        "protected": "yes" if manifest.protected else "no",
    }
    assert context.table is not None, "this step takes a table of the manifest's fields"
    expected = {row["field"]: row["value"] for row in context.table}
    assert_that({key: actual[key] for key in expected}, equal_to(expected))
    assert_that(item.cid, equal_to(world.last_upload.cid))


@when("{user:Name} asks node {node:Name} to fetch the file from the network in the background")
def step_trigger(context: Context, user: str, node: str) -> None:
    context.codex.fetch_in_background(node, by=user)


@then('the answer describes the file with the name "{filename:Text}" and {size:d} bytes')
def step_answer_manifest(context: Context, filename: str, size: int) -> None:
    item = context.codex.last_item
    assert item is not None, "no answer described a file"
    assert_that((item.cid, item.manifest.filename, item.manifest.dataset_size),
                equal_to((context.codex.last_upload.cid, filename, size)))


@when("{user:Name} deletes the file from node {node:Name}")
@when("{user:Name} deletes the file from node {node:Name} again")
def step_delete(context: Context, user: str, node: str) -> None:
    context.codex.delete(node, by=user)


@when("{user:Name} deletes a file node {node:Name} never stored")
def step_delete_unknown(context: Context, user: str, node: str) -> None:
    context.codex.delete_unknown(node, by=user)


@when("{user:Name} tries to delete the first block of the file from node {node:Name}")
def step_delete_block(context: Context, user: str, node: str) -> None:
    world = context.codex
    world.request(node, CidRequest.DELETE, world.first_block_cid(), by=user)


# --- raw answers -----------------------------------------------------------------------------
@when('{user:Name} asks node {node:Name} to {action:CidRequest} the CID "{cid:Text}"')
def step_ask_action(context: Context, user: str, node: str, action: CidRequest, cid: str) -> None:
    context.codex.request(node, action, cid, by=user)


@when("{user:Name} asks node {node:Name} to download a file nobody stored")
def step_ask_unknown(context: Context, user: str, node: str) -> None:
    world = context.codex
    world.request(node, CidRequest.DOWNLOAD, world.unknown_manifest_cid(), by=user)


@when("{user:Name} asks node {node:Name} to download the first block of her file as a file")
def step_ask_block(context: Context, user: str, node: str) -> None:
    world = context.codex
    world.request(node, CidRequest.DOWNLOAD, world.first_block_cid(world.last_upload_by(user)),
                  by=user)


@when("{user:Name} calls a part of the API that does not exist on node {node:Name}")
def step_unknown_route(context: Context, user: str, node: str) -> None:
    context.codex.call_unknown_route(node, by=user)


@then('node {node:Name} answers {status:d} with the message "{message:Text}"')
def step_answer(context: Context, node: str, status: int, message: str) -> None:
    answer = context.codex.last_answer
    assert answer is not None, "no request was made"
    assert_that((answer.node, answer.status, answer.body), equal_to((node, status, message)))


@then("node {node:Name} answers {status:d} with an empty body")
def step_answer_empty(context: Context, node: str, status: int) -> None:
    answer = context.codex.last_answer
    assert answer is not None, "no request was made"
    assert_that((answer.node, answer.status, answer.body), equal_to((node, status, "")))


# --- space -----------------------------------------------------------------------------------
@given("node {node:Name}'s storage use is noted")
def step_note_space(context: Context, node: str) -> None:
    context.codex.note_space(node)


@given('the text "{text:Text}" is not stored on node {node:Name}')
def step_text_absent(context: Context, text: str, node: str) -> None:
    world = context.codex
    world.delete_text(node, manifest_cid_of_file(world.text_file(text).path))


@then("node {node:Name}'s storage use grew by {blocks:Blocks} and {size:d} bytes")
def step_space_grew(context: Context, node: str, blocks: int, size: int) -> None:
    world = context.codex
    before = world.noted_space
    assert before is not None, "storage use was not noted first"
    after = world.space(node)
    assert_that((after.total_blocks - before.total_blocks,
                 after.quota_used_bytes - before.quota_used_bytes), equal_to((blocks, size)),
                f"growth of node {node}'s storage use in blocks and bytes")


@then("node {node:Name}'s storage use is back where it was")
def step_space_back(context: Context, node: str) -> None:
    world = context.codex
    before = world.noted_space
    assert before is not None, "storage use was not noted first"
    assert_that(world.space(node), equal_to(before), f"node {node}'s storage use")


@then("node {node:Name} reports a storage quota of {size:d} bytes")
def step_quota(context: Context, node: str, size: int) -> None:
    assert_that(context.codex.space(node).quota_max_bytes, equal_to(size),
                f"node {node}'s storage quota in bytes")


@then("node {node:Name} stores {blocks:Blocks} using {size:d} bytes")
def step_stores(context: Context, node: str, blocks: int, size: int) -> None:
    space = context.codex.space(node)
    assert_that((space.total_blocks, space.quota_used_bytes), equal_to((blocks, size)),
                f"blocks and bytes node {node} stores")


# --- command-line tools ----------------------------------------------------------------------
@given('a {size:Size} file "{name:Text}" on the QA engineer\'s disk')
def step_disk_file(context: Context, size: int, name: str) -> None:
    context.codex.write_qa_file(name, size)


@when('the QA engineer uploads "{name:Text}" to node {node:Name} with codex-upload')
def step_cli_upload(context: Context, name: str, node: str) -> None:
    context.codex.run_codex_upload(node, name)


@when('the QA engineer downloads that CID from node {node:Name} into "{name:Text}" with codex-download')
def step_cli_download_that(context: Context, node: str, name: str) -> None:
    world = context.codex
    world.run_codex_download(node, world.cid_printed(), name)


@when('the QA engineer downloads the CID "{cid:Text}" from node {node:Name} into "{name:Text}" '
      "with codex-download")
def step_cli_download(context: Context, cid: str, node: str, name: str) -> None:
    context.codex.run_codex_download(node, cid, name)


@when("the QA engineer runs codex-download against node {node:Name} without a CID")
def step_cli_no_cid(context: Context, node: str) -> None:
    context.codex.run_codex_download(node)


@then('the tool succeeds and prints "{line:Text}"')
def step_tool_ok(context: Context, line: str) -> None:
    result = context.codex.last_tool_run()
    assert_that(result.exit_code, equal_to(0), result.describe())
    assert_that(result.stdout.splitlines(), has_item(line))


@then("the tool printed the CID of the uploaded file")
def step_tool_cid(context: Context) -> None:
    world = context.codex
    cid = world.note_printed_cid()
    assert world.tool_node is not None
    assert world.holds(world.tool_node, cid), \
        f"node {world.tool_node} does not hold the CID the tool printed ({cid})"


@then('the tool fails with "{text:Text}"')
def step_tool_fails(context: Context, text: str) -> None:
    result = context.codex.last_tool_run()
    assert_that(result.exit_code, equal_to(1), result.describe())
    assert_that(result.stderr, contains_string(text))


@then('"{copy:Text}" on the QA engineer\'s disk is identical to "{original:Text}"')
def step_disk_identical(context: Context, copy: str, original: str) -> None:
    world = context.codex
    assert_that(world.qa_file(copy), equal_to(world.qa_file(original)),
                f"{copy!r} against {original!r} on the QA engineer's disk")


@then('there is no "{name:Text}" on the QA engineer\'s disk')
def step_no_file(context: Context, name: str) -> None:
    assert_that(context.codex.qa_file(name), is_(None), f"{name!r} on the QA engineer's disk")
