"""Feeds and venues are found by name: a new one is a module plus one registration, nothing else changes.

The new feed here replays lines held in memory; the new exchange adapter fills every order at once. The
runner is configured with their names only (``feed.source``, ``venue.exchange.name``), and the venue kind
(``testnet``) stays separate from the exchange it goes to.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from aurora.events.codes import EventCode
from runner import registry
from runner.app import Runner
from runner.config import RunnerConfig
from runner.feeds.base import Feed
from runner.feeds.replay_feed import iter_recording
from runner.registry import FeedEntry, VenueRequest
from runner.venues.base import OrderRequest, Venue, lifecycle_event
from tests.runner.gate_stub import GateStub
from tests.runner.test_runner_books import TRADER, record

LINES: list[bytes] = []


class MemoryFeed(Feed):
    name = "memory"

    def __init__(self, symbols: list[str]) -> None:
        super().__init__(symbols)
        self.clock_offset_ns = None  # the data's own clock, like a recording

    async def __aiter__(self) -> AsyncIterator[tuple[int, bytes]]:
        for i, line in enumerate(LINES):
            if i % 256 == 0:
                await asyncio.sleep(0)
            self.stats["messages"] = i + 1
            yield 0, line


class InstantExchange(Venue):
    """Fills every order in full at its limit (or 100.0) the moment it is sent."""

    def __init__(self, req: VenueRequest) -> None:
        super().__init__(req.sink)
        self.name = f"instant-{req.kind}"

    async def submit(self, req: OrderRequest, now_ns: int) -> None:
        self.record_sent(req)
        self.sink(lifecycle_event(EventCode.ORDER_SUBMIT, now_ns, req))
        self.sink(lifecycle_event(EventCode.ORDER_ACK, now_ns, req, oid=f"i-{req.cid}"))
        self.sink(lifecycle_event(EventCode.ORDER_FILL, now_ns, req, oid=f"i-{req.cid}", fill_qty=req.qty,
                                  fill_price=req.price or 100.0, cum_qty=req.qty))

    async def cancel(self, cid: str, now_ns: int, reason: str = "runner") -> None:
        pass

    async def cancel_all(self, symbols, now_ns: int, reason: str) -> list[str]:  # noqa: ANN001
        return []  # nothing ever rests here


@pytest.fixture
def registered():  # noqa: ANN201
    registry.register_feed(FeedEntry("memory", lambda req: MemoryFeed(req.symbols),
                                     market_clock=lambda cfg: True,
                                     instruments=lambda symbol: (0.01, 0.01)))
    registry.register_exchange("instant", InstantExchange)
    yield
    registry._FEEDS.pop("memory")
    registry._EXCHANGES.pop("instant")


def test_a_new_feed_and_exchange_are_one_registration_each(registered, gate_stub: GateStub, tmp_path: Path) -> None:
    rec = tmp_path / "r.jsonl"
    record(rec, ["SOLUSDT"], seconds=10)
    LINES[:] = [line for _, line in iter_recording(rec)]
    cfg = RunnerConfig.model_validate({
        **TRADER, "symbols": [{"symbol": "SOLUSDT", "qty": 1.0}],
        "runner": {"mode": "testnet"}, "feed": {"source": "memory"}, "venue": {"exchange": {"name": "instant"}},
    })  # fmt: skip
    assert registry.runs_on_market_clock(cfg.feed)
    runner = Runner(cfg, session_dir=tmp_path / "s", gate_url=gate_stub.url, environ={})
    summary = asyncio.run(runner.run())
    assert runner.venue.name == "instant-testnet" and runner.plans["SOLUSDT"].tick == 0.01
    assert summary["gate"]["orders_sent"] >= 2 and summary["venue"]["sent"] == summary["gate"]["orders_sent"]
    assert summary["market"]["messages"] == len(LINES) and summary["open_positions"] == []


def test_unknown_names_are_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match="'synthetic', 'replay:PATH', 'binance'"):
        RunnerConfig.model_validate({"feed": {"source": "kraken"}})
    with pytest.raises(ValueError, match="replay:PATH"):
        RunnerConfig.model_validate({"feed": {"source": "replay:"}})
    with pytest.raises(ValueError, match=r"no adapter for exchange 'kraken' \(known: binance_usdm\)"):
        RunnerConfig.model_validate({"venue": {"exchange": {"name": "kraken"}}})
    with pytest.raises(ValueError, match="simulated venue kinds"):
        registry.register_simulator("testnet", InstantExchange)


def test_the_shipped_names() -> None:
    assert registry.feed_names() == ["synthetic", "replay:PATH", "binance"]
    assert registry.exchange_names() == ["binance_usdm"]
    assert not registry.runs_on_market_clock(RunnerConfig().feed)  # synthetic at 1x: wall time
