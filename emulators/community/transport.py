"""Waku as the emulator has it: a websocket to the relay named in the fleets file, envelopes of
the emulator's own JSON, reconnecting with backoff when the relay goes away.

Envelope (one text frame): ``{"pubsubTopic", "contentTopic": "0x" + 8 hex, "timestamp": ns,
"payload": base64, "signer": "0x04…"}``. Its hash is computed by every receiver alike.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from websockets.exceptions import WebSocketException
from websockets.sync.client import ClientConnection, connect

PUBSUB_TOPIC = "/waku/2/default-waku/proto"
MAX_FRAME = 1 << 25
OPEN_TIMEOUT = 5.0
FIRST_BACKOFF = 0.1
MAX_BACKOFF = 2.0
_FLEET_KEY = "tcp/p2p/waku"

log = logging.getLogger("emulators.community.transport")


@dataclass(frozen=True)
class Envelope:
    """One Waku message: what the relay carries and what the control node stores."""

    content_topic: bytes  # 4 bytes
    timestamp: int  # ns
    payload: bytes
    signer: bytes  # 65-byte uncompressed public key of the sender
    pubsub_topic: str = PUBSUB_TOPIC

    @property
    def hash(self) -> str:
        """The deterministic message hash (sha256 over pubsub topic, payload, content topic,
        timestamp), lowercase hex without ``0x``."""
        digest = hashlib.sha256(self.pubsub_topic.encode() + self.payload + self.content_topic
                                + self.timestamp.to_bytes(8, "big", signed=True))
        return digest.hexdigest()

    def to_text(self) -> str:
        return json.dumps({"pubsubTopic": self.pubsub_topic,
                           "contentTopic": "0x" + self.content_topic.hex(),
                           "timestamp": self.timestamp,
                           "payload": base64.b64encode(self.payload).decode(),
                           "signer": "0x" + self.signer.hex()})

    @classmethod
    def from_text(cls, text: str | bytes) -> Envelope:
        """Parse a frame; ValueError if it is not an envelope."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("envelope is not an object")
        topic, signer = data.get("contentTopic"), data.get("signer")
        timestamp, payload = data.get("timestamp"), data.get("payload")
        pubsub = data.get("pubsubTopic", PUBSUB_TOPIC)
        if not (isinstance(topic, str) and isinstance(signer, str) and isinstance(payload, str)
                and isinstance(pubsub, str) and type(timestamp) is int):
            raise ValueError("envelope fields missing or of the wrong type")
        try:
            content_topic = bytes.fromhex(topic.removeprefix("0x"))
            signer_bytes = bytes.fromhex(signer.removeprefix("0x"))
            payload_bytes = base64.b64decode(payload, validate=True)
        except (ValueError, binascii.Error) as exc:
            raise ValueError(f"envelope field not decodable: {exc}") from exc
        if len(content_topic) != 4 or len(signer_bytes) != 65 or not 0 <= timestamp < 1 << 63:
            raise ValueError("envelope topic, signer or timestamp out of range")
        return cls(content_topic, timestamp, payload_bytes, signer_bytes, pubsub)


def relay_url(fleets_file: Path | None, fleet: str) -> str | None:
    """``ws://host:port`` of the fleet's first ``tcp/p2p/waku`` node (``/ip4/…/tcp/…/ws``), or
    None when the file, the fleet or a usable address is missing."""
    if fleets_file is None:
        return None
    try:
        fleets = json.loads(fleets_file.read_text(encoding="utf-8"))
        nodes = fleets["fleets"][fleet][_FLEET_KEY]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    for address in (nodes.values() if isinstance(nodes, dict) else nodes):
        parts = str(address).strip("/").split("/")
        if len(parts) >= 4 and parts[0] in ("ip4", "ip6", "dns4", "dns6", "dns") \
                and parts[2] == "tcp" and parts[3].isdigit():
            host = f"[{parts[1]}]" if parts[0] == "ip6" else parts[1]
            scheme = "wss" if "wss" in parts[4:] else "ws"
            return f"{scheme}://{host}:{parts[3]}"
    return None


class Transport:
    """A relay connection kept up by a thread; envelopes published while the relay is away are
    sent once it is back (status-go resends too)."""

    def __init__(self, url: str | None, on_envelope: Callable[[Envelope], None]) -> None:
        self._url = url
        self._on_envelope = on_envelope
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._connection: ClientConnection | None = None
        self._pending: list[str] = []
        self._connected = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._url is None:
            log.warning("no relay configured in the fleets file: messages stay local")
            return
        self._thread = threading.Thread(target=self._run, name="waku-transport", daemon=True)
        self._thread.start()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def publish(self, envelope: Envelope) -> None:
        if self._url is None:
            return
        text = envelope.to_text()
        with self._lock:
            connection = self._connection
            if connection is None:
                self._pending.append(text)
                return
            try:
                connection.send(text)
            except (WebSocketException, OSError):
                self._pending.append(text)

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            connection = self._connection
        if connection is not None:
            connection.close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        backoff = FIRST_BACKOFF
        while not self._stop.is_set():
            try:
                with connect(self._url, open_timeout=OPEN_TIMEOUT,
                             max_size=MAX_FRAME) as connection:
                    backoff = FIRST_BACKOFF
                    self._serve(connection)
                    continue
            except (WebSocketException, OSError, TimeoutError) as exc:
                log.info("relay %s not reachable (%s); retrying in %.1fs", self._url, exc, backoff)
            self._stop.wait(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)

    def _serve(self, connection: ClientConnection) -> None:
        try:
            with self._lock:
                self._connection = connection
                pending, self._pending = self._pending, []
                for text in pending:
                    connection.send(text)
            self._connected.set()
            for frame in connection:
                self._deliver(frame)
        except (WebSocketException, OSError) as exc:
            log.info("relay connection lost: %s", exc)
        finally:
            with self._lock:
                self._connection = None
            self._connected.clear()

    def _deliver(self, frame: str | bytes) -> None:
        """Hand one frame to the node; a malformed one or a failing handler is logged and
        dropped, never fatal."""
        try:
            envelope = Envelope.from_text(frame)
        except ValueError as exc:
            log.warning("dropping a malformed relay message: %s", exc)
            return
        try:
            self._on_envelope(envelope)
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("dropping a relay message the node could not read: %s", exc)
        except Exception:
            log.exception("dropping a relay message the node could not handle")
