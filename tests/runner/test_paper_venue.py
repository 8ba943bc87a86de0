"""The paper exchange, checked by the ORDER.* event sequence it produces."""

from __future__ import annotations

import asyncio

import pytest

from runner.book import L2Book
from runner.config import PaperVenueSection
from runner.orders import OrderTracker, TrackedOrder
from runner.venues.base import OrderRequest
from runner.venues.paper_venue import PaperVenue
from runner.venues.shadow_venue import ShadowVenue

MS = 1_000_000
T0 = 1_000_000 * MS


class Rig:
    def __init__(self, **cfg) -> None:  # noqa: ANN003
        self.events: list[dict] = []
        self.book = L2Book("SOLUSDT")
        self.book.load_snapshot([("100.00", "5"), ("99.99", "7")], [("100.01", "2"), ("100.02", "3"), ("100.03", "9")], 1)
        params = {"latency_ms": 5.0, "jitter_ms": 2.0, "slippage_bps": 1.0, "seed": 3, **cfg}
        self.venue = PaperVenue(self.events.append, PaperVenueSection(**params), books={"SOLUSDT": self.book})
        self.venue.on_ticker("SOLUSDT", 100.00, 5.0, 100.01, 2.0, T0)
        self.tracker = OrderTracker()

    def submit(self, cid: str, side: str, qty: float, price: float | None, t: int = T0, **kw) -> None:  # noqa: ANN003
        otype = "market" if price is None else "limit"
        self.tracker.add(TrackedOrder(cid, "SOLUSDT", side, qty, price, otype, False, "entry"))
        asyncio.run(self.venue.submit(OrderRequest(cid, "SOLUSDT", side, qty, price, otype, **kw), t))

    def at(self, ms: float) -> int:
        return T0 + int(ms * MS)

    def advance(self, ms: float) -> None:
        self.venue.advance(self.at(ms))

    def trade(self, ms: float, price: float, qty: float, taker_sells: bool) -> None:
        self.venue.on_trade("SOLUSDT", price, qty, taker_sells, self.at(ms))

    def codes(self, cid: str | None = None) -> list[str]:
        return [e["event_code"] for e in self.events if cid is None or e["cid"] == cid]

    def of(self, code: str) -> list[dict]:
        return [e for e in self.events if e["event_code"] == code]

    def check_fsm(self) -> dict[str, list[str]]:
        for e in self.events:
            self.tracker.on_event(e)
        return self.tracker.anomalies()


def test_resting_buy_queue_advances_only_by_trades_at_its_price() -> None:
    r = Rig()
    r.submit("b1", "buy", 3.0, 100.00)
    r.advance(20)
    assert r.codes() == ["ORDER.SUBMIT", "ORDER.ACK"]
    ack = r.of("ORDER.ACK")[0]
    assert 10 * MS <= ack["ts_ns"] - T0 <= 14 * MS  # entry + response latency, 5 ms + U(0, 2) each
    r.trade(30, 100.00, 4.0, True)  # 5 displayed ahead of us: queue 5 -> 1, no fill
    r.trade(40, 100.01, 9.0, False)  # a taker buy at the ask does not touch our bid
    r.advance(60)
    assert r.codes() == ["ORDER.SUBMIT", "ORDER.ACK"]
    r.trade(70, 100.00, 2.0, True)  # 1 ahead, 1 for us: partial
    r.advance(90)
    part = r.of("ORDER.PARTIAL")[0]
    assert part["details"]["fill_qty"] == 1.0 and part["details"]["fill_price"] == 100.0
    assert part["details"]["cum_qty"] == 1.0 and part["details"]["liquidity"] == "maker"
    r.trade(100, 100.00, 10.0, True)  # the queue is ours now: the rest fills
    r.advance(120)
    assert r.codes() == ["ORDER.SUBMIT", "ORDER.ACK", "ORDER.PARTIAL", "ORDER.FILL"]
    fill = r.of("ORDER.FILL")[0]["details"]
    assert fill["fill_qty"] == 2.0 and fill["cum_qty"] == 3.0
    assert r.check_fsm() == {}


def test_a_trade_through_the_price_fills_the_remainder() -> None:
    r = Rig()
    r.submit("b1", "buy", 3.0, 100.00)
    r.advance(20)
    r.trade(30, 99.99, 0.5, True)  # someone sold below our bid: everything at 100.00 was taken
    r.advance(50)
    assert r.codes() == ["ORDER.SUBMIT", "ORDER.ACK", "ORDER.FILL"]
    assert r.of("ORDER.FILL")[0]["details"]["fill_qty"] == 3.0
    assert r.of("ORDER.FILL")[0]["details"]["fill_price"] == 100.00


