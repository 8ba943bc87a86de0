"""Recording a feed to a replay file and replaying one through the book — the logic behind ``auroractl feed``.

Recording runs the book sync on the live stream, so the snapshots it asks for are captured in-band and
a replay resyncs at the same places. A synthetic market recorded as fast as possible is stamped with
its own event time (``recv_ts_ns = E``), so the same seed gives a byte-identical file.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from pathlib import Path
from typing import Any

from runner.config import FeedSection
from runner.feeds import FeedError, open_feed
from runner.feeds.replay_feed import FeedRecorder, ReplayFeed
from runner.feeds.wire import Kind
from runner.market import MarketData

MS = 1_000_000


async def record_feed(
    cfg: FeedSection,
    symbols: list[str],
    out: Path,
    *,
    seconds: float,
    realtime: bool = False,
    parents: dict[str, str] | None = None,
    idle_timeout_s: float = 30.0,
) -> dict[str, Any]:
    """Record ``seconds`` of market time from ``cfg.source`` to ``out``; returns what was recorded."""
    synthetic_fast = cfg.source == "synthetic" and not realtime
    live = cfg.source == "binance"
    feed = open_feed(cfg, symbols, parents=parents, realtime=realtime or live)
    md = MarketData(feed.symbols, request_snapshot=feed.request_snapshot)
    first_ms = 0
    wall_deadline = time.monotonic() + seconds + idle_timeout_s if (realtime or live) else math.inf
    recorder = FeedRecorder(out)
    try:
        iterator = feed.__aiter__()
        while True:
            remaining = wall_deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                recv_ns, raw = await asyncio.wait_for(iterator.__anext__(), timeout=min(remaining, idle_timeout_s))
            except (StopAsyncIteration, TimeoutError):
                break
            md.on_raw(raw)
            if not first_ms and md.last_event_ms:
                first_ms = md.last_event_ms
            if first_ms and md.last_event_ms - first_ms >= seconds * 1000.0:
                break
            recorder.write(md.last_event_ms * MS if synthetic_fast else recv_ns, raw)
    finally:
        recorder.close()
        await feed.aclose()
    if recorder.count == 0:
        raise FeedError(f"no market data received from {cfg.source} within {seconds + idle_timeout_s:g} s")
    stats = md.stats()
    return {
        "source": cfg.source,
        "out": str(out),
        "records": recorder.count,
        "bytes": recorder.bytes,
        "market_seconds": max(0.0, (md.last_event_ms - first_ms) / 1000.0) if first_ms else 0.0,
        "symbols": feed.symbols,
        "torn": stats["torn"],
        "malformed": stats["malformed"],
        "by_kind": stats["by_kind"],
        "sync": stats["sync"],
        "feed": {k: v for k, v in feed.stats.items()},
    }


async def replay_stats(path: Path, *, realtime: bool = False, speed: float = 1.0) -> dict[str, Any]:
    """Replay ``path`` through book sync and features; the counters and the final book/features."""
    feed = ReplayFeed(path, realtime=realtime, speed=speed)
    md = MarketData(feed.symbols, request_snapshot=feed.request_snapshot)
    trades: Counter[str] = Counter()
    started = time.perf_counter()
    first_ms = 0
    async for _, raw in feed:
        res = md.on_raw(raw)
        if res is not None and res[1] is Kind.TRADE:
            trades[res[0]] += 1
        if not first_ms and md.last_event_ms:
            first_ms = md.last_event_ms
    elapsed = time.perf_counter() - started
    stats = md.stats()
    per_symbol: dict[str, Any] = {}
    for sym, f in md.features.items():
        if not f.ready and not md.books[sym]:
            continue
        per_symbol[sym] = {
            "bid": f.bid,
            "ask": f.ask,
            "spread_bps": round(f.spread_bps, 4) if f.ready else math.nan,
            "levels": len(md.books[sym]),
            "obi": round(f.obi(), 4),
            "tfi": round(f.tfi(), 4),
            "vol_std_bps": round(f.vol_std_bps(), 4),
            "trades": trades[sym],
        }
    return {
        "file": str(path),
        "messages": stats["messages"],
        "market_seconds": max(0.0, (md.last_event_ms - first_ms) / 1000.0) if first_ms else 0.0,
        "messages_per_s": stats["messages"] / elapsed if elapsed > 0 else 0.0,
        "torn": stats["torn"],
        "malformed": stats["malformed"],
        "unknown": stats["unknown"],
        "by_kind": stats["by_kind"],
        "sync": stats["sync"],
        "symbols": per_symbol,
    }
