"""Steps for community history archives. The work happens in support.archive (the world)."""

from __future__ import annotations

from behave import given, step, then, when
from behave.runner import Context

from support import expect, step_types  # noqa: F401 - step_types registers the parse types
from support.archive.expectations import archives, windows
from support.archive.world import ArchiveWorld, clock_of
from support.expect import listing, plural, quoted, seconds


def _world(context: Context) -> ArchiveWorld:
    return context.archive


# --- people and communities -----------------------------------------------------------------------
@given('{owner:Name} owns the community "{community:Text}" with a {channel:Channel} channel')
def step_owns_one(context: Context, owner: str, community: str, channel: str) -> None:
    """Creates the community on the owner's status-go node, with one channel, unencrypted."""
    _world(context).create_community(owner, community, [channel], encrypted=False)


@given('{owner:Name} owns the community "{community:Text}" with the channels '
       "{channels:Channels}")
def step_owns(context: Context, owner: str, community: str, channels: list[str]) -> None:
    """Creates the community on the owner's node with these channels, unencrypted."""
    _world(context).create_community(owner, community, channels, encrypted=False)


@given('{owner:Name} owns the community "{community:Text}"')
def step_owns_plain(context: Context, owner: str, community: str) -> None:
    """Creates the community on the owner's node with no channel of its own."""
    _world(context).create_community(owner, community, (), encrypted=False)


@given('{owner:Name} owns the encrypted community "{community:Text}" with a {channel:Channel} '
       "channel")
def step_owns_encrypted(context: Context, owner: str, community: str, channel: str) -> None:
    """Creates a token-gated (encrypted) community: only key holders can open its archives."""
    _world(context).create_community(owner, community, [channel], encrypted=True)


@given('{member:Name} has joined "{community:Text}"')
def step_joined(context: Context, member: str, community: str) -> None:
    """Fetches the community, asks to join and waits until the member's node is joined."""
    _world(context).join(member, community)


@when('{member:Name} joins "{community:Text}"')
def step_joins(context: Context, member: str, community: str) -> None:
    """Fetches the community, asks to join and waits until the member's node is joined."""
    _world(context).join(member, community)


@given('{member:Name} has joined "{community:Text}" and holds the community key')
def step_joined_with_key(context: Context, member: str, community: str) -> None:
    """The member's address holds the community's token (emulated chain), then it joins."""
    world = _world(context)
    world.grant_token(member, community)
    world.join(member, community)


@when('{owner:Name} gives {member:Name} the key of "{community:Text}"')
def step_give_key(context: Context, owner: str, member: str, community: str) -> None:
    """The owner grants the member the community key after the fact."""
    _world(context).give_key(owner, member, community)


@step("{owner:Name}'s node archives every {seconds:d} seconds")
def step_interval(context: Context, owner: str, seconds: int) -> None:
    """Sets how often the owner's node runs its periodic archive loop."""
    _world(context).set_archive_interval(owner, seconds)


@step("{member:Name} logs out")
def step_logs_out(context: Context, member: str) -> None:
    """Logs the member's account out of its node (the node keeps running)."""
    _world(context).log_out(member)


@when('{member:Name} logs out while the history of "{community:Text}" is on its way')
def step_logs_out_downloading(context: Context, member: str, community: str) -> None:
    """Waits until the member's node is fetching the history, then logs it out mid-way."""
    world = _world(context)
    world.wait_until_fetching(member, community)
    world.log_out(member)


@step("{member:Name} logs back in")
def step_logs_in(context: Context, member: str) -> None:
    """Logs the member's account back in to the same node and data folder."""
    _world(context).log_in(member)


# --- messages -------------------------------------------------------------------------------------
@given('{owner:Name} says "{text:Text}" in {channel:Channel} at {clock:Clock}')
@when('{owner:Name} says "{text:Text}" in {channel:Channel} at {clock:Clock}')
def step_says_at(context: Context, owner: str, text: str, channel: str, clock: float) -> None:
    """Stores a message sent at that time of the scenario day (the past, not the clock now)."""
    _world(context).said_in_the_past(owner, text, channel, clock)


@given("{owner:Name} says a {size:Size} message in {channel:Channel} at {clock:Clock}")
def step_says_big(context: Context, owner: str, size: int, channel: str, clock: float) -> None:
    """Stores a message of that many bytes, sent at that time of the scenario day."""
    _world(context).said_in_the_past(owner, "x" * size, channel, clock)


