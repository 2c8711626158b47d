"""Steps for the Goverse chat cluster. The work happens in support.chat."""

from __future__ import annotations

import grpc
from behave import given, then, when
from behave.runner import Context
from hamcrest import (
    assert_that,
    ends_with,
    equal_to,
    has_item,
    is_,
    is_not,
    less_than_or_equal_to,
    none,
    not_none,
)

from support import step_types  # noqa: F401 - registers the parse types
from support.chat.cluster import CHAT_OBJECTS
from support.waiting import eventually

CHAT_IDS = {"ChatRoomMgr0", "ChatRoom-General", "ChatRoom-Technology", "ChatRoom-Crypto",
            "ChatRoom-Sports", "ChatRoom-Movies"}


@given("a chat cluster with {nodes:Count} and {gates:Count}")
def step_cluster(context: Context, nodes: int, gates: int) -> None:
    context.chat.start_cluster(nodes, gates)


@then("the cluster is ready to chat within {seconds:d} seconds")
def step_ready_within(context: Context, seconds: int) -> None:
    assert_that(context.chat.start_up_seconds(),
                less_than_or_equal_to(context.settings.timeout(seconds)))


@given('"{user:Text}" is connected to gate {gate:d}')
def step_connected(context: Context, user: str, gate: int) -> None:
    context.chat.connect(user, gate)
    assert_that(context.chat.last_error, is_(none()), f"{user} could not connect")


@given('"{user:Text}" is connected to gate {gate:d} from a web page')
def step_connected_web(context: Context, user: str, gate: int) -> None:
    context.chat.connect(user, gate, web=True)
    assert_that(context.chat.last_error, is_(none()), f"{user} could not connect")


@given('"{user:Text}" is connected to gate {gate:d} from a web page with the password '
       '"{password:Text}"')
def step_connected_web_password(context: Context, user: str, gate: int, password: str) -> None:
    context.chat.connect(user, gate, password=password, web=True)
    assert_that(context.chat.last_error, is_(none()), f"{user}'s event stream was refused")


@given("someone is connected to gate {gate:d} from a web page without a user name")
def step_connected_web_anonymous(context: Context, gate: int) -> None:
    context.chat.connect("someone", gate, with_name=False, web=True)
    assert_that(context.chat.last_error, is_(none()), "the event stream was refused")


@when('"{user:Text}" tries to list the chat rooms')
def step_try_list(context: Context, user: str) -> None:
    client = context.chat.user(user)
    context.chat.attempt(client.list_rooms)


@then('the call is refused as unauthenticated with "{message:Text}"')
def step_call_refused_plain(context: Context, message: str) -> None:
    error = context.chat.last_error
    assert_that(error, is_(not_none()), "the call succeeded")
    assert_that((error.code, error.details), equal_to((grpc.StatusCode.UNAUTHENTICATED, message)))


@when('"{user:Text}" connects to gate {gate:d} with the password "{password:Text}"')
def step_connect_password(context: Context, user: str, gate: int, password: str) -> None:
    context.chat.connect(user, gate, password=password)


@when("someone connects to gate {gate:d} without a user name")
def step_connect_anonymous(context: Context, gate: int) -> None:
    context.chat.connect("someone", gate, with_name=False)


@then('the connection is refused as unauthenticated with "{message:Text}"')
def step_refused(context: Context, message: str) -> None:
    error = context.chat.last_error
    assert_that(error, is_(not_none()), "the connection was accepted")
    assert_that((error.code, error.details), equal_to((grpc.StatusCode.UNAUTHENTICATED, message)))


@when('"{user:Text}" lists the chat rooms')
def step_list(context: Context, user: str) -> None:
    context.chat.rooms = context.chat.user(user).list_rooms()


@when("an anonymous visitor lists the chat rooms through gate {gate:d}")
def step_list_anonymous(context: Context, gate: int) -> None:
    context.chat.rooms = context.chat.anonymous(gate).list_rooms()


@then('the rooms are "{rooms:Text}"')
def step_rooms(context: Context, rooms: str) -> None:
    assert_that(context.chat.rooms, equal_to([room.strip() for room in rooms.split(",")]))


@when('"{user:Text}" joins "{room:Text}"')
@given('"{user:Text}" has joined "{room:Text}"')
def step_join(context: Context, user: str, room: str) -> None:
    context.chat.joined[user] = context.chat.user(user).join(room)


@when('an anonymous visitor tries to join "{room:Text}" through gate {gate:d}')
def step_join_anonymous(context: Context, room: str, gate: int) -> None:
    visitor = context.chat.anonymous(gate)
    context.chat.attempt(lambda: visitor.join(room))


@then('"{user:Text}" is welcomed to "{room:Text}" by SYSTEM with "{first:Text}" and "{second:Text}"')
def step_welcomed(context: Context, user: str, room: str, first: str, second: str) -> None:
    joined = context.chat.joined[user]
    assert_that((joined.room, joined.recent),
                equal_to((room, [("SYSTEM", first), ("SYSTEM", second)])))


