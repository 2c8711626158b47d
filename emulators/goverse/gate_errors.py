"""What a gate's calls can end in, shared by its gRPC and HTTP faces, and how long they may take."""

from __future__ import annotations

import math

import grpc

DEFAULT_CALL_TIMEOUT = 30.0  # Goverse's default deadline for a routed call (cluster/constants.go)
# grpcio reports "no deadline" as ~9.2e18 s remaining (gpr_inf_future), never None. No caller can
# ask for more than gRPC's grpc-timeout header carries (8 digits of hours, ~3.6e11 s), so more
# than this is "no deadline".
_NO_DEADLINE_ABOVE = 1e12


def call_timeout(remaining: float | None) -> float:
    """Seconds a routed call may take: the caller's deadline, or, when the caller set none,
    Goverse's default (``callcontext.WithDefaultTimeout``: 30 s)."""
    if remaining is None or not math.isfinite(remaining) or remaining > _NO_DEADLINE_ABOVE:
        return DEFAULT_CALL_TIMEOUT
    return remaining


class AuthError(Exception):
    """The client may not register (or, over HTTP, call)."""


class GateCallError(Exception):
    """A call the gate could not complete: the gRPC status code and Goverse's message."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