@step('{owner:Name} says "{text:Text}" in {channel:Channel}')
def step_says(context: Context, owner: str, text: str, channel: str) -> None:
    """Sends a message now, through the owner's node."""
    _world(context).say(owner, text, channel)


@then('{member:Name} sees "{text:Text}" in {channel:Channel} after importing within {seconds:d} '
      "seconds")
def step_sees(context: Context, member: str, text: str, channel: str, seconds: int) -> None:
    """Waits (within the budget) until the member's node imports archives and shows the text."""
    _world(context).wait_until_seen_after_import(member, text, channel, seconds)


@then('{member:Name} does not see "{text:Text}" in {channel:Channel}')
def step_not_sees(context: Context, member: str, text: str, channel: str) -> None:
    """Checks the member's node shows no message with that text in the channel now."""
    texts = _world(context).texts(member, channel)
    expect.that(text not in texts, f'{member} sees "{text}" in {channel} (among {quoted(texts)}); '
                "expected it not there")


# --- archives on demand (@use.with_explicit_archive_window=true) ---------------------------------
@step("{owner:Name} archives the history of {channels:Channels} from {start:Clock} to "
      "{end:Clock} in {partition:Partition} partitions")
def step_archive(context: Context, owner: str, channels: list[str], start: float, end: float,
                 partition: int) -> None:
    """Asks the owner's node to archive that window of history, cut into partitions."""
    _world(context).archive_window(owner, channels, start, end, partition)


@then("exactly one archive is created")
def step_one_archive(context: Context) -> None:
    """Checks the last archiving created exactly one archive."""
    _created(context, 1)


@then("{count:d} archives are created")
def step_archives_created(context: Context, count: int) -> None:
    """Checks the last archiving created exactly that many archives."""
    _created(context, count)


def _created(context: Context, count: int) -> None:
    created = _world(context).created
    expect.matches(len(created) == count, "the owner's node created",
                   actual=f"{archives(len(created))} ({listing(created)})",
                   expected=archives(count))


@then("no archive is created")
def step_no_archive(context: Context) -> None:
    """Checks the last archiving created no archive at all."""
    created = _world(context).created
    expect.none_of(created, f"{plural(len(created), 'archive was', 'archives were')} created:")


@then('{owner:Name} is told that no archives were created for "{community:Text}"')
def step_no_archive_signal(context: Context, owner: str, community: str) -> None:
    """Waits for the owner's node to signal that no archive was created for the community."""
    _world(context).wait_until_told_none_created(owner, community)


@then('the archives of "{community:Text}" cover these windows:')
def step_windows(context: Context, community: str) -> None:
    """Compares the community's archives (from, to, message count) with the table, in order."""
    world = _world(context)
    views = world.archives(world.community(community).owner, community)
    actual = [{"from": clock_of(v.start), "to": clock_of(v.end), "messages": str(v.messages)}
              for v in views]
    table = expect.present(context.table, "this step takes a table of archive windows")
    expected = [dict(row.as_dict()) for row in table]
    expect.equal(actual, expected, f'the archives of "{community}" cover', show=windows)


@step('{owner:Name} publishes the archive index of "{community:Text}"')
def step_publish(context: Context, owner: str, community: str) -> None:
    """The owner's node publishes (seeds) the community's archive index for members to fetch."""
    _world(context).publish(owner, community)


@when('{owner:Name} publishes the archive index of "{community:Text}" again')
def step_publish_again(context: Context, owner: str, community: str) -> None:
    """Publishes the archive index once more (e.g. after a member got the key)."""
    _world(context).publish_again(owner, community)


@step('{member:Name} has imported {count:ArchiveCount} of "{community:Text}" within '
      "{seconds:d} seconds")
def step_imported(context: Context, member: str, count: int, community: str,
                  seconds: int) -> None:
    """Waits (within the budget) until the member's node has imported that many archives."""
    _world(context).wait_until_imported(member, count, community, seconds)


@then('for {seconds:d} seconds {member:Name} imports no archive of "{community:Text}"')
def step_cannot_open(context: Context, seconds: int, member: str, community: str) -> None:
    """For the whole time, checks the member's node imports nothing (it cannot decrypt)."""
    world = _world(context)
    world.expect_no_import(member, community, seconds)
    _, done = world.imported_ids(member, community)
    expect.none_of(done, f'{member} has imported archives of "{community}":')


@then('{member:Name} downloads only the new archive of "{community:Text}"')
def step_only_new(context: Context, member: str, community: str) -> None:
    """Checks the member's node downloaded exactly one archive since the last announcement."""
    downloads = _world(context).downloads_since_publish(member, community)
    expect.equal(downloads, 1, f'after the last announcement {member} downloaded',
                 show=lambda count: f'{archives(count)} of "{community}"')


