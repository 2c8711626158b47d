"""Steps for the Goverse chat cluster. The work happens in support.chat."""

from __future__ import annotations

from behave import given, then, when
from behave.runner import Context

from support import expect, step_types  # noqa: F401 - step_types registers the parse types
from support.chat.expectations import (
    chat_objects,
    exit_codes,
    greeting,
    refusal,
    server_report,
    servers,
)
from support.chat.world import CHAT_OBJECT_IDS
from support.expect import listing, plural, quoted


@given("a chat cluster with {nodes:Count} and {gates:Count}")
def step_cluster(context: Context, nodes: int, gates: int) -> None:
    """Starts etcd, the Goverse servers and gates (or takes over the previous scenario's)."""
    context.chat.start_cluster(nodes, gates)


@then("the cluster is ready to chat within {seconds:d} seconds")
def step_ready_within(context: Context, seconds: int) -> None:
    """Checks how long the cluster took to start against the (scaled) budget."""
    expect.at_most(context.chat.start_up_seconds(), context.settings.timeout(seconds),
                   "the cluster became ready to chat in")


def _connected(context: Context, who: str, gate: int) -> None:
    error = context.chat.last_error
    expect.that(error is None, f"{who} could not connect to gate {gate}: {error}")


@given('"{user:Text}" is connected to gate {gate:d}')
def step_connected(context: Context, user: str, gate: int) -> None:
    """Registers the user on the gate over gRPC (password 000000) and checks it worked."""
    context.chat.connect(user, gate)
    _connected(context, user, gate)


@given('"{user:Text}" is connected to gate {gate:d} from a web page')
def step_connected_web(context: Context, user: str, gate: int) -> None:
    """Registers the user through the gate's HTTP API, as a web page would; must succeed."""
    context.chat.connect(user, gate, web=True)
    _connected(context, user, gate)


@given('"{user:Text}" is connected to gate {gate:d} from a web page with the password '
       '"{password:Text}"')
def step_connected_web_password(context: Context, user: str, gate: int, password: str) -> None:
    """Registers the user through the gate's HTTP API with that password; must succeed."""
    context.chat.connect(user, gate, password=password, web=True)
    _connected(context, user, gate)


@given("someone is connected to gate {gate:d} from a web page without a user name")
def step_connected_web_anonymous(context: Context, gate: int) -> None:
    """Registers through the gate's HTTP API without a user name; must succeed."""
    context.chat.connect("someone", gate, with_name=False, web=True)
    _connected(context, "someone without a user name", gate)


@when('"{user:Text}" tries to list the chat rooms')
def step_try_list(context: Context, user: str) -> None:
    """Lists the rooms expecting a refusal, which the next step checks."""
    context.chat.try_list_rooms(user)


@then('the call is refused as unauthenticated with "{message:Text}"')
def step_call_refused_plain(context: Context, message: str) -> None:
    """Checks the last call failed with gRPC UNAUTHENTICATED and exactly this text."""
    error = expect.present(context.chat.last_error, "the call succeeded; expected it refused")
    expect.equal((error.code.name, error.details), ("UNAUTHENTICATED", message),
                 "the call was refused as", show=refusal)


@when('"{user:Text}" connects to gate {gate:d} with the password "{password:Text}"')
def step_connect_password(context: Context, user: str, gate: int, password: str) -> None:
    """Registers the user over gRPC with that password; a refusal is kept for a check."""
    context.chat.connect(user, gate, password=password)


@when("someone connects to gate {gate:d} without a user name")
def step_connect_anonymous(context: Context, gate: int) -> None:
    """Registers over gRPC without a user name; a refusal is kept for a check."""
    context.chat.connect("someone", gate, with_name=False)


@then('the connection is refused as unauthenticated with "{message:Text}"')
def step_refused(context: Context, message: str) -> None:
    """Checks the connection was refused with gRPC UNAUTHENTICATED and exactly this text."""
    error = expect.present(context.chat.last_error,
                           "the connection was accepted; expected it refused")
    expect.equal((error.code.name, error.details), ("UNAUTHENTICATED", message),
                 "the connection was refused as", show=refusal)


@when('"{user:Text}" lists the chat rooms')
def step_list(context: Context, user: str) -> None:
    """Lists the chat rooms as the user (the answer is kept for a check)."""
    context.chat.list_rooms(user)


@when("an anonymous visitor lists the chat rooms through gate {gate:d}")
def step_list_anonymous(context: Context, gate: int) -> None:
    """Lists the chat rooms through the gate's HTTP API with no identity."""
    context.chat.list_rooms_anonymously(gate)


