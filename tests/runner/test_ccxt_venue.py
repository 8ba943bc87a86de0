"""The ccxt (binanceusdm) venue against a local stub of the Binance REST endpoints it calls.

The real ccxt code path runs: market loading, request signing (checked by the stub), order create,
query and cancel, error mapping. No network beyond loopback.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.app import Runner
from runner.config import RunnerConfig, VenueSection
from runner.orders import OrderTracker, TrackedOrder
from runner.venues.base import OrderRequest, VenueConfigError
from runner.venues.ccxt_venue import CcxtVenue
from tests.runner.binance_rest_stub import BinanceRestStub
from tests.runner.gate_stub import GateStub

KEY, SECRET = "k3y-" + "A" * 60, "s3cr3t-" + "B" * 57
ENV = {"AURORA_TESTNET_API_KEY": KEY, "AURORA_TESTNET_API_SECRET": SECRET}


@pytest.fixture
def exchange() -> Iterator[BinanceRestStub]:
    stub = BinanceRestStub(KEY, SECRET).start()
    yield stub
    stub.stop()


def venue_for(stub: BinanceRestStub, events: list, environ: dict | None = None) -> CcxtVenue:
    cfg = VenueSection.model_validate({"exchange": {"testnet_url": stub.url, "poll_interval_s": 30.0}})
    return CcxtVenue(events.append, cfg, mode="testnet", environ=ENV if environ is None else environ,
                     symbols=["SOLUSDT"])


def codes(events: list, cid: str) -> list[str]:
    return [e["event_code"] for e in events if e.get("cid") == cid]


def fsm_clean(events: list, reqs: list[OrderRequest]) -> dict:
    t = OrderTracker()
    for r in reqs:
        t.add(TrackedOrder(r.cid, r.symbol, r.side, r.qty, r.price, r.order_type, r.reduce_only, "entry"))
    for e in events:
        if e["event_code"].startswith("ORDER."):
            t.on_event(e)
    return t.anomalies()


def test_limit_order_ack_partial_and_fill_by_polling(exchange: BinanceRestStub) -> None:
    events: list = []
    req = OrderRequest("c-1", "SOLUSDT", "buy", 2.0, 149.5, "limit", False, None)

    async def go() -> None:
        v = venue_for(exchange, events)
        await v.submit(req, 0)
        oid = int(exchange.by_client_id("c-1")["orderId"])
        exchange.fill(oid, 0.5, "149.50")
        await v.poll(0)
        exchange.fill(oid, 1.5, "149.50")
        await v.poll(0)
        await v.poll(0)  # nothing new: no duplicate events
        await v.aclose()

    asyncio.run(go())
    assert codes(events, "c-1") == ["ORDER.SUBMIT", "ORDER.ACK", "ORDER.PARTIAL", "ORDER.FILL"]
    part, fill = events[2]["details"], events[3]["details"]
    assert part["fill_qty"] == 0.5 and part["cum_qty"] == 0.5 and part["fill_price"] == 149.5
    assert fill["fill_qty"] == 1.5 and fill["cum_qty"] == 2.0
    assert events[1]["oid"] == str(exchange.by_client_id("c-1")["orderId"])
    assert ("GET", "/fapi/v1/exchangeInfo") in exchange.calls and exchange.auth_failures == 0
    sent = exchange.by_client_id("c-1")
    assert sent["side"] == "BUY" and sent["price"] == "149.5" and sent["timeInForce"] == "GTC"
    assert fsm_clean(events, [req]) == {}


def test_market_reduce_only_order_fills_from_the_create_answer(exchange: BinanceRestStub) -> None:
    events: list = []
    req = OrderRequest("c-2", "SOLUSDT", "sell", 1.0, None, "market", True, None)

    async def go() -> None:
        v = venue_for(exchange, events)
        await v.submit(req, 0)
        await v.aclose()

    asyncio.run(go())
    assert codes(events, "c-2") == ["ORDER.SUBMIT", "ORDER.ACK", "ORDER.FILL"]
    assert events[-1]["details"]["fill_price"] == 150.0
    assert exchange.by_client_id("c-2")["reduceOnly"] is True


def test_cancel_and_the_cancel_race(exchange: BinanceRestStub) -> None:
    events: list = []
    a = OrderRequest("c-3", "SOLUSDT", "buy", 1.0, 140.0, "limit", False, None)
    b = OrderRequest("c-4", "SOLUSDT", "buy", 1.0, 141.0, "limit", False, None)

    async def go() -> None:
        v = venue_for(exchange, events)
        await v.submit(a, 0)
        await v.cancel("c-3", 0)
        await v.submit(b, 0)
        exchange.fill(int(exchange.by_client_id("c-4")["orderId"]), 1.0, "141.00")  # filled before the cancel lands
        await v.cancel("c-4", 0)
        await v.aclose()

    asyncio.run(go())
    assert codes(events, "c-3") == ["ORDER.SUBMIT", "ORDER.ACK", "ORDER.CANCEL.REQUEST", "ORDER.CANCEL.ACK"]
    assert codes(events, "c-4") == ["ORDER.SUBMIT", "ORDER.ACK", "ORDER.CANCEL.REQUEST", "ORDER.FILL"]
    assert fsm_clean(events, [a, b]) == {}


def test_cancel_all_is_one_request_per_symbol_and_reports_each_order(exchange: BinanceRestStub) -> None:
    events: list = []
    reqs = [OrderRequest(f"k-{i}", "SOLUSDT", "buy", 1.0, 140.0 + i, "limit", False, None) for i in range(3)]

    async def go() -> list[str]:
        v = venue_for(exchange, events)
        for r in reqs:
            await v.submit(r, 0)
        exchange.fill(int(exchange.by_client_id("k-2")["orderId"]), 1.0, "142.00")  # filled before the cancel
        stray = VenueSection.model_validate({"exchange": {"testnet_url": exchange.url}})
        other = CcxtVenue(lambda e: None, stray, mode="testnet", environ=ENV, symbols=["SOLUSDT"])
        await other.submit(OrderRequest("not-mine", "SOLUSDT", "buy", 1.0, 130.0), 0)  # left by another run
        await other.aclose()
        cids = await v.cancel_all(["SOLUSDT"], 0, "OPS_HALT")
        await v.aclose()
        return cids

    cids = asyncio.run(go())
    assert cids == ["k-0", "k-1", "k-2"]
    assert exchange.calls.count(("DELETE", "/fapi/v1/allOpenOrders")) == 1
    assert not any(c == ("DELETE", "/fapi/v1/order") for c in exchange.calls)  # no order-by-order cancels
    for cid in ("k-0", "k-1"):
        assert codes(events, cid) == ["ORDER.SUBMIT", "ORDER.ACK", "ORDER.CANCEL.REQUEST", "ORDER.CANCEL.ACK"]
    assert codes(events, "k-2") == ["ORDER.SUBMIT", "ORDER.ACK", "ORDER.CANCEL.REQUEST", "ORDER.FILL"]
    assert {e["details"]["reason"] for e in events if e["event_code"] == "ORDER.CANCEL.REQUEST"} == {"OPS_HALT"}
    assert exchange.by_client_id("not-mine")["status"] == "CANCELED"  # a kill cancels what it did not place too
    assert fsm_clean(events, reqs) == {}


def test_exchange_rejects_and_bad_signatures_become_reject_events_without_secrets(exchange: BinanceRestStub) -> None:
    events: list = []
    exchange.reject_above = 5.0

    async def go() -> None:
        v = venue_for(exchange, events)
        await v.submit(OrderRequest("c-5", "SOLUSDT", "buy", 10.0, 150.0), 0)
        await v.aclose()
        bad = venue_for(exchange, events, {**ENV, "AURORA_TESTNET_API_SECRET": "wrong-" + SECRET})
        await bad.submit(OrderRequest("c-6", "SOLUSDT", "buy", 1.0, 150.0), 0)
        await bad.aclose()

    asyncio.run(go())
    assert codes(events, "c-5") == ["ORDER.SUBMIT", "ORDER.REJECT"]
    assert "Margin is insufficient" in events[1]["details"]["reason"]
    assert codes(events, "c-6") == ["ORDER.SUBMIT", "ORDER.REJECT"]
    assert exchange.auth_failures == 1
    text = repr(events)
    assert KEY not in text and SECRET not in text and "signature=" not in text


def test_keys_come_from_the_environment_and_are_never_shown(exchange: BinanceRestStub) -> None:
    with pytest.raises(VenueConfigError) as err:
        venue_for(exchange, [], {"AURORA_TESTNET_API_KEY": KEY})
    assert "AURORA_TESTNET_API_SECRET" in str(err.value) and KEY not in str(err.value)
    cfg = VenueSection()
    with pytest.raises(VenueConfigError, match="AURORA_LIVE_API_KEY"):
        CcxtVenue(lambda e: None, cfg, mode="live", environ=ENV, symbols=["SOLUSDT"])


def test_runner_trades_on_the_testnet_venue_through_the_gate(exchange: BinanceRestStub, tmp_path: Path) -> None:
    gate = GateStub().start()
    cfg = RunnerConfig.model_validate({
        "runner": {"mode": "testnet"},
        "symbols": [{"symbol": "SOLUSDT", "qty": 1.0}],
        "feed": {"source": "synthetic", "seed": 3},
        "strategy": {"score_threshold": 0.1, "enr_threshold_bps": -100.0, "cooldown_ms": 200, "warmup_s": 0.3,
                     "order_ttl_s": 0.3, "entry": "join"},
        "venue": {"exchange": {"testnet_url": exchange.url, "poll_interval_s": 0.2}, "cancel_stub": True,
                  "cancel_stub_every_ticks": 50},
    })  # fmt: skip
    try:
        runner = Runner(cfg, session_dir=tmp_path, gate_url=gate.url, environ=ENV)
        summary = asyncio.run(runner.run(2.2))
    finally:
        gate.stop()
    assert runner.venue.name == "testnet" and summary["gate"]["orders_sent"] >= 1
    cids = {p["cid"] for p in gate.posts}
    assert cids == {o["clientOrderId"] for o in exchange.orders.values()}
    assert {c["order"]["cid"] for c in gate.checks} >= cids  # every exchange order was allowed first
    posted = [p["event_code"] for p in gate.posts]
    assert "ORDER.ACK" in posted and "ORDER.CANCEL.ACK" in posted  # resting entries cancelled (TTL / stub)
    assert all(o["status"] != "NEW" for o in exchange.orders.values())  # nothing left resting at the end
    assert summary["anomalies"] == {}
