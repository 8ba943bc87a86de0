"""Markouts from a replay of the real BTC recording against a real gate: the runner logs, 1 s / 5 s / 30 s
after each fill, the book mid as of that time on the runner's one clock; the summary then shows them."""

from __future__ import annotations

import asyncio
import bisect
from pathlib import Path
from typing import Any

import orjson

from aurora.analytics.metrics_summary import summarize_session
from aurora.config.models import AuroraConfig
from aurora.events.codes import EventCode
from aurora.session.fields import MARKOUT_CODE, MARKOUT_HORIZONS_S
from runner.app import Runner
from runner.clock import RunClock
from runner.feeds.replay_feed import ReplayFeed
from runner.market import MarketData
from runner.markouts import Markouts
from tests.aurora.api.conftest import API_TOKEN
from tests.runner.test_one_clock import btc_config, start_gate

NS = 1_000_000_000


def mid_timeline(replay: Path) -> tuple[list[int], list[float]]:
    """(runner-clock time, BTC mid) after each message of the recording, built as the market loop does."""
    feed = ReplayFeed(replay, ["BTCUSDT"])
    md, clock = MarketData(["BTCUSDT"]), RunClock(feed)
    times: list[int] = []
    mids: list[float] = []

    async def walk() -> None:
        async for recv_ns, raw in feed:
            if md.on_raw(raw) is not None:
                clock.on_message(md.last_event_ms, recv_ns)
                times.append(clock.market_ns)
                mids.append(md.features["BTCUSDT"].mid)

    asyncio.run(walk())
    return times, mids


def runner_events(session: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in (session / "runner_events.jsonl").read_bytes().splitlines()]


def test_a_btc_replay_logs_the_mid_after_each_fill_and_the_summary_shows_markouts(
    btc_replay_head: Path, project: Path, tmp_path: Path
) -> None:
    gate = start_gate(project, tmp_path)
    session = gate.session_dir  # the runner writes beside the gate: one session to summarize
    try:
        runner = Runner(btc_config(project, btc_replay_head, None), session_dir=session, gate_url=gate.url,
                        api_token=API_TOKEN, environ={}, run_id="markouts-btc")
        summary = asyncio.run(runner.run())
    finally:
        gate.stop()
    fills = {(e["cid"], e["details"]["trade_id"]): e["ts_ns"] for e in gate.events()
             if e["event_code"] in (EventCode.ORDER_FILL, EventCode.ORDER_PARTIAL)}
    marks = [e for e in runner_events(session) if e["event_code"] == MARKOUT_CODE]
    assert len(fills) >= 5 and marks
    times, mids = mid_timeline(btc_replay_head)
    last = times[-1]
    for m in marks:
        d = m["details"]
        fill_ts = fills[(m["cid"], d["trade_id"])]  # every markout names a fill the gate recorded
        assert m["ts_ns"] == fill_ts + d["horizon_s"] * NS and m["symbol"] == "BTCUSDT"
        # the mid as of fill time + horizon: after every message stamped then or before, none after
        assert d["mid"] == mids[bisect.bisect_right(times, m["ts_ns"]) - 1]
    # every horizon the recording reaches is marked, exactly once; the others are dropped and counted
    want = {(c, t, h) for (c, t), ts in fills.items() for h in MARKOUT_HORIZONS_S if ts + h * NS < last}
    got = [(m["cid"], m["details"]["trade_id"], m["details"]["horizon_s"]) for m in marks]
    assert sorted(got) == sorted(want)
    counts = summary["markouts"]
    assert counts["emitted"] == len(marks) and counts["fills"] == len(fills)
    assert counts["dropped_at_end"] == len(fills) * len(MARKOUT_HORIZONS_S) - len(marks) > 0

    view = summarize_session(session, AuroraConfig(), 0)["markouts"]
    for h in MARKOUT_HORIZONS_S:
        assert view["by_horizon"][f"{h}s"]["n"] == sum(1 for *_, hh in got if hh == h)
    assert view["by_horizon"]["1s"]["n"] > 0 and view["by_horizon"]["1s"]["bps"]["p50"] is not None
    assert "note" not in view


def test_markouts_are_taken_as_of_the_horizon_and_pending_ones_are_dropped_at_the_end() -> None:
    out: list[tuple[Any, ...]] = []
    mk = Markouts(lambda code, details, ts, symbol, cid: out.append((code, details, ts, symbol, cid)), (1, 5))
    fill = {"event_code": "ORDER.FILL", "cid": "c1", "symbol": "X", "ts_ns": 10 * NS,
            "details": {"trade_id": "t1", "fill_qty": 1.0}}
    mk.on_market("X", 9 * NS, 100.0)
    mk.on_lifecycle(fill)
    mk.on_lifecycle(fill)  # reported again: one markout per fill
    mk.on_market("X", 11 * NS, 101.0)  # exactly at the 1 s horizon: part of the mid as of then
    assert out == []
    mk.on_market("Y", 11 * NS + 1, 5.0)  # another symbol's message moves the clock past it
    assert out == [("RUNNER.MARKOUT", {"trade_id": "t1", "horizon_s": 1, "mid": 101.0}, 11 * NS, "X", "c1")]
    mk.on_market("X", 14 * NS, 102.0)
    assert mk.close() == {"fills": 1, "emitted": 1, "no_mid": 0, "dropped_at_end": 1, "duplicate_fills": 1}
