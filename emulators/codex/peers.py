"""Which peers a node knows, and how it learns them: discovery over the UDP ``--disc-port``.

A node greets each ``--bootstrap-node`` with its two signed records (the DHT record with its UDP
address, as ``/spr`` shows, and the announce record with its TCP exchange addresses). A greeted
node answers with its own records and those of every peer it knows, so nodes learn each other
transitively; a refresh loop keeps greeting known peers so that late joiners and restarts are
noticed. Records are verified (signature and peer ID) before a peer is added.
"""

from __future__ import annotations

import json
import math
import random
import socket
import threading
import time
from dataclasses import dataclass, field

from emulators.codex.identity import InvalidRecordError, PeerRecord, decode_spr
from emulators.codex.logs import ChroniclesLogger

REFRESH_INTERVAL = 2.0
SEEN_WINDOW = 10.0
# A peer that failed to answer (gone, or silent for a retry interval) is asked last for this
# long, as nim-codex drops a peer that timed out during a block request so that the next retry
# picks another (engine.nim, ``evictPeer``); it is still asked when nobody else has the block.
TROUBLE_WINDOW = 10.0
_MAX_LACKS = 1024  # what a peer lacks is remembered for this many CIDs at most
_MAX_DATAGRAM = 65507


@dataclass
class Peer:
    """A known peer and where to reach it."""

    peer_id: str
    node_id: str
    dht_spr: str | None = None
    announce_spr: str | None = None
    udp: tuple[str, int] | None = None
    tcp: list[tuple[str, int]] = field(default_factory=list)
    last_seen: float = 0.0
    troubled_at: float = -math.inf  # when it last failed to answer
    lacks: set[str] = field(default_factory=set)  # what it said it does not have

    @property
    def troubled(self) -> bool:
        return time.monotonic() - self.troubled_at < TROUBLE_WINDOW

    @property
    def seen(self) -> bool:
        return time.monotonic() - self.last_seen < SEEN_WINDOW

    def table_entry(self) -> dict[str, object]:
        """This peer as ``/debug/info`` lists it under ``table.nodes``."""
        return {
            "nodeId": self.node_id,
            "peerId": self.peer_id,
            "record": self.dht_spr or "",
            "address": f"{self.udp[0]}:{self.udp[1]}" if self.udp else None,
            "seen": self.seen,
        }


class PeerTable:
    """Thread-safe set of known peers, keyed by peer ID."""

    def __init__(self, own_peer_id: str) -> None:
        self._own = own_peer_id
        self._peers: dict[str, Peer] = {}
        self._lock = threading.Lock()

    def learn(self, dht: PeerRecord | None, dht_spr: str | None, announce: PeerRecord,
              announce_spr: str, seen: bool) -> Peer | None:
        """Add or refresh a peer from its verified records; returns it if it was new."""
        if announce.peer_id == self._own or (dht and dht.peer_id != announce.peer_id):
            return None
        tcp = [(host, port) for proto, host, port in announce.addresses if proto == "tcp"]
        with self._lock:
            peer = self._peers.get(announce.peer_id)
            is_new = peer is None
            if peer is None:
                peer = Peer(announce.peer_id, announce.node_id)
                self._peers[peer.peer_id] = peer
            if dht is not None:
                peer.dht_spr, peer.udp = dht_spr, dht.first("udp")
            peer.announce_spr, peer.tcp = announce_spr, tcp
            if seen:
                peer.last_seen = time.monotonic()
        return peer if is_new else None

    def get(self, peer_id: str) -> Peer | None:
        with self._lock:
            return self._peers.get(peer_id)

    def all(self) -> list[Peer]:
        with self._lock:
            return list(self._peers.values())

    def ranked(self, wanted: str) -> list[Peer]:
        """Every peer, in random order except that peers which recently failed to answer, and
        then those which said they lack ``wanted``, come last (nim-codex asks the peers that
        have a block first: ``getPeersForBlock``)."""
        peers = self.all()
        random.shuffle(peers)
        peers.sort(key=lambda peer: (peer.troubled, wanted in peer.lacks))
        return peers

    def note_answer(self, peer: Peer, wanted: str, *, had: bool) -> None:
        """The peer answered: it had ``wanted`` or said it does not."""
        with self._lock:
            peer.troubled_at = -math.inf
            if had:
                peer.lacks.discard(wanted)
            else:
                if len(peer.lacks) >= _MAX_LACKS:
                    peer.lacks.clear()
                peer.lacks.add(wanted)

    def note_trouble(self, peer: Peer) -> None:
        """The peer did not answer."""
        with self._lock:
            peer.troubled_at = time.monotonic()


class Discovery:
    """The UDP side: greets bootstrap nodes and known peers, answers greetings."""

    def __init__(self, sock: socket.socket, table: PeerTable, *, dht_spr: str, announce_spr: str,
                 bootstrap: tuple[str, ...], logger: ChroniclesLogger) -> None:
        self._sock = sock
        self._table = table
        self._records = {"dht": dht_spr, "announce": announce_spr}
        self._bootstrap = [decode_spr(spr) for spr in bootstrap]
        self._log = logger
        self._stopping = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._serve, name="discovery", daemon=True).start()
        threading.Thread(target=self._refresh, name="discovery-refresh", daemon=True).start()

    def stop(self) -> None:
        self._stopping.set()

    def greet(self, address: tuple[str, int]) -> None:
        self._send(address, {"type": "hello", **self._records})

    def _send(self, address: tuple[str, int], message: dict[str, object]) -> None:
        try:
            self._sock.sendto(json.dumps(message).encode(), address)
        except OSError as exc:
            self._log.trace("Discovery send failed", topics="discv5", address=address, error=exc)

    def _refresh(self) -> None:
        while True:
            for record in self._bootstrap:
                udp = record.first("udp")
                if udp is not None:
                    self.greet(udp)
            for peer in self._table.all():
                if peer.udp is not None:
                    self.greet(peer.udp)
            if self._stopping.wait(REFRESH_INTERVAL):
                return

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                data, address = self._sock.recvfrom(_MAX_DATAGRAM)
            except OSError:
                return
            try:
                self._handle(json.loads(data), address)
            except (ValueError, KeyError, TypeError, InvalidRecordError) as exc:
                self._log.debug("Ignored a discovery message", topics="discv5", error=exc)

    def _learn(self, records: dict[str, str], seen: bool) -> Peer | None:
        dht = decode_spr(records["dht"]) if records.get("dht") else None
        announce = decode_spr(records["announce"])
        peer = self._table.learn(dht, records.get("dht"), announce, records["announce"], seen)
        if peer is not None:
            self._log.debug("Discovered peer", topics="discv5", peer=peer.peer_id)
        return peer

    def _handle(self, message: dict[str, object], address: tuple[str, int]) -> None:
        sender = {"dht": message["dht"], "announce": message["announce"]}
        self._learn(sender, seen=True)  # type: ignore[arg-type]
        if message["type"] == "hello":
            sender_id = decode_spr(str(message["announce"])).peer_id
            known = [{"dht": p.dht_spr, "announce": p.announce_spr} for p in self._table.all()
                     if p.peer_id != sender_id and p.announce_spr]
            self._send(address, {"type": "welcome", **self._records, "peers": known})
        elif message["type"] == "welcome":
            for records in message.get("peers", []):  # type: ignore[attr-defined]
                peer = self._learn(records, seen=False)
                if peer is not None and peer.udp is not None:
                    self.greet(peer.udp)
