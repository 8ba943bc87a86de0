"""The paper exchange: a deterministic simulator driven by the feed's (simulated) time.

* **Latency.** An order reaches the exchange ``latency_ms + U(0, jitter_ms)`` after it is sent (entry
  latency) and every answer takes another such draw to come back (response latency). All draws come
  from one ``random.Random(seed)``; time is the feed's event time, so a run is reproducible.
* **Limit orders.** On arrival the marketable part takes liquidity level by level up to the limit
  price; the rest rests with a *conservative queue*: ``queue_ahead`` is the displayed size at our
  price when we join, and it shrinks **only** by trades printed at our price (cancels ahead of us are
  ignored). Trade volume beyond the queue fills us (partial fills); a trade *through* our price (a
  sell below our bid, a buy above our ask) fills whatever remains at our price.
* **Market orders** fill at the opposite best at arrival, worsened by ``slippage_bps``.
* **Cancels** take the entry latency to arrive: fills in between still happen (the cancel race — a
  ``FILL`` after ``CANCEL.REQUEST`` is legal), and a cancel that finds the order done is dropped. A
  cancel for an order still on its way is held until the exchange has it (its ``CANCEL.REQUEST`` comes
  after the ``ACK``: the lifecycle FSM has no ACK after CANCEL.REQUEST). ``cancel_all`` is one request
  for a set of symbols (one latency draw), acknowledged order by order.
* **Instrument rules.** An order that breaks the registry's filters (tick, lot step, min/max quantity,
  min notional, status: :func:`runner.instruments.venue_rejection`) is rejected on arrival with the
  filter's reason, as the exchange would.
* **Expiry.** An order with ``ttl_ms`` still open ``ttl_ms`` after arrival is expired by the venue.
* **Fault switches** (each hits every ``fault_every``-th order): ``late_ack`` (ack delayed by
  ``late_ack_ms``), ``duplicate_ack``, ``fill_after_cancel`` (a fill reported after ``CANCEL.ACK``),
  ``overfill`` (the last fill reports 10 % more than the order), and ``reject_rate`` (probability that
  the venue rejects an order).

Events for one order are delivered in order (a later answer never overtakes an earlier one).
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aurora.events.codes import EventCode
from runner.book import L2Book
from runner.config import PaperVenueSection
from runner.instruments import venue_rejection
from runner.venues.base import CANCEL_BY_RUNNER, LifecycleSink, OrderRequest, Venue, lifecycle_event

if TYPE_CHECKING:
    from runner.registry import VenueRequest


MS = 1_000_000
NAN = float("nan")


@dataclass
class _Order:
    req: OrderRequest
    oid: str
    index: int
    sent_ns: int
    state: str = "in_flight"  # in_flight | open | done
    cancel_reason: str | None = None  # set once a cancel was requested
    cancel_held: bool = False  # requested while in flight: sent once the exchange has the order
    queue_ahead: float = 0.0
    remaining: float = 0.0
    cum: float = 0.0
    notional: float = 0.0
    last_emit_ns: int = 0
    reject: bool = False
    late_ack: bool = False
    duplicate_ack: bool = False
    fill_after_cancel: bool = False
    overfill: bool = False
    cancel_acked: bool = False
    fills: int = 0
    history: list[str] = field(default_factory=list)


class PaperVenue(Venue):
    name = "paper"
    shadow = False
    native_expiry = True  # orders carry a good-till-date; the venue expires them itself

    def __init__(
        self,
        sink: LifecycleSink,
        cfg: PaperVenueSection | None = None,
        *,
        books: Mapping[str, L2Book] | None = None,
    ) -> None:
        super().__init__(sink)
        self.cfg = cfg or PaperVenueSection()
        self.rng = random.Random(self.cfg.seed)
        self.books = books or {}
        self.tops: dict[str, tuple[float, float, float, float]] = {}
        self.orders: dict[str, _Order] = {}
        self._open: dict[str, list[_Order]] = {}  # symbol -> resting orders
        self._live: dict[str, _Order] = {}  # cid -> orders not done (in flight or resting)
        self._heap: list[tuple[int, int, str, Any]] = []
        self._seq = 0
        self._fill_seq = 0
        self.now_ns = 0
        self.counters = {"submitted": 0, "acked": 0, "filled": 0, "partials": 0, "rejected": 0, "canceled": 0,
                         "expired": 0, "cancel_too_late": 0, "cancel_all": 0}

    # -- scheduling -------------------------------------------------------------------------------
    def _latency_ns(self) -> int:
        c = self.cfg
        return int((c.latency_ms + c.jitter_ms * self.rng.random()) * MS)

    def _schedule(self, due_ns: int, kind: str, payload: Any) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (due_ns, self._seq, kind, payload))

    def _emit_at(self, due_ns: int, order: _Order, code: EventCode, **details: Any) -> None:
        due_ns = max(due_ns, order.last_emit_ns)
        order.last_emit_ns = due_ns
        event = lifecycle_event(code, due_ns, order.req, order.oid, **details)
        if self.shadow:
            event["details"]["shadow"] = True
        order.history.append(code.value)
        self._schedule(due_ns, "emit", event)

    def advance(self, now_ns: int) -> None:
        if now_ns > self.now_ns:
            self.now_ns = now_ns
        heap = self._heap
        while heap and heap[0][0] <= now_ns:
            due, _, kind, payload = heapq.heappop(heap)
            if kind == "emit":
                self.sink(payload)
            elif kind == "arrive":
                self._arrive(payload, due)
            elif kind == "cancel":
                self._cancel_arrives(payload, due)
            elif kind == "expire":
                self._expire(payload, due)

    def pending(self) -> int:
        return len(self._heap)

    # -- order entry ------------------------------------------------------------------------------
    async def submit(self, req: OrderRequest, now_ns: int) -> None:
        self.advance(now_ns)
        self.record_sent(req)
        c = self.cfg
        index = len(self.orders)
        self._seq += 1
        order = _Order(req, f"{'S' if self.shadow else 'P'}{index + 1:09d}", index, now_ns, remaining=req.qty,
                       last_emit_ns=now_ns)
        faulty = (index % c.fault_every) == 0
        order.reject = c.reject_rate > 0 and self.rng.random() < c.reject_rate
        order.late_ack = c.late_ack and faulty
        order.duplicate_ack = c.duplicate_ack and faulty
        order.fill_after_cancel = c.fill_after_cancel and faulty
        order.overfill = c.overfill and faulty
        self.orders[req.cid] = order
        self._live[req.cid] = order
        self.counters["submitted"] += 1
        submit = lifecycle_event(
            EventCode.ORDER_SUBMIT, now_ns, req, None,
            price=req.price, order_type=req.order_type, reduce_only=req.reduce_only, ttl_ms=req.ttl_ms,
            shadow=True if self.shadow else None,
        )
        order.history.append(EventCode.ORDER_SUBMIT.value)
        self.sink(submit)
        self._schedule(now_ns + self._latency_ns(), "arrive", order)
        self.advance(now_ns)  # zero latency (shadow) answers at once

    def _arrive(self, order: _Order, t: int) -> None:
        req = order.req
        back = t + self._latency_ns()
        broken = self._breaks_rules(req)
        if order.reject or broken:
            self._done(order)
            self.counters["rejected"] += 1
            reason = "VENUE_REJECT: -2019 Margin is insufficient" if order.reject else f"VENUE_REJECT: {broken}"
            self._emit_at(back, order, EventCode.ORDER_REJECT, reason=reason)
            return
        ack_at = back + (int(self.cfg.late_ack_ms * MS) if order.late_ack else 0)
        self._emit_at(ack_at, order, EventCode.ORDER_ACK, latency_ms=round((ack_at - order.sent_ns) / MS, 3),
                      price=req.price)
        if order.duplicate_ack:
            self._emit_at(ack_at + 1, order, EventCode.ORDER_ACK, latency_ms=round((ack_at + 1 - order.sent_ns) / MS, 3),
                          price=req.price, duplicate=True)
        self.counters["acked"] += 1
        order.state = "open"
        if req.order_type == "market":
            self._fill_market(order, t, back)
            return
        self._take_liquidity(order, t, back)
        if order.state == "open":
            order.queue_ahead = self._displayed(req.symbol, req.side == "buy", req.price)
            self._open.setdefault(req.symbol, []).append(order)
            if req.ttl_ms:
                self._schedule(t + int(req.ttl_ms * MS), "expire", order)
        if order.cancel_held:
            order.cancel_held = False
            if order.state == "open":
                self._request_cancel(order, t, t + self._latency_ns(), order.cancel_reason or CANCEL_BY_RUNNER)

    def _breaks_rules(self, req: OrderRequest) -> str | None:
        """What the exchange's filters refuse this order for (None: it is acceptable)."""
        if req.qty <= 0 or not req.qty == req.qty or (req.order_type == "limit" and not req.price):
            return "invalid order"
        if req.price is not None:
            ref = req.price
        else:  # a market order's notional is reckoned at the touch it takes
            bid, _, ask, _ = self._top(req.symbol)
            ref = ask if req.side == "buy" else bid
            if ref != ref:
                return None  # no touch: the fill finds no liquidity and says so
        return venue_rejection(req.symbol, req.price, req.qty, req.order_type, req.reduce_only, ref)

    def _done(self, order: _Order) -> None:
        order.state = "done"
        self._drop_open(order)
        self._live.pop(order.req.cid, None)

    def _top(self, symbol: str) -> tuple[float, float, float, float]:
        top = self.tops.get(symbol)
        if top is not None:
            return top
        book = self.books.get(symbol)
        return book.top() if book is not None else (NAN, 0.0, NAN, 0.0)

    def _displayed(self, symbol: str, is_bid: bool, price: float) -> float:
        bid, bid_qty, ask, ask_qty = self._top(symbol)
        if is_bid and _same(price, bid):
            return bid_qty
        if not is_bid and _same(price, ask):
            return ask_qty
        book = self.books.get(symbol)
        return book.qty_at(is_bid, price) if book is not None else 0.0

    def _opposite_levels(self, symbol: str, buying: bool) -> list[tuple[float, float]]:
        """Opposite-side levels, best first: the fresher ticker top, then the L2 book behind it."""
        bid, bid_qty, ask, ask_qty = self._top(symbol)
        top_px, top_qty = (ask, ask_qty) if buying else (bid, bid_qty)
        levels: list[tuple[float, float]] = []
        if top_px == top_px:
            levels.append((top_px, top_qty))
        book = self.books.get(symbol)
        if book is not None:
            deeper = book.ask_levels(20) if buying else book.bid_levels(20)
            for px, qty in deeper:
                if not levels or (px > levels[0][0] + 1e-12 if buying else px < levels[0][0] - 1e-12):
                    levels.append((px, qty))
        return levels

    def _take_liquidity(self, order: _Order, t: int, back: int) -> None:
        req = order.req
        buying = req.side == "buy"
        limit = req.price
        for px, qty in self._opposite_levels(req.symbol, buying):
            if order.remaining <= 1e-12:
                break
            if (buying and px > limit + 1e-12) or (not buying and px < limit - 1e-12):
                break
            take = min(order.remaining, qty) if qty > 0 else 0.0
            if take > 0:
                self._fill(order, take, px, back, "taker")

    def _fill_market(self, order: _Order, t: int, back: int) -> None:
        req = order.req
        bid, _, ask, _ = self._top(req.symbol)
        ref = ask if req.side == "buy" else bid
        if ref != ref:
            self._done(order)
            self.counters["rejected"] += 1
            self._emit_at(back, order, EventCode.ORDER_REJECT, reason="VENUE_REJECT: no liquidity")
            return
        slip = self.cfg.slippage_bps / 1e4
        px = ref * (1 + slip) if req.side == "buy" else ref * (1 - slip)
        self._fill(order, order.remaining, px, back, "taker")

    def _fill(self, order: _Order, qty: float, price: float, at_ns: int, liquidity: str) -> None:
        order.remaining = max(0.0, order.remaining - qty)
        if order.remaining < 1e-12:
            order.remaining = 0.0
        order.cum += qty
        order.notional += qty * price
        order.fills += 1
        self._fill_seq += 1
        final = order.remaining == 0.0
        fill_qty, cum = qty, order.cum
        if final and order.overfill:
            extra = round(order.req.qty * 0.1, 8) or 1e-8
            fill_qty, cum = qty + extra, order.cum + extra
        details = {
            "fill_qty": round(fill_qty, 12),
            "fill_price": price,
            "cum_qty": round(cum, 12),
            "avg_price": order.notional / order.cum if order.cum else None,
            "price": order.req.price,
            "trade_id": f"{order.oid}-T{self._fill_seq}",
            "liquidity": liquidity,
            "latency_ms": round((at_ns - order.sent_ns) / MS, 3),
        }
        if final:
            self._done(order)
            self.counters["filled"] += 1
            self._emit_at(at_ns, order, EventCode.ORDER_FILL, **details)
        else:
            self.counters["partials"] += 1
            self._emit_at(at_ns, order, EventCode.ORDER_PARTIAL, **details)

    def _drop_open(self, order: _Order) -> None:
        resting = self._open.get(order.req.symbol)
        if resting and order in resting:
            resting.remove(order)

    # -- market data ------------------------------------------------------------------------------
    def on_ticker(self, symbol: str, bid: float, bid_qty: float, ask: float, ask_qty: float, now_ns: int) -> None:
        self.tops[symbol] = (bid, bid_qty, ask, ask_qty)
        self.advance(now_ns)

    def on_trade(self, symbol: str, price: float, qty: float, buyer_is_maker: bool, now_ns: int) -> None:
        self.advance(now_ns)
        resting = self._open.get(symbol)
        if not resting:
            return
        for order in list(resting):
            req = order.req
            # A taker sell (buyer is maker) hits bids: it matters to our buys; a taker buy to our sells.
            if (req.side == "buy") != buyer_is_maker:
                continue
            through = price < req.price - 1e-12 if req.side == "buy" else price > req.price + 1e-12
            back = now_ns + self._latency_ns()
            if through:
                self._fill(order, order.remaining, req.price, back, "maker")
            elif _same(price, req.price):
                filled = self._queue_fill(order, qty)
                if filled > 1e-12:
                    self._fill(order, min(filled, order.remaining), req.price, back, "maker")
        self.advance(now_ns)

    def _queue_fill(self, order: _Order, traded: float) -> float:
        """A trade at our price first eats the queue ahead of us; what is left of it fills us."""
        excess = traded - order.queue_ahead
        order.queue_ahead = max(0.0, order.queue_ahead - traded)
        return excess

    # -- cancels and expiry -----------------------------------------------------------------------
    async def cancel(self, cid: str, now_ns: int, reason: str = CANCEL_BY_RUNNER) -> None:
        self.advance(now_ns)
        order = self.orders.get(cid)
        if order is None or order.cancel_reason is not None:
            return
        if order.state == "done" and order.last_emit_ns <= self.now_ns:
            # its last event has been delivered: the sender knows it is done, and sends no cancel
            self.counters["cancel_too_late"] += 1
            return
        if order.state == "in_flight":
            order.cancel_reason, order.cancel_held = reason, True
            return
        self._request_cancel(order, now_ns, now_ns + self._latency_ns(), reason)
        self.advance(now_ns)

    async def cancel_all(self, symbols: Iterable[str], now_ns: int, reason: str) -> list[str]:
        self.advance(now_ns)
        wanted = set(symbols)
        due = now_ns + self._latency_ns()  # one request for all of them
        out = []
        for order in list(self._live.values()):
            if order.req.symbol in wanted and order.cancel_reason is None:
                if order.state == "in_flight":
                    order.cancel_reason, order.cancel_held = reason, True
                else:
                    self._request_cancel(order, now_ns, due, reason)
                out.append(order.req.cid)
        self.counters["cancel_all"] += 1
        self.advance(now_ns)
        return out

    def _request_cancel(self, order: _Order, now_ns: int, due_ns: int, reason: str) -> None:
        order.cancel_reason = reason
        self._emit_at(now_ns, order, EventCode.ORDER_CANCEL_REQUEST, reason=reason)
        self._schedule(due_ns, "cancel", order)

    def _cancel_arrives(self, order: _Order, t: int) -> None:
        if order.state != "open":
            self.counters["cancel_too_late"] += 1  # filled, rejected or expired before the cancel got there
            return
        self._done(order)
        self.counters["canceled"] += 1
        back = t + self._latency_ns()
        self._emit_at(back, order, EventCode.ORDER_CANCEL_ACK, reason=order.cancel_reason, cum_qty=order.cum)
        if order.fill_after_cancel and order.remaining > 0:
            # The exchange matched it just before the cancel took effect, but says so afterwards.
            self._fill_seq += 1
            order.cum += order.remaining
            self._emit_at(
                back + MS, order, EventCode.ORDER_FILL,
                fill_qty=order.remaining, fill_price=order.req.price, cum_qty=order.cum, price=order.req.price,
                trade_id=f"{order.oid}-T{self._fill_seq}", liquidity="maker", after_cancel=True,
            )
            order.remaining = 0.0

    def _expire(self, order: _Order, t: int) -> None:
        if order.state != "open":
            return
        self._done(order)
        self.counters["expired"] += 1
        self._emit_at(t + self._latency_ns(), order, EventCode.ORDER_EXPIRE, reason="GTD_EXPIRED", cum_qty=order.cum)

    def resting(self) -> int:
        """Orders in flight or resting (not done)."""
        return len(self._live)

    def stats(self) -> dict[str, Any]:
        return {"sent": self.orders_sent, **self.counters}


def _same(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(1.0, abs(a))


def open_paper(req: VenueRequest) -> PaperVenue:
    """Venue kind ``paper`` (registered in :mod:`runner.registry`)."""
    return PaperVenue(req.sink, req.cfg.paper, books=req.books)
