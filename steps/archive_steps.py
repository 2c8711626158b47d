"""Steps for community history archives. The work happens in support.archive."""

from __future__ import annotations

import re
import time

from behave import given, step, then, when
from behave.runner import Context
from hamcrest import assert_that, equal_to, has_item, is_not

from support import step_types  # noqa: F401 - registers the parse types
from support.archive.world import at, clock_of
from support.waiting import eventually

_CHANNELS = re.compile(r"#[\w-]+")


def _setup_community(context: Context, owner: str, community: str, channels: str,
                     encrypted: bool) -> None:
    world = context.archive
    if not world.nodes.people:
        world.nodes.start(["Alice", "Bob"])
    client = world.client(owner)
    created = client.call("wakuext_createCommunity", name=community, encrypted=encrypted)
    world.communities[community] = created["id"]
    world.owners[community] = owner
    for channel in _CHANNELS.findall(channels):
        chat = client.call("wakuext_createCommunityChat", communityId=created["id"],
                           name=channel[1:])
        world.channels[channel] = chat["id"]


@given('{owner:Name} owns the community "{community:Text}" with {channels}')
def step_owns(context: Context, owner: str, community: str, channels: str) -> None:
    _setup_community(context, owner, community, channels, encrypted=False)


@given('{owner:Name} owns the encrypted community "{community:Text}" with {channels}')
def step_owns_encrypted(context: Context, owner: str, community: str, channels: str) -> None:
    _setup_community(context, owner, community, channels, encrypted=True)


@given('{member:Name} has joined "{community:Text}"')
def step_joined(context: Context, member: str, community: str) -> None:
    world = context.archive
    world.client(member).call("wakuext_requestToJoinCommunity",
                              communityId=world.community_of(community))


@given('{member:Name} has joined "{community:Text}" and holds the community key')
def step_joined_with_key(context: Context, member: str, community: str) -> None:
    step_joined(context, member, community)
    step_give_key(context, context.archive.owners[community], member, community)


@when('{owner:Name} gives {member:Name} the key of "{community:Text}"')
def step_give_key(context: Context, owner: str, member: str, community: str) -> None:
    world = context.archive
    world.client(owner).call("wakuext_shareCommunityKey",
                             communityId=world.community_of(community),
                             memberUrl=world.nodes.person(member).url)


@given('{owner:Name} says "{text:Text}" in {channel} at {clock}')
@when('{owner:Name} says "{text:Text}" in {channel} at {clock}')
def step_says(context: Context, owner: str, text: str, channel: str, clock: str) -> None:
    world = context.archive
    world.client(owner).call("wakuext_sendChatMessage", chatId=world.channel(channel),
                             text=text, timestamp=at(clock))


@step("{owner:Name} archives the history of {channels} from {start} to {end} in "
      "{length:d}-{unit} partitions")
def step_archive(context: Context, owner: str, channels: str, start: str, end: str,
                 length: int, unit: str) -> None:
    world = context.archive
    seconds = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}[unit]
    chat_ids = [world.channel(c) for c in _CHANNELS.findall(channels)]
    community = next(name for name, cid in world.communities.items()
                     if all(chat.startswith(cid) for chat in chat_ids))
    description = world.client(owner).call("wakuext_describeCommunity",
                                           communityId=world.community_of(community))
    world.created = world.client(owner).call(
        "wakuext_createHistoryArchiveCodexFromDB", communityId=world.community_of(community),
        chatIds=chat_ids, start=at(start), end=at(end), partition=length * seconds,
        encrypt=description["encrypted"])


@then("exactly one archive is created")
def step_one_archive(context: Context) -> None:
    assert_that(len(context.archive.created), equal_to(1))


@then("{count:d} archives are created")
def step_archives_created(context: Context, count: int) -> None:
    assert_that(len(context.archive.created), equal_to(count))


@then("no archive is created")
def step_no_archive(context: Context) -> None:
    assert_that(context.archive.created, equal_to([]))


@then('{owner:Name} is told that no archives were created for "{community:Text}"')
def step_no_archive_signal(context: Context, owner: str, community: str) -> None:
    world = context.archive
    community_id = world.community_of(community)
    world.client(owner).wait_for_signal(
        "community.noHistoryArchivesCreated", context.settings.timeout(5),
        lambda event: event.get("communityId") == community_id)
    assert_that(world.client(owner).signal_names(),
                is_not(has_item("community.historyArchivesCreated")))


@then('the archives of "{community:Text}" cover these windows:')
def step_windows(context: Context, community: str) -> None:
    world = context.archive
    views = world.archives(world.owners[community], community)
    actual = [{"from": clock_of(v.start), "to": clock_of(v.end), "messages": str(v.messages)}
              for v in views]
    expected = [dict(row.as_dict()) for row in context.table]
    assert_that(actual, equal_to(expected))


@step('{owner:Name} publishes the archive index of "{community:Text}"')
def step_publish(context: Context, owner: str, community: str) -> None:
    world = context.archive
    world.client(owner).call("wakuext_announceArchiveIndex",
                             communityId=world.community_of(community))


