"""Stand-ins for the gate and a runner, to test one-click's orchestration paths the real ones rarely take
(a gate that never gets ready, a runner that crashes). They write the session files of the shared
contract: the gate ``aurora_events.jsonl`` (POLICY_DECISION and ORDER.*), the runner ``runner_events-<g>.jsonl``.

The runner also writes its ``runner_summary-<group>.json`` when it is stopped, as the real one does.

Usage: ``python fake_children.py gate PORT SESSION_DIR [--not-ready] [--exit-early] [--die-once-after S]
                                   [--hang-after S --hang-for S]``  (hang: the process SIGSTOPs itself)
       ``python fake_children.py runner SESSION_DIR GROUP [--crash-after S] [--open-position] [--unsynced]
                                   [--start-after S] [--sabotage-session-after S]``
(sabotage: the session dir is moved away and a file put in its place, so every write there fails)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

METRICS = """# HELP aurora_decision_duration_seconds Gate decision time.
# TYPE aurora_decision_duration_seconds histogram
aurora_decision_duration_seconds_bucket{le="5e-05"} 50.0
aurora_decision_duration_seconds_bucket{le="0.0001"} 90.0
aurora_decision_duration_seconds_bucket{le="0.001"} 100.0
aurora_decision_duration_seconds_bucket{le="+Inf"} 100.0
aurora_decision_duration_seconds_count 100.0
aurora_decision_duration_seconds_sum 0.006
# HELP aurora_halted Gate halted.
# TYPE aurora_halted gauge
aurora_halted 0.0
"""


def emit(path: Path, rec: dict) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, (json.dumps(rec) + "\n").encode())
    finally:
        os.close(fd)


def hang(seconds: float) -> None:
    """Stop this process (SIGSTOP: it accepts connections and answers nothing), continued by a helper."""
    subprocess.Popen(["sh", "-c", f"sleep {seconds}; kill -CONT {os.getpid()}"])
    os.kill(os.getpid(), signal.SIGSTOP)


def gate(port: int, session: Path, not_ready: bool, exit_early: bool, die_once_after: float | None,
         hang_after: float | None = None, hang_for: float = 0.0) -> None:  # fmt: skip
    if exit_early:
        print("fake gate: cannot bind, giving up", file=sys.stderr, flush=True)
        sys.exit(4)
    marker = session / "fake-gate-died"
    if die_once_after is not None and not marker.exists():
        marker.touch()
        threading.Timer(die_once_after, lambda: os._exit(5)).start()
    if hang_after is not None:
        threading.Timer(hang_after, hang, (hang_for,)).start()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            if self.path == "/health":
                code, body, ctype = (
                    200,
                    json.dumps({"status": "ok", "armed": True, "halted": False}),
                    "application/json",
                )
            elif self.path == "/metrics" and not not_ready:
                code, body, ctype = 200, METRICS, "text/plain; version=0.0.4"
            elif self.path == "/readiness" and not not_ready:
                code, body, ctype = 200, json.dumps({"ready": True, "reasons": []}), "application/json"
            else:
                code, body, ctype = 503, "not ready", "text/plain"
            data = body.encode()
            self.send_response(code)
            self.send_header("content-type", ctype)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    signal.signal(signal.SIGTERM, lambda *a: threading.Thread(target=server.shutdown).start())
    stop = threading.Event()

    def decisions() -> None:
        path = session / "aurora_events.jsonl"
        n = 0
        while not stop.wait(0.1):
            n += 1
            ts = time.time_ns()
            allow = n % 2 == 0
            cid = f"c{n}"
            emit(
                path,
                {
                    "ts_ns": ts,
                    "run_id": "r",
                    "event_code": "POLICY_DECISION",
                    "symbol": "SOLUSDT",
                    "cid": cid,
                    "side": "buy",
                    "qty": 1.0,
                    "details": {
                        "allow": allow,
                        "reason": "OK" if allow else "SPREAD_GUARD",
                        "decision_us": 40.0 + n % 7,
                    },
                },
            )
            if allow:
                emit(
                    path,
                    {
                        "ts_ns": ts + 1000,
                        "run_id": "r",
                        "event_code": "ORDER.SUBMIT",
                        "cid": cid,
                        "symbol": "SOLUSDT",
                        "side": "buy",
                        "qty": 1.0,
                        "details": {"price": 100.0},
                    },
                )
                emit(
                    path,
                    {
                        "ts_ns": ts + 2_000_000,
                        "run_id": "r",
                        "event_code": "ORDER.ACK",
                        "cid": cid,
                        "details": {},
                    },
                )
                emit(
                    path,
                    {
                        "ts_ns": ts + 3_000_000,
                        "run_id": "r",
                        "event_code": "ORDER.FILL",
                        "cid": cid,
                        "details": {
                            "fill_qty": 1.0,
                            "fill_price": 100.0,
                            "realized_pnl_usd": 0.5 - n % 3 * 0.4,
                            "realized_pnl_bps": 5.0 - n % 3 * 4.0,
                            "entry_p_win": 0.55,
                        },
                    },
                )

    threading.Thread(target=decisions, daemon=True).start()
    server.serve_forever(poll_interval=0.05)
    stop.set()


def sabotage(session: Path) -> None:
    session.rename(session.with_name(session.name + ".gone"))
    session.write_text("not a directory any more\n")


def _kill(n: int, reason: str, state: str, settled: bool, req_ms: float, ack_ms: float | None) -> dict:
    """A kill as the runner's summary records it (runner.kill.KillRecord.to_dict)."""
    return {"kill": n, "state": state, "reason": reason, "cancel_all": state == "HALTED", "state_seq": 10 + n,
            "via": "poll", "learned_ns": time.time_ns(), "gate_changed_ns": None, "orders": 2, "requests": 2,
            "settled": settled, "outcomes": {"CANCELED": 2} if settled else {"CANCELED": 1},
            "unanswered": 0 if settled else 1, "entry_fills_after": 0, "request_latency_ms": req_ms,
            "request_since_gate_ms": None, "ack_latency_ms": ack_ms, "ack_since_gate_ms": None}  # fmt: skip


