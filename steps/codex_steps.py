"""Steps for Codex storage features. The work happens in support.codex.world and friends."""

from __future__ import annotations

from behave import given, step, then, when
from behave.runner import Context

from support import expect, step_types  # noqa: F401 - step_types registers the parse types
from support.codex.expectations import (
    all_same_content,
    blocks_and_bytes,
    cid_form,
    disk_file,
    exit_code,
    node_answer,
    same_content,
    space,
    status_and_message,
    tool_outcome,
)
from support.codex.world import CidRequest
from support.expect import listing, plural
from support.oracles import codex_cid
from support.oracles.codex_manifest import manifest_cid_of_file


# --- nodes -----------------------------------------------------------------------------------
@given('a Codex node "{name:Text}" is running')
def step_node_running(context: Context, name: str) -> None:
    """Starts a Codex node (the emulator, or the real binary with -D codex_binary=…)."""
    context.codex.start_node(name)


@given('a Codex node "{name:Text}" is running with a storage quota of {quota:Size}')
def step_node_with_quota(context: Context, name: str, quota: int) -> None:
    """Starts a Codex node with that storage quota."""
    context.codex.start_node(name, storage_quota=quota)


@when("node {node:Name} is restarted")
def step_restart(context: Context, node: str) -> None:
    """Stops the node and starts it on the same data folder, noting its peer ID first."""
    context.codex.restart(node)


@when("node {node:Name} is stopped")
def step_stop(context: Context, node: str) -> None:
    """Stops the node and keeps its exit code."""
    context.codex.stop(node)


@then("node {node:Name} exited cleanly")
def step_exited_cleanly(context: Context, node: str) -> None:
    """Checks the node's last exit code is 0."""
    codes = context.codex.exit_codes(node)
    expect.equal(codes[-1:], [0], f"node {node} exited with", show=exit_code)


@then("node {node:Name} kept its peer identity")
def step_same_peer(context: Context, node: str) -> None:
    """Checks the node's peer ID after the restart is the one it had before."""
    world = context.codex
    expect.equal(world.peer_id(node), world.peer_id_before_restart(node),
                 f"after the restart node {node}'s peer ID is")


# --- uploads ---------------------------------------------------------------------------------
@step("{user:Name} uploads a {size:Size} file to node {node:Name}")
@step("{user:Name} has uploaded a {size:Size} file to node {node:Name}")
def step_upload(context: Context, user: str, size: int, node: str) -> None:
    """Uploads a new file of random bytes of that size (she: the person named last)."""
    world = context.codex
    world.upload(node, world.new_file(size), by=user)


@step('{user:Name} uploads a {size:Size} file named "{filename:Text}" to node {node:Name}')
@step('{user:Name} has uploaded a {size:Size} file named "{filename:Text}" to node {node:Name}')
def step_upload_named(context: Context, user: str, size: int, filename: str, node: str) -> None:
    """Uploads a new file of random bytes with that file name."""
    world = context.codex
    world.upload(node, world.new_file(size), filename=filename, by=user)


@step('{user:Name} uploads a {size:Size} file named "{filename:Text}" of type "{mimetype:Text}" to node {node:Name}')
@step('{user:Name} has uploaded a {size:Size} file named "{filename:Text}" of type "{mimetype:Text}" '
      "to node {node:Name}")
def step_upload_named_typed(context: Context, user: str, size: int, filename: str, mimetype: str,
                            node: str) -> None:
    """Uploads a new file of random bytes with that file name and content type."""
    world = context.codex
    world.upload(node, world.new_file(size), filename=filename, mimetype=mimetype, by=user)


@when("{user:Name} uploads a {size:Size} file of zero bytes to node {node:Name}")
def step_upload_zeros(context: Context, user: str, size: int, node: str) -> None:
    """Uploads a file of that many zero bytes (every block the same)."""
    world = context.codex
    world.upload(node, world.new_file(size, zeros=True), by=user)


@when('{user:Name} uploads the text "{text:Text}" to node {node:Name}')
def step_upload_text(context: Context, user: str, text: str, node: str) -> None:
    """Uploads the text, UTF-8, as a file."""
    world = context.codex
    world.upload(node, world.text_file(text), by=user)


@when('{user:Name} uploads the same content named "{filename:Text}" of type "{mimetype:Text}" to node {node:Name}')
def step_upload_same_typed(context: Context, user: str, filename: str, mimetype: str,
                           node: str) -> None:
    """Uploads the last upload's content again, with that name and type."""
    world = context.codex
    world.upload(node, world.last_upload.content, filename=filename, mimetype=mimetype, by=user)


