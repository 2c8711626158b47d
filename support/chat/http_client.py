"""A chat client over a gate's HTTP API, as a web page talks to Goverse (goverse.md §2.2.3).

``GET /api/v1/events/stream`` opens the push stream (server-sent events: the client id first,
then every pushed message); calls are ``POST /api/v1/objects/call/{type}/{id}/{method}`` with the
request Any in base64, the client id in ``X-Client-ID`` and the credentials as the JSON object
``X-Goverse-Auth``.
"""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import threading

import grpc
import requests
import urllib3
from google.protobuf.any_pb2 import Any

from support.chat.client import CALL_TIMEOUT, ChatError, ChatSession
from support.grpc_journal import brief
from support.journal import Journal
from support.sse import server_sent_events

# What an HTTP error code stands for, in the gRPC terms the chat steps speak.
STATUS_OF_CODE = {
    "UNAUTHENTICATED": grpc.StatusCode.UNAUTHENTICATED,
    "ACCESS_DENIED": grpc.StatusCode.PERMISSION_DENIED,
    "OBJECT_NOT_FOUND": grpc.StatusCode.NOT_FOUND,
}


class ChatHttpError(ChatError):
    """A refused HTTP call: the HTTP status and Goverse's error code are kept as well."""

    def __init__(self, what: str, http_status: int, code: str, message: str) -> None:
        super().__init__(what, STATUS_OF_CODE.get(code, grpc.StatusCode.UNKNOWN), message)
        self.http_status = http_status
        self.http_code = code


class ChatHttpClient(ChatSession):
    """One user on a web page, talking to one gate's HTTP API; ``journal`` records the
    exchanges and the events the stream brings."""

    def __init__(self, base_url: str, user: str | None, password: str | None,
                 timeout: float = CALL_TIMEOUT, *, journal: Journal | None = None) -> None:
        super().__init__(user)
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        credentials = {k: v for k, v in (("x-username", user), ("x-password", password))
                       if v is not None}
        self._auth = json.dumps(credentials)
        self._session = requests.Session()
        self._journal = journal
        if journal is not None:
            journal.attach(self._session)
        self._events: requests.Response | None = None
        self._registered = threading.Event()

    @property
    def events_url(self) -> str:
        return f"{self.base_url}/api/v1/events/stream"

    def register(self) -> str:
        """Open the event stream and wait for the ``register`` event with the client id."""
        try:
            self._events = self._session.get(self.events_url, stream=True,
                                             timeout=(self.timeout, None))
        except requests.RequestException as exc:
            raise ChatError("events stream", grpc.StatusCode.UNAVAILABLE, str(exc)) from exc
        if self._events.status_code != 200:
            raise self._refusal("events stream", self._events)
        threading.Thread(target=self._receive, name=f"sse-{self.user}", daemon=True).start()
        if not self._registered.wait(self.timeout):
            raise ChatError("events stream", grpc.StatusCode.DEADLINE_EXCEEDED,
                            "no register event")
        return self.client_id

    def _receive(self) -> None:
        assert self._events is not None
        try:
            for event, data in server_sent_events(self._events):
                self._dispatch(event, json.loads(data or "{}"))
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError, ValueError,
                AttributeError):
            return  # closed, or the gate went away mid-stream (read raw: urllib3's own errors;
            # http.client may trip over a close from another thread)

    def _dispatch(self, event: str, data: dict[str, str]) -> None:
        pushed = Any.FromString(base64.b64decode(data["payload"])) if event == "message" else None
        if self._journal is not None:
            shown = brief(pushed) if pushed is not None else json.dumps(data)
            self._journal.record_frame(self.events_url, f"{event}: {shown}", "event")
        if event == "register":
            self.client_id = data["clientId"]
            self._registered.set()
        elif pushed is not None:
            self._record(pushed)

    def invoke(self, what: str, object_type: str, object_id: str, request: Any, *,
               timeout: float | None = None) -> Any:
        url = f"{self.base_url}/api/v1/objects/call/{object_type}/{object_id}/{what}"
        body = {"request": base64.b64encode(request.SerializeToString()).decode()}
        if self._journal is not None:  # the body below is base64: say what it holds
            self._journal.note(f"{self.user or 'a nameless web page'} calls {what} on "
                               f"{object_id} from a web page with {brief(request)}")
        try:
            answer = self._session.post(url, json=body, headers={
                "X-Client-ID": self.client_id, "X-Goverse-Auth": self._auth},
                timeout=self.timeout if timeout is None else timeout)
        except requests.RequestException as exc:
            raise ChatError(what, grpc.StatusCode.UNAVAILABLE, str(exc)) from exc
        if answer.status_code != 200:
            raise self._refusal(what, answer)
        return Any.FromString(base64.b64decode(answer.json()["response"]))

    @staticmethod
    def _refusal(what: str, answer: requests.Response) -> ChatHttpError:
        try:
            body = answer.json()
            return ChatHttpError(what, answer.status_code, body["code"], body["error"])
        except (ValueError, KeyError, TypeError):
            return ChatHttpError(what, answer.status_code, "", answer.text.strip())

    def close(self) -> None:
        if self._events is not None:
            # Closing a streamed response waits for the reader thread's pending read; shutting
            # the socket down first ends that read at once (urllib3 keeps the socket here).
            sock = getattr(getattr(self._events.raw, "_connection", None), "sock", None)
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            self._events.close()
        self._session.close()
