"""What a chat scenario remembers between steps: its cluster, its users and their answers."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from support import expect, progress
from support.chat.binaries import GoverseBinaries
from support.chat.client import ChatClient, ChatError, ChatSession, Joined, Pushed
from support.chat.cluster import ChatCluster
from support.chat.http_client import ChatHttpClient
from support.chat.targets import goverse_target
from support.config import Settings
from support.expect import listing
from support.journal import Journal
from support.shared_systems import SharedSystems
from support.waiting import eventually

CLUSTER_SLOT = "chat cluster"
CHAT_OBJECT_IDS = frozenset({"ChatRoomMgr0", "ChatRoom-General", "ChatRoom-Technology",
                             "ChatRoom-Crypto", "ChatRoom-Sports", "ChatRoom-Movies"})
INSPECTOR_REPORTS_WITHIN = 10.0
ECHO_WITHIN = 5.0  # seconds for a message a user says to come back to her
REJOIN_ATTEMPT_WITHIN = 1.0  # seconds for one attempt to join a room that is moving
WATCH_POLL = 0.1  # seconds between looks at a cluster that is changing
T = TypeVar("T")


@dataclass
class ChatWorld:
    """Per-scenario state of the chat steps."""

    settings: Settings
    etcd: Callable[[], str]
    binaries: GoverseBinaries
    work_dir: Path
    log_dir: Path
    cluster: ChatCluster | None = None
    users: dict[str, ChatSession] = field(default_factory=dict)
    joined: dict[str, Joined] = field(default_factory=dict)
    rooms: list[str] = field(default_factory=list)
    last_error: ChatError | None = None
    exit_codes: dict[str, int | None] = field(default_factory=dict)
    ready_seconds: float = 0.0
    previous_owner: str | None = None  # the server that held a room before a kill or a move
    hung_server: str | None = None  # the server the scenario froze
    shared: SharedSystems | None = None  # the feature's shared systems, when it may use them
    adopted: bool = False  # the cluster came from an earlier scenario of the feature
    journal: Journal | None = None  # records the users' calls, pushes and HTTP exchanges

    def start_cluster(self, nodes: int, gates: int, inspector: bool = False) -> ChatCluster:
        """Start a cluster of this shape, or take over the one the previous scenario left."""
        shape = (nodes, gates, inspector)
        kept: ChatCluster | None = self.shared.take(CLUSTER_SLOT, shape) if self.shared else None
        if kept is not None:
            kept.adopt(self.journal)
            self.cluster, self.adopted = kept, True
            progress.note(f"chat cluster of {nodes} server(s) and {gates} gate(s) taken over "
                          "from the previous scenario")
            return kept
        work_dir, log_dir = self.work_dir, self.log_dir
        if self.shared is not None:
            work_dir = log_dir = self.shared.new_folder("chat-cluster-")
        started = time.monotonic()
        self.cluster = ChatCluster(self.settings, self.etcd(), work_dir, log_dir,
                                   goverse_target(self.binaries), journal=self.journal)
        self.cluster.start(nodes, gates, inspector)
        self.ready_seconds = time.monotonic() - started
        progress.note(f"chat cluster of {nodes} server(s) and {gates} gate(s) ready in "
                      f"{self.ready_seconds:.1f} s")
        return self.cluster

    def start_up_seconds(self) -> float:
        """How long this scenario's cluster took to become ready."""
        if self.adopted:
            raise AssertionError("this scenario took its cluster over from an earlier one, so "
                                 "no start-up was measured: tag the scenario @isolated")
        return self.ready_seconds

    def _watch(self, check: Callable[[], T], seconds: float) -> T:
        """``check`` passes within ``seconds`` (scaled), looked at every WATCH_POLL seconds:
        the cluster changes at its 0.2 s tick, so a longer pause would only add to the wait."""
        return eventually(check, self.settings.timeout(seconds), interval=WATCH_POLL,
                          max_interval=WATCH_POLL)

    def require_cluster(self) -> ChatCluster:
        if self.cluster is None:
            raise AssertionError("no chat cluster was started in this scenario")
        return self.cluster

    def gate_address(self, number: int) -> str:
        return self.require_cluster().gates[f"gate-{number}"].address

    def connect(self, user: str, gate: int, password: str | None = "000000",
                with_name: bool = True, web: bool = False) -> ChatSession:
        """Register ``user`` on a gate, over gRPC or (``web``) through the gate's HTTP API as a
        web page would; remembers a refusal instead of raising it."""
        name = user if with_name else None
        timeout = self.settings.timeout(10)
        if web:
            member = self.require_cluster().gates[f"gate-{gate}"]
            if member.http_address is None:
                raise AssertionError(f"gate {gate} serves no HTTP API")
            client: ChatSession = ChatHttpClient(f"http://{member.http_address}", name, password,
                                                 timeout=timeout, journal=self.journal)
        else:
            client = ChatClient(self.gate_address(gate), name, password, timeout=timeout,
                                journal=self.journal, caller=user)
        self.last_error = None
        try:
            client.register()
        except ChatError as error:
            self.last_error = error
            client.close()
            return client
        self.users[user] = client
        return client

    def anonymous(self, gate: int) -> ChatClient:
        """A client that never registered (no identity, no client id)."""
        client = ChatClient(self.gate_address(gate), None, None,
                            timeout=self.settings.timeout(10), journal=self.journal,
                            caller="an anonymous visitor")
        self.users.setdefault("an anonymous visitor", client)
        return client

    def user(self, name: str) -> ChatSession:
        if name not in self.users:
            raise AssertionError(f"{name} is not connected in this scenario")
        return self.users[name]

    def attempt(self, action: Callable[[], object]) -> object | None:
        """Run a chat call, remembering a ChatError instead of raising it."""
        self.last_error = None
        try:
            return action()
        except ChatError as error:
            self.last_error = error
            return None

    def move_room(self, room: str) -> None:
        """Have the inspector move the room's shard to another server, as an operator would."""
        cluster = self.require_cluster()
        object_id = f"ChatRoom-{room}"
        owner = self.owner_of(object_id)

        def shard_shown() -> int:
            placed = {o["id"]: o for o in cluster.inspector_view("/graph")["goverse_objects"]}
            expect.that(object_id in placed, f"the inspector does not show {object_id} yet (it "
                        f"shows {listing(sorted(placed), empty='no object')})")
            return int(placed[object_id]["shard_id"])

        # Servers report their objects to the inspector on their own schedule.
        shard_id = self._watch(shard_shown, INSPECTOR_REPORTS_WITHIN)
        other = next(m for name, m in cluster.nodes.items() if name != owner)
        self.previous_owner = owner
        cluster.move_shard(shard_id, other.address)

    def owner_of(self, object_id: str) -> str:
        for node, ids in self.require_cluster().objects_by_node().items():
            if object_id in ids:
                return node
        raise AssertionError(f"no server holds {object_id}")

    # --- what people do -----------------------------------------------------------------------
    def try_list_rooms(self, user: str) -> None:
        """List the rooms expecting a refusal (remembered as the last error)."""
        self.attempt(self.user(user).list_rooms)

    def list_rooms(self, user: str) -> list[str]:
        self.rooms = self.user(user).list_rooms()
        return self.rooms

    def list_rooms_anonymously(self, gate: int) -> list[str]:
        self.rooms = self.anonymous(gate).list_rooms()
        return self.rooms

    def join(self, user: str, room: str) -> Joined:
        self.joined[user] = self.user(user).join(room)
        return self.joined[user]

    def try_join_anonymously(self, room: str, gate: int) -> None:
        """Join without an identity, expecting a refusal (remembered as the last error)."""
        visitor = self.anonymous(gate)
        self.attempt(lambda: visitor.join(room))

    def welcome_of(self, user: str) -> Joined:
        """What the room answered when ``user`` last joined it."""
        if user not in self.joined:
            raise AssertionError(f"{user} has joined no room in this scenario")
        return self.joined[user]

    def say(self, user: str, room: str, text: str) -> None:
        self.user(user).send(room, text)

    def wait_for_message(self, user: str, text: str, seconds: float) -> Pushed:
        """The message pushed to ``user`` with this text, waiting up to ``seconds`` for it."""
        return self.user(user).wait_for(text, self.settings.timeout(seconds))

    def pushed_texts(self, user: str) -> list[str]:
        return [pushed.text for pushed in self.user(user).pushed]

    def wait_until_rejoined(self, user: str, room: str, seconds: float) -> None:
        """Until ``user`` can join ``room``: one attempt every WATCH_POLL seconds, each given
        REJOIN_ATTEMPT_WITHIN, so that an attempt stuck on a hung server does not hold up the
        next (a join answers in milliseconds once the room has a live server)."""
        client = self.user(user)
        attempt_within = self.settings.timeout(REJOIN_ATTEMPT_WITHIN)

        def rejoin() -> None:
            result = self.attempt(lambda: client.join(room, timeout=attempt_within))
            expect.that(result is not None, f"{user} cannot join {room}: {self.last_error}")

        self._watch(rejoin, seconds)

    # --- the cluster as an operator sees it ---------------------------------------------------
    def objects_by_server(self) -> dict[str, list[str]]:
        return self.require_cluster().objects_by_node()

    def object_count(self) -> int:
        return self.require_cluster().object_count()

    def server_count(self) -> int:
        return len(self.require_cluster().nodes)

    def server_address(self, node: str) -> str:
        return self.require_cluster().nodes[node].address

    def server_report(self, node: str) -> tuple[str, int]:
        """The address a server says it advertises, and how many objects it says it holds."""
        status = self.require_cluster().status(node)
        return status.advertise_addr, status.num_objects

    def server_of(self, room: str) -> str:
        return self.owner_of(f"ChatRoom-{room}")

    def kill_owner(self, room: str) -> str:
        """SIGKILL the server holding ``room`` (it is then the room's previous owner)."""
        node = self.server_of(room)
        self.previous_owner = node
        self.require_cluster().kill(node)
        return node

    def stop_everything(self) -> dict[str, int | None]:
        """Disconnect every user, then stop every process of the cluster; their exit codes."""
        for client in self.users.values():
            client.close()
        self.users.clear()
        self.exit_codes = self.require_cluster().stop()
        return self.exit_codes

    def wait_until_inspector_shows(self, gates: int, seconds: float) -> None:
        """Until the inspector shows ``gates`` gates and the six chat objects."""
        cluster = self.require_cluster()
        self._watch(lambda: cluster.assert_inspector_shows(gates, set(CHAT_OBJECT_IDS)), seconds)

    def wait_until_shards_settled(self, seconds: float) -> None:
        """Until the inspector shows every shard owned by a live server."""
        self._watch(self.require_cluster().assert_shards_settled, seconds)

    # --- hung processes -----------------------------------------------------------------------
    def hang_owner(self, room: str) -> str:
        """Freeze the server holding ``room`` (it is then the room's previous owner)."""
        node = self.owner_of(f"ChatRoom-{room}")
        self.previous_owner = self.hung_server = node
        self.require_cluster().hang(node)
        return node

    def wake_hung_server(self) -> None:
        if self.hung_server is None:
            raise AssertionError("no server was hung in this scenario")
        self.require_cluster().wake(self.hung_server)

    def wait_until_registered(self, seconds: float) -> None:
        """Until every server and gate of the cluster has its registration in etcd."""
        cluster = self.require_cluster()
        everyone = {*cluster.nodes, *cluster.gates}

        def registered() -> None:
            missing = everyone - cluster.registered()
            expect.that(not missing, f"{listing(sorted(missing))} not registered with the cluster "
                        "(in etcd) yet")

        self._watch(registered, seconds)

    def wait_until_held_once(self, room: str, seconds: float) -> None:
        """Until exactly one server holds ``room`` (none serves it twice)."""
        object_id = f"ChatRoom-{room}"

        def once() -> None:
            holders = sorted(node for node, ids in self.require_cluster().objects_by_node().items()
                             if object_id in ids)
            expect.that(len(holders) == 1, f'"{room}" is held by '
                        f"{listing(holders, empty='no server')}; expected exactly one server")

        self._watch(once, seconds)

    def keep_chatting(self, user: str, room: str, seconds: float) -> int:
        """For ``seconds``, ``user`` says one message after another in ``room``, each to arrive
        back within ``ECHO_WITHIN``; returns how many went round."""
        client = self.user(user)
        ends, count = time.monotonic() + seconds, 0
        while count == 0 or time.monotonic() < ends:
            count += 1
            text = f"Steady message {count}"
            try:
                client.send(room, text)
            except ChatError as error:
                raise AssertionError(f"{user} could not say message {count} in {room} after "
                                     f"{seconds - (ends - time.monotonic()):.1f} s: "
                                     f"{error}") from error
            client.wait_for(text, self.settings.timeout(ECHO_WITHIN))
        return count

    def close(self, share: bool = False) -> dict[str, int | None]:
        """Disconnect the users, then hand the cluster on to the feature's next scenario (with
        ``share``, if it is intact) or stop it; returns the processes that did not exit cleanly
        (a scenario's deliberate kills excepted)."""
        for client in self.users.values():
            client.close()
        if self.cluster is None:
            return {}
        if share and self.shared is not None and self.cluster.intact():
            shape = (len(self.cluster.nodes), len(self.cluster.gates),
                     self.cluster.inspector is not None)
            self.shared.keep(CLUSTER_SLOT, shape, self.cluster, ChatCluster.stop_checked)
            return {}
        self.exit_codes.update(self.cluster.stop())
        return self.cluster.unclean_exits()

    def pushed_messages(self) -> str:
        lines = []
        for name, client in self.users.items():
            for pushed in client.pushed:
                stamp = time.strftime("%H:%M:%S", time.localtime(pushed.arrived))
                lines.append(f"[{stamp}] to {name}: {pushed.user}: {pushed.text}")
        return "\n".join(lines) or "(no pushed messages)"