@then('{member:Name} sees "{text:Text}" in {channel} after importing within {seconds:d} seconds')
def step_sees(context: Context, member: str, text: str, channel: str, seconds: int) -> None:
    world = context.archive

    def visible() -> None:
        texts = [m["text"] for m in world.client(member).call("wakuext_chatMessages",
                                                              chatId=world.channel(channel))]
        assert text in texts, f"{member} sees {texts} in {channel}"

    eventually(visible, context.settings.timeout(seconds), interval=0.2)


@then('{member:Name} does not see "{text:Text}" in {channel}')
def step_not_sees(context: Context, member: str, text: str, channel: str) -> None:
    world = context.archive
    texts = [m["text"] for m in world.client(member).call("wakuext_chatMessages",
                                                          chatId=world.channel(channel))]
    assert_that(texts, is_not(has_item(text)))


@step('{member:Name} has imported {count:d} archives of "{community:Text}" within '
      "{seconds:d} seconds")
def step_imported(context: Context, member: str, count: int, community: str,
                  seconds: int) -> None:
    world = context.archive

    def imported() -> None:
        ids = world.client(member).call("wakuext_archiveIDs",
                                        communityId=world.community_of(community))
        assert sorted(ids.values()) == [True] * count, ids

    eventually(imported, context.settings.timeout(seconds), interval=0.2)


@then('for {seconds:d} seconds {member:Name} imports no archive of "{community:Text}"')
def step_cannot_open(context: Context, seconds: int, member: str, community: str) -> None:
    world = context.archive
    community_id = world.community_of(community)
    deadline = time.monotonic() + context.settings.timeout(seconds)
    while time.monotonic() < deadline:  # an observation window: it must stay true throughout
        ids = world.client(member).call("wakuext_archiveIDs", communityId=community_id)
        assert_that([imported for imported in ids.values() if imported], equal_to([]))
        time.sleep(0.2)
    assert_that(world.client(member).signal_names(),
                is_not(has_item("community.importingHistoryArchiveMessages")))


@then('{member:Name} downloads only the new archive of "{community:Text}"')
def step_only_new(context: Context, member: str, community: str) -> None:
    world = context.archive
    community_id = world.community_of(community)
    starts = [s for s in world.client(member).signals
              if s.type == "community.downloadingHistoryArchivesStarted"
              and s.event.get("communityId") == community_id]
    assert_that([(s.event["total"], s.event["downloaded"]) for s in starts][-1:],
                equal_to([(2, 1)]))


@given("{owner:Name} says a {size:Size} message in {channel} at {clock}")
def step_says_big(context: Context, owner: str, size: int, channel: str, clock: str) -> None:
    world = context.archive
    world.client(owner).call("wakuext_sendChatMessage", chatId=world.channel(channel),
                             text="x" * size, timestamp=at(clock))


@given('the archive holding "{text:Text}" is lost from {owner:Name}\'s Codex node')
def step_archive_lost(context: Context, text: str, owner: str) -> None:
    world = context.archive
    community = next(name for name, person in world.owners.items() if person == owner)
    view = next(v for v in world.archives(owner, community) if text in v.texts)
    world.codex_of(owner).delete(view.cid)


@then('{member:Name} is told that {failed:d} of {total:d} archives of "{community:Text}" could '
      "not be downloaded within {seconds:d} seconds")
def step_download_failures(context: Context, member: str, failed: int, total: int,
                           community: str, seconds: int) -> None:
    world = context.archive
    client = world.client(member)
    community_id = world.community_of(community)
    started = client.wait_for_signal("community.downloadingHistoryArchivesStarted",
                                     context.settings.timeout(seconds),
                                     lambda e: e.get("communityId") == community_id)
    assert_that(started.event["total"], equal_to(total))
    client.wait_for_signal("community.downloadingHistoryArchivesFinished",
                           context.settings.timeout(seconds),
                           lambda e: e.get("communityId") == community_id)
    failures = [s for s in client.signals if s.type == "community.historyArchiveDownloadFailed"
                and s.event.get("communityId") == community_id]
    assert_that(len(failures), equal_to(failed))


@when('{member:Name} cancels the archive download of "{community:Text}"')
def step_cancel_download(context: Context, member: str, community: str) -> None:
    world = context.archive
    world.client(member).call("wakuext_cancelArchiveDownload",
                              communityId=world.community_of(community))


@then('{member:Name} keeps no partial index file for "{community:Text}"')
def step_no_partial(context: Context, member: str, community: str) -> None:
    files = context.archive.member_files(member, community)
    assert_that([name for name in files if name.endswith(".tmp")], equal_to([]))


@then('{member:Name} has marked no archive of "{community:Text}" as imported')
def step_none_imported(context: Context, member: str, community: str) -> None:
    world = context.archive
    ids = world.client(member).call("wakuext_archiveIDs", communityId=world.community_of(community))
    assert_that([i for i, imported in ids.items() if imported], equal_to([]))
