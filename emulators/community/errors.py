"""The status-go error texts the community emulator answers from more than one place, each
written once (the RPC error's ``message``, or a mobile function's ``{"error": …}``)."""

from __future__ import annotations

from typing import Final

NO_ROWS: Final = "sql: no rows in result set"  # database/sql's ErrNoRows, passed on as is
COMMUNITY_NOT_FOUND: Final = "community not found"  # communities.ErrOrgNotFound
CHAT_NOT_FOUND: Final = "chat not found"  # protocol.ErrChatNotFound
