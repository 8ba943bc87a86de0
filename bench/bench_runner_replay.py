"""Runner replay throughput: parse + book sync + features + strategy, gate call excluded.

Goal (issue 4): >= 50,000 messages/s on one core. A synthetic recording (two symbols, parent/child,
~10 minutes of market) is replayed as fast as possible through the runner's hot path:
``MarketData.on_raw`` (orjson decode, book sync, L2 book, features) and ``Strategy.on_tick`` for every
ticker/trade message, with the XAI records of each candidate written to a session file. Rows:

* ``hot path`` — from memory (the replay lines already read), the figure the goal is about;
* ``from file`` — the same through :class:`ReplayFeed` reading the gzip recording (I/O and gunzip
  included), for reference.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from aurora.calibration import CalibrationMap
from aurora.events.logger import EventLogger
from runner.config import StrategySection
from runner.feeds.replay_feed import FeedRecorder, ReplayFeed
from runner.feeds.synthetic_feed import SyntheticMarket
from runner.feeds.wire import Kind
from runner.market import MarketData
from runner.parent_gate import ParentGate
from runner.strategy import Strategy

TARGET_MSG_S = 50_000
SYMBOLS = ["SOLUSDT", "SOONUSDT"]
PARENTS = {"SOONUSDT": "SOLUSDT"}
STEPS = int(os.environ.get("AURORA_BENCH_REPLAY_STEPS", "60000"))  # 10 ms steps: 10 min of market
REPEATS = 3


def _pin_one_core() -> int | None:
    try:
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpus[0]})
        return cpus[0]
    except (AttributeError, OSError):
        return None


def _record(path: Path) -> list[bytes]:
    """Generate the market, run the book sync over it (so snapshots land in-band), keep the lines."""
    market = SyntheticMarket(SYMBOLS, seed=7, parents=PARENTS)
    md = MarketData(SYMBOLS, request_snapshot=market.request_snapshot)
    lines = []
    with FeedRecorder(path) as rec:
        for e_ms, raw in market.messages(STEPS):
            md.on_raw(raw)
            rec.write(e_ms * 1_000_000, raw)
            lines.append(b'{"recv_ts_ns":%d,' % (e_ms * 1_000_000) + raw[1:])
    return lines


def _pipeline(session: Path) -> tuple[MarketData, Strategy, EventLogger]:
    md = MarketData(SYMBOLS)
    cfg = StrategySection()
    xai = EventLogger(session, "bench", filename="runner_events.jsonl")
    seq = iter(range(10**9))
    strategy = Strategy(
        cfg,
        predict=CalibrationMap.load().predict,
        parent_gate=ParentGate(),
        parents={"SOLUSDT": None, "SOONUSDT": "SOLUSDT"},
        tradable=set(SYMBOLS),
        new_cid=lambda: f"b-{next(seq)}",
    )
    return md, strategy, xai


def _hot_path(lines: list[bytes], session: Path) -> tuple[float, int, int]:
    md, strategy, xai = _pipeline(session)
    features = md.features
    on_raw, on_tick, emit = md.on_raw, strategy.on_tick, xai.emit
    ticker, trade = Kind.BOOK_TICKER, Kind.AGG_TRADE
    candidates = 0
    t0 = time.perf_counter()
    for raw in lines:
        res = on_raw(raw)
        if res is None:
            continue
        symbol, kind = res
        if kind is ticker or kind is trade:
            cand = on_tick(symbol, features[symbol], md.last_event_ms, can_open=True)
            if cand is not None:
                candidates += 1
                for code, details in cand.events:
                    emit(code, details, symbol=symbol, cid=cand.cid, side=cand.side)
    elapsed = time.perf_counter() - t0
    xai.close()
    return elapsed, len(lines), candidates


async def _from_file(path: Path, session: Path) -> tuple[float, int]:
    md, strategy, xai = _pipeline(session)
    feed = ReplayFeed(path, SYMBOLS, realtime=False)
    n = 0
    t0 = time.perf_counter()
    async for _, raw in feed:
        n += 1
        res = md.on_raw(raw)
        if res is not None and res[1] in (Kind.BOOK_TICKER, Kind.AGG_TRADE):
            cand = strategy.on_tick(res[0], md.features[res[0]], md.last_event_ms, can_open=True)
            if cand is not None:
                for code, details in cand.events:
                    xai.emit(code, details, symbol=res[0], cid=cand.cid, side=cand.side)
    elapsed = time.perf_counter() - t0
    xai.close()
    return elapsed, n


def run() -> dict[str, Any]:
    core = _pin_one_core()
    with tempfile.TemporaryDirectory(prefix="aurora-bench-replay-") as tmp:
        tmpdir = Path(tmp)
        rec = tmpdir / "market.jsonl.gz"
        lines = _record(rec)
        runs = [_hot_path(lines, tmpdir / f"hot{i}") for i in range(REPEATS)]
        elapsed, n, candidates = min(runs)
        file_runs = [asyncio.run(_from_file(rec, tmpdir / f"file{i}")) for i in range(2)]
        f_elapsed, f_n = min(file_runs)
        rate = n / elapsed
        f_rate = f_n / f_elapsed
        return {
            "pinned_core": core,
            "messages": n,
            "candidates": candidates,
            "msg_per_s": round(rate),
            "target_msg_per_s": TARGET_MSG_S,
            "pass": rate >= TARGET_MSG_S,
            "table": [
                {
                    "path": "hot path (parse+book+features+strategy)",
                    "messages": n,
                    "seconds": round(elapsed, 3),
                    "msg_per_s": round(rate),
                    "us_per_msg": round(1e6 / rate, 2),
                    "target": f">= {TARGET_MSG_S}",
                    "pass": rate >= TARGET_MSG_S,
                },
                {
                    "path": "from gzip file via ReplayFeed",
                    "messages": f_n,
                    "seconds": round(f_elapsed, 3),
                    "msg_per_s": round(f_rate),
                    "us_per_msg": round(1e6 / f_rate, 2),
                    "target": "-",
                    "pass": "-",
                },
            ],
        }
