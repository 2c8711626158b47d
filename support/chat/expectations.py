"""Chat checks in the words of the people chatting and of the operator watching the cluster."""

from __future__ import annotations

from support.expect import listing, plural


def servers(count: int) -> str:
    """A number of chat servers: ``1 server``, ``3 servers``."""
    return plural(count, "server")


def chat_objects(count: int) -> str:
    """A number of chat objects: ``1 chat object``, ``3 chat objects``."""
    return plural(count, "chat object")


def refusal(error: tuple[str, str]) -> str:
    """A refused call as its gRPC code and text: ``UNAUTHENTICATED with "no identity"``."""
    code, details = error
    return f'{code} with "{details}"'


def greeting(joined: tuple[str, list[tuple[str, str]]]) -> str:
    """The room joined and what it greeted the user with: ``"lobby" with SYSTEM: "Hi"``."""
    room, recent = joined
    said = listing((f'{sender}: "{text}"' for sender, text in recent), empty="no message")
    return f'"{room}" with {said}'


def exit_codes(codes: dict[str, int | None]) -> str:
    """Each process and how it ended: ``chat-1 code 0, gate-1 still running``."""
    return listing(f"{name} " + ("still running" if code is None else f"code {code}")
                   for name, code in sorted(codes.items()))


def server_report(report: tuple[str, int]) -> str:
    """What a server says of itself: ``the address 127.0.0.1:4001 and 3 chat objects``."""
    address, count = report
    return f"the address {address} and {plural(count, 'chat object')}"