@then('the call is refused as unauthenticated by the room with "{message:Text}"')
def step_call_refused(context: Context, message: str) -> None:
    error = context.chat.last_error
    assert_that(error, is_(not_none()), "the call succeeded")
    # The gate relays the node's error: code kept, text wrapped (goverse.md §2.2.2).
    assert_that(error.code, equal_to(grpc.StatusCode.UNAUTHENTICATED))
    assert_that(error.details, ends_with(f"code = Unauthenticated desc = {message}"))


@when('"{user:Text}" says "{text:Text}" in "{room:Text}"')
def step_say(context: Context, user: str, text: str, room: str) -> None:
    context.chat.user(user).send(room, text)


@then('"{user:Text}" receives "{text:Text}" from "{sender:Text}" within {seconds:d} seconds')
def step_receives(context: Context, user: str, text: str, sender: str, seconds: int) -> None:
    pushed = context.chat.user(user).wait_for(text, context.settings.timeout(seconds))
    assert_that(pushed.user, equal_to(sender))
    assert_that(pushed.type_url, equal_to("type.googleapis.com/chat.Client_NewMessageNotification"))


@then('"{user:Text}" receives these messages within {seconds:d} seconds:')
def step_receives_table(context: Context, user: str, seconds: int) -> None:
    client = context.chat.user(user)
    for row in context.table:
        pushed = client.wait_for(row["message"], context.settings.timeout(seconds))
        assert_that(pushed.user, equal_to(row["from"]))
    texts = [p.text for p in client.pushed]
    assert_that(texts, equal_to([row["message"] for row in context.table]))


@then("the six chat objects are spread over the {count:d} servers")
def step_spread(context: Context, count: int) -> None:
    cluster = context.chat.require_cluster()
    placed = cluster.objects_by_node()
    assert_that(len(placed), equal_to(count))
    every = [object_id for ids in placed.values() for object_id in ids]
    assert_that(sorted(every), equal_to(sorted(CHAT_IDS)))
    for node, ids in placed.items():
        status = cluster.status(node)
        assert_that((status.advertise_addr, status.num_objects),
                    equal_to((cluster.nodes[node].address, len(ids))))


@then('the cluster holds {count:d} chat objects, "{object_id:Text}" among them')
def step_object_count(context: Context, count: int, object_id: str) -> None:
    cluster = context.chat.require_cluster()
    every = [i for ids in cluster.objects_by_node().values() for i in ids]
    assert_that(every, has_item(object_id))
    assert_that(len(every), equal_to(count), f"objects: {sorted(every)}")


@when('the server holding "{room:Text}" is killed')
def step_kill_owner(context: Context, room: str) -> None:
    chat = context.chat
    node = chat.owner_of(f"ChatRoom-{room}")
    chat.previous_owner = node
    chat.require_cluster().kill(node)


@when('the operator moves "{room:Text}" to the other server through the inspector')
def step_move_room(context: Context, room: str) -> None:
    context.chat.move_room(room)


@then('"{user:Text}" can join "{room:Text}" again within {seconds:d} seconds')
def step_rejoin(context: Context, user: str, room: str, seconds: int) -> None:
    client = context.chat.user(user)

    def rejoin() -> None:
        result = context.chat.attempt(lambda: client.join(room))
        assert result is not None, f"join failed: {context.chat.last_error}"

    eventually(rejoin, context.settings.timeout(seconds), interval=0.5)


@then('"{room:Text}" is now served by another server')
def step_moved(context: Context, room: str) -> None:
    chat = context.chat
    assert_that(chat.owner_of(f"ChatRoom-{room}"), is_not(equal_to(chat.previous_owner)))


@when("every process of the cluster is stopped")
def step_stop_all(context: Context) -> None:
    chat = context.chat
    for client in chat.users.values():
        client.close()
    chat.users.clear()
    chat.exit_codes = chat.require_cluster().stop()


@then("every process exited cleanly")
def step_clean_exit(context: Context) -> None:
    codes = context.chat.exit_codes
    assert_that(codes, equal_to(dict.fromkeys(codes, 0)))
    assert_that(len(codes) > 0, is_(True))


@when("etcd restarts")
def step_etcd_restart(context: Context) -> None:
    context.etcd.restart()


@then("the cluster still has its {count:d} chat objects")
def step_still_objects(context: Context, count: int) -> None:
    assert_that(count, equal_to(CHAT_OBJECTS))
    assert_that(context.chat.require_cluster().object_count(), equal_to(count))


@given("a chat cluster with {nodes:Count}, {gates:Count} and an inspector")
def step_cluster_inspector(context: Context, nodes: int, gates: int) -> None:
    context.chat.start_cluster(nodes, gates, inspector=True)


@then("the inspector shows {nodes:Count}, {gates:Count} and the six chat objects within "
      "{seconds:d} seconds")
def step_inspector_graph(context: Context, nodes: int, gates: int, seconds: int) -> None:
    cluster = context.chat.require_cluster()
    assert_that(len(cluster.nodes), equal_to(nodes))
    eventually(lambda: cluster.assert_inspector_shows(gates, CHAT_IDS),
               context.settings.timeout(seconds), interval=0.2)


@then("the inspector's shard view shows every shard owned by a live server within "
      "{seconds:d} seconds")
def step_inspector_shards(context: Context, seconds: int) -> None:
    cluster = context.chat.require_cluster()
    eventually(cluster.assert_shards_settled, context.settings.timeout(seconds), interval=0.2)
