"""Steps for the Goverse chat cluster. The work happens in support.chat."""

from __future__ import annotations

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
from support.chat.world import CHAT_OBJECT_IDS


@given("a chat cluster with {nodes:Count} and {gates:Count}")
def step_cluster(context: Context, nodes: int, gates: int) -> None:
    context.chat.start_cluster(nodes, gates)


@then("the cluster is ready to chat within {seconds:d} seconds")
def step_ready_within(context: Context, seconds: int) -> None:
    assert_that(context.chat.start_up_seconds(),
                less_than_or_equal_to(context.settings.timeout(seconds)),
                "seconds the cluster took to become ready")


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
    context.chat.try_list_rooms(user)


@then('the call is refused as unauthenticated with "{message:Text}"')
def step_call_refused_plain(context: Context, message: str) -> None:
    error = context.chat.last_error
    assert_that(error, is_(not_none()), "the call succeeded")
    assert_that((error.code.name, error.details), equal_to(("UNAUTHENTICATED", message)))


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
    assert_that((error.code.name, error.details), equal_to(("UNAUTHENTICATED", message)))


@when('"{user:Text}" lists the chat rooms')
def step_list(context: Context, user: str) -> None:
    context.chat.list_rooms(user)


@when("an anonymous visitor lists the chat rooms through gate {gate:d}")
def step_list_anonymous(context: Context, gate: int) -> None:
    context.chat.list_rooms_anonymously(gate)


@then('the rooms are "{rooms:Text}"')
def step_rooms(context: Context, rooms: str) -> None:
    assert_that(context.chat.rooms, equal_to([room.strip() for room in rooms.split(",")]),
                "the rooms listed")


@when('"{user:Text}" joins "{room:Text}"')
@given('"{user:Text}" has joined "{room:Text}"')
def step_join(context: Context, user: str, room: str) -> None:
    context.chat.join(user, room)


@when('an anonymous visitor tries to join "{room:Text}" through gate {gate:d}')
def step_join_anonymous(context: Context, room: str, gate: int) -> None:
    context.chat.try_join_anonymously(room, gate)


@then('"{user:Text}" is welcomed to "{room:Text}" by SYSTEM with "{first:Text}" and "{second:Text}"')
def step_welcomed(context: Context, user: str, room: str, first: str, second: str) -> None:
    joined = context.chat.welcome_of(user)
    assert_that((joined.room, joined.recent),
                equal_to((room, [("SYSTEM", first), ("SYSTEM", second)])),
                f"the room {user} joined and the messages it greeted {user} with")


@then('the call is refused as unauthenticated by the room with "{message:Text}"')
def step_call_refused(context: Context, message: str) -> None:
    error = context.chat.last_error
    assert_that(error, is_(not_none()), "the call succeeded")
    # The gate relays the node's error: code kept, text wrapped (goverse.md §2.2.2).
    assert_that(error.code.name, equal_to("UNAUTHENTICATED"))
    assert_that(error.details, ends_with(f"code = Unauthenticated desc = {message}"))


@when('"{user:Text}" says "{text:Text}" in "{room:Text}"')
def step_say(context: Context, user: str, text: str, room: str) -> None:
    context.chat.say(user, room, text)


@then('"{user:Text}" receives "{text:Text}" from "{sender:Text}" within {seconds:d} seconds')
def step_receives(context: Context, user: str, text: str, sender: str, seconds: int) -> None:
    pushed = context.chat.wait_for_message(user, text, seconds)
    assert_that(pushed.user, equal_to(sender), f"who {user} was told said {text!r}")
    assert_that(pushed.type_url, equal_to("type.googleapis.com/chat.Client_NewMessageNotification"))


@then('"{user:Text}" receives these messages within {seconds:d} seconds:')
def step_receives_table(context: Context, user: str, seconds: int) -> None:
    chat = context.chat
    assert context.table is not None, "this step takes a table of messages"
    for row in context.table:
        pushed = chat.wait_for_message(user, row["message"], seconds)
        assert_that(pushed.user, equal_to(row["from"]), f"who {user} was told said {row['message']!r}")
    assert_that(chat.pushed_texts(user), equal_to([row["message"] for row in context.table]),
                f"the messages {user} received, in order")