@then('the rooms are "{rooms:Text}"')
def step_rooms(context: Context, rooms: str) -> None:
    """Compares the rooms last listed with the comma-separated names, in order."""
    expect.equal(context.chat.rooms, [room.strip() for room in rooms.split(",")],
                 "the rooms listed are", show=quoted)


@when('"{user:Text}" joins "{room:Text}"')
@given('"{user:Text}" has joined "{room:Text}"')
def step_join(context: Context, user: str, room: str) -> None:
    """The user joins the room (its welcome is kept for a check)."""
    context.chat.join(user, room)


@when('an anonymous visitor tries to join "{room:Text}" through gate {gate:d}')
def step_join_anonymous(context: Context, room: str, gate: int) -> None:
    """Joins through the gate with no identity, expecting a refusal kept for a check."""
    context.chat.try_join_anonymously(room, gate)


@then('"{user:Text}" is welcomed to "{room:Text}" by SYSTEM with "{first:Text}" and "{second:Text}"')
def step_welcomed(context: Context, user: str, room: str, first: str, second: str) -> None:
    """Checks the room's welcome: its name and SYSTEM's two recent messages, in order."""
    joined = context.chat.welcome_of(user)
    expect.equal((joined.room, joined.recent), (room, [("SYSTEM", first), ("SYSTEM", second)]),
                 f"{user} was welcomed to", show=greeting)


@then('the call is refused as unauthenticated by the room with "{message:Text}"')
def step_call_refused(context: Context, message: str) -> None:
    """Checks UNAUTHENTICATED, the gate relaying the room's text (goverse.md §2.2.2)."""
    error = expect.present(context.chat.last_error, "the call succeeded; expected it refused")
    # The gate relays the node's error: code kept, text wrapped (goverse.md §2.2.2).
    ending = f"code = Unauthenticated desc = {message}"
    expect.matches(error.code.name == "UNAUTHENTICATED" and error.details.endswith(ending),
                   "the call was refused as", actual=refusal((error.code.name, error.details)),
                   expected=f'UNAUTHENTICATED with a text ending in "{ending}"')


@when('"{user:Text}" says "{text:Text}" in "{room:Text}"')
def step_say(context: Context, user: str, text: str, room: str) -> None:
    """The user says the text in the room."""
    context.chat.say(user, room, text)


@then('"{user:Text}" receives "{text:Text}" from "{sender:Text}" within {seconds:d} seconds')
def step_receives(context: Context, user: str, text: str, sender: str, seconds: int) -> None:
    """Waits (within the budget) for the gate to push the message; checks sender and type."""
    pushed = context.chat.wait_for_message(user, text, seconds)
    expect.equal(pushed.user, sender, f'{user} was told that "{text}" came from')
    expect.equal(pushed.type_url, "type.googleapis.com/chat.Client_NewMessageNotification",
                 f'the gate pushed "{text}" to {user} as')


@then('"{user:Text}" receives these messages within {seconds:d} seconds:')
def step_receives_table(context: Context, user: str, seconds: int) -> None:
    """Waits for each message of the table, then checks they were all pushed in order."""
    chat = context.chat
    table = expect.present(context.table, "this step takes a table of messages")
    for row in table:
        pushed = chat.wait_for_message(user, row["message"], seconds)
        expect.equal(pushed.user, row["from"], f'{user} was told that "{row["message"]}" came from')
    expect.equal(chat.pushed_texts(user), [row["message"] for row in table],
                 f"{user} received, in this order,", show=quoted)


@then("the six chat objects are spread over the {count:d} servers")
def step_spread(context: Context, count: int) -> None:
    """Checks the six chat objects are on that many servers and what each server reports."""
    chat = context.chat
    placed = chat.objects_by_server()
    expect.equal(len(placed), count,
                 f"the chat objects are spread over {listing(sorted(placed))}:", show=servers)
    every = [object_id for ids in placed.values() for object_id in ids]
    expect.equal(sorted(every), sorted(CHAT_OBJECT_IDS), "the cluster holds the chat objects",
                 show=listing)
    for node, ids in placed.items():
        expect.equal(chat.server_report(node), (chat.server_address(node), len(ids)),
                     f"server {node} reports", show=server_report)


@then('the cluster holds {count:d} chat objects, "{object_id:Text}" among them')
def step_object_count(context: Context, count: int, object_id: str) -> None:
    """Checks how many chat objects the cluster holds, that one among them."""
    every = sorted(i for ids in context.chat.objects_by_server().values() for i in ids)
    expect.that(object_id in every and len(every) == count,
                f"the cluster holds {plural(len(every), 'chat object')}: {listing(every)}; "
                f'expected {count}, "{object_id}" among them')


@when('the server holding "{room:Text}" is killed')
def step_kill_owner(context: Context, room: str) -> None:
    """SIGKILLs the server holding the room (it becomes the room's previous owner)."""
    context.chat.kill_owner(room)


