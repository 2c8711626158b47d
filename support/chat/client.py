"""Chat clients, as the Goverse chat sample's clients talk to a gate (goverse.md §3).

``ChatClient`` speaks gRPC: ``Register`` opens the push stream (credentials go in its metadata);
a background receiver records every pushed message with its arrival time; calls carry the client
id the gate gave. ``support.chat.http_client`` speaks the gate's HTTP API with the same chat
operations (``ChatSession``).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TypeVar

import grpc
from google.protobuf.any_pb2 import Any
from google.protobuf.message import Message

from support.grpc_journal import journaled_channel
from support.journal import Journal
from wire.pb.chat import chat_pb2
from wire.pb.gate import gate_pb2, gate_pb2_grpc

CALL_TIMEOUT = 10.0  # what the Go chat client uses
_Reply = TypeVar("_Reply", bound=Message)


class ChatError(Exception):
    """A chat call failed; ``code`` is the gRPC status (over HTTP: the status it stands for)."""

    def __init__(self, what: str, code: grpc.StatusCode, details: str) -> None:
        self.code = code
        self.details = details
        super().__init__(f"{what} failed: {code.name}: {details}")

    @classmethod
    def from_rpc(cls, what: str, error: grpc.RpcError) -> ChatError:
        return cls(what, error.code(), error.details() or "")


@dataclass(frozen=True)
class Pushed:
    """A message the gate pushed, as it arrived."""

    type_url: str
    user: str
    text: str
    timestamp_us: int
    arrived: float


@dataclass(frozen=True)
class Joined:
    room: str
    recent: list[tuple[str, str]]


class ChatSession:
    """One user's chat operations and the messages pushed to them, whatever the transport."""

    def __init__(self, user: str | None) -> None:
        self.user = user
        self.client_id = ""
        self.pushed: list[Pushed] = []
        self.other_pushes: list[str] = []
        self._arrival = threading.Condition()

    def register(self) -> str:
        """Open the push stream; returns the client id. Raises ChatError if refused."""
        raise NotImplementedError

    def invoke(self, what: str, object_type: str, object_id: str, request: Any, *,
               timeout: float | None = None) -> Any:
        """Call ``what`` on an object through the gate (within ``timeout`` seconds, by default
        the session's); the reply's Any. Raises ChatError."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def _record(self, message: Any) -> None:
        notification = chat_pb2.Client_NewMessageNotification()
        with self._arrival:
            if message.Unpack(notification):
                chat = notification.message
                self.pushed.append(Pushed(message.type_url, chat.user_name, chat.message,
                                          chat.timestamp, time.time()))
            else:
                self.other_pushes.append(message.type_url)
            self._arrival.notify_all()

    def wait_for(self, text: str, within: float) -> Pushed:
        """The first pushed chat message with this text; AssertionError after ``within``."""
        deadline = time.monotonic() + within
        with self._arrival:
            while True:
                for pushed in self.pushed:
                    if pushed.text == text:
                        return pushed
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [p.text for p in self.pushed]
                    raise AssertionError(f"{self.user} did not receive {text!r} within "
                                         f"{within:.1f} s (received: {seen})")
                self._arrival.wait(remaining)

    def _call(self, what: str, object_type: str, object_id: str, request: Message,
              reply: _Reply, *, timeout: float | None = None) -> _Reply:
        packed = Any()
        packed.Pack(request)
        self.invoke(what, object_type, object_id, packed, timeout=timeout).Unpack(reply)
        return reply

    def list_rooms(self) -> list[str]:
        reply = self._call("ListChatRooms", "ChatRoomMgr", "ChatRoomMgr0",
                           chat_pb2.ChatRoom_ListRequest(), chat_pb2.ChatRoom_ListResponse())
        return list(reply.chat_rooms)

    def join(self, room: str, *, timeout: float | None = None) -> Joined:
        """Join ``room`` (within ``timeout`` seconds, by default the session's)."""
        reply = self._call("Join", "ChatRoom", f"ChatRoom-{room}",
                           chat_pb2.ChatRoom_JoinRequest(user_name=self.user or ""),
                           chat_pb2.ChatRoom_JoinResponse(), timeout=timeout)
        return Joined(reply.room_name, [(m.user_name, m.message) for m in reply.recent_messages])

    def send(self, room: str, text: str) -> None:
        self._call("SendMessage", "ChatRoom", f"ChatRoom-{room}",
                   chat_pb2.ChatRoom_SendChatMessageRequest(user_name=self.user or "",
                                                            message=text),
                   chat_pb2.Client_SendChatMessageResponse())



class ChatClient(ChatSession):
    """One user connected to one gate over gRPC; ``journal`` records the calls as ``caller``'s
    (by default the user's)."""

    def __init__(self, gate: str, user: str | None, password: str | None,
                 timeout: float = CALL_TIMEOUT, *, journal: Journal | None = None,
                 caller: str | None = None) -> None:
        super().__init__(user)
        self.gate = gate
        self.timeout = timeout
        self._channel = journaled_channel(gate, journal, caller or user or "a nameless client")
        self._stub = gate_pb2_grpc.GateServiceStub(self._channel)
        self._credentials = tuple((k, v) for k, v in (("x-username", user),
                                                      ("x-password", password))
                                  if v is not None)
        # grpc's stubs name the stream's type (a Call that iterates) only privately.
        self._stream: grpc._CallIterator[Any] | None = None

    def register(self) -> str:
        self._stream = stream = self._stub.Register(gate_pb2.Empty(), metadata=self._credentials)
        try:
            first = next(stream)
        except grpc.RpcError as error:
            raise ChatError.from_rpc("Register", error) from error
        reply = gate_pb2.RegisterResponse()
        first.Unpack(reply)
        self.client_id = reply.client_id
        threading.Thread(target=self._receive, name=f"push-{self.user}", daemon=True).start()
        return self.client_id

    def _receive(self) -> None:
        assert self._stream is not None
        try:
            for message in self._stream:
                self._record(message)
        except grpc.RpcError:
            return

    def invoke(self, what: str, object_type: str, object_id: str, request: Any, *,
               timeout: float | None = None) -> Any:
        try:
            answer = self._stub.CallObject(
                gate_pb2.CallObjectRequest(client_id=self.client_id, type=object_type,
                                           id=object_id, method=what, request=request),
                timeout=self.timeout if timeout is None else timeout)
        except grpc.RpcError as error:
            raise ChatError.from_rpc(what, error) from error
        return answer.response

    def close(self) -> None:
        if self._stream is not None:
            self._stream.cancel()
        self._channel.close()
