"""status-go's ``mobile`` functions behind ``/statusgo/*`` that the node implements:
InitializeApplication, CreateAccountAndLogin, LoginAccount, Logout and CallRPC.

Every answer is the string the Go function returns (``{"error": ""}`` on success,
``{"error": "<text>"}`` otherwise). A login runs in the background, as ``api.RunAsync`` does:
the reply only says the request was valid, ``node.login`` says how it went. While an account is
logged in, CallRPC reaches its messenger's methods; otherwise every method is unknown.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

from emulators.community import errors, rpc
from emulators.community.accounts import AccountError, AccountStore, StoredAccount
from emulators.community.messenger import Messenger
from emulators.community.mobile_requests import (
    CREATE_ACCOUNT,
    INITIALIZE_APPLICATION,
    LOGIN,
    decode_request,
    validate_create_account,
    validate_initialize_application,
    validate_login,
)
from emulators.community.seams import LoginConfig, SignalSink
from emulators.http_json import go_marshal

_log = logging.getLogger(__name__)
# status-go's defaults when the request leaves them out (protocol/messenger_communities.go).
_DEFAULT_IMPORT_DELAY = 5 * 60.0
_DEFAULT_ARCHIVE_INTERVAL = 7 * 24 * 3600.0
_NO_RUNNING_NODE = "there is no running node"
_NODE_RUNNING = "node is already running"


def _response(error: str = "") -> str:
    """``makeJSONResponse``: ``{"error": <text>}``."""
    return go_marshal({"error": error})


def _decoded(body: bytes, struct: str, fields: Mapping[str, str],
             validate: Callable[[dict[str, object]], str]) -> dict[str, object] | str:
    """The request ``requests.<struct>`` decoded and valid, or the response refusing it (Go's
    first decoding error, else the struct's ``Validate`` text)."""
    try:
        request = decode_request(body, struct, fields)
    except ValueError as error:
        return _response(str(error))
    problem = validate(request)
    return _response(problem) if problem else request


class _Session:
    """A logged-in account and its messenger."""

    def __init__(self, stored: StoredAccount, messenger: _Messenger) -> None:
        self.stored = stored
        self.messenger = messenger


class _Messenger(Protocol):
    """What the backend needs of ``messenger.Messenger``."""

    def methods(self) -> Mapping[str, rpc.Method]: ...

    def close(self) -> None: ...


class Backend:
    """One status-backend's state: the root data directory, and at most one running account."""

    def __init__(self, signals: SignalSink) -> None:
        self._signals = signals
        self._lock = threading.Lock()
        self._store: AccountStore | None = None
        self._fleets_file: Path | None = None
        self._session: _Session | None = None
        self._methods: Mapping[str, rpc.Method] = {}

    def with_request(self) -> dict[str, Callable[[bytes], str]]:
        """The implemented functions that take the request body."""
        return {"InitializeApplication": self.initialize_application,
                "CreateAccountAndLogin": self.create_account_and_login,
                "LoginAccount": self.login_account, "CallRPC": self.call_rpc}

    def without_request(self) -> dict[str, Callable[[], str]]:
        """The implemented functions that take nothing."""
        return {"Logout": self.logout}

    # --- the functions ---------------------------------------------------------------------------
    def initialize_application(self, body: bytes) -> str:
        request = _decoded(body, "InitializeApplication", INITIALIZE_APPLICATION,
                           validate_initialize_application)
        if isinstance(request, str):
            return request
        store = AccountStore(Path(str(request["dataDir"])))
        fleets = str(request["wakuFleetsConfigFilePath"])
        with self._lock:
            self._store = store
            self._fleets_file = Path(fleets) if fleets else None
        accounts = [stored.multiaccount() for stored in store.all()]
        return go_marshal({"accounts": accounts or None,
                           "centralizedMetricsInfo": {"enabled": False, "userConfirmed": False,
                                                      "userID": ""}})

    def create_account_and_login(self, body: bytes) -> str:
        request = _decoded(body, "CreateAccount", CREATE_ACCOUNT, validate_create_account)
        if isinstance(request, str):
            return request
        self._run_async(lambda: self._create_and_start(request))
        return _response()

    def login_account(self, body: bytes) -> str:
        request = _decoded(body, "Login", LOGIN, validate_login)
        if isinstance(request, str):
            return request
        self._run_async(lambda: self._open_and_start(str(request["keyUid"]),
                                                     str(request["password"])))
        return _response()

    def logout(self) -> str:
        with self._lock:
            session, self._session, self._methods = self._session, None, {}
        if session is None:
            return _response(_NO_RUNNING_NODE)
        session.messenger.close()
        self._signals.send("node.stopped", None)
        return _response()

    def call_rpc(self, body: bytes) -> str:
        with self._lock:
            methods = self._methods
        return go_marshal(rpc.call_raw(body, methods))

    # --- logging in ------------------------------------------------------------------------------
    def _run_async(self, start: Callable[[], _Session]) -> None:
        """``api.RunAsync``: the login happens in the background, its outcome is ``node.login``."""
        threading.Thread(target=self._login, args=(start,), name="login", daemon=True).start()

    def _login(self, start: Callable[[], _Session]) -> None:
        try:
            session = start()
        except AccountError as error:
            self._signals.send("node.login", {"error": str(error)})
            return
        except Exception as error:  # a node that fails to start reports it in node.login
            _log.error("failed to start the node: %r", error)
            self._signals.send("node.login", {"error": str(error)})
            return
        self._signals.send("node.started", None)
        self._signals.send("node.ready", None)
        self._signals.send("node.login", {"settings": session.stored.settings(),
                                          "account": session.stored.multiaccount()})

    def _create_and_start(self, request: dict[str, object]) -> _Session:
        store = AccountStore(Path(str(request["rootDataDir"])))
        with self._lock:
            self._store = store  # status-go: UpdateRootDataDir(request.RootDataDir)
            if self._session is not None:
                raise AccountError(_NODE_RUNNING)
        config = {"fleet": request["wakuV2Fleet"], "logLevel": request["logLevel"] or "INFO",
                  "importInitialDelay": request["ImportInitialDelay"],
                  "messageArchiveInterval": request["MessageArchiveInterval"],
                  "logosStorageEnabled": bool(request["LogosStorageConfigEnabled"]),
                  "logosStorageBootstrapNode": request["LogosStorageConfigBootstrapNode"]}
        stored = store.create(str(request["displayName"]), str(request["password"]),
                              str(request["customizationColor"]), int(request["kdfIterations"]),
                              config)
        return self._start(stored)

    def _open_and_start(self, key_uid: str, password: str) -> _Session:
        with self._lock:
            store = self._store
            if self._session is not None:
                raise AccountError(_NODE_RUNNING)
        if store is None:
            raise AccountError(errors.NO_ROWS)
        return self._start(store.open(key_uid, password))

    def _start(self, stored: StoredAccount) -> _Session:
        messenger = Messenger(stored.account(), self._login_config(stored), self._signals)
        session = _Session(stored, messenger)
        with self._lock:
            if self._session is not None:
                messenger.close()
                raise AccountError(_NODE_RUNNING)
            self._session, self._methods = session, messenger.methods()
        return session

    def _login_config(self, stored: StoredAccount) -> LoginConfig:
        config = stored.record["config"]
        assert isinstance(config, dict)
        bootstrap = config["logosStorageBootstrapNode"]
        return LoginConfig(
            data_dir=stored.folder, fleets_file=self._fleets_file, fleet=str(config["fleet"]),
            import_initial_delay=_seconds(config["importInitialDelay"], _DEFAULT_IMPORT_DELAY),
            message_archive_interval=_seconds(config["messageArchiveInterval"],
                                              _DEFAULT_ARCHIVE_INTERVAL),
            logos_storage_enabled=bool(config["logosStorageEnabled"]),
            logos_storage_bootstrap=(str(bootstrap),) if bootstrap else ())

    def shutdown(self) -> None:
        """SIGTERM/SIGINT: log the running account out (``handleInterrupts``)."""
        self.logout()


def _seconds(value: object, default: float) -> float:
    """``WithImportInitialDelay(n)`` / ``WithMessageArchiveInterval(n)``: only n > 0 applies."""
    return float(value) if isinstance(value, int) and value > 0 else default
