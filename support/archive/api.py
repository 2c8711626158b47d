"""A client of status-backend's HTTP API (contract §1–§3): the ``/statusgo/<Function>`` calls a
person's lifecycle needs, ``CallRPC`` with positional params, and ``/health``.

Every exchange goes through one ``requests`` session recorded in the scenario's journal.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from typing import Any

import requests

from support.journal import Journal

METHOD_NOT_FOUND = -32601  # geth: "the method X does not exist/is not available"


class ApiError(AssertionError):
    """A status-backend function answered with a non-empty ``error`` or not as JSON."""


class RpcError(AssertionError):
    """A JSON-RPC call through ``CallRPC`` was answered with an error object."""

    def __init__(self, method: str, code: int, message: str) -> None:
        super().__init__(f"{method} was refused ({code}): {message}")
        self.method = method
        self.code = code
        self.message = message


class StatusBackendClient:
    """One running status-backend, reached at ``base_url`` (``http://host:port``)."""

    def __init__(self, base_url: str, timeout: float, journal: Journal | None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._ids = itertools.count(1)
        self._session = requests.Session()
        if journal is not None:
            journal.attach(self._session)

    @property
    def signals_url(self) -> str:
        return self.base_url.replace("http", "ws", 1) + "/signals"

    def close(self) -> None:
        self._session.close()

    def health(self, timeout: float) -> dict[str, Any]:
        """``/health`` as status-go's test client asks it (POST with body ``[]``)."""
        response = self._session.post(f"{self.base_url}/health", json=[], timeout=timeout)
        response.raise_for_status()
        return dict(response.json())

    def _function(self, name: str, body: Mapping[str, Any], timeout: float | None = None
                  ) -> dict[str, Any]:
        response = self._session.post(f"{self.base_url}/statusgo/{name}", json=dict(body),
                                      timeout=timeout or self.timeout)
        if response.status_code != 200 or not response.content:
            raise ApiError(f"{name} answered HTTP {response.status_code} "
                           f"{response.text[:200]!r}")
        try:
            reply = response.json()
        except json.JSONDecodeError as exc:
            raise ApiError(f"{name} answered with something that is not JSON: "
                           f"{response.text[:200]!r}") from exc
        if isinstance(reply, dict) and reply.get("error"):
            raise ApiError(f"{name} failed: {reply['error']}")
        return reply if isinstance(reply, dict) else {"result": reply}

    def initialize_application(self, data_dir: str, fleets_file: str) -> dict[str, Any]:
        return self._function("InitializeApplication", {
            "dataDir": data_dir, "logEnabled": True, "logLevel": "INFO",
            "apiLoggingEnabled": True, "wakuFleetsConfigFilePath": fleets_file,
        })

    def create_account_and_login(self, request: Mapping[str, Any]) -> None:
        """The HTTP reply only says the request was taken; ``node.login`` tells the outcome."""
        self._function("CreateAccountAndLogin", request)

    def login_account(self, key_uid: str, password: str) -> None:
        self._function("LoginAccount", {"password": password, "keyUid": key_uid,
                                        "kdfIterations": 256000})

    def logout(self, timeout: float | None = None) -> None:
        self._function("Logout", {}, timeout)

    def call(self, method: str, params: Sequence[Any] = ()) -> Any:
        """``CallRPC`` with positional ``params``; returns ``result`` or raises RpcError."""
        request: dict[str, Any] = {"jsonrpc": "2.0", "id": next(self._ids), "method": method,
                                   "params": list(params)}
        response = self._session.post(f"{self.base_url}/statusgo/CallRPC", json=request,
                                      timeout=self.timeout)
        try:
            reply = response.json()
        except json.JSONDecodeError as exc:
            raise RpcError(method, 0, f"HTTP {response.status_code}, not JSON: "
                                      f"{response.text[:200]!r}") from exc
        error = reply.get("error") if isinstance(reply, dict) else None
        if error:
            raise RpcError(method, int(error.get("code", 0)), str(error.get("message", error)))
        if not isinstance(reply, dict) or "result" not in reply:
            raise RpcError(method, 0, f"an answer without result: {str(reply)[:200]}")
        return reply["result"]