def runner(session: Path, group: str, crash_after: float | None, *, open_position: bool = False,
           unsynced: bool = False, start_after: float = 0.0, sabotage_after: float | None = None,
           kills: bool = False) -> None:  # fmt: skip
    path = session / f"runner_events-{group}.jsonl"
    running = [True]
    signal.signal(signal.SIGTERM, lambda *a: running.__setitem__(0, False))
    end = time.monotonic() + start_after  # a slow start-up (imports, connecting the feed) before it trades
    while running[0] and time.monotonic() < end:
        time.sleep(0.02)
    if not running[0]:
        return
    emit(path, {"ts_ns": time.time_ns(), "run_id": "r", "event_code": "RUNNER.START",
                "details": {"group": group, "symbols": ["SOLUSDT"], "pid": os.getpid()}})  # fmt: skip
    t0 = time.monotonic()
    if sabotage_after is not None:
        threading.Timer(sabotage_after, sabotage, (session,)).start()
    while running[0]:
        ts = time.time_ns()
        for code in ("MODEL", "ENR_GATE", "PARENT_GATE"):
            emit(
                path,
                {
                    "ts_ns": ts,
                    "run_id": "r",
                    "event_code": code,
                    "symbol": "SOLUSDT",
                    "details": {"score": 0.3},
                },
            )
        if crash_after is not None and time.monotonic() - t0 > crash_after:
            print("fake runner: boom", file=sys.stderr, flush=True)
            sys.exit(3)
        time.sleep(0.05)
    positions = [{"symbol": "SOLUSDT", "qty": 0.5, "avg_price": 150.0, "mark_price": 150.1,
                  "mark_pnl_usd": 0.05, "dust": False}] if open_position else []  # fmt: skip
    summary = {
        "group": group, "elapsed_s": round(time.monotonic() - t0, 3),
        "gate": {"no_gate": 0, "client_unavailable": 0, "client_skipped_backoff": 0, "client_outages": 0,
                 "lifecycle": {}, "client_posted": 0, "client_spooled": 0},
        "books": {"SOLUSDT": {"state": "unsynced" if unsynced else "ok", "synced": not unsynced,
                              "age_ms": None if unsynced else 0.0, "untrusted_ms": 1200 if unsynced else 0}},
        "open_positions": positions,
        "trading_state": {"state": "ACTIVE", "kills": [
            _kill(1, "KILL_SWITCH", "REDUCING", True, 1.25, 14.5), _kill(2, "OPS_HALT", "HALTED", False, 0.75, None),
        ] if kills else []},
    }  # fmt: skip
    emit(path, {"ts_ns": time.time_ns(), "run_id": "r", "event_code": "RUNNER.STOP", "details": {}})
    (session / f"runner_summary-{group}.json").write_text(json.dumps(summary))


if __name__ == "__main__":
    kind = sys.argv[1]
    if kind == "gate":
        die = (
            float(sys.argv[sys.argv.index("--die-once-after") + 1])
            if "--die-once-after" in sys.argv
            else None
        )
        hang_after = (
            float(sys.argv[sys.argv.index("--hang-after") + 1]) if "--hang-after" in sys.argv else None
        )
        hang_for = float(sys.argv[sys.argv.index("--hang-for") + 1]) if "--hang-for" in sys.argv else 0.0
        gate(int(sys.argv[2]), Path(sys.argv[3]), "--not-ready" in sys.argv, "--exit-early" in sys.argv, die,
             hang_after, hang_for)  # fmt: skip
    else:
        crash = float(sys.argv[sys.argv.index("--crash-after") + 1]) if "--crash-after" in sys.argv else None
        start_after = (
            float(sys.argv[sys.argv.index("--start-after") + 1]) if "--start-after" in sys.argv else 0.0
        )
        flag = "--sabotage-session-after"
        sabotage_after = float(sys.argv[sys.argv.index(flag) + 1]) if flag in sys.argv else None
        runner(Path(sys.argv[2]), sys.argv[3], crash, open_position="--open-position" in sys.argv,
               unsynced="--unsynced" in sys.argv, start_after=start_after, sabotage_after=sabotage_after,
               kills="--kills" in sys.argv)  # fmt: skip
