"""Steps for community history archives. The work happens in support.archive (the world)."""

from __future__ import annotations

from behave import given, step, then, when
from behave.runner import Context
from hamcrest import assert_that, equal_to

from support import step_types  # noqa: F401 - registers the parse types
from support.archive.world import ArchiveWorld, clock_of


def _world(context: Context) -> ArchiveWorld:
    return context.archive


# --- people and communities -----------------------------------------------------------------------
@given('{owner:Name} owns the community "{community:Text}" with a {channel:Channel} channel')
def step_owns_one(context: Context, owner: str, community: str, channel: str) -> None:
    _world(context).create_community(owner, community, [channel], encrypted=False)


@given('{owner:Name} owns the community "{community:Text}" with the channels '
       "{channels:Channels}")
def step_owns(context: Context, owner: str, community: str, channels: list[str]) -> None:
    _world(context).create_community(owner, community, channels, encrypted=False)


@given('{owner:Name} owns the community "{community:Text}"')
def step_owns_plain(context: Context, owner: str, community: str) -> None:
    _world(context).create_community(owner, community, (), encrypted=False)


@given('{owner:Name} owns the encrypted community "{community:Text}" with a {channel:Channel} '
       "channel")
def step_owns_encrypted(context: Context, owner: str, community: str, channel: str) -> None:
    _world(context).create_community(owner, community, [channel], encrypted=True)


@given('{member:Name} has joined "{community:Text}"')
def step_joined(context: Context, member: str, community: str) -> None:
    _world(context).join(member, community)


@when('{member:Name} joins "{community:Text}"')
def step_joins(context: Context, member: str, community: str) -> None:
    _world(context).join(member, community)


@given('{member:Name} has joined "{community:Text}" and holds the community key')
def step_joined_with_key(context: Context, member: str, community: str) -> None:
    world = _world(context)
    world.grant_token(member, community)
    world.join(member, community)


@when('{owner:Name} gives {member:Name} the key of "{community:Text}"')
def step_give_key(context: Context, owner: str, member: str, community: str) -> None:
    _world(context).give_key(owner, member, community)


@step("{owner:Name}'s node archives every {seconds:d} seconds")
def step_interval(context: Context, owner: str, seconds: int) -> None:
    _world(context).set_archive_interval(owner, seconds)


@step("{member:Name} logs out")
def step_logs_out(context: Context, member: str) -> None:
    _world(context).log_out(member)


@when('{member:Name} logs out while the history of "{community:Text}" is on its way')
def step_logs_out_downloading(context: Context, member: str, community: str) -> None:
    world = _world(context)
    world.wait_until_fetching(member, community)
    world.log_out(member)


@step("{member:Name} logs back in")
def step_logs_in(context: Context, member: str) -> None:
    _world(context).log_in(member)


# --- messages -------------------------------------------------------------------------------------
@given('{owner:Name} says "{text:Text}" in {channel:Channel} at {clock:Clock}')
@when('{owner:Name} says "{text:Text}" in {channel:Channel} at {clock:Clock}')
def step_says_at(context: Context, owner: str, text: str, channel: str, clock: float) -> None:
    _world(context).said_in_the_past(owner, text, channel, clock)


@given("{owner:Name} says a {size:Size} message in {channel:Channel} at {clock:Clock}")
def step_says_big(context: Context, owner: str, size: int, channel: str, clock: float) -> None:
    _world(context).said_in_the_past(owner, "x" * size, channel, clock)


@step('{owner:Name} says "{text:Text}" in {channel:Channel}')
def step_says(context: Context, owner: str, text: str, channel: str) -> None:
    _world(context).say(owner, text, channel)


@then('{member:Name} sees "{text:Text}" in {channel:Channel} after importing within {seconds:d} '
      "seconds")
def step_sees(context: Context, member: str, text: str, channel: str, seconds: int) -> None:
    _world(context).wait_until_seen_after_import(member, text, channel, seconds)


@then('{member:Name} does not see "{text:Text}" in {channel:Channel}')
def step_not_sees(context: Context, member: str, text: str, channel: str) -> None:
    texts = _world(context).texts(member, channel)
    assert text not in texts, f"{member} sees {text!r} in {channel} (all: {texts})"


# --- archives on demand (@use.with_explicit_archive_window=true) ---------------------------------
@step("{owner:Name} archives the history of {channels:Channels} from {start:Clock} to "
      "{end:Clock} in {partition:Partition} partitions")
def step_archive(context: Context, owner: str, channels: list[str], start: float, end: float,
                 partition: int) -> None:
    _world(context).archive_window(owner, channels, start, end, partition)


@then("exactly one archive is created")
def step_one_archive(context: Context) -> None:
    created = _world(context).created
    assert len(created) == 1, f"{len(created)} archives were created: {created}"


@then("{count:d} archives are created")
def step_archives_created(context: Context, count: int) -> None:
    created = _world(context).created
    assert len(created) == count, f"{len(created)} archives were created: {created}"


@then("no archive is created")
def step_no_archive(context: Context) -> None:
    created = _world(context).created
    assert created == [], f"{len(created)} archives were created: {created}"


@then('{owner:Name} is told that no archives were created for "{community:Text}"')
def step_no_archive_signal(context: Context, owner: str, community: str) -> None:
    _world(context).wait_until_told_none_created(owner, community)


