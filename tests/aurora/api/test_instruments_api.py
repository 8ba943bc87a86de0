"""Issue 10 acceptance over HTTP: instrument rules and market-data sanity, first of all checks."""

from __future__ import annotations

import time

import pytest

from aurora.instruments import on_step

from .conftest import QUIET, check_body

BTC_BOOK = {"symbol": "BTCUSDT", "best_bid": 61800.0, "best_ask": 61800.1, "bid_size": 5.0, "ask_size": 5.0,
            "spread_bps": 0.1 / 61800.05 * 1e4, "price": 61800.1, "qty": 0.01}  # fmt: skip


def check(live, **kw):
    r = live.post("/pretrade/check", check_body(**kw))
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize(
    "over, reason",
    [
        ({"price": 61800.05}, "RISK_PRICE_TICK"),
        ({"qty": 0.0105}, "RISK_QTY_STEP"),
        ({"qty": 0.0005}, "RISK_QTY_STEP"),
        ({"qty": 0.001}, "RISK_MIN_NOTIONAL"),
        ({"symbol": "NOSUCHUSDT"}, "RISK_UNKNOWN_INSTRUMENT"),
    ],
)
def test_btcusdt_rules(live, over, reason):
    out = check(live, cid=f"b-{reason}", **{**BTC_BOOK, **over})
    assert out["allow"] is False and out["reason"] == reason and out["max_qty"] == 0.0
    assert list(out["observability"]) == ["market", "instrument"]
    (denied,) = live.orders("denied")
    assert denied["reason"] == reason and denied["details"]["guard"] == "instrument"


def test_min_qty_for_a_symbol_whose_step_is_its_minimum(gate_factory, tmp_path):
    from .conftest import instruments_with

    registry = instruments_with(tmp_path, "TESTUSDT", like="BTCUSDT")
    import orjson

    doc = orjson.loads(registry.read_bytes())
    doc["venues"]["binanceusdm"]["TESTUSDT"].update(step=0.001, min_qty=0.005, min_notional=0)
    registry.write_bytes(orjson.dumps(doc))
    live = gate_factory({**QUIET, "instruments": {"path": str(registry)}})
    out = check(live, cid="m1", **{**BTC_BOOK, "symbol": "TESTUSDT", "qty": 0.003})
    assert out["reason"] == "RISK_MIN_QTY"


def test_an_allowed_max_qty_is_on_the_step(gate_factory):
    live = gate_factory({**QUIET, "risk": {**QUIET["risk"], "size_scale": 0.37}})
    for i, qty in enumerate((0.013, 0.021, 0.05, 0.077)):
        out = check(live, cid=f"s{i}", **{**BTC_BOOK, "qty": qty})
        assert out["allow"] is True, out
        assert on_step(out["max_qty"], 0.001) and out["max_qty"] == round(out["max_qty"], 3) and out["max_qty"] <= qty * 0.37
        assert out["observability"]["instrument"]["max_qty_raw"] == pytest.approx(qty * 0.37)


@pytest.mark.parametrize(
    "over, reason",
    [
        ({"best_bid": 190.0, "best_ask": 185.0, "spread_bps": 0.0, "price": 187.0}, "MARKET_DATA_INVALID"),  # crossed
        ({"best_bid": 187.0, "best_ask": 187.0, "spread_bps": 0.0, "price": 187.0}, "MARKET_DATA_INVALID"),  # locked
        ({"best_bid": 100.0, "best_ask": 100.01, "spread_bps": 25.0}, "MARKET_DATA_INVALID"),  # the book says 1 bps
        ({"ts_ns": "30s"}, "STALE_MARKET_DATA"),
    ],
)
def test_broken_or_old_quotes_are_denied_before_the_edge_guards(live, over, reason):
    if over.get("ts_ns") == "30s":
        over = {"ts_ns": time.time_ns() - 30 * 1_000_000_000}
    # a hopeless score and a huge latency: the edge and latency guards would deny too, but never run
    out = check(live, cid=f"q-{reason}-{len(over)}", score=-5.0, latency_ms=10_000.0, **over)
    assert out["allow"] is False and out["reason"] == reason
    assert list(out["observability"]) == ["market"]


def test_an_unknown_instrument_registry_file_refuses_to_start(gate_factory, tmp_path):
    from aurora.gate.gate_service import GateStartRefused

    bad = tmp_path / "broken.json"
    bad.write_text('{"format": "aurora.instruments/1",\n "venues": ')
    with pytest.raises(GateStartRefused, match=r"broken.json:2"):
        gate_factory({**QUIET, "instruments": {"path": str(bad)}})
    with pytest.raises(GateStartRefused, match="instruments.venue"):
        gate_factory({**QUIET, "instruments": {"venue": "kraken"}})


def test_a_reload_with_a_broken_registry_keeps_the_running_one(gate_factory, tmp_path, project):
    live = gate_factory(QUIET)
    overlay = project / "configs" / "aurora" / "gate_test.yaml"
    overlay.write_text(overlay.read_text() + f"instruments:\n  path: {tmp_path / 'missing.json'}\n")
    r = live.ops("/ops/reload")
    assert r.status_code == 409 and "missing.json" in r.json()["error"]
    assert check(live, cid="after-reload", **BTC_BOOK)["allow"] is True
