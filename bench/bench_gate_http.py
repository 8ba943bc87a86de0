"""HTTP throughput and latency of ``POST /pretrade/check`` against a no-op endpoint in the same app.

The gate runs under uvicorn (1 worker, uvloop + httptools, pinned to core 0 with ``taskset``): the app
``create_app`` builds, plus ``POST /bench/noop`` from :mod:`bench.noop_endpoint`: it parses and validates
the body exactly as the gate does (same model, same ``parse_body``, routed right after the gate's route)
and returns a fixed answer (the product never has it). The difference between the two is therefore
the gate's own work: token check, the eight guards, the decision's events (and a deny's order-log
lines), metrics. ``wrk`` (Debian package ``wrk``) runs on core 1 with a Lua script posting realistic
JSON (a fresh ``cid`` per request). Runs alternate noop/gate, at 1 connection (latency: target p99 ≤
1 ms), 8 and 16 connections (throughput: target ≥ 0.80× noop at 16); the ratio (median of the
per-round gate/noop ratios) is reported for each, and beside it ``cpu_ratio``: the same ratio from the
server's CPU time per request (``/proc/<pid>/stat``), which the other processes on a shared machine
do not move the way they move req/s. Every allow also writes the gate's durable state
journal (its reservation) before the answer, as in production.
Every gate decision writes its events (and a deny its order-log records) like in production. The gate
uses a fixed calibration map (``BENCH_CALIBRATION``) so its allow/deny mix does not move when the
shipped default map is refitted.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.bench_gate_decide import BENCH_CALIBRATION

DURATION_S = int(os.environ.get("AURORA_BENCH_HTTP_SECONDS", "3"))
ROUNDS = int(os.environ.get("AURORA_BENCH_HTTP_ROUNDS", "5"))

LAUNCHER = r"""
import sys, uvicorn
from aurora.config.loader import LoadedAurora
from aurora.config.models import AuroraConfig
from aurora.api import create_app
from aurora.api.app import freeze_startup_heap
data = AuroraConfig().model_dump()
data["risk"].update(max_orders_per_sec=1e9, max_orders_per_sec_per_symbol=1e9, max_concurrent=1000)
data["killswitch"].update(min_outcomes=100000)
data["calibration"].update(path=sys.argv[3])
cfg = AuroraConfig.model_validate(data)
loaded = LoadedAurora(config=cfg, layers=[], history={}, mode="development")
from bench.noop_endpoint import mount_noop
app = mount_noop(create_app(loaded, sys.argv[2], run_id="bench-http", handle_sighup=False,
                            state_dir=sys.argv[2] + "-state"))
freeze_startup_heap()  # as start-api does
# named explicitly (start-api's "auto" picks the same two): the bench fails loudly if either is missing
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False,
            loop="uvloop", http="httptools")