@when('{user:Name} uploads the same content named "{filename:Text}" to node {node:Name}')
def step_upload_same_named(context: Context, user: str, filename: str, node: str) -> None:
    """Uploads the last upload's content again, with that name."""
    world = context.codex
    world.upload(node, world.last_upload.content, filename=filename, by=user)


@when("{count:d} people upload the same {size:Size} file to node {node:Name} at the same time")
def step_upload_concurrently(context: Context, count: int, size: int, node: str) -> None:
    """That many people upload the same new file at once; she is then one of them."""
    world = context.codex
    world.upload_concurrently(node, world.new_file(size), count)


@when("{user:Name} tries to upload an empty file to node {node:Name}")
def step_try_empty(context: Context, user: str, node: str) -> None:
    """Uploads an empty body, expecting a refusal kept for the next step."""
    context.codex.try_upload(node, None, by=user)


@when("{user:Name} tries to upload a {size:Size} file to node {node:Name}")
def step_try_upload(context: Context, user: str, size: int, node: str) -> None:
    """Uploads a new file expecting a refusal (e.g. over quota), kept for the next step."""
    world = context.codex
    world.try_upload(node, world.new_file(size), by=user)


@when('{user:Name} tries to upload a {size:Size} file of type "{mimetype:Text}" to node {node:Name}')
def step_try_typed(context: Context, user: str, size: int, mimetype: str, node: str) -> None:
    """Uploads a new file with that content type, expecting a refusal kept for a check."""
    world = context.codex
    world.try_upload(node, world.new_file(size), mimetype=mimetype, by=user)


@when('{user:Name} tries to upload a {size:Size} file named "{filename:Text}" to node {node:Name}')
def step_try_named(context: Context, user: str, size: int, filename: str, node: str) -> None:
    """Uploads a new file with that file name, expecting a refusal kept for a check."""
    world = context.codex
    world.try_upload(node, world.new_file(size), filename=filename, by=user)


@then('the upload is refused with status {status:d} and the message "{message:Text}"')
def step_refused(context: Context, status: int, message: str) -> None:
    """Checks the last upload was refused with exactly this status and body."""
    world = context.codex
    error = expect.present(world.last_error, f"{world.actor}'s upload was accepted; expected it "
                           "refused")
    expect.equal((error.status, error.body), (status, message),
                 f"{world.actor}'s upload was refused with", show=status_and_message)


@then('the upload is refused with status {status:d} and a message starting with "{prefix:Text}"')
def step_refused_prefix(context: Context, status: int, prefix: str) -> None:
    """Checks the last upload was refused with this status and a body starting so."""
    world = context.codex
    error = expect.present(world.last_error, f"{world.actor}'s upload was accepted; expected it "
                           "refused")
    expect.matches(error.status == status and error.body.startswith(prefix),
                   f"{world.actor}'s upload was refused with",
                   actual=status_and_message((error.status, error.body)),
                   expected=f'status {status} and a message starting with "{prefix}"')


# --- downloads -------------------------------------------------------------------------------
@then("{user:Name} downloads it from node {node:Name} with an identical SHA-256")
def step_download_identical(context: Context, user: str, node: str) -> None:
    """Downloads the last upload (GET /data/{cid}); its SHA-256 must match."""
    world = context.codex
    result = world.download(node, by=user)
    same_content(result, world.last_upload, f"{world.actor} downloaded from node {node}")


@then("{user:Name} downloads it from node {node:Name} through the network stream with an identical SHA-256")
def step_stream_identical(context: Context, user: str, node: str) -> None:
    """Downloads through the network stream; SHA-256 and the CORS header must match."""
    world = context.codex
    result = world.download(node, by=user, network=True)
    same_content(result, world.last_upload, f"{world.actor} streamed from node {node}")
    expect.equal(result.headers.get("Access-Control-Expose-Headers"), "Content-Disposition",
                 f"the headers a web page may read in node {node}'s stream are")


@then('downloading it from node {node:Name} gives the type "{mimetype:Text}" and the file name "{filename:Text}"')
def step_download_named(context: Context, node: str, mimetype: str, filename: str) -> None:
    """Downloads the last upload; checks its Content-Type and file name."""
    result = context.codex.download(node)
    expect.equal((result.content_type, result.filename), (mimetype, filename),
                 f"node {node} gives the file as",
                 show=lambda got: f'type "{got[0]}" and the file name "{got[1]}"')


