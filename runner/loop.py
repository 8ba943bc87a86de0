"""The market loop: each message updates the book and features, lets the simulated venue see the market,
asks the exit manager about the symbol's position, then the strategy about a new entry; the actions they
return are carried out by the executor once the message is handled (one per symbol at a time).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from runner.actions import Action, Cancel, Enter
from runner.clock import RunClock
from runner.executor import OrderExecutor
from runner.exits import CANCELABLE, PositionManager
from runner.feeds.base import Feed
from runner.feeds.wire import Kind
from runner.market import MarketData
from runner.plans import SymbolPlan
from runner.strategy import Candidate, Strategy
from runner.venues.base import Venue


class MarketLoop:
    def __init__(
        self,
        *,
        feed: Feed,
        md: MarketData,
        clock: RunClock,
        strategy: Strategy,
        manager: PositionManager,
        executor: OrderExecutor,
        venue: Venue,
        plans: dict[str, SymbolPlan],
        check_book: Callable[[str, int], bool],
        emit: Callable[..., None],
        cancel_stub_every: int = 0,
        on_market: Callable[[str, int, float], None] | None = None,
    ) -> None:
        self.feed = feed
        self.md = md
        self.clock = clock
        self.strategy = strategy
        self.manager = manager
        self.executor = executor
        self.venue = venue
        self.plans = plans
        self.tradable = {s for s, p in plans.items() if p.tradable}
        self.check_book = check_book
        self.emit = emit
        self.stopping = False  # no new entries; what rests is cancelled, positions closed
        self.halt = False  # leave the loop at the next message
        self.on_idle: Callable[[], None] = lambda: None  # called after each message while stopping
        self.entries_open: Callable[[], bool] = lambda: True  # the gate's trading state lets entries in
        self.actions: list[Action] = []
        self.pending: set[str] = set()  # symbols with an action queued or in progress
        self._cancel_stub_every = cancel_stub_every
        #: (symbol, market time, mid) after each market message is applied: the markouts' clock and mids
        self.on_market = on_market or (lambda symbol, now_ns, mid: None)
        self._ticks = 0

    async def consume(self) -> None:
        async for recv_ns, raw in self.feed:
            self.on_message(recv_ns, raw)
            if self.actions:
                await self.run_actions()
            if self.halt:
                break

    def on_message(self, recv_ns: int, raw: bytes) -> None:
        md = self.md
        res = md.on_raw(raw)
        if res is None:
            return
        symbol, kind = res
        clock = self.clock
        clock.on_message(md.last_event_ms, recv_ns)
        now = clock.market_ns
        feats = md.features[symbol]
        self.on_market(symbol, now, feats.mid)
        tradable = symbol in self.tradable
        if tradable:
            self.check_book(symbol, md.last_event_ms)
        if kind is Kind.BOOK_TICKER:
            self.venue.on_ticker(symbol, feats.bid, feats.bid_qty, feats.ask, feats.ask_qty, now)
        elif kind is Kind.TRADE:
            _, price, qty, maker, _ = md.last_trade  # type: ignore[misc]
            self.venue.on_trade(symbol, price, qty, maker, now)
        else:
            self.venue.advance(now)
            return
        if self.stopping:
            if tradable and symbol not in self.pending:
                self.queue(self.manager.manage_stop(symbol, now))
            self.on_idle()
            return
        if tradable and symbol not in self.pending:
            self.queue(self.manager.manage(symbol, feats, now))
        if self._cancel_stub_every:
            self._ticks += 1
            if self._ticks % self._cancel_stub_every == 0:
                self.queue(self._cancel_stub())
        cand = self.strategy.on_tick(symbol, feats, md.last_event_ms, can_open=self.can_open(symbol))
        if cand is not None:
            self._explain(cand)
            if cand.passed:
                self.queue(Enter(cand))

    def can_open(self, symbol: str) -> bool:
        if symbol not in self.tradable or symbol in self.pending or self.stopping or not self.entries_open():
            return False
        if not self.in_entry_window():
            return False
        return self.manager.may_open(symbol, self.clock.market_ns)

    def in_entry_window(self) -> bool:
        """Market time since the first message within [strategy.entries_from_s, strategy.entries_until_s)."""
        cfg = self.strategy.cfg
        if not cfg.entries_from_s and cfg.entries_until_s is None:
            return True
        elapsed_s = (self.clock.market_ns - self.clock.first_ns) / 1e9
        return elapsed_s >= cfg.entries_from_s and (cfg.entries_until_s is None or elapsed_s < cfg.entries_until_s)

    def queue(self, action: Action | None) -> None:
        if action is not None:
            self.pending.add(action.symbol)
            self.actions.append(action)

    async def run_actions(self) -> None:
        actions, self.actions = self.actions, []
        for action in actions:
            try:
                if isinstance(action, Enter):
                    self.pending.discard(action.symbol)
                    if not self.can_open(action.symbol):  # things changed since it was queued
                        continue
                outcome = await self.executor.execute(action)
                self.manager.on_outcome(action, outcome, self.clock.now())
            finally:
                self.pending.discard(action.symbol)

    def clear(self) -> None:
        self.actions.clear()
        self.pending.clear()

    def _cancel_stub(self) -> Action | None:
        """``AURORA_CANCEL_STUB``: cancel the oldest resting entry (CANCEL.REQUEST → CANCEL.ACK on testnet)."""
        for o in self.executor.tracker.working():
            if (not o.reduce_only and o.state in CANCELABLE and not o.cancel_sent
                    and o.symbol not in self.pending):
                return Cancel(o.symbol, o.cid)
        return None

    def _explain(self, cand: Candidate) -> None:
        """Write the candidate's XAI records, stamped now.

        For a candidate that goes on to the gate the write is deferred to the loop's next turn, which
        comes once the pre-trade request has been written to the socket: the records (~20 us each) are
        kept off the tick-to-gate path without changing their timestamps or their order in the file.
        """
        ts = time.time_ns()
        if cand.passed:
            asyncio.get_running_loop().call_soon(self._write_xai, cand, ts)
        else:
            self._write_xai(cand, ts)

    def _write_xai(self, cand: Candidate, ts_ns: int) -> None:
        f: dict[str, Any] = cand.features
        qty = self.plans[cand.symbol].entry_qty(f["ask"] if cand.side == "buy" else f["bid"])
        for code, details in cand.events:
            self.emit(code, details, ts_ns=ts_ns, symbol=cand.symbol, cid=cand.cid, side=cand.side, qty=qty)
