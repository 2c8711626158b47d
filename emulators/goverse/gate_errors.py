"""What a gate's calls can end in, shared by its gRPC and HTTP faces."""

from __future__ import annotations

import grpc

DEFAULT_CALL_TIMEOUT = 30.0  # Goverse's default deadline for a routed call


class AuthError(Exception):
    """The client may not register (or, over HTTP, call)."""


class GateCallError(Exception):
    """A call the gate could not complete: the gRPC status code and Goverse's message."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
