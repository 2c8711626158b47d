"""Steps for community history archives. The work happens in support.archive (the world)."""

from __future__ import annotations

import re

import parse
from behave import given, register_type, step, then, when
from behave.runner import Context
from hamcrest import assert_that, equal_to

from support import step_types  # noqa: F401 - registers the parse types
from support.archive.world import (
    CREATED,
    DOWNLOADED,
    FINISHED,
    IMPORTING,
    NONE_CREATED,
    ArchiveWorld,
    at,
    clock_of,
)
from support.waiting import eventually

_CHANNELS = re.compile(r"#[\w-]+")


@parse.with_pattern(r"#[\w-]+")
def _channel(text: str) -> str:
    """One channel: ``#general``."""
    return text


@parse.with_pattern(r"\d+ archives?")
def _archive_count(text: str) -> int:
    """``1 archive``, ``2 archives`` → the number."""
    return int(text.split(maxsplit=1)[0])


register_type(Channel=_channel, ArchiveCount=_archive_count)


def _world(context: Context) -> ArchiveWorld:
    return context.archive


# --- people and communities -----------------------------------------------------------------------
@given('{owner:Name} owns the community "{community:Text}" with {channels}')
def step_owns(context: Context, owner: str, community: str, channels: str) -> None:
    _world(context).create_community(owner, community, _CHANNELS.findall(channels),
                                     encrypted=False)


@given('{owner:Name} owns the community "{community:Text}"')
def step_owns_plain(context: Context, owner: str, community: str) -> None:
    _world(context).create_community(owner, community, (), encrypted=False)


@given('{owner:Name} owns the encrypted community "{community:Text}" with {channels}')
def step_owns_encrypted(context: Context, owner: str, community: str, channels: str) -> None:
    _world(context).create_community(owner, community, _CHANNELS.findall(channels),
                                     encrypted=True)


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
    world = _world(context)
    assert_that(world.community(community).owner, equal_to(owner))
    world.grant_token(member, community)
    world.reevaluate(community)


@step("{owner:Name}'s node archives every {seconds:d} seconds")
def step_interval(context: Context, owner: str, seconds: int) -> None:
    _world(context).set_archive_interval(owner, seconds)


@step("{member:Name} logs out")
def step_logs_out(context: Context, member: str) -> None:
    world = _world(context)
    world.persons.log_out(world.person(member))


@when('{member:Name} logs out while the history of "{community:Text}" is on its way')
def step_logs_out_downloading(context: Context, member: str, community: str) -> None:
    world = _world(context)
    world.wait_until_fetching(member, world.community(community).name)
    world.persons.log_out(world.person(member))


@step("{member:Name} logs back in")
def step_logs_in(context: Context, member: str) -> None:
    world = _world(context)
    world.persons.log_in(world.person(member))


# --- messages -------------------------------------------------------------------------------------
@given('{owner:Name} says "{text:Text}" in {channel} at {clock}')
@when('{owner:Name} says "{text:Text}" in {channel} at {clock}')
def step_says_at(context: Context, owner: str, text: str, channel: str, clock: str) -> None:
    _world(context).said_in_the_past(owner, text, channel, at(clock))


@given("{owner:Name} says a {size:Size} message in {channel} at {clock}")
def step_says_big(context: Context, owner: str, size: int, channel: str, clock: str) -> None:
    _world(context).said_in_the_past(owner, "x" * size, channel, at(clock))


@step('{owner:Name} says "{text:Text}" in {channel:Channel}')
def step_says(context: Context, owner: str, text: str, channel: str) -> None:
    _world(context).say(owner, text, channel)


