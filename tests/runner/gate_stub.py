"""A tiny stand-in for the gate that speaks its HTTP contract (SPEC §4), for runner tests.

``mode`` picks the answer of ``/pretrade/check``: ``allow``, ``deny``, ``500`` or ``slow`` (answers after
``slow_s``). ``stop()`` closes the listening socket *and* every open keep-alive connection (a stopped
gate must look stopped); ``start()`` listens again on the same port.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class GateStub:
    def __init__(self, port: int = 0) -> None:
        self.mode = "allow"
        self.clock = "request"  # what /health says: a replaying runner refuses a gate on wall time
        self.post_mode = "ok"  # ok | 500
        self.slow_s = 1.0
        self.max_qty: float | None = None
        self.scale = 1.0  # max_qty = qty * scale when max_qty is not fixed
        self.deny_reduce_only = False  # deny every reduce-only check (a run that cannot close)
        self.sequence: list[tuple[str, str]] = []  # ("check" | "post", cid) in arrival order
        self.checks: list[dict[str, Any]] = []
        self.check_times: list[int] = []
        self.posts: list[dict[str, Any]] = []
        self.port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> GateStub:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall

            def setup(self) -> None:
                super().setup()
                with stub._lock:
                    stub._conns.add(self.connection)

            def finish(self) -> None:
                with stub._lock:
                    stub._conns.discard(self.connection)
                super().finish()

            def log_message(self, *args: Any) -> None:
                pass

            def handle(self) -> None:
                try:
                    super().handle()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout) or the stub was stopped

            def _send(self, code: int, body: dict[str, Any]) -> None:
                raw = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self) -> None:  # noqa: N802
                if self.path == "/health":
                    if stub.mode == "500":
                        self._send(500, {"error": "boom"})
                        return
                    if stub.mode == "slow":
                        time.sleep(stub.slow_s)
                    self._send(200, {"status": "ok", "armed": True, "halted": False, "health_state": "OK",
                                     "config_version": "stub", "clock": stub.clock})
                else:
                    self._send(404, {"error": "not found"})

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("content-length", 0))
                raw = self.rfile.read(length)
                if len(raw) < length or not raw:  # cut off by stop(): not a request at all
                    self.close_connection = True
                    return
                body = json.loads(raw)
                if self.path == "/pretrade/check":
                    stub.checks.append(body)
                    stub.check_times.append(time.time_ns())
                    stub.sequence.append(("check", body["order"].get("cid", "")))
                    if stub.mode == "500":
                        self._send(500, {"error": "boom"})
                        return
                    if stub.mode == "slow":
                        time.sleep(stub.slow_s)
                    allow = stub.mode in ("allow", "slow") and not (
                        stub.deny_reduce_only and body["order"].get("reduce_only"))
                    qty = body["order"]["qty"] * stub.scale if stub.max_qty is None else stub.max_qty
                    self._send(200, {"allow": allow, "max_qty": qty if allow else 0.0, "risk_scale": 1.0,
                                     "cooldown_ms": 0.0, "reason": "OK" if allow else "ER_BELOW_MIN",
                                     "observability": {}})
                elif self.path == "/posttrade/log":
                    if stub.post_mode == "500":
                        self._send(500, {"error": "boom"})
                        return
                    stub.posts.append(body)
                    stub.sequence.append(("post", body.get("cid", "")))
                    self._send(200, {"ok": True})
                else:
                    self._send(404, {"error": "not found"})

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        # Stop accepting, then cut every open keep-alive connection, then close the listening socket:
        # from the first step on, no request can be answered any more.
        self._server.shutdown()
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._server.server_close()
        self._server = None