"""

LUA = r"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
-- a fresh cid per request (a real runner never repeats an order), unique across runs; side, price (on
-- the book, on SOLUSDT's 0.01 tick) and quantity (on its 0.01 lot step) cycle through 19,600 distinct
-- orders, so the duplicate check (same side/price/qty within 500 ms) does not deny them
local run = os.getenv("AURORA_BENCH_RUN") or "0"
local n = 0
local head = '{"account":{"id":"bench"},"order":{"cid":"b' .. run .. '-'
local sides = {'","symbol":"SOLUSDT","side":"buy","qty":', '","symbol":"SOLUSDT","side":"sell","qty":'}
local prices = {',"price":100.0', ',"price":100.01'}
local tail = ',"order_type":"limit","reduce_only":false},' ..
  '"market":{"best_bid":100.0,"best_ask":100.01,"bid_size":50.0,"ask_size":50.0,"spread_bps":1.0,' ..
  '"latency_ms":5.0,"vol_std_bps":10.0,"score":2.5,"tp_bps":20.0,"sl_bps":10.0,' ..
  '"l2_add_volumes":[5.0,6.0,4.0,5.5,5.0],"l2_cancel_volumes":[4.0,4.5,3.0,4.0,5.0],' ..
  '"sprt_samples":[1.2,0.8,1.5,1.1,0.9,1.3,1.4,0.7]}}'
request = function()
  n = n + 1
  local qty = string.format("%.2f", 1 + (n % 4900) / 100)
  local side = sides[math.floor(n / 4900) % 2 + 1]
  local price = prices[math.floor(n / 9800) % 2 + 1]
  return wrk.format(nil, nil, nil, head .. n .. side .. qty .. price .. tail)
end
"""

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    if not m:
        raise ValueError(f"cannot parse wrk latency {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_wrk(out: str) -> dict[str, float]:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    pct = {p: _ms(v) for p, v in re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M)}
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {
        "rps": rps,
        "p50_ms": pct["50"],
        "p99_ms": pct["99"],
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "requests": total,
    }


def _cpu_s(pid: int) -> float:
    """User + system CPU time of process ``pid`` (all its threads: the gate's gzip thread counts too)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


_RUNS = iter(range(1, 1_000_000))


def _wrk(url: str, script: Path, connections: int, seconds: int, pid: int | None = None) -> dict[str, float]:
    env = {**os.environ, "AURORA_BENCH_RUN": str(next(_RUNS))}
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url]
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", "1", *cmd]
    cpu0 = _cpu_s(pid) if pid is not None else None
    out = subprocess.run(
        cmd, capture_output=True, text=True, check=True, timeout=seconds + 30, env=env
    ).stdout
    res = parse_wrk(out)
    if cpu0 is not None:
        # the server's CPU per answered request: what the route costs, whatever else the machine runs
        # (req/s on a shared machine also measures the other processes' load on the server's core)
        res["cpu_us_per_req"] = (_cpu_s(pid) - cpu0) * 1e6 / max(1, res["requests"])
    return res


class GateServer:
    """The bench's gate under uvicorn on core 0 (``launcher``: the Python source it runs, by default
    :data:`LAUNCHER`), its session, state and the wrk script in one temp dir; a context manager."""

    def __init__(self, launcher: str = LAUNCHER, env: dict[str, str] | None = None) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="aurora-bench-http-"))
        self.script = self.tmp / "post.lua"
        self.script.write_text(LUA)
        # a fixed allow/deny mix, whatever the shipped map
        BENCH_CALIBRATION.save(self.tmp / "calibration.json")
        port = _free_port()
        cmd = [sys.executable, "-c", launcher, str(port), str(self.tmp / "session"), str(self.tmp / "calibration.json")]
        if shutil.which("taskset"):
            cmd = ["taskset", "-c", "0", *cmd]
        # cwd: the repository, so the launcher (python -c) imports bench.noop_endpoint
        self.server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                       cwd=Path(__file__).resolve().parents[1], env={**os.environ, **(env or {})})
        self.base = f"http://127.0.0.1:{port}"
        # the launcher itself (taskset execs it in place, so the pid is the server's)
        self.pid = self.server.pid if Path(f"/proc/{self.server.pid}/stat").exists() else None
        self.events_bytes = 0

    def __enter__(self) -> GateServer:
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    if httpx.get(f"{self.base}/health", timeout=0.5).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or self.server.poll() is not None:
                    err = self.server.stderr.read().decode()[-500:] if self.server.stderr else ""
                    raise RuntimeError(f"gate did not start: {err}")
                time.sleep(0.1)
            self.wrk("/pretrade/check", 4, 1)  # warm-up
        except BaseException:
            self.__exit__()
            raise
        return self

    def wrk(self, path: str, connections: int, seconds: int) -> dict[str, float]:
        return _wrk(self.base + path, self.script, connections, seconds, self.pid)

    def __exit__(self, *exc: object) -> None:
        self.server.terminate()
        try:
            self.server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.server.kill()
        events = self.tmp / "session" / "aurora_events.jsonl"
        self.events_bytes = events.stat().st_size if events.exists() else 0
        shutil.rmtree(self.tmp, ignore_errors=True)


CONNECTIONS = (1, 8, 16)


def run() -> dict:
    if shutil.which("wrk") is None:
        msg = "skipped: wrk is not installed (apt-get install wrk)"
        print(msg)
        return {"skipped": msg, "table": [{"what": "HTTP bench", "result": msg}]}
    with GateServer() as gate_server:
        base = gate_server.base
        server_pid = gate_server.pid
        results: dict[tuple[str, int], list[dict[str, float]]] = {}
        for _ in range(ROUNDS):
            for conns in CONNECTIONS:
                for name, path in (("noop", "/bench/noop"), ("gate", "/pretrade/check")):
                    results.setdefault((name, conns), []).append(gate_server.wrk(path, conns, DURATION_S))
        # sanity: the gate really decided (allows, with events written)
        health = httpx.get(f"{base}/health", timeout=2).json()
        decisions = {
            line.split("{")[1].split("}")[0]: float(line.rsplit(" ", 1)[1])
            for line in httpx.get(f"{base}/metrics", timeout=2).text.splitlines()
            if line.startswith(("aurora_decisions_total", "aurora_orders_denied_total"))
        }
    written = gate_server.events_bytes

    def med(name: str, conns: int, key: str) -> float:
        return round(statistics.median(r[key] for r in results[(name, conns)]), 3)

    table = []
    figures: dict[str, dict] = {}
    for conns in CONNECTIONS:
        row = {}
        for name in ("noop", "gate"):
            row[name] = {k: med(name, conns, k) for k in ("rps", "p50_ms", "p99_ms", "non_2xx")}
            table.append({"endpoint": name, "connections": conns, "req_s": row[name]["rps"],
                          "p50_ms": row[name]["p50_ms"], "p99_ms": row[name]["p99_ms"],
                          "non_2xx": row[name]["non_2xx"]})  # fmt: skip
        # the median of per-round ratios: a round's noop and gate runs are back to back, so they share
        # whatever else the machine is doing at the time (a ratio of separate medians mixes moments)
        row["ratio"] = round(statistics.median(
            g["rps"] / n["rps"] for n, g in zip(results[("noop", conns)], results[("gate", conns)], strict=True)
        ), 3)  # fmt: skip
        if server_pid is not None:
            # the same ratio from CPU time per request (noop cost / gate cost): on one core at saturation
            # it is the req/s ratio without the other sessions' share of the core in it
            row["cpu_ratio"] = round(statistics.median(
                n["cpu_us_per_req"] / g["cpu_us_per_req"]
                for n, g in zip(results[("noop", conns)], results[("gate", conns)], strict=True)
            ), 3)  # fmt: skip
            for name in ("noop", "gate"):
                row[name]["cpu_us_per_req"] = round(statistics.median(
                    r["cpu_us_per_req"] for r in results[(name, conns)]), 1)  # fmt: skip
        figures[f"c{conns}"] = row
        table.append({"endpoint": "gate/noop", "connections": conns, "req_s_ratio": row["ratio"],
                      **({"cpu_ratio": row["cpu_ratio"],
                          "cpu_us_noop": row["noop"]["cpu_us_per_req"], "cpu_us_gate": row["gate"]["cpu_us_per_req"]}
                         if "cpu_ratio" in row else {})})  # fmt: skip
    ratio = figures["c16"]["ratio"]
    p99 = figures["c1"]["gate"]["p99_ms"]
    rounds = {
        f"c{conns}": [round(g["rps"] / n["rps"], 3) for n, g in zip(results[("noop", conns)], results[("gate", conns)],
                                                                     strict=True)]
        for conns in CONNECTIONS
    }  # fmt: skip
    return {
        "duration_s_per_run": DURATION_S,
        "rounds": ROUNDS,
        "figures": figures,
        "ratio_per_round": rounds,
        "events_bytes_written": written,
        "gate_health_at_end": health,
        "gate_decisions": decisions,
        "targets": {"throughput_ratio_min": 0.80, "p99_ms_max_at_1_connection": 1.0},
        "meets_targets": ratio >= 0.80 and p99 <= 1.0,
        "meets": {"ratio_c16": ratio >= 0.80, "ratio_c8": figures["c8"]["ratio"] >= 0.80,
                  "ratio_c1": figures["c1"]["ratio"] >= 0.80, "p99_c1": p99 <= 1.0},
        "table": table,
    }