def test_marketable_limit_takes_liquidity_level_by_level_then_rests() -> None:
    r = Rig()
    r.submit("b1", "buy", 6.0, 100.02)  # 2 @ 100.01 + 3 @ 100.02, 1 rests at 100.02
    r.advance(30)
    assert r.codes() == ["ORDER.SUBMIT", "ORDER.ACK", "ORDER.PARTIAL", "ORDER.PARTIAL"]
    fills = [(e["details"]["fill_qty"], e["details"]["fill_price"]) for e in r.of("ORDER.PARTIAL")]
    assert fills == [(2.0, 100.01), (3.0, 100.02)]
    assert all(e["details"]["liquidity"] == "taker" for e in r.of("ORDER.PARTIAL"))
    r.trade(40, 100.01, 1.0, True)  # a taker sell at 100.01 trades through our 100.02 bid
    r.advance(60)
    assert r.codes()[-1] == "ORDER.FILL" and r.of("ORDER.FILL")[0]["details"]["cum_qty"] == 6.0


def test_market_order_fills_at_the_opposite_best_plus_slippage() -> None:
    r = Rig(slippage_bps=2.0)
    r.submit("m1", "sell", 1.5, None)
    r.advance(30)
    assert r.codes() == ["ORDER.SUBMIT", "ORDER.ACK", "ORDER.FILL"]
    assert r.of("ORDER.FILL")[0]["details"]["fill_price"] == pytest.approx(100.00 * (1 - 2e-4))


def test_cancel_of_a_resting_order() -> None:
    r = Rig()
    r.submit("b1", "buy", 1.0, 99.99)
    r.advance(20)
    asyncio.run(r.venue.cancel("b1", r.at(25)))
    r.advance(60)
    assert r.codes() == ["ORDER.SUBMIT", "ORDER.ACK", "ORDER.CANCEL.REQUEST", "ORDER.CANCEL.ACK"]
    assert r.check_fsm() == {} and r.tracker.orders["b1"].state == "CANCELED"


def test_cancel_race_a_fill_before_the_cancel_arrives_wins() -> None:
    r = Rig()
    r.submit("b1", "buy", 1.0, 100.00)
    r.advance(20)
    asyncio.run(r.venue.cancel("b1", r.at(25)))
    r.trade(26, 99.99, 1.0, True)  # trades through while the cancel is on its way
    r.advance(60)
    assert r.codes() == ["ORDER.SUBMIT", "ORDER.ACK", "ORDER.CANCEL.REQUEST", "ORDER.FILL"]
    assert r.venue.counters["cancel_too_late"] == 1
    assert r.check_fsm() == {} and r.tracker.orders["b1"].state == "FILLED"  # PENDING_CANCEL -> FILLED


def test_expiry_of_a_good_till_date_order() -> None:
    r = Rig()
    r.submit("b1", "buy", 1.0, 99.99, ttl_ms=100)
    r.advance(50)
    assert r.codes() == ["ORDER.SUBMIT", "ORDER.ACK"]
    r.advance(130)
    assert r.codes() == ["ORDER.SUBMIT", "ORDER.ACK", "ORDER.EXPIRE"]
    assert r.of("ORDER.EXPIRE")[0]["details"]["reason"] == "GTD_EXPIRED"
    assert r.check_fsm() == {}


def test_fault_late_ack() -> None:
    r = Rig(late_ack=True, late_ack_ms=6000)
    r.submit("b1", "buy", 1.0, 99.99)
    r.advance(1000)
    assert r.codes() == ["ORDER.SUBMIT"]
    r.advance(6100)
    ack = r.of("ORDER.ACK")[0]
    assert ack["ts_ns"] - T0 >= 6000 * MS and ack["details"]["latency_ms"] >= 6000


def test_fault_duplicate_ack() -> None:
    r = Rig(duplicate_ack=True)
    r.submit("b1", "buy", 1.0, 99.99)
    r.advance(50)
    assert r.codes() == ["ORDER.SUBMIT", "ORDER.ACK", "ORDER.ACK"]
    assert list(r.check_fsm()) == ["b1"]  # the second ACK is illegal in ACKED


def test_fault_fill_after_cancel() -> None:
    r = Rig(fill_after_cancel=True)
    r.submit("b1", "buy", 1.0, 99.99)
    r.advance(20)
    asyncio.run(r.venue.cancel("b1", r.at(25)))
    r.advance(80)
    assert r.codes() == ["ORDER.SUBMIT", "ORDER.ACK", "ORDER.CANCEL.REQUEST", "ORDER.CANCEL.ACK", "ORDER.FILL"]
    assert r.of("ORDER.FILL")[0]["details"]["after_cancel"] is True
    assert r.check_fsm() == {"b1": ["FILL_AFTER_CANCEL:CANCELED+FILL"]}


def test_fault_overfill() -> None:
    r = Rig(overfill=True)
    r.submit("b1", "buy", 2.0, 100.00)
    r.advance(20)
    r.trade(30, 99.99, 1.0, True)
    r.advance(50)
    fill = r.of("ORDER.FILL")[0]["details"]
    assert fill["cum_qty"] > 2.0 and fill["fill_qty"] > 2.0


def test_fault_reject() -> None:
    r = Rig(reject_rate=1.0)
    r.submit("b1", "buy", 1.0, 100.00)
    r.advance(30)
    assert r.codes() == ["ORDER.SUBMIT", "ORDER.REJECT"]
    assert r.of("ORDER.REJECT")[0]["details"]["reason"].startswith("VENUE_REJECT")
    assert r.check_fsm() == {}