@then('the archives of "{community:Text}" cover these windows:')
def step_windows(context: Context, community: str) -> None:
    world = _world(context)
    views = world.archives(world.community(community).owner, community)
    actual = [{"from": clock_of(v.start), "to": clock_of(v.end), "messages": str(v.messages)}
              for v in views]
    assert context.table is not None, "this step takes a table of archive windows"
    expected = [dict(row.as_dict()) for row in context.table]
    assert_that(actual, equal_to(expected))


@step('{owner:Name} publishes the archive index of "{community:Text}"')
def step_publish(context: Context, owner: str, community: str) -> None:
    _world(context).publish(owner, community)


@when('{owner:Name} publishes the archive index of "{community:Text}" again')
def step_publish_again(context: Context, owner: str, community: str) -> None:
    _world(context).publish_again(owner, community)


@step('{member:Name} has imported {count:d} archives of "{community:Text}" within '
      "{seconds:d} seconds")
def step_imported(context: Context, member: str, count: int, community: str,
                  seconds: int) -> None:
    _world(context).wait_until_imported(member, count, community, seconds)


@then('for {seconds:d} seconds {member:Name} imports no archive of "{community:Text}"')
def step_cannot_open(context: Context, seconds: int, member: str, community: str) -> None:
    world = _world(context)
    world.expect_no_import(member, community, seconds)
    _, done = world.imported_ids(member, community)
    assert done == [], f"{member} has imported archives of {community!r}: {done}"


@then('{member:Name} downloads only the new archive of "{community:Text}"')
def step_only_new(context: Context, member: str, community: str) -> None:
    downloads = _world(context).downloads_since_publish(member, community)
    assert downloads == 1, (f"{member} downloaded {downloads} archives of {community!r} after "
                            f"the last announcement, not only the new one")


@given('the archive holding "{text:Text}" is lost from {owner:Name}\'s Codex node')
def step_archive_lost(context: Context, text: str, owner: str) -> None:
    _world(context).lose_archive_holding(text, owner)


@then('{member:Name} finishes fetching the history of "{community:Text}" with {got:d} of its '
      "{total:d} archives within {seconds:d} seconds")
def step_fetch_finished(context: Context, member: str, community: str, got: int, total: int,
                        seconds: int) -> None:
    world = _world(context)
    assert len(world.created) == total, f"the index of {community!r} lists {len(world.created)}"
    world.wait_until_fetch_finished(member, community, seconds)
    downloaded, _ = world.imported_ids(member, community)
    assert len(downloaded) == got, (f"{member} fetched {len(downloaded)} of the {total} archives "
                                    f"of {community!r}, not {got}")


@then('{member:Name} keeps no partial index file for "{community:Text}"')
def step_no_partial(context: Context, member: str, community: str) -> None:
    world = _world(context)
    world.community(community)
    assert_that(world.partial_files(member), equal_to([]),
                f"files a download left half-written on {member}'s node")


@then('{member:Name} has marked no archive of "{community:Text}" as imported')
def step_none_imported(context: Context, member: str, community: str) -> None:
    _, done = _world(context).imported_ids(member, community)
    assert done == [], f"{member} has marked archives of {community!r} as imported: {done}"


# --- the periodic archive loop --------------------------------------------------------------------
@step('{owner:Name}\'s node archives the history of "{community:Text}" within {seconds:d} '
      "seconds")
def step_archived(context: Context, owner: str, community: str, seconds: int) -> None:
    _world(context).wait_until_archived(owner, community, seconds)


@then('that archive came no sooner than one interval after "{community:Text}" was created')
def step_first_tick(context: Context, community: str) -> None:
    world = _world(context)
    owner = world.community(community).owner
    interval = world.archive_intervals[owner]
    delay = world.first_archive_delay(community)
    assert delay >= interval, (
        f"{owner}'s node archived {community!r} {delay:.1f} s after it was created; with an "
        f"interval of {interval} s the first archive comes one interval after the start")


@given("{owner:Name}'s storage node stops answering")
def step_storage_paused(context: Context, owner: str) -> None:
    _world(context).pause_storage(owner)


@when("{owner:Name}'s storage node answers again")
def step_storage_resumed(context: Context, owner: str) -> None:
    _world(context).resume_storage(owner)


@then('for {seconds:d} seconds {owner:Name}\'s node archives nothing of "{community:Text}"')
def step_archives_nothing(context: Context, seconds: int, owner: str, community: str) -> None:
    _world(context).expect_archives_nothing(owner, community, seconds)


@then('{owner:Name} holds the archive index of "{community:Text}"')
def step_holds_index(context: Context, owner: str, community: str) -> None:
    assert _world(context).holds_archive_index(owner, community), \
        f"{owner}'s node holds no archive index of {community!r}"


@step('{owner:Name} holds no archive of "{community:Text}"')
def step_holds_no_index(context: Context, owner: str, community: str) -> None:
    assert not _world(context).holds_archive_index(owner, community), \
        f"{owner}'s node holds an archive index of {community!r}"


@then('{member:Name} has downloaded {count:ArchiveCount} of "{community:Text}" within '
      "{seconds:d} seconds")
def step_downloaded(context: Context, member: str, count: int, community: str,
                    seconds: int) -> None:
    _world(context).wait_until_downloaded(member, count, community, seconds)
