"""What serving ``/metrics`` costs a runner: tick-to-gate-request latency with the metrics server scraped
hard, against the same run without it, side by side.

The runner's metrics are read from its own counters when a scrape asks (runner/metrics.py): nothing is
added to the trading path, but a scrape runs in the runner's event loop. Each round runs the real-time
paced synthetic market of ``bench_runner_tick_to_gate`` against the real gate twice, alternating: once
without a metrics server, once with one scraped by a separate process every ``SCRAPE_EVERY_S`` (5 times as
often as Prometheus' 5 s, so a cost would show). Reported: tick-to-request p50/p99 of both (pooled over rounds),
their ratios, and the time one scrape takes the loop (collection and exposition).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from prometheus_client import generate_latest

from bench.bench_runner_tick_to_gate import BENCH_API_TOKEN, _config, _start_gate, _stop_gate
from runner.app import Runner
from runner.feeds.synthetic_feed import SyntheticFeed

ROUNDS = int(os.environ.get("AURORA_BENCH_METRICS_ROUNDS", "3"))
SECONDS = float(os.environ.get("AURORA_BENCH_METRICS_SECONDS", "8"))
SCRAPE_EVERY_S = 1.0

SCRAPER = r"""
import sys, time, httpx
url, every = sys.argv[1], float(sys.argv[2])
with httpx.Client(timeout=2) as c:
    while True:
        try:
            c.get(url)
        except httpx.HTTPError:
            pass
        time.sleep(every)
"""


def _run(url: str, session: Path, *, metrics: bool) -> tuple[list[float], float | None]:
    """Tick-to-request samples (us) of one run, and with metrics the loop time of one scrape (us)."""
    feed = SyntheticFeed(["SOLUSDT", "SOONUSDT"], seed=7, realtime=True, parents={"SOONUSDT": "SOLUSDT"})
    runner = Runner(_config(100.0, True), session_dir=session, gate_url=url, feed=feed, environ={},
                    api_token=BENCH_API_TOKEN, metrics_port=0 if metrics else None)  # fmt: skip
    scraper: subprocess.Popen | None = None

    def start_scraper(details: dict[str, Any]) -> None:
        nonlocal scraper
        if details.get("metrics"):
            scraper = subprocess.Popen([sys.executable, "-c", SCRAPER, details["metrics"]["url"], str(SCRAPE_EVERY_S)])

    runner.on_start = start_scraper
    try:
        asyncio.run(runner.run(SECONDS))
    finally:
        if scraper is not None:
            scraper.send_signal(signal.SIGTERM)
            scraper.wait(10)
    scrape_us = None
    if runner.metrics is not None:
        n = 200
        t0 = time.perf_counter()
        for _ in range(n):
            generate_latest(runner.metrics.registry)
        scrape_us = (time.perf_counter() - t0) / n * 1e6
    return [v / 1000.0 for v in runner.gate.tick_to_request_ns], scrape_us


def _pct(samples: list[float], q: float) -> float | None:
    if not samples:
        return None
    s = sorted(samples)
    return round(s[min(len(s) - 1, int(q / 100.0 * len(s)))], 1)


def run() -> dict[str, Any]:
    off: list[float] = []
    on: list[float] = []
    scrape: list[float] = []
    with tempfile.TemporaryDirectory(prefix="aurora-bench-metrics-") as tmp:
        session = Path(tmp)
        proc, url = _start_gate(session / "gate")
        try:
            for i in range(ROUNDS):
                off += _run(url, session / f"off{i}", metrics=False)[0]
                samples, us = _run(url, session / f"on{i}", metrics=True)
                on += samples
                if us is not None:
                    scrape.append(us)
        finally:
            _stop_gate(proc)
    rows = []
    for name, samples in (("metrics off", off), (f"metrics on, scraped every {SCRAPE_EVERY_S:g} s", on)):
        rows.append({"runner": name, "n": len(samples), "p50_us": _pct(samples, 50), "p99_us": _pct(samples, 99)})
    ratio = {}
    for q in ("p50_us", "p99_us"):
        a, b = rows[0][q], rows[1][q]
        ratio[q] = round(b / a, 3) if a and b else None
    rows.append({"runner": "on/off", "p50_ratio": ratio["p50_us"], "p99_ratio": ratio["p99_us"],
                 "scrape_us": round(sorted(scrape)[len(scrape) // 2], 1) if scrape else None})  # fmt: skip
    return {"ratio_p50": ratio["p50_us"], "ratio_p99": ratio["p99_us"], "table": rows}