@then('downloading it from node {node:Name} gives the type "{mimetype:Text}" and no file name')
def step_download_unnamed(context: Context, node: str, mimetype: str) -> None:
    """Downloads the last upload; checks its Content-Type and a bare attachment."""
    result = context.codex.download(node)
    expect.equal((result.content_type, result.headers.get("Content-Disposition")),
                 (mimetype, "attachment"), f"node {node} gives the file as",
                 show=lambda got: f'type "{got[0]}" with the disposition "{got[1]}"')


@then('downloading it from node {node:Name} is refused with status {status:d} and the message '
      '"{message:Text}"')
def step_download_refused(context: Context, node: str, status: int, message: str) -> None:
    """Downloads the last upload expecting exactly this status and body."""
    world = context.codex
    answer = world.request(node, CidRequest.DOWNLOAD, world.last_upload.cid)
    expect.equal((answer.status, answer.body), (status, message),
                 f"node {node} answered the download with", show=status_and_message)


@when("{user:Name} starts downloading it from node {node:Name} and cancels after {size:Size}")
def step_cancel(context: Context, user: str, node: str, size: int) -> None:
    """Starts a download and closes it once that much arrived; it must be cut short."""
    world = context.codex
    received = world.download_cancelled(node, size, by=user)
    expect.that(received < world.last_upload.content.size,
                f"{world.actor} received the whole file ({plural(received, 'byte')}) before "
                "cancelling; expected the download cut short")


@when("{count:d} people download it from node {node:Name} at the same time")
def step_parallel_downloads(context: Context, count: int, node: str) -> None:
    """That many people download the last upload from the node at once."""
    context.codex.download_concurrently(node, count)


@then("every one of them gets an identical SHA-256")
def step_all_identical(context: Context) -> None:
    """Checks every one of the parallel downloads has the upload's SHA-256."""
    world = context.codex
    all_same_content([(world.last_upload, result) for result in world.downloads],
                     f"of {plural(len(world.downloads), 'download')} of "
                     f"{world.last_upload.describe()}, these came back different:", numbered=True)


# --- identity of content ---------------------------------------------------------------------
@then('the file\'s tree CID is "{tree:Text}"')
def step_tree_cid(context: Context, tree: str) -> None:
    """Fetches the last upload's manifest and checks its tree CID."""
    expect.equal(context.codex.fetch_manifest().manifest.tree_cid, tree, "the file's tree CID is")


