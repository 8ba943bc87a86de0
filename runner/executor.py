"""The order executor: an action becomes a gate check, then (allowed) a venue order; venue events come
back through it.

* **Every order is checked first.** Entries and closes alike go to ``/pretrade/check`` with the
  market they were priced on; no answer means no order (fail closed). The allowed size is the gate's
  ``max_qty`` down to the lot step; allowed below one lot, nothing is sent (:class:`BelowLot`).
* **Lifecycle.** Every ``ORDER.*`` event from the venue walks the shared FSM (:mod:`runner.orders`),
  updates the positions (a closing fill gets ``realized_pnl_usd/bps``, ``entry_p_win`` and
  ``entry_score``) and then goes to each *lifecycle sink* in turn: the gate's ``/posttrade/log`` queue
  and, when asked for, a labeller (:mod:`runner.labels`) — they see the very events the gate sees.
* **The gate's trading state.** ``admits`` (set by the runner: :meth:`runner.kill.KillController.admits`)
  is asked before the check and again once it is allowed: an order the trading state the runner knows
  does not let through (no new risk while REDUCING, nothing while HALTED, no entry while the state is
  unknown) is not sent, even when the answer was on its way as the state changed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from aurora.events.codes import EventCode
from runner.actions import (
    Action,
    BelowLot,
    Cancel,
    CancelSent,
    Close,
    Denied,
    Enter,
    NoGate,
    Outcome,
    Placed,
    Purpose,
    Skipped,
    TakeProfit,
)
from runner.book_health import OK as BOOK_OK
from runner.book_health import BookHealth
from runner.clock import RunClock
from runner.config import RunnerConfig, StrategySection
from runner.features import SymbolFeatures
from runner.gate_client import GateClient
from runner.market import MarketData
from runner.orders import OrderTracker, TrackedOrder
from runner.plans import SymbolPlan, floor_to_lot, round_to_tick
from runner.positions import PositionBook
from runner.venues.base import OrderRequest, Venue

LifecycleSink = Callable[[dict[str, Any]], None]


class OrderExecutor:
    def __init__(
        self,
        cfg: RunnerConfig,
        *,
        plans: dict[str, SymbolPlan],
        clock: RunClock,
        md: MarketData,
        book_health: BookHealth,
        gate: GateClient,
        new_cid: Callable[[], str],
        note: Callable[[str, dict[str, Any], str | None], None],
    ) -> None:
        self.cfg = cfg
        #: symbol -> the strategy section its orders use instead (live tuning's explore arm)
        self.by_symbol: dict[str, StrategySection] = {}
        self.plans = plans
        self.clock = clock
        self.md = md
        self.book_health = book_health
        self.gate = gate
        self.new_cid = new_cid
        self.note = note  # (code, details, cid): a venue problem for the runner's own log
        self.tracker = OrderTracker()
        self.positions = PositionBook(fees_bps=cfg.strategy.fees_bps)
        self.venue: Venue | None = None
        #: where each enriched lifecycle event goes, in order (the gate's post queue first)
        self.sinks: list[LifecycleSink] = [gate.post_lifecycle]
        self.stopping = False  # decisions made while stopping are not timed tick-to-request
        #: whether the trading state the runner knows lets this order through (see the module doc)
        self.admits: Callable[[TrackedOrder], bool] = lambda order: True
        self.counters: dict[str, Any] = {
            "gate_checks": 0,
            "allowed": 0,
            "denied": 0,
            "no_gate": 0,
            "zero_qty": 0,
            "orders_sent": 0,
            "held_by_trading_state": 0,
            "denied_by_reason": {},
            "lifecycle": {},
        }

    def attach(self, venue: Venue) -> None:
        self.venue = venue

    # -- actions ----------------------------------------------------------------------------------
    async def execute(self, action: Action, computed: dict[str, Any] | None = None) -> Outcome:
        """Carry out one action; ``computed`` reuses the features the strategy just computed (entries)."""
        if isinstance(action, Enter):
            return await self._enter(action, computed)
        if isinstance(action, TakeProfit):
            return await self._take_profit(action.symbol)
        if isinstance(action, Close):
            return await self._close(action.symbol, action.reason)
        return await self._cancel(action)

    async def _enter(self, action: Enter, computed: dict[str, Any] | None) -> Outcome:
        cand = action.candidate
        symbol = cand.symbol
        feats = self.md.features[symbol]
        sc = self.by_symbol.get(symbol, self.cfg.strategy)
        buy = cand.side == "buy"
        if sc.order_type == "market":
            price = None
        elif sc.entry == "cross":
            price = feats.ask if buy else feats.bid
        else:
            price = feats.bid if buy else feats.ask
        qty = self.plans[symbol].entry_qty(price if price is not None else (feats.ask if buy else feats.bid))
        if qty <= 0:  # a notional below one lot at this price: nothing to send, nothing asked
            self.counters["zero_qty"] += 1
            return Skipped()
        order = TrackedOrder(cand.cid, symbol, cand.side, qty, price, sc.order_type, False,
                             Purpose.ENTRY, p_win=cand.p_win, score=cand.score)
        return await self._place(order, feats, cand.score, ttl_ms=sc.order_ttl_s * 1000.0,
                                 computed=computed or cand.features)

    async def _take_profit(self, symbol: str) -> Outcome:
        pos = self.positions.get(symbol)
        if pos.flat or self.book_health.state(symbol) != BOOK_OK:  # no new resting order on a bad book
            return Skipped()
        plan = self.plans[symbol]
        long = pos.qty > 0
        tp_bps = self.by_symbol.get(symbol, self.cfg.strategy).tp_bps
        target = pos.avg_price * (1 + tp_bps / 1e4 * (1 if long else -1))
        price = round_to_tick(target, plan.tick, "up" if long else "down")
        qty = floor_to_lot(abs(pos.qty), plan.lot) or abs(pos.qty)
        order = TrackedOrder(self.new_cid(), symbol, "sell" if long else "buy", qty, price, "limit", True,
                             Purpose.TAKE_PROFIT, p_win=pos.entry_p_win, score=pos.entry_score)
        return await self._place(order, self.md.features[symbol], pos.entry_score)

    async def _close(self, symbol: str, reason: Purpose) -> Outcome:
        pos = self.positions.get(symbol)
        if pos.flat or self.tracker.working(symbol):
            return Skipped()
        qty = floor_to_lot(abs(pos.qty), self.plans[symbol].lot) or abs(pos.qty)
        order = TrackedOrder(self.new_cid(), symbol, "sell" if pos.qty > 0 else "buy", qty, None, "market",
                             True, reason, p_win=pos.entry_p_win, score=pos.entry_score)
        return await self._place(order, self.md.features[symbol], pos.entry_score)

    async def _cancel(self, action: Cancel) -> Outcome:
        order = self.tracker.orders.get(action.cid)
        if order is None or order.terminal or order.cancel_sent:
            return Skipped()
        assert self.venue is not None
        order.cancel_sent = True
        now = self.clock.now()
        await self.venue.cancel(action.cid, now, action.reason)
        self.venue.advance(now)
        return CancelSent(action.cid)

    async def cancel_many(self, orders: list[TrackedOrder], reason: str) -> list[str]:
        """Cancel several resting orders at once (the kill functionality); the ones a cancel went out for."""
        todo = [o for o in orders if not o.terminal and not o.cancel_sent]
        if not todo:
            return []
        assert self.venue is not None
        for o in todo:
            o.cancel_sent = True
        now = self.clock.now()
        await self.venue.cancel_many([o.cid for o in todo], now, reason)
        self.venue.advance(now)
        return [o.cid for o in todo]

    # -- the check and the order ------------------------------------------------------------------
    def gate_body(self, order: TrackedOrder, feats: SymbolFeatures, score: float | None,
                  computed: dict[str, Any] | None = None) -> dict[str, Any]:
        """The ``/pretrade/check`` body; ``computed`` reuses the features the strategy just computed."""
        sc = self.by_symbol.get(order.symbol, self.cfg.strategy)
        f = computed if computed is not None else feats.as_dict(self.md.last_event_ms)
        o: dict[str, Any] = {
            "cid": order.cid,
            "symbol": order.symbol,
            "side": order.side,
            "qty": order.qty,
            "order_type": order.order_type,
            "reduce_only": order.reduce_only,
        }
        if order.price is not None:
            o["price"] = order.price
        return {
            "account": {"id": self.cfg.runner.account},
            "order": o,
            "market": {
                "best_bid": f["bid"],
                "best_ask": f["ask"],
                "bid_size": f["bid_qty"],
                "ask_size": f["ask_qty"],
                "spread_bps": f["spread_bps"],
                "latency_ms": self.clock.data_age_ms(feats.last_ms),
                "vol_std_bps": f["vol_std_bps"],
                "score": score if score is not None and math.isfinite(score) else 0.0,
                "tp_bps": sc.tp_bps,
                "sl_bps": sc.sl_bps,
                "l2_add_volumes": f["l2_add_volumes"],
                "l2_cancel_volumes": f["l2_cancel_volumes"],
                # When the runner asks: the recording's time in a replay, wall time live (the gate's
                # deadline is measured on its own clock, which a live gate keeps on wall time).
                "ts_ns": self.clock.now(),
                **self._market_extras(order.symbol),
            },
        }

    def _market_extras(self, symbol: str) -> dict[str, Any]:
        """The optional ``market`` fields the configured gate accepts (``gate.send_*``)."""
        g = self.cfg.gate
        extras: dict[str, Any] = {}
        if g.send_deadline:
            extras["deadline_ms"] = g.timeout_ms
        if g.send_book_age:
            age = self.book_health.age_ms(symbol, self.md.last_event_ms)
            extras["book_age_ms"] = age if age is not None else 1e9  # no valid book: older than any limit
        return extras

    async def _place(self, order: TrackedOrder, feats: SymbolFeatures, score: float | None,
                     ttl_ms: float | None = None, computed: dict[str, Any] | None = None) -> Outcome:
        if not feats.ready:
            return Skipped()
        if not self.admits(order):
            self.counters["held_by_trading_state"] += 1
            return Skipped()
        body = self.gate_body(order, feats, score, computed)
        self.counters["gate_checks"] += 1
        # Tick-to-request latency is measured only for decisions a market message triggered.
        decision = await self.gate.check(body, tick_ns=0 if self.stopping else self.clock.tick_recv_ns)
        if decision is None:
            self.counters["no_gate"] += 1
            return NoGate()
        if not decision.allow:
            self.counters["denied"] += 1
            by = self.counters["denied_by_reason"]
            by[decision.reason] = by.get(decision.reason, 0) + 1
            return Denied(decision.reason, decision.cooldown_ms)
        self.counters["allowed"] += 1
        qty = order.qty if decision.max_qty is None else min(order.qty, decision.max_qty)
        qty = floor_to_lot(qty, self.plans[order.symbol].lot)
        if qty <= 0:
            self.counters["zero_qty"] += 1
            return BelowLot(order.cid, order.qty, decision.max_qty, decision.risk_scale, order.reduce_only)
        if not self.admits(order):  # the state changed while the answer was on its way
            self.counters["held_by_trading_state"] += 1
            return Skipped()
        assert self.venue is not None
        order.qty = qty
        now = self.clock.now()
        order.created_ns = now
        self.tracker.add(order)
        req = OrderRequest(order.cid, order.symbol, order.side, qty, order.price, order.order_type,
                           order.reduce_only, ttl_ms)
        self.counters["orders_sent"] += 1
        await self.venue.submit(req, now)
        self.venue.advance(now)
        return Placed(order.cid, qty)

    # -- lifecycle from the venue -----------------------------------------------------------------
    def on_lifecycle(self, event: dict[str, Any]) -> None:
        """The venue's sink: FSM, positions and P&L, then every lifecycle sink (the gate first)."""
        code = event["event_code"]
        if event.get("runner_only"):  # a venue problem worth recording, not an order event
            self.note(code, event.get("details") or {}, event.get("cid"))
            return
        order = self.tracker.on_event(event)
        lc = self.counters["lifecycle"]
        lc[code] = lc.get(code, 0) + 1
        if order is not None and code in (EventCode.ORDER_PARTIAL, EventCode.ORDER_FILL):
            details = event["details"]
            fill_qty = float(details.get("fill_qty") or 0.0)
            fill_price = float(details.get("fill_price") or order.price or 0.0)
            pos = self.positions.get(order.symbol)
            if order.reduce_only:
                # A reduce-only fill can only shrink the position (an overfill cannot flip it).
                closes = not pos.flat and (pos.qty > 0) == (order.side == "sell")
                fill_qty = min(fill_qty, abs(pos.qty)) if closes else 0.0
            if fill_qty > 0 and fill_price > 0:
                pnl = self.positions.on_fill(order.symbol, order.side, fill_qty, fill_price, event["ts_ns"],
                                             p_win=order.p_win, score=order.score)
                if pnl is not None:
                    details["realized_pnl_usd"] = pnl["realized_pnl_usd"]
                    details["realized_pnl_bps"] = pnl["realized_pnl_bps"]
                    details["entry_p_win"] = pnl["entry_p_win"]
                    if pnl["entry_score"] is not None:
                        details["entry_score"] = pnl["entry_score"]
        for sink in self.sinks:
            sink(event)
