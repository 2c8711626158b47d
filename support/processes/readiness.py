"""Readiness checks: each answers "is the process serving yet?" once, or says why not."""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import grpc
import requests
from grpc_health.v1 import health_pb2, health_pb2_grpc


class NotReadyError(Exception):
    """The process is not ready yet; the message says what the last check saw."""


@dataclass(frozen=True)
class ProcessOutput:
    """What the process itself wrote to its log (from ``start``, after the launcher's header)."""

    path: Path
    start: int = 0

    def lines(self) -> list[str]:
        with open(self.path, "rb") as log:
            log.seek(self.start)
            return log.read().decode("utf-8", "replace").splitlines()


class Readiness(Protocol):
    """One probe of a process; raises NotReadyError until the process serves."""

    def describe(self) -> str: ...

    def check(self, output: ProcessOutput) -> None: ...


@dataclass(frozen=True)
class HttpGet:
    """Ready when ``GET url`` answers with ``status``."""

    url: str
    status: int = 200
    timeout: float = 2.0

    def describe(self) -> str:
        return f"GET {self.url} answers {self.status}"

    def check(self, output: ProcessOutput) -> None:
        try:
            response = requests.get(self.url, timeout=self.timeout)
        except requests.RequestException as exc:
            raise NotReadyError(f"GET {self.url}: {exc.__class__.__name__}") from exc
        if response.status_code != self.status:
            raise NotReadyError(f"GET {self.url} answered {response.status_code}")


@dataclass(frozen=True)
class TcpConnect:
    """Ready when a TCP connection to ``host:port`` is accepted."""

    host: str
    port: int
    timeout: float = 1.0

    def describe(self) -> str:
        return f"TCP {self.host}:{self.port} accepts connections"

    def check(self, output: ProcessOutput) -> None:
        try:
            with socket.create_connection((self.host, self.port), timeout=self.timeout):
                return
        except OSError as exc:
            raise NotReadyError(f"TCP {self.host}:{self.port}: {exc}") from exc


@dataclass(frozen=True)
class GrpcHealth:
    """Ready when the gRPC health service reports SERVING for ``service``."""

    target: str
    service: str = ""
    timeout: float = 1.0

    def describe(self) -> str:
        return f"gRPC health of {self.service or 'the server'} at {self.target} is SERVING"

    def check(self, output: ProcessOutput) -> None:
        with grpc.insecure_channel(self.target) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            try:
                # types-grpcio-health-checking declares HealthStub without its methods.
                reply = stub.Check(  # type: ignore[attr-defined]
                    health_pb2.HealthCheckRequest(service=self.service), timeout=self.timeout
                )
            except grpc.RpcError as exc:
                raise NotReadyError(f"gRPC health at {self.target}: {exc.code().name}") from exc
        if reply.status != health_pb2.HealthCheckResponse.SERVING:
            status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
            raise NotReadyError(f"gRPC health at {self.target}: {status}")


@dataclass(frozen=True)
class LogLine:
    """Ready when the process's log contains a line matching ``pattern``."""

    pattern: str

    def describe(self) -> str:
        return f"the log shows /{self.pattern}/"

    def check(self, output: ProcessOutput) -> None:
        regex = re.compile(self.pattern)
        if any(regex.search(line) for line in output.lines()):
            return
        raise NotReadyError(f"no log line matches /{self.pattern}/ yet")