@then("the manifest says the dataset is {size:d} bytes in {blocks:Blocks} of {block:d} bytes")
def step_manifest_size(context: Context, size: int, blocks: int, block: int) -> None:
    """Fetches the manifest; checks dataset size, block count and block size."""
    manifest = context.codex.fetch_manifest().manifest
    count = -(-manifest.dataset_size // manifest.block_size)
    expect.equal((manifest.dataset_size, count, manifest.block_size), (size, blocks, block),
                 "the manifest says the dataset is",
                 show=lambda m: f"{plural(m[0], 'byte')} in {plural(m[1], 'block')} of "
                                f"{plural(m[2], 'byte')}")


@then("the CID is a Codex manifest CID")
def step_is_manifest_cid(context: Context) -> None:
    """Checks the last upload's CID is a CIDv1 manifest CID: 52 characters, "zDv…"."""
    text = context.codex.last_upload.cid
    cid = codex_cid.describe_cid(text)
    expect.equal((cid.version, cid.codec, len(text), text[:3]), (1, codex_cid.MANIFEST, 52, "zDv"),
                 f"the CID {text} is", show=cid_form)


@then("its tree CID is a Codex tree CID")
def step_is_tree_cid(context: Context) -> None:
    """Checks the tree CID of the last described file is a CIDv1 of the Codex root codec."""
    item = expect.present(context.codex.last_item, "no answer described the file")
    tree = item.manifest.tree_cid
    cid = codex_cid.describe_cid(tree)
    expect.equal((cid.version, cid.codec), (1, codex_cid.ROOT), f"the tree CID {tree} is",
                 show=lambda form: f"a CIDv{form[0]} of codec {form[1]}")


@then("the CID is the one Codex computes for that content, name and type")
def step_cid_by_rules(context: Context) -> None:
    """Computes the CID from the file, name and type independently; the node's must match."""
    upload = context.codex.last_upload
    expected = manifest_cid_of_file(upload.content.path, upload.filename, upload.mimetype)
    expect.equal(upload.cid, expected, f"node {upload.node} gave {upload.describe()} the CID")


@then("both uploads have the same CID")
@then("all of them get the same CID")
def step_same_cids(context: Context) -> None:
    """Checks all uploads got one and the same CID."""
    cids = sorted({upload.cid for upload in context.codex.uploads})
    expect.matches(len(cids) == 1, f"the {plural(len(context.codex.uploads), 'upload')} got",
                   actual=f"{plural(len(cids), 'CID')}: {listing(cids)}", expected="one CID")


@then("the two uploads have different CIDs")
def step_different_cids(context: Context) -> None:
    """Checks the last two uploads got different CIDs."""
    first, second = context.codex.uploads[-2:]
    expect.that(first.cid != second.cid,
                f"{first.describe()} and {second.describe()} both got the CID {first.cid}; "
                "expected different CIDs")


@then("both manifests have the same tree CID")
def step_same_tree(context: Context) -> None:
    """Fetches the manifests of the last two uploads; their tree CIDs must be equal."""
    world = context.codex
    trees = sorted({world.fetch_manifest(upload=upload).manifest.tree_cid
                    for upload in world.uploads[-2:]})
    expect.matches(len(trees) == 1, "the two manifests have",
                   actual=f"{plural(len(trees), 'tree CID')}: {listing(trees)}",
                   expected="one tree CID")


# --- presence, listing, manifests, deletion --------------------------------------------------
@then("node {node:Name} holds the file")
@then("node {node:Name} still holds the file")
def step_holds(context: Context, node: str) -> None:
    """Checks the node holds the last upload (GET /data/{cid}/exists)."""
    world = context.codex
    expect.that(world.holds(node, world.last_upload.cid),
                f"node {node} does not hold {world.last_upload.describe()}")


@then("node {node:Name} does not hold the file")
@then("node {node:Name} does not hold that file")
def step_not_holds(context: Context, node: str) -> None:
    """Checks the node does not hold the file (the last upload, or one nobody stored)."""
    world = context.codex
    expect.that(not world.holds(node, world.file_cid()),
                f"node {node} holds the file {world.file_cid()}; expected it not to")


@then("node {node:Name} does not report the file's tree CID as held")
def step_tree_not_held(context: Context, node: str) -> None:
    """Checks the node does not report the manifest's tree CID as held."""
    world = context.codex
    tree = world.fetch_manifest(node).manifest.tree_cid
    expect.that(not world.holds(node, tree),
                f"node {node} reports the tree CID {tree} as held; expected it not to")


@then('node {node:Name} lists the file with the name "{filename:Text}"')
def step_lists(context: Context, node: str, filename: str) -> None:
    """Checks the node lists the last upload with that file name."""
    world = context.codex
    listed = {item.cid: item.manifest.filename for item in world.listed(node)}
    upload = world.last_upload
    expect.that(upload.cid in listed, f"node {node} does not list {upload.describe()} (it lists "
                f"{plural(len(listed), 'file')})")
    expect.equal(listed[upload.cid], filename, f"node {node} lists {upload.describe()} with",
                 show=lambda name: f'the name "{name}"' if name else "no name")


@then("node {node:Name} no longer lists the file")
def step_not_listed(context: Context, node: str) -> None:
    """Checks the node's list of files no longer holds the last upload."""
    world = context.codex
    listed = [item.cid for item in world.listed(node)]
    cid = world.last_upload.cid
    expect.that(cid not in listed, f"node {node} still lists the file {cid} (among "
                f"{plural(len(listed), 'file')}); expected it gone")


@then("node {node:Name} gives this manifest for the file:")
def step_manifest_table(context: Context, node: str) -> None:
    """Fetches the node's manifest of the last upload; compares the table's fields."""
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
    table = expect.present(context.table, "this step takes a table of the manifest's fields")
    expected = {row["field"]: row["value"] for row in table}
    expect.equal(item.cid, world.last_upload.cid, f"node {node} gave the manifest of")
    expect.equal({key: actual[key] for key in expected}, expected,
                 f"node {node}'s manifest of {world.last_upload.describe()} says",
                 show=lambda fields: listing(f"{key} {value}" for key, value in fields.items()))


@when("{user:Name} asks node {node:Name} to fetch the file from the network in the background")
def step_trigger(context: Context, user: str, node: str) -> None:
    """Asks the node to fetch the last upload from the network (POST …/network)."""
    context.codex.fetch_in_background(node, by=user)


@then('the answer describes the file with the name "{filename:Text}" and {size:d} bytes')
def step_answer_manifest(context: Context, filename: str, size: int) -> None:
    """Checks the last answer describes the last upload with that name and size."""
    item = expect.present(context.codex.last_item, "no answer described a file")
    expect.equal((item.cid, item.manifest.filename, item.manifest.dataset_size),
                 (context.codex.last_upload.cid, filename, size), "the answer describes",
                 show=lambda got: f'the file {got[0]} named "{got[1]}" of {plural(got[2], "byte")}')


@when("{user:Name} deletes the file from node {node:Name}")
@when("{user:Name} deletes the file from node {node:Name} again")
def step_delete(context: Context, user: str, node: str) -> None:
    """Deletes the last upload from the node (DELETE /data/{cid})."""
    context.codex.delete(node, by=user)


@when("{user:Name} deletes a file node {node:Name} never stored")
def step_delete_unknown(context: Context, user: str, node: str) -> None:
    """Deletes a well-formed CID the node never stored."""
    context.codex.delete_unknown(node, by=user)


@when("{user:Name} tries to delete the first block of the file from node {node:Name}")
def step_delete_block(context: Context, user: str, node: str) -> None:
    """Asks the node to delete the first block of the last upload; the answer is kept."""
    world = context.codex
    world.request(node, CidRequest.DELETE, world.first_block_cid(), by=user)


# --- raw answers -----------------------------------------------------------------------------
@when('{user:Name} asks node {node:Name} to {action:CidRequest} the CID "{cid:Text}"')
def step_ask_action(context: Context, user: str, node: str, action: CidRequest, cid: str) -> None:
    """Makes that API call with the CID as given; the raw answer is kept for a check."""
    context.codex.request(node, action, cid, by=user)


@when("{user:Name} asks node {node:Name} to download a file nobody stored")
def step_ask_unknown(context: Context, user: str, node: str) -> None:
    """Asks the node to download a well-formed CID nobody stored; the answer is kept."""
    world = context.codex
    world.request(node, CidRequest.DOWNLOAD, world.unknown_manifest_cid(), by=user)


@when("{user:Name} asks node {node:Name} to download the first block of her file as a file")
def step_ask_block(context: Context, user: str, node: str) -> None:
    """Asks the node to download the first block CID of her file as a file."""
    world = context.codex
    world.request(node, CidRequest.DOWNLOAD, world.first_block_cid(world.last_upload_by(user)),
                  by=user)


@when("{user:Name} calls a part of the API that does not exist on node {node:Name}")
def step_unknown_route(context: Context, user: str, node: str) -> None:
    """Calls a route the API does not have; the raw answer is kept for a check."""
    context.codex.call_unknown_route(node, by=user)


@then('node {node:Name} answers {status:d} with the message "{message:Text}"')
def step_answer(context: Context, node: str, status: int, message: str) -> None:
    """Checks the last answer's node, status and body."""
    answer = expect.present(context.codex.last_answer, "no request was made")
    expect.equal((answer.node, answer.status, answer.body), (node, status, message),
                 "the answer came from", show=node_answer)


@then("node {node:Name} answers {status:d} with an empty body")
def step_answer_empty(context: Context, node: str, status: int) -> None:
    """Checks the last answer's node and status, and that its body is empty."""
    answer = expect.present(context.codex.last_answer, "no request was made")
    expect.equal((answer.node, answer.status, answer.body), (node, status, ""),
                 "the answer came from", show=node_answer)


# --- space -----------------------------------------------------------------------------------
@given("node {node:Name}'s storage use is noted")
def step_note_space(context: Context, node: str) -> None:
    """Notes the node's storage use (blocks and bytes) for a later comparison."""
    context.codex.note_space(node)


@given('the text "{text:Text}" is not stored on node {node:Name}')
def step_text_absent(context: Context, text: str, node: str) -> None:
    """Makes sure the node does not hold the text (deleting what is not there is fine)."""
    world = context.codex
    world.delete_text(node, manifest_cid_of_file(world.text_file(text).path))


@then("node {node:Name}'s storage use grew by {blocks:Blocks} and {size:Number} bytes")
def step_space_grew(context: Context, node: str, blocks: int, size: int) -> None:
    """Compares the node's storage use with the noted one: blocks and bytes added."""
    world = context.codex
    before = expect.present(world.noted_space, "storage use was not noted first")
    after = world.space(node)
    expect.equal((after.total_blocks - before.total_blocks,
                  after.quota_used_bytes - before.quota_used_bytes), (blocks, size),
                 f"node {node}'s storage use grew by", show=blocks_and_bytes)


@then("node {node:Name}'s storage use is back where it was")
def step_space_back(context: Context, node: str) -> None:
    """Checks the node's storage use equals the noted one."""
    world = context.codex
    before = expect.present(world.noted_space, "storage use was not noted first")
    expect.equal(world.space(node), before, f"node {node}'s storage use is", show=space)


@then("node {node:Name} reports a storage quota of {size:d} bytes")
def step_quota(context: Context, node: str, size: int) -> None:
    """Checks the storage quota the node reports (GET /space)."""
    expect.equal(context.codex.space(node).quota_max_bytes, size,
                 f"node {node} reports a storage quota of", show=lambda quota: plural(quota, "byte"))


@then("node {node:Name} stores {blocks:Blocks} using {size:d} bytes")
def step_stores(context: Context, node: str, blocks: int, size: int) -> None:
    """Checks the blocks and bytes the node reports as used (GET /space)."""
    space = context.codex.space(node)
    expect.equal((space.total_blocks, space.quota_used_bytes), (blocks, size),
                 f"node {node} stores", show=blocks_and_bytes)


# --- command-line tools ----------------------------------------------------------------------
@given('a {size:Size} file "{name:Text}" on the QA engineer\'s disk')
def step_disk_file(context: Context, size: int, name: str) -> None:
    """Writes a file of random bytes of that size in the QA engineer's folder."""
    context.codex.write_qa_file(name, size)


@when('the QA engineer uploads "{name:Text}" to node {node:Name} with codex-upload')
def step_cli_upload(context: Context, name: str, node: str) -> None:
    """Runs codex-upload on the file against the node; keeps its exit code and output."""
    context.codex.run_codex_upload(node, name)


@when('the QA engineer downloads that CID from node {node:Name} into "{name:Text}" with codex-download')
def step_cli_download_that(context: Context, node: str, name: str) -> None:
    """Runs codex-download with the CID codex-upload printed, into that file."""
    world = context.codex
    world.run_codex_download(node, world.cid_printed(), name)


@when('the QA engineer downloads the CID "{cid:Text}" from node {node:Name} into "{name:Text}" '
      "with codex-download")
def step_cli_download(context: Context, cid: str, node: str, name: str) -> None:
    """Runs codex-download with that CID against the node, into that file."""
    context.codex.run_codex_download(node, cid, name)


@when("the QA engineer runs codex-download against node {node:Name} without a CID")
def step_cli_no_cid(context: Context, node: str) -> None:
    """Runs codex-download against the node without -cid."""
    context.codex.run_codex_download(node)


@then('the tool succeeds and prints "{line:Text}"')
def step_tool_ok(context: Context, line: str) -> None:
    """Checks the last tool exited with 0 and printed this line on stdout."""
    tool_outcome(context.codex.last_tool_run(), 0, line, "stdout")


@then("the tool printed the CID of the uploaded file")
def step_tool_cid(context: Context) -> None:
    """Reads the CID the tool printed; the node must hold it."""
    world = context.codex
    cid = world.note_printed_cid()
    node = expect.present(world.tool_node, "no tool talked to a node")
    expect.that(world.holds(node, cid), f"node {node} does not hold the CID the tool printed "
                f"({cid})")


@then('the tool fails with "{text:Text}"')
def step_tool_fails(context: Context, text: str) -> None:
    """Checks the last tool exited with 1 and printed this text on stderr."""
    tool_outcome(context.codex.last_tool_run(), 1, text, "stderr")


@then('"{copy:Text}" on the QA engineer\'s disk is identical to "{original:Text}"')
def step_disk_identical(context: Context, copy: str, original: str) -> None:
    """Compares the two files on the QA engineer's disk byte for byte."""
    world = context.codex
    expect.equal(world.qa_file(copy), world.qa_file(original),
                 f'on the QA engineer\'s disk "{copy}" is', show=disk_file)


@then('there is no "{name:Text}" on the QA engineer\'s disk')
def step_no_file(context: Context, name: str) -> None:
    """Checks the file is not on the QA engineer's disk."""
    expect.that(context.codex.qa_file(name) is None,
                f'there is a "{name}" on the QA engineer\'s disk; expected none')
