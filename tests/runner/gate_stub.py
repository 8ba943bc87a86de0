"""A tiny stand-in for the gate that speaks its HTTP contract (SPEC §4), for runner tests.

``mode`` picks the answer of ``/pretrade/check``: ``allow``, ``deny``, ``500`` or ``slow`` (answers after
``slow_s``). Every answer carries the stub's trading state (``set_state``: REDUCING lets only reduce-only
orders through, HALTED none), and ``GET /trading_state`` long-polls it as the gate does. ``stop()`` closes
the listening socket *and* every open keep-alive connection (a stopped gate must look stopped);
``start()`` listens again on the same port.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class GateStub:
    def __init__(self, port: int = 0) -> None:
        self.mode = "allow"
        self.clock = "request"  # what /health says: a replaying runner refuses a gate on wall time
        self.post_mode = "ok"  # ok | 500
        self.slow_s = 1.0
        self.max_qty: float | None = None
        self.scale = 1.0  # max_qty = qty * scale when max_qty is not fixed
        self.deny_reduce_only = False  # deny every reduce-only check (a run that cannot close)
        self.trading_state = "ACTIVE"
        self.trigger: str | None = None
        self.cancel_all = False
        self.state_seq = 1
        self.changed_ns: int | None = None
        self._state_cv = threading.Condition()
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

    def set_state(self, state: str, trigger: str | None = None, cancel_all: bool = False) -> None:
        """Move the trading state (a new sequence number; a parked long-poll answers at once)."""
        with self._state_cv:
            self.trading_state, self.trigger, self.cancel_all = state, trigger, cancel_all
            self.state_seq += 1
            self.changed_ns = time.time_ns()
            self._state_cv.notify_all()

    def state_view(self) -> dict[str, Any]:
        return {"trading_state": self.trading_state, "trigger": self.trigger, "state_seq": self.state_seq,
                "cancel_all": self.cancel_all, "changed_ns": self.changed_ns}

    def _admits(self, order: dict[str, Any]) -> tuple[bool, str]:
        if self.trading_state == "ACTIVE":
            return True, "OK"
        reason = (self.trigger or "halted").upper()
        return self.trading_state == "REDUCING" and bool(order.get("reduce_only")), reason

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
                url = urlsplit(self.path)
                if url.path == "/trading_state":
                    if stub.mode == "500":
                        self._send(500, {"error": "boom"})
                        return
                    q = {k: v[0] for k, v in parse_qs(url.query).items()}
                    if "since" in q and float(q.get("wait_ms", 0)) > 0:
                        since = int(q["since"])
                        with stub._state_cv:
                            stub._state_cv.wait_for(lambda: stub.state_seq != since, float(q["wait_ms"]) / 1000)
                    self._send(200, stub.state_view())
                elif self.path == "/health":
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
                    admitted, reason = stub._admits(body["order"])
                    allow = admitted and stub.mode in ("allow", "slow") and not (
                        stub.deny_reduce_only and body["order"].get("reduce_only"))
                    qty = body["order"]["qty"] * stub.scale if stub.max_qty is None else stub.max_qty
                    self._send(200, {"allow": allow, "max_qty": qty if allow else 0.0, "risk_scale": 1.0,
                                     "cooldown_ms": 0.0,
                                     "reason": "OK" if allow else (reason if not admitted else "ER_BELOW_MIN"),
                                     "observability": {}, "trading_state": stub.trading_state,
                                     "state_seq": stub.state_seq})
                elif self.path == "/posttrade/log":
                    if stub.post_mode == "500":
                        self._send(500, {"error": "boom"})
                        return
                    stub.posts.append(body)
                    stub.sequence.append(("post", body.get("cid", "")))
                    self._send(200, {"ok": True, "trading_state": stub.trading_state, "state_seq": stub.state_seq})
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
