"""Goverse objects as the chat sample defines them (goverse.md §3): ChatRoomMgr and ChatRoom."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Protocol

import grpc
from google.protobuf.message import Message

from wire.pb.chat import chat_pb2

ROOMS = ["General", "Technology", "Crypto", "Sports", "Movies"]
ROOM_PREFIX = "ChatRoom-"


class ObjectError(Exception):
    """A call failed; ``code`` is the gRPC status the node answers with."""

    def __init__(self, message: str, code: grpc.StatusCode = grpc.StatusCode.UNKNOWN) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class CallContext:
    """Who is calling: the identity the gate vouched for, and the calling client's id."""

    user_id: str | None
    client_id: str


class Runtime(Protocol):
    """What objects may ask of their node."""

    def create_object_async(self, type_name: str, object_id: str) -> None: ...

    def push(self, client_ids: list[str], message: Message) -> None: ...


def go_type(message_class: type[Message]) -> str:
    """How Go's ``%T`` names a generated message type, e.g. ``*chat.ChatRoom_JoinRequest``."""
    return f"*{message_class.DESCRIPTOR.full_name}"


class GoverseObject:
    """A virtual actor: created on first use, one call at a time (the documented contract)."""

    type_name: ClassVar[str]
    methods: ClassVar[dict[str, tuple[type[Message], str]]]

    def __init__(self, object_id: str, runtime: Runtime) -> None:
        self.id = object_id
        self.runtime = runtime
        self.creation_time = int(time.time())
        self.lock = threading.Lock()

    def on_created(self) -> None:
        """Called once after creation, outside any call."""

    def invoke(self, method: str, request: Message, context: CallContext) -> Message:
        handler: Callable[[Message, CallContext], Message] = getattr(self, self.methods[method][1])
        with self.lock:
            return handler(request, context)


def now_micros() -> int:
    return time.time_ns() // 1000


class ChatRoomMgr(GoverseObject):
    """The singleton ``ChatRoomMgr0``: creates the five rooms and lists them."""

    type_name = "ChatRoomMgr"
    methods: ClassVar = {"ListChatRooms": (chat_pb2.ChatRoom_ListRequest, "list_chat_rooms")}

    def on_created(self) -> None:
        for room in ROOMS:
            self.runtime.create_object_async("ChatRoom", ROOM_PREFIX + room)

    def list_chat_rooms(self, request: Message, context: CallContext) -> Message:
        return chat_pb2.ChatRoom_ListResponse(chat_rooms=ROOMS)


class ChatRoom(GoverseObject):
    """A room: members are identities mapped to the client id that joined last."""

    type_name = "ChatRoom"
    methods: ClassVar = {
        "Join": (chat_pb2.ChatRoom_JoinRequest, "join"),
        "SendMessage": (chat_pb2.ChatRoom_SendChatMessageRequest, "send_message"),
    }

    def __init__(self, object_id: str, runtime: Runtime) -> None:
        super().__init__(object_id, runtime)
        self.members: dict[str, str] = {}
        self.messages: list[chat_pb2.ChatMessage] = []

    @staticmethod
    def _identity(context: CallContext) -> str:
        if not context.user_id:
            raise ObjectError("authentication required", grpc.StatusCode.UNAUTHENTICATED)
        return context.user_id

    def join(self, request: Message, context: CallContext) -> Message:
        self.members[self._identity(context)] = context.client_id
        stamp = now_micros()
        return chat_pb2.ChatRoom_JoinResponse(
            room_name=self.id[len(ROOM_PREFIX):],
            recent_messages=[
                chat_pb2.ChatMessage(user_name="SYSTEM", message="Welcome to the chatroom!",
                                     timestamp=stamp),
                chat_pb2.ChatMessage(user_name="SYSTEM", message="Feel free to start chatting.",
                                     timestamp=stamp),
            ],
        )

    def send_message(self, request: Message, context: CallContext) -> Message:
        user = self._identity(context)
        assert isinstance(request, chat_pb2.ChatRoom_SendChatMessageRequest)
        message = chat_pb2.ChatMessage(user_name=user, message=request.message,
                                       timestamp=now_micros())
        self.messages.append(message)
        self.runtime.push(list(self.members.values()),
                          chat_pb2.Client_NewMessageNotification(message=message))
        return chat_pb2.Client_SendChatMessageResponse()


OBJECT_TYPES: dict[str, type[GoverseObject]] = {cls.type_name: cls for cls in (ChatRoomMgr,
                                                                                ChatRoom)}