@given('the archive holding "{text:Text}" is lost from {owner:Name}\'s Codex node')
def step_archive_lost(context: Context, text: str, owner: str) -> None:
    """Deletes the archive that holds the message from the owner's Codex node."""
    _world(context).lose_archive_holding(text, owner)


@then('{member:Name} finishes fetching the history of "{community:Text}" with {got:d} of its '
      "{total:d} archives within {seconds:d} seconds")
def step_fetch_finished(context: Context, member: str, community: str, got: int, total: int,
                        seconds: int) -> None:
    """Waits until the member's node ends fetching, then counts the archives it got."""
    world = _world(context)
    expect.equal(len(world.created), total, f'the index of "{community}" lists', show=archives)
    world.wait_until_fetch_finished(member, community, seconds)
    downloaded, _ = world.imported_ids(member, community)
    expect.equal(len(downloaded), got, f'of the {total} archives of "{community}" {member} fetched',
                 show=str)


@then('{member:Name} keeps no partial index file for "{community:Text}"')
def step_no_partial(context: Context, member: str, community: str) -> None:
    """Checks the member's node left no half-written download file behind."""
    world = _world(context)
    world.community(community)
    expect.none_of(world.partial_files(member),
                   f"{member}'s node keeps files a download left half-written:")


@then('{member:Name} has marked no archive of "{community:Text}" as imported')
def step_none_imported(context: Context, member: str, community: str) -> None:
    """Checks the member's node marked no archive of the community as imported."""
    _, done = _world(context).imported_ids(member, community)
    expect.none_of(done, f'{member} has marked archives of "{community}" as imported:')


# --- the periodic archive loop --------------------------------------------------------------------
@step('{owner:Name}\'s node archives the history of "{community:Text}" within {seconds:d} '
      "seconds")
def step_archived(context: Context, owner: str, community: str, seconds: int) -> None:
    """Waits (within the budget) until the owner's periodic loop has archived the history."""
    _world(context).wait_until_archived(owner, community, seconds)


@then('that archive came no sooner than one interval after "{community:Text}" was created')
def step_first_tick(context: Context, community: str) -> None:
    """Checks the first periodic archive came one interval or more after the community began."""
    world = _world(context)
    owner = world.community(community).owner
    interval = world.archive_intervals[owner]
    delay = world.first_archive_delay(community)
    expect.matches(delay >= interval, f'{owner}\'s node first archived "{community}"',
                   actual=f"{seconds(delay)} after it was created",
                   expected=f"no sooner than one interval ({seconds(interval)}) after")


@given("{owner:Name}'s storage node stops answering")
def step_storage_paused(context: Context, owner: str) -> None:
    """Freezes the owner's Codex storage node (SIGSTOP): it stops answering."""
    _world(context).pause_storage(owner)


@when("{owner:Name}'s storage node answers again")
def step_storage_resumed(context: Context, owner: str) -> None:
    """Lets the owner's frozen Codex storage node run again (SIGCONT)."""
    _world(context).resume_storage(owner)


@then('for {seconds:d} seconds {owner:Name}\'s node archives nothing of "{community:Text}"')
def step_archives_nothing(context: Context, seconds: int, owner: str, community: str) -> None:
    """For the whole time, checks the owner's node creates no archive of the community."""
    _world(context).expect_archives_nothing(owner, community, seconds)


@then('{owner:Name} holds the archive index of "{community:Text}"')
def step_holds_index(context: Context, owner: str, community: str) -> None:
    """Checks the owner's node holds an archive index of the community."""
    expect.that(_world(context).holds_archive_index(owner, community),
                f'{owner}\'s node holds no archive index of "{community}"')


@step('{owner:Name} holds no archive of "{community:Text}"')
def step_holds_no_index(context: Context, owner: str, community: str) -> None:
    """Checks the owner's node holds no archive index of the community."""
    expect.that(not _world(context).holds_archive_index(owner, community),
                f'{owner}\'s node holds an archive index of "{community}"; expected none')


@then('{member:Name} has downloaded {count:ArchiveCount} of "{community:Text}" within '
      "{seconds:d} seconds")
def step_downloaded(context: Context, member: str, count: int, community: str,
                    seconds: int) -> None:
    """Waits (within the budget) until the member's node has downloaded that many archives."""
    _world(context).wait_until_downloaded(member, count, community, seconds)
