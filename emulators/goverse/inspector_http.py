"""The inspector's HTTP API (goverse.md §6), answering as Goverse's ``inspectserver`` does.

``/graph``, ``/shards``, ``POST /shards/move`` and ``POST /shards/pin`` (compare-and-set on the
shard's etcd key; 503 without etcd), ``/healthz``, ``/ready`` (only with etcd and a fully claimed
mapping), ``/events/stream`` (SSE) and the static files of the web UI. JSON answers are written
by ``json.Encoder`` (a trailing newline; maps with sorted keys), errors by ``http.Error``.
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from emulators.gohttp import GoHandler
from emulators.goverse import errors
from emulators.goverse.etcdview import EtcdMirror, Shard
from emulators.http_json import go_decode_struct

if TYPE_CHECKING:
    from emulators.goverse.inspector import Registry

SSE_QUEUE = 100
HEARTBEAT = 30.0
NO_ETCD = "Consensus manager not available. Start inspector with --etcd-addr flag."
GET_ONLY = {"/shards": errors.ONLY_GET, "/healthz": errors.ONLY_GET, "/ready": errors.ONLY_GET,
            "/events/stream": errors.ONLY_GET_SSE}
POST_ONLY = ("/shards/move", "/shards/pin")


def _pinned(request: dict, current: Shard) -> Shard:
    """The shard's mapping with its ``pinned`` flag as the request says."""
    flags = tuple(flag for flag in current.flags if flag != "pinned")
    return Shard(current.target, current.current,
                 flags + (("pinned",) if request["pinned"] else ()))


def http_handler(registry: Registry, mirror: EtcdMirror | None, shards: int,
                 static_dir: Path) -> type[GoHandler]:
    class Handler(GoHandler):
        def route(self, method: str) -> None:
            path = self.path.split("?", 1)[0]
            body = self.read_body()
            if path in GET_ONLY and method != "GET":
                self.go_error(405, GET_ONLY[path])
            elif path in POST_ONLY and method != "POST":
                self.go_error(405, errors.ONLY_POST)
            elif path == "/graph":
                self.send_go_json(200, registry.graph())
            elif path == "/shards":
                self.send_go_json(200, self._shards())
            elif path == "/shards/move":
                self._move(body)
            elif path == "/shards/pin":
                self._pin(body)
            elif path == "/healthz":
                self.send_go_json(200, {"status": "healthy"})
            elif path == "/ready":
                ready = mirror is not None and self._fully_claimed()
                self.send_go_json(200 if ready else 503,
                                  {"status": "ready" if ready else "not ready"})
            elif path == "/events/stream":
                self._events()
            else:
                self._static(path)

        # --- shards -----------------------------------------------------------------------------
        def _fully_claimed(self) -> bool:
            assert mirror is not None
            with mirror.view.lock:
                table = mirror.view.shards
                return all(table.get(i) is not None and table[i].target and table[i].current
                           for i in range(shards))

        def _shards(self) -> dict:
            if mirror is None:
                return {"nodes": [], "shards": []}
            with registry.lock:
                counts: dict[int, int] = {}
                for obj in registry.objects.values():
                    counts[obj["shard_id"]] = counts.get(obj["shard_id"], 0) + 1
            with mirror.view.lock:
                rows = [{"shard_id": i, "target_node": s.target, "current_node": s.current,
                         "object_count": counts.get(i, 0),
                         **({"flags": list(s.flags)} if s.flags else {})}
                        for i, s in mirror.view.shards.items()]
                nodes = sorted({n for s in mirror.view.shards.values()
                                for n in (s.target, s.current) if n})
            return {"nodes": nodes, "shards": rows}

        def _shard_for_update(self, body: bytes, go_type: str,
                              fields: dict[str, type]) -> tuple[dict, Shard] | None:
            """The decoded request and the shard it names, or None after answering an error."""
            if mirror is None:
                self.go_error(503, NO_ETCD)
                return None
            try:
                request = go_decode_struct(body, go_type, fields)
            except ValueError as error:
                self.go_error(400, f"Invalid request body: {error}")
                return None
            shard_id = request["shard_id"]
            if not 0 <= shard_id < shards:
                self.go_error(400, f"Invalid shard ID: {shard_id}")
                return None
            if "target_node" in fields and not request["target_node"]:
                self.go_error(400, "Target node cannot be empty")
                return None
            with mirror.view.lock:
                current = mirror.view.shards.get(shard_id)
            if current is None:
                self.go_error(404, f"Shard {shard_id} not found in mapping")
                return None
            return request, current

        def _update_shard(self, body: bytes, go_type: str, fields: dict[str, type],
                          change: Callable[[dict, Shard], Shard]) -> tuple[dict, bool] | None:
            """Store ``change``'s new mapping for the shard the request names, unless it changed
            meanwhile: (the request, whether it was stored), or None after answering an error."""
            found = self._shard_for_update(body, go_type, fields)
            if found is None:
                return None
            request, current = found
            assert mirror is not None  # _shard_for_update answered 503 without etcd
            key = mirror.key("shard", str(request["shard_id"]))
            return request, mirror.cas_many([(key, change(request, current).value(),
                                              current.mod_revision)])

        def _move(self, body: bytes) -> None:
            updated = self._update_shard(
                body, "inspectserver.MoveShardRequest", {"shard_id": int, "target_node": str},
                lambda request, current: Shard(request["target_node"], current.current,
                                               current.flags))
            if updated is None:
                return
            request, stored = updated
            shard_id, target = request["shard_id"], request["target_node"]
            if not stored:
                self.go_error(500, "Failed to move shard: no shards updated")
                return
            registry.publish("shard_update", {})
            self.send_go_json(200, {"message": f"Shard {shard_id} target updated to {target}",
                                    "shard_id": shard_id, "success": True,
                                    "target_node": target})

        def _pin(self, body: bytes) -> None:
            updated = self._update_shard(body, "inspectserver.PinShardRequest",
                                         {"shard_id": int, "pinned": bool}, _pinned)
            if updated is None:
                return
            request, stored = updated
            self.send_go_json(200, {"pinned": request["pinned"],
                                    "shard_id": request["shard_id"], "success": True,
                                    "updated": 1 if stored else 0})

        # --- the web UI -------------------------------------------------------------------------
        def _static(self, path: str) -> None:
            relative = "index.html" if path == "/" else path.lstrip("/")
            target = (static_dir / relative).resolve()
            if static_dir.resolve() not in target.parents or not target.is_file():
                self.not_found()
                return
            payload = target.read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        # --- events -----------------------------------------------------------------------------
        def _events(self) -> None:
            listener: queue.Queue[tuple[str, dict]] = queue.Queue(SSE_QUEUE)
            with registry.lock:
                registry.listeners.append(listener)
            self.close_connection = True
            self.send_response(200)
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Content-Type", "text/event-stream")
            self.start_chunked()
            try:
                self.send_event("initial", {"type": "initial", **registry.graph()})
                while True:
                    try:
                        event, data = listener.get(timeout=HEARTBEAT)
                    except queue.Empty:
                        event, data = "heartbeat", {}
                    self.send_event(event, data)
            except OSError:
                pass
            finally:
                with registry.lock:
                    registry.listeners.remove(listener)

    return Handler