def test_fault_every_nth_order_only() -> None:
    r = Rig(duplicate_ack=True, fault_every=2)
    for i in range(4):
        r.submit(f"b{i}", "buy", 1.0, 99.99)
    r.advance(50)
    acks = [e["cid"] for e in r.of("ORDER.ACK")]
    assert sorted(acks) == ["b0", "b0", "b1", "b2", "b2", "b3"]


def test_same_seed_same_events() -> None:
    def run() -> list[tuple]:
        r = Rig(seed=42)
        r.submit("b1", "buy", 3.0, 100.00)
        r.trade(30, 100.00, 6.0, True)
        r.trade(40, 99.99, 1.0, True)
        r.advance(100)
        return [(e["event_code"], e["ts_ns"], tuple(sorted(e["details"].items()))) for e in r.events]

    assert run() == run()


def test_shadow_venue_marks_against_the_book_without_queue_or_latency() -> None:
    events: list[dict] = []
    v = ShadowVenue(events.append)
    v.on_ticker("SOLUSDT", 100.0, 5.0, 100.01, 2.0, T0)
    asyncio.run(v.submit(OrderRequest("s1", "SOLUSDT", "buy", 1.0, 100.0), T0))
    v.on_trade("SOLUSDT", 100.0, 0.1, True, T0 + MS)  # no queue ahead in shadow: fills at once
    assert [e["event_code"] for e in events] == ["ORDER.SUBMIT", "ORDER.ACK", "ORDER.FILL"]
    assert all(e["details"].get("shadow") is True for e in events)
    assert all(e["ts_ns"] <= T0 + MS for e in events)


# -- kill functionality: cancel reasons, cancel-all, cancels of orders still on their way -------------------
def test_cancel_all_is_one_request_for_the_symbols_and_names_its_reason() -> None:
    r = Rig()
    for i, px in enumerate((99.99, 99.98, 99.97)):
        r.submit(f"b{i}", "buy", 1.0, px)
    r.advance(20)  # all three rest
    r.submit("late", "buy", 1.0, 99.96, t=r.at(21))  # still on its way when the cancel-all is sent
    cids = asyncio.run(r.venue.cancel_all(["SOLUSDT"], r.at(22), "OPS_HALT"))
    assert cids == ["b0", "b1", "b2", "late"]
    assert asyncio.run(r.venue.cancel_all(["SOLUSDT"], r.at(23), "OPS_HALT")) == []  # nothing left to ask for
    r.advance(60)
    for cid in cids:
        assert r.codes(cid) == ["ORDER.SUBMIT", "ORDER.ACK", "ORDER.CANCEL.REQUEST", "ORDER.CANCEL.ACK"], cid
    reasons = {e["details"]["reason"] for e in r.events if e["event_code"].startswith("ORDER.CANCEL")}
    assert reasons == {"OPS_HALT"}
    # the three resting ones went in one request: one latency draw, acknowledged together
    arrive = {e["ts_ns"] for e in r.of("ORDER.CANCEL.REQUEST") if e["cid"] != "late"}
    assert len(arrive) == 1
    # the late one's cancel waited for the exchange to have the order: REQUEST after its ACK
    late = [e for e in r.events if e["cid"] == "late"]
    assert late[1]["event_code"] == "ORDER.ACK" and late[2]["ts_ns"] >= late[1]["ts_ns"]
    assert r.venue.resting() == 0 and r.venue.stats()["cancel_all"] == 2
    assert r.check_fsm() == {}


def test_a_cancel_for_an_order_the_venue_already_reported_done_is_not_sent() -> None:
    r = Rig()
    r.submit("m1", "buy", 1.0, None)
    r.advance(30)
    assert r.codes("m1")[-1] == "ORDER.FILL"
    asyncio.run(r.venue.cancel("m1", r.at(31), "KILL_SWITCH"))
    r.advance(60)
    assert r.codes("m1") == ["ORDER.SUBMIT", "ORDER.ACK", "ORDER.FILL"] and r.check_fsm() == {}


@pytest.mark.parametrize(
    ("price", "qty", "otype", "reason"),
    [
        (100.005, 1.0, "limit", "VENUE_REJECT: PRICE_FILTER: price 100.005 is not a multiple of tick 0.01"),
        (100.00, 1.005, "limit", "VENUE_REJECT: LOT_SIZE: qty 1.005 is not a multiple of step 0.01"),
        (100.00, 0.01, "limit", "VENUE_REJECT: MIN_NOTIONAL: notional 1 < 5 (unless reduce only)"),
        (None, 6000.0, "market", "VENUE_REJECT: LOT_SIZE: qty 6000.0 > max 5000.0"),
    ],
)
def test_an_order_breaking_the_instrument_rules_is_rejected_like_the_exchange_would(
    price: float | None, qty: float, otype: str, reason: str
) -> None:
    r = Rig()
    r.submit("x", "buy", qty, price)
    r.advance(30)
    assert r.codes("x") == ["ORDER.SUBMIT", "ORDER.REJECT"]
    assert r.of("ORDER.REJECT")[0]["details"]["reason"] == reason
    assert r.venue.stats()["rejected"] == 1 and r.check_fsm() == {}
