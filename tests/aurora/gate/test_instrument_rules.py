"""Instrument rules and market-data sanity in the pipeline: before every other check, exits included."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aurora.gate.pipeline import Pipeline
from aurora.instruments import on_step, registry_at

from .conftest import TEST_CALIBRATION

MS = 1_000_000
BTC = registry_at().require("BTCUSDT")


def btc(req, **over):
    base = {"symbol": "BTCUSDT", "best_bid": 61800.0, "best_ask": 61800.1, "bid_size": 5.0, "ask_size": 5.0,
            "spread_bps": 0.1 / 61800.05 * 1e4, "qty": 0.01, "price": 61800.1}  # fmt: skip
    base.update(over)
    return req(**base)


@pytest.mark.parametrize(
    "over, reason",
    [
        ({"price": 61800.05}, "RISK_PRICE_TICK"),
        ({"qty": 0.0105}, "RISK_QTY_STEP"),
        ({"qty": 0.0001}, "RISK_QTY_STEP"),  # off the step before it is below the minimum
        ({"qty": 0.001, "price": 61800.1}, "RISK_MIN_NOTIONAL"),  # 61.8 USDT < 100
        ({"symbol": "NOSUCHUSDT"}, "RISK_UNKNOWN_INSTRUMENT"),
        ({"qty": 200.0, "order_type": "market", "price": None}, "RISK_MAX_QTY"),  # market max 120
    ],
)
def test_btcusdt_orders_the_venue_would_refuse_are_denied_first(mkcfg, req, over, reason):
    dec = Pipeline(mkcfg(), TEST_CALIBRATION).decide(btc(req, **over), 0)
    assert not dec.allow and dec.reason == reason and dec.guard == "instrument" and dec.max_qty == 0.0
    assert list(dec.observability) == ["market", "instrument"]  # before every edge and risk guard
    assert dec.observability["instrument"]["pass"] is False


def test_min_qty_is_its_own_reason(mkcfg, req, tmp_path):
    p = Pipeline(mkcfg(), TEST_CALIBRATION)
    dec = p.decide(req(symbol="SOONUSDT", best_bid=0.5, best_ask=0.5001, spread_bps=0.0001 / 0.50005 * 1e4,
                       price=0.5, qty=1.0, bid_size=1e5, ask_size=1e5), 0)  # fmt: skip
    assert dec.reason == "RISK_MIN_NOTIONAL"  # 1 SOON = 0.5 USDT < 5
    sol = p.decide(req(qty=0.001, price=100.0), 0)
    assert sol.reason == "RISK_QTY_STEP"
    assert sol.observability["instrument"]["floor"] == 0.0


def test_a_valid_btcusdt_order_passes_with_its_instrument_recorded(mkcfg, req):
    dec = Pipeline(mkcfg(), TEST_CALIBRATION).decide(btc(req, cid="ok"), 0)
    assert dec.allow and dec.max_qty == 0.01
    assert dec.observability["instrument"] | {"pass": True} == dec.observability["instrument"]


def test_exits_meet_the_instrument_rules_too_but_reduce_only_skips_min_notional(mkcfg, req, harness):
    h = harness(Pipeline(mkcfg(), TEST_CALIBRATION))
    h.fill("pos", "BTCUSDT", "buy", 0.002)
    off_tick = h.decide(btc(req, cid="x1", side="sell", qty=0.002, reduce_only=True, price=61800.05))
    assert off_tick.reason == "RISK_PRICE_TICK" and off_tick.risk_reducing is False  # judged before classifying
    small = h.decide(btc(req, cid="x2", side="sell", qty=0.001, reduce_only=True))
    assert small.allow and small.risk_reducing and small.max_qty == 0.001  # 61.8 USDT < 100, but reduce-only
    plain = h.decide(btc(req, cid="x3", side="sell", qty=0.001))
    assert plain.reason == "RISK_MIN_NOTIONAL"  # an exit too, but not flagged reduce-only: the venue's minimum applies


@settings(max_examples=200, suppress_health_check=list(HealthCheck), deadline=None)
@given(
    lots=st.integers(min_value=2, max_value=80),
    size_scale=st.floats(min_value=0.01, max_value=1.0),
    vol=st.floats(min_value=1.0, max_value=500.0),
    ask_size=st.floats(min_value=0.001, max_value=10.0),
)
def test_an_allowed_max_qty_is_always_on_the_step(lots, size_scale, vol, ask_size):
    from .conftest import make_cfg, make_request

    p = Pipeline(make_cfg(risk={"size_scale": size_scale}), TEST_CALIBRATION)
    r = make_request(symbol="BTCUSDT", best_bid=61800.0, best_ask=61800.1, bid_size=5.0, ask_size=ask_size,
                     spread_bps=0.1 / 61800.05 * 1e4, qty=round(lots * 0.001, 3), price=61800.1, vol_std_bps=vol)  # fmt: skip
    dec = p.decide(r, 0)
    if dec.allow:
        assert on_step(dec.max_qty, BTC.step) and BTC.min_qty <= dec.max_qty <= r.qty
        assert dec.max_qty * 61800.1 >= BTC.min_notional
        assert dec.max_qty == round(dec.max_qty, 3)
    else:
        assert dec.max_qty == 0.0


def test_a_max_qty_that_rounds_to_nothing_is_denied(mkcfg, req):
    dec = Pipeline(mkcfg(risk={"size_scale": 0.04}), TEST_CALIBRATION).decide(btc(req, qty=0.02), 0)
    # 0.02 x 0.04 = 0.0008 BTC: below one lot step
    assert not dec.allow and dec.reason == "RISK_SIZE_ZERO" and dec.guard == "instrument"
    assert dec.observability["instrument"]["max_qty_raw"] == pytest.approx(0.0008)
    dec = Pipeline(mkcfg(risk={"size_scale": 0.1}), TEST_CALIBRATION).decide(btc(req, qty=0.015), 0)
    assert dec.reason == "RISK_MIN_NOTIONAL"  # 0.001 BTC is on the step but 61.8 USDT


# -- market-data sanity ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "over, why",
    [
        ({"best_bid": 190.0, "best_ask": 185.0, "spread_bps": 0.0}, "crossed"),
        ({"best_bid": 100.0, "best_ask": 100.0, "spread_bps": 0.0}, "locked"),
        ({"ask_size": 0.0}, "non-positive size"),
        ({"bid_size": 0.0}, "non-positive size"),
        ({"best_bid": 100.0, "best_ask": 100.01, "spread_bps": 5.0}, "contradicts"),
        ({"best_bid": 100.0, "best_ask": 101.0, "spread_bps": 1.0}, "contradicts"),
    ],
)
def test_a_broken_quote_is_invalid_before_anything_else(mkcfg, req, over, why):
    p = Pipeline(mkcfg(), TEST_CALIBRATION)
    for r in (req(cid="n", **over), req(cid="x", side="sell", reduce_only=True, **over)):
        dec = p.decide(r, 0)
        assert dec.reason == "MARKET_DATA_INVALID" and dec.guard == "market" and list(dec.observability) == ["market"]
        assert why in dec.observability["market"]["why"]


def test_a_spread_within_tolerance_passes_and_the_guards_use_the_books(mkcfg, req):
    p = Pipeline(mkcfg(guards={"spread_bps_limit": 0.5}), TEST_CALIBRATION)
    # the book says ~1 bps; the client rounds it to 1.3 (within 0.5 + 1%): allowed through the sanity check,
    # and the spread guard judges the book's 1.0, not the claim
    dec = p.decide(req(spread_bps=1.3, tp_bps=200.0, best_bid=100.0, best_ask=100.01), 0)
    assert dec.reason == "SPREAD_GUARD" and dec.observability["spread"]["spread_bps"] == pytest.approx(0.99995, rel=1e-6)
    assert dec.observability["market"]["spread_bps_book"] == pytest.approx(0.99995, rel=1e-6)


def test_a_stale_quote_is_denied_before_the_deadline_and_the_edge_guards(mkcfg, req):
    p = Pipeline(mkcfg(), TEST_CALIBRATION)
    now = 10**18
    old = p.decide(req(ts_ns=now - 30_000 * MS, deadline_ms=250.0), now)
    assert old.reason == "STALE_MARKET_DATA" and old.observability["market"]["quote_age_ms"] == pytest.approx(30_000)
    assert list(old.observability) == ["market"]
    assert p.decide(req(cid="f", ts_ns=now - 200 * MS), now).allow
    # the runner's own book age counts: 200 ms since it asked + a book already 900 ms old
    aged = p.decide(req(cid="b", ts_ns=now - 200 * MS, book_age_ms=900.0), now)
    assert aged.reason == "STALE_MARKET_DATA" and aged.observability["market"]["book_age_ms"] == 900.0
    # an exit on a stale quote is not safe either
    assert p.decide(req(cid="e", side="sell", reduce_only=True, ts_ns=now - 30_000 * MS), now).reason == "STALE_MARKET_DATA"


def test_a_quote_without_a_time_can_be_required(mkcfg, req):
    assert Pipeline(mkcfg(), TEST_CALIBRATION).decide(req(), 0).allow
    dec = Pipeline(mkcfg(guards={"require_quote_ts": True}), TEST_CALIBRATION).decide(req(), 0)
    assert dec.reason == "STALE_MARKET_DATA" and dec.observability["market"]["key"] == "guards.require_quote_ts"


# -- per-symbol limits and throttles ----------------------------------------------------------------------
def test_per_symbol_order_notional_and_position_limits(mkcfg, req, harness):
    cfg = mkcfg(risk={"symbols": {"SOLUSDT": {"max_order_notional": 300.0, "max_position_notional": 500.0}},
                      "max_orders_per_sec": 1e6, "max_orders_per_sec_per_symbol": 1e6})  # fmt: skip
    h = harness(Pipeline(cfg, TEST_CALIBRATION))
    big = h.decide(req(cid="b", qty=3.5))
    assert big.reason == "RISK_MAX_NOTIONAL" and big.observability["risk"]["key"] == "risk.symbols.SOLUSDT.max_order_notional"
    assert h.decide(req(cid="o1", qty=2.0)).allow  # 200 USDT
    h.fill("o1", "SOLUSDT", "buy", 2.0)
    assert h.decide(req(cid="o2", qty=2.0), 2000 * MS).allow  # position 2 + 2 reserved = 400
    over = h.decide(req(cid="o3", qty=2.0), 3000 * MS)  # 600 > 500
    assert over.reason == "RISK_MAX_POSITION" and over.observability["risk"]["max_qty_cap"] == pytest.approx(1.0)
    # reducing the position is never limited by it
    assert h.decide(req(cid="s1", side="sell", qty=1.0, reduce_only=True), 4000 * MS).allow
    # another symbol has no such limit
    assert h.decide(req(cid="e1", symbol="ETHUSDT", qty=4.0, price=100.0), 5000 * MS).allow


def test_symbol_and_cancel_throttles(mkcfg, req, harness):
    cfg = mkcfg(risk={"max_orders_per_sec": 1e6, "max_orders_per_sec_per_symbol": 3, "max_cancels_per_sec": 2})
    h = harness(Pipeline(cfg, TEST_CALIBRATION))
    reasons = [h.decide(req(cid=f"t{i}", qty=1.0 + i / 100), 10 * MS + i).reason for i in range(5)]
    assert reasons == ["OK", "OK", "OK", "RISK_RATE_LIMIT", "RISK_RATE_LIMIT"]
    dec = h.decide(req(cid="t9", qty=1.5), 10 * MS + 9)
    assert dec.observability["risk"]["throttle"] == "symbol" and dec.cooldown_ms > 0
    assert h.decide(req(cid="eth", symbol="ETHUSDT", qty=0.5), 10 * MS + 10).allow  # its own window
    later = 3000 * MS
    for i in range(2):
        h.event("CANCEL.REQUEST", f"t{i}", now_ns=later + i)
    dec = h.decide(req(cid="c1", qty=1.7), later + 5)
    assert dec.reason == "RISK_RATE_LIMIT" and dec.observability["risk"]["throttle"] == "cancels"
    assert h.decide(req(cid="c2", qty=1.8), later + 2000 * MS).allow  # a second later