@then('{member:Name} sees "{text:Text}" in {channel} after importing within {seconds:d} seconds')
def step_sees(context: Context, member: str, text: str, channel: str, seconds: int) -> None:
    world = _world(context)

    def visible() -> None:
        texts = world.texts(member, channel)
        assert text in texts, f"{member} does not see {text!r} in {channel} (sees {texts})"

    eventually(visible, world.within(seconds), interval=0.2)
    community = world.community_of_chat(world.channel(channel))
    signals = world.person(member).signals
    imports = [s for s in signals.since() if s.type == IMPORTING and s.about(community.id)]
    assert imports, (f"{member} sees {text!r} in {channel}, but {member}'s node never reported "
                     f"importing an archive of {community.name!r} (it sent: {signals.seen()})")


@then('{member:Name} does not see "{text:Text}" in {channel}')
def step_not_sees(context: Context, member: str, text: str, channel: str) -> None:
    texts = _world(context).texts(member, channel)
    assert text not in texts, f"{member} sees {text!r} in {channel} (all: {texts})"


# --- archives on demand (@needs_explicit_archive_window) -----------------------------------------
@step("{owner:Name} archives the history of {channels} from {start} to {end} in "
      "{length:d}-{unit} partitions")
def step_archive(context: Context, owner: str, channels: str, start: str, end: str,
                 length: int, unit: str) -> None:
    seconds = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}[unit]
    _world(context).archive_window(owner, _CHANNELS.findall(channels), at(start), at(end),
                                   length * seconds)


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
    world = _world(context)
    found = world.community(community)
    signals = world.person(owner).signals
    start = world.archive_marks.get(community, 0)
    signals.wait_for(NONE_CREATED, world.within(5), start=start,
                     matches=lambda s: s.about(found.id),
                     expected=f"that no archives were created for {community!r}")
    created = [s for s in signals.since(start) if s.type == CREATED and s.about(found.id)]
    assert not created, f"{owner}'s node also reported archives created for {community!r}"


@then('the archives of "{community:Text}" cover these windows:')
def step_windows(context: Context, community: str) -> None:
    world = _world(context)
    views = world.archives(world.community(community).owner, community)
    actual = [{"from": clock_of(v.start), "to": clock_of(v.end), "messages": str(v.messages)}
              for v in views]
    expected = [dict(row.as_dict()) for row in context.table]
    assert_that(actual, equal_to(expected))


@step('{owner:Name} publishes the archive index of "{community:Text}"')
def step_publish(context: Context, owner: str, community: str) -> None:
    _world(context).publish(owner, community)


@when('{owner:Name} publishes the archive index of "{community:Text}" again')
def step_publish_again(context: Context, owner: str, community: str) -> None:
    world = _world(context)
    assert community in world.publish_marks, f"{owner} never published the index of {community!r}"
    world.publish(owner, community)


@step('{member:Name} has imported {count:d} archives of "{community:Text}" within '
      "{seconds:d} seconds")
def step_imported(context: Context, member: str, count: int, community: str,
                  seconds: int) -> None:
    world = _world(context)

    def imported() -> None:
        downloaded, done = world.imported_ids(member, community)
        assert len(done) == count == len(downloaded), (
            f"{member} has downloaded {len(downloaded)} and imported {len(done)} archives of "
            f"{community!r}, not {count}")

    eventually(imported, world.within(seconds), interval=0.2)


@then('for {seconds:d} seconds {member:Name} imports no archive of "{community:Text}"')
def step_cannot_open(context: Context, seconds: int, member: str, community: str) -> None:
    world = _world(context)
    found = world.community(community)
    world.person(member).signals.stays_without(
        IMPORTING, world.within(seconds), start=world.since_publish(member, community),
        matches=lambda s: s.about(found.id), unexpected=f"importing an archive of {community!r}")
    _, done = world.imported_ids(member, community)
    assert done == [], f"{member} has imported archives of {community!r}: {done}"


@then('{member:Name} downloads only the new archive of "{community:Text}"')
def step_only_new(context: Context, member: str, community: str) -> None:
    world = _world(context)
    found = world.community(community)
    signals = world.person(member).signals
    downloads = [s for s in signals.since(world.since_publish(member, community))
                 if s.type == DOWNLOADED and s.about(found.id)]
    assert len(downloads) == 1, (f"{member} downloaded {len(downloads)} archives of "
                                 f"{community!r} after the last announcement, not only the new one")


