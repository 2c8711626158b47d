"""Server-sent events read from a streamed ``requests`` response, as they arrive."""

from __future__ import annotations

from collections.abc import Iterator

import requests


def server_sent_events(response: requests.Response) -> Iterator[tuple[str, str]]:
    """``(event name, data)`` for each event of the stream (the name is ``message`` when the
    event gives none). Reads line by line: ``iter_lines`` would wait for 512-byte chunks."""
    event, data = "", []
    for raw in iter(response.raw.readline, b""):
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if line.startswith("event:"):
            event = line[len("event:"):].strip()
        elif line.startswith("data:"):
            data.append(line[len("data:"):].removeprefix(" "))
        elif not line and (event or data):
            yield event or "message", "\n".join(data)
            event, data = "", []