@then("the six chat objects are spread over the {count:d} servers")
def step_spread(context: Context, count: int) -> None:
    chat = context.chat
    placed = chat.objects_by_server()
    assert_that(len(placed), equal_to(count), f"servers holding chat objects: {sorted(placed)}")
    every = [object_id for ids in placed.values() for object_id in ids]
    assert_that(sorted(every), equal_to(sorted(CHAT_OBJECT_IDS)))
    for node, ids in placed.items():
        assert_that(chat.server_report(node), equal_to((chat.server_address(node), len(ids))),
                    f"the address and object count server {node} reports")


@then('the cluster holds {count:d} chat objects, "{object_id:Text}" among them')
def step_object_count(context: Context, count: int, object_id: str) -> None:
    every = [i for ids in context.chat.objects_by_server().values() for i in ids]
    assert_that(every, has_item(object_id))
    assert_that(len(every), equal_to(count), f"objects: {sorted(every)}")


@when('the server holding "{room:Text}" is killed')
def step_kill_owner(context: Context, room: str) -> None:
    context.chat.kill_owner(room)


@when('the operator moves "{room:Text}" to the other server through the inspector')
def step_move_room(context: Context, room: str) -> None:
    context.chat.move_room(room)


@then('"{user:Text}" can join "{room:Text}" again within {seconds:d} seconds')
def step_rejoin(context: Context, user: str, room: str, seconds: int) -> None:
    context.chat.wait_until_rejoined(user, room, seconds)


@then('"{room:Text}" is now served by another server')
def step_moved(context: Context, room: str) -> None:
    chat = context.chat
    assert_that(chat.server_of(room), is_not(equal_to(chat.previous_owner)),
                f"the server holding {room}")


@when("every process of the cluster is stopped")
def step_stop_all(context: Context) -> None:
    context.chat.stop_everything()


@then("every process exited cleanly")
def step_clean_exit(context: Context) -> None:
    codes = context.chat.exit_codes
    assert codes, "no process of the cluster was stopped"
    assert_that(codes, equal_to(dict.fromkeys(codes, 0)), "the exit codes of the cluster")


@when("etcd restarts")
def step_etcd_restart(context: Context) -> None:
    context.etcd.restart()


@then("the cluster still has its {count:d} chat objects")
def step_still_objects(context: Context, count: int) -> None:
    assert_that(count, equal_to(len(CHAT_OBJECT_IDS)), "the chat objects a cluster has")
    assert_that(context.chat.object_count(), equal_to(count), "the chat objects the cluster has")


@given("a chat cluster with {nodes:Count}, {gates:Count} and an inspector")
def step_cluster_inspector(context: Context, nodes: int, gates: int) -> None:
    context.chat.start_cluster(nodes, gates, inspector=True)


@then("the inspector shows {nodes:Count}, {gates:Count} and the six chat objects within "
      "{seconds:d} seconds")
def step_inspector_graph(context: Context, nodes: int, gates: int, seconds: int) -> None:
    chat = context.chat
    assert_that(chat.server_count(), equal_to(nodes), "the servers of the cluster")
    chat.wait_until_inspector_shows(gates, seconds)


@then("the inspector's shard view shows every shard owned by a live server within "
      "{seconds:d} seconds")
def step_inspector_shards(context: Context, seconds: int) -> None:
    context.chat.wait_until_shards_settled(seconds)


@when('the server holding "{room:Text}" hangs')
def step_hang_owner(context: Context, room: str) -> None:
    context.chat.hang_owner(room)


@when("the hung server wakes up")
def step_wake_hung_server(context: Context) -> None:
    context.chat.wake_hung_server()


@then("every server and gate is registered with the cluster within {seconds:d} seconds")
def step_all_registered(context: Context, seconds: int) -> None:
    context.chat.wait_until_registered(seconds)


@then('"{room:Text}" is held by exactly one server within {seconds:d} seconds')
def step_held_once(context: Context, room: str, seconds: int) -> None:
    context.chat.wait_until_held_once(room, seconds)


@when("etcd hangs")
def step_etcd_hangs(context: Context) -> None:
    context.etcd.hang()
    context.add_cleanup(context.etcd.wake)  # never leave etcd frozen for the next scenario


@when("etcd wakes up")
def step_etcd_wakes(context: Context) -> None:
    context.etcd.wake()


@then('"{user:Text}" keeps chatting in "{room:Text}" for {seconds:d} seconds')
def step_keeps_chatting(context: Context, user: str, room: str, seconds: int) -> None:
    context.chat.keep_chatting(user, room, seconds)