@given('the archive holding "{text:Text}" is lost from {owner:Name}\'s Codex node')
def step_archive_lost(context: Context, text: str, owner: str) -> None:
    world = _world(context)
    community = next(c.name for c in world.communities.values() if c.owner == owner)
    sent = world.sent_at[text]
    holding = [v for v in world.archives(owner, community) if v.start <= sent < v.end]
    assert len(holding) == 1, f"{len(holding)} archives of {community!r} hold {text!r}"
    world.storage_of(owner).delete(holding[0].cid)


@then('{member:Name} finishes fetching the history of "{community:Text}" with {got:d} of its '
      "{total:d} archives within {seconds:d} seconds")
def step_fetch_finished(context: Context, member: str, community: str, got: int, total: int,
                        seconds: int) -> None:
    world = _world(context)
    found = world.community(community)
    assert len(world.created) == total, f"the index of {community!r} lists {len(world.created)}"
    world.person(member).signals.wait_for(
        FINISHED, world.within(seconds), start=world.since_publish(member, community),
        matches=lambda s: s.about(found.id),
        expected=f"the end of fetching the history of {community!r}")
    downloaded, _ = world.imported_ids(member, community)
    assert len(downloaded) == got, (f"{member} fetched {len(downloaded)} of the {total} archives "
                                    f"of {community!r}, not {got}")


@then('{member:Name} keeps no partial index file for "{community:Text}"')
def step_no_partial(context: Context, member: str, community: str) -> None:
    world = _world(context)
    world.community(community)
    assert_that(world.partial_files(member), equal_to([]))


@then('{member:Name} has marked no archive of "{community:Text}" as imported')
def step_none_imported(context: Context, member: str, community: str) -> None:
    _, done = _world(context).imported_ids(member, community)
    assert done == [], f"{member} has marked archives of {community!r} as imported: {done}"


# --- the periodic archive loop --------------------------------------------------------------------
@step('{owner:Name}\'s node archives the history of "{community:Text}" within {seconds:d} '
      "seconds")
def step_archived(context: Context, owner: str, community: str, seconds: int) -> None:
    world = _world(context)
    found = world.community(community)
    world.person(owner).signals.wait_for(
        CREATED, world.within(seconds), start=world.said_marks.get(community, 0),
        matches=lambda s: s.about(found.id),
        expected=f"a new archive of {community!r} after the last message")


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
    world = _world(context)
    found = world.community(community)
    world.person(owner).signals.stays_without(CREATED, world.within(seconds),
                                              matches=lambda s: s.about(found.id),
                                              unexpected=f"an archive of {community!r}")


@then('{owner:Name} holds the archive index of "{community:Text}"')
def step_holds_index(context: Context, owner: str, community: str) -> None:
    world = _world(context)
    assert world.person(owner).wakuext.has_community_archive(world.community(community).id), \
        f"{owner}'s node holds no archive index of {community!r}"


@step('{owner:Name} holds no archive of "{community:Text}"')
def step_holds_no_index(context: Context, owner: str, community: str) -> None:
    world = _world(context)
    assert not world.person(owner).wakuext.has_community_archive(world.community(community).id), \
        f"{owner}'s node holds an archive index of {community!r}"


@then('{member:Name} has downloaded {count:ArchiveCount} of "{community:Text}" within '
      "{seconds:d} seconds")
def step_downloaded(context: Context, member: str, count: int, community: str,
                    seconds: int) -> None:
    world = _world(context)

    def downloaded() -> None:
        ids, _ = world.imported_ids(member, community)
        assert len(ids) == count, (f"{member} has downloaded {len(ids)} archives of "
                                   f"{community!r}, not {count}")

    eventually(downloaded, world.within(seconds), interval=0.2)

