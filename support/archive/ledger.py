"""The emulated chain's token balances: a JSON file ``{"<address>": ["<SYMBOL>", …]}`` that the
emulated nodes re-read at every permission check (env ``STATUS_EMULATOR_TOKEN_LEDGER``)."""

from __future__ import annotations

import json
import os
from pathlib import Path


class TokenLedger:
    """Who holds which community token; absent file = nobody holds anything."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def holdings(self) -> dict[str, list[str]]:
        try:
            return dict(json.loads(self.path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return {}

    def grant(self, address: str, symbol: str) -> None:
        """Give ``address`` the token ``symbol``; the file is replaced in one rename."""
        holdings = self.holdings()
        held = holdings.setdefault(address.lower(), [])
        if symbol not in held:
            held.append(symbol)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        scratch = self.path.with_suffix(".tmp")
        scratch.write_text(json.dumps(holdings, indent=2), encoding="utf-8")
        os.replace(scratch, self.path)
