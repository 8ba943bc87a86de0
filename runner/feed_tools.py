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


def _finite(x: float, digits: int | None = None) -> float | None:
    """A number for strict JSON: NaN/inf (an empty book side) become null."""
    if not math.isfinite(x):
        return None
    return round(x, digits) if digits is not None else x


async def replay_stats(path: Path, *, realtime: bool = False, speed: float = 1.0,
                       max_line_refs: int = 10) -> dict[str, Any]:
    """Replay ``path`` through book sync and features; the counters and the final book/features.

    Strict JSON by construction (null, never NaN). ``torn_lines``/``malformed_lines`` name the first
    few lines that could not be used.
    """
    feed = ReplayFeed(path, realtime=realtime, speed=speed)
    md = MarketData(feed.symbols, request_snapshot=feed.request_snapshot)
    trades: Counter[str] = Counter()
    started = time.perf_counter()
    first_ms = 0
    torn_lines: list[int] = []
    malformed_lines: list[int] = []
    counters = md.counters
    async for _, raw in feed:
        torn, malformed = counters["torn"], counters["malformed"]
        res = md.on_raw(raw)
        if res is None:
            if counters["torn"] > torn and len(torn_lines) < max_line_refs:
                torn_lines.append(feed.line_no)
            elif counters["malformed"] > malformed and len(malformed_lines) < max_line_refs:
                malformed_lines.append(feed.line_no)
        elif res[1] is Kind.TRADE:
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
            "bid": _finite(f.bid),
            "ask": _finite(f.ask),
            "spread_bps": _finite(f.spread_bps, 4) if f.ready else None,
            "levels": len(md.books[sym]),
            "obi": _finite(f.obi(), 4),
            "tfi": _finite(f.tfi(), 4),
            "vol_std_bps": _finite(f.vol_std_bps(), 4),
            "trades": trades[sym],
        }
    return {
        "file": str(path),
        "messages": stats["messages"],
        "market_seconds": max(0.0, (md.last_event_ms - first_ms) / 1000.0) if first_ms else 0.0,
        "messages_per_s": stats["messages"] / elapsed if elapsed > 0 else 0.0,
        "torn": stats["torn"],
        "torn_lines": torn_lines,
        "malformed": stats["malformed"],
        "malformed_lines": malformed_lines,
        "unknown": stats["unknown"],
        "unknown_streams": stats["unknown_streams"],
        "ignored_streams": stats["ignored_streams"],
        "by_kind": stats["by_kind"],
        "sync": stats["sync"],
        "symbols": per_symbol,
        "warnings": list(feed.warnings),
    }
