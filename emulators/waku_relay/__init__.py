"""An emulated Waku relay: a websocket pub/sub that hands every message to every node."""