@when('the operator moves "{room:Text}" to the other server through the inspector')
def step_move_room(context: Context, room: str) -> None:
    """Has the inspector move the room's shard to another server, as an operator would."""
    context.chat.move_room(room)


@then('"{user:Text}" can join "{room:Text}" again within {seconds:d} seconds')
def step_rejoin(context: Context, user: str, room: str, seconds: int) -> None:
    """Tries to join again and again within the (scaled) budget until it works."""
    context.chat.wait_until_rejoined(user, room, seconds)


@then('"{room:Text}" is now served by another server')
def step_moved(context: Context, room: str) -> None:
    """Checks the room is now served by a server other than its previous owner."""
    chat = context.chat
    server = chat.server_of(room)
    expect.that(server != chat.previous_owner,
                f'"{room}" is still served by {server}; expected another server')


@when("every process of the cluster is stopped")
def step_stop_all(context: Context) -> None:
    """Disconnects every user, then stops the gates, the servers and the inspector."""
    context.chat.stop_everything()


@then("every process exited cleanly")
def step_clean_exit(context: Context) -> None:
    """Checks every stopped process of the cluster exited with code 0."""
    codes = context.chat.exit_codes
    expect.that(bool(codes), "no process of the cluster was stopped")
    expect.equal(codes, dict.fromkeys(codes, 0), "the processes of the cluster ended with",
                 show=exit_codes)


@when("etcd restarts")
def step_etcd_restart(context: Context) -> None:
    """Stops etcd and starts it on the same data and ports (cluster state survives)."""
    context.etcd.restart()


@then("the cluster still has its {count:d} chat objects")
def step_still_objects(context: Context, count: int) -> None:
    """Checks the cluster still holds all six chat objects."""
    expect.equal(count, len(CHAT_OBJECT_IDS), "a chat cluster has", show=chat_objects)
    expect.equal(context.chat.object_count(), count, "the cluster now has", show=chat_objects)


@given("a chat cluster with {nodes:Count}, {gates:Count} and an inspector")
def step_cluster_inspector(context: Context, nodes: int, gates: int) -> None:
    """Starts the cluster with a Goverse inspector (or takes over the previous one)."""
    context.chat.start_cluster(nodes, gates, inspector=True)


@then("the inspector shows {nodes:Count}, {gates:Count} and the six chat objects within "
      "{seconds:d} seconds")
def step_inspector_graph(context: Context, nodes: int, gates: int, seconds: int) -> None:
    """Waits (within the budget) until the inspector's graph shows the cluster's shape."""
    chat = context.chat
    expect.equal(chat.server_count(), nodes, "the cluster has", show=servers)
    chat.wait_until_inspector_shows(gates, seconds)


@then("the inspector's shard view shows every shard owned by a live server within "
      "{seconds:d} seconds")
def step_inspector_shards(context: Context, seconds: int) -> None:
    """Waits (within the budget) until every shard in the inspector has a live owner."""
    context.chat.wait_until_shards_settled(seconds)


@when('the server holding "{room:Text}" hangs')
def step_hang_owner(context: Context, room: str) -> None:
    """Freezes (SIGSTOP) the server holding the room; it becomes the previous owner."""
    context.chat.hang_owner(room)


@when("the hung server wakes up")
def step_wake_hung_server(context: Context) -> None:
    """Lets the frozen server run again (SIGCONT)."""
    context.chat.wake_hung_server()


@then("every server and gate is registered with the cluster within {seconds:d} seconds")
def step_all_registered(context: Context, seconds: int) -> None:
    """Waits (within the budget) until every server and gate is registered in etcd."""
    context.chat.wait_until_registered(seconds)


@then('"{room:Text}" is held by exactly one server within {seconds:d} seconds')
def step_held_once(context: Context, room: str, seconds: int) -> None:
    """Waits (within the budget) until exactly one server holds the room."""
    context.chat.wait_until_held_once(room, seconds)


@when("etcd hangs")
def step_etcd_hangs(context: Context) -> None:
    """Freezes etcd (SIGSTOP); it is woken at the end of the scenario whatever happens."""
    context.etcd.hang()
    context.add_cleanup(context.etcd.wake)  # never leave etcd frozen for the next scenario


@when("etcd wakes up")
def step_etcd_wakes(context: Context) -> None:
    """Lets the frozen etcd run again (SIGCONT)."""
    context.etcd.wake()


@then('"{user:Text}" keeps chatting in "{room:Text}" for {seconds:d} seconds')
def step_keeps_chatting(context: Context, user: str, room: str, seconds: int) -> None:
    """For the whole time, one message after another must come back within its budget."""
    context.chat.keep_chatting(user, room, seconds)
