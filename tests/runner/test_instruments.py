"""The runner's registry lookup: the same file as the gate, unknown symbols refused, the venue's filters."""

from __future__ import annotations

import orjson
import pytest

from aurora.instruments import SHIPPED_PATH
from runner.instruments import UnknownInstrumentError, instrument, instrument_steps, venue_rejection


def test_steps_come_from_the_registry_and_unknown_symbols_are_refused(monkeypatch, tmp_path):
    monkeypatch.delenv("AURORA_INSTRUMENTS_PATH", raising=False)
    assert instrument_steps("BTCUSDT") == (0.1, 0.001)
    with pytest.raises(UnknownInstrumentError, match="NOSUCHUSDT.*symbols\\[\\].tick"):
        instrument_steps("NOSUCHUSDT")
    doc = orjson.loads(SHIPPED_PATH.read_bytes())
    doc["venues"]["binanceusdm"]["DOGEUSDT"] = {"tick": 0.00001, "step": 1, "min_qty": 1, "min_notional": 5}
    reg = tmp_path / "reg.json"
    reg.write_bytes(orjson.dumps(doc))
    monkeypatch.setenv("AURORA_INSTRUMENTS_PATH", str(reg))  # the variable that also sets the gate's file
    assert instrument_steps("DOGEUSDT") == (0.00001, 1.0)
    monkeypatch.setenv("AURORA_INSTRUMENTS_PATH", str(tmp_path / "missing.json"))
    with pytest.raises(UnknownInstrumentError, match="AURORA_INSTRUMENTS_PATH.*missing.json"):
        instrument("BTCUSDT")


@pytest.mark.parametrize(
    "price, qty, order_type, reduce_only, why",
    [
        (61800.1, 0.01, "limit", False, None),
        (61800.05, 0.01, "limit", False, "PRICE_FILTER"),
        (61800.1, 0.0105, "limit", False, "LOT_SIZE"),
        (None, 121.0, "market", False, "LOT_SIZE"),
        (61800.1, 0.001, "limit", False, "MIN_NOTIONAL"),
        (61800.1, 0.001, "limit", True, None),
    ],
)
def test_a_paper_exchange_refuses_what_the_venue_would(monkeypatch, price, qty, order_type, reduce_only, why):
    monkeypatch.delenv("AURORA_INSTRUMENTS_PATH", raising=False)
    got = venue_rejection("BTCUSDT", price, qty, order_type, reduce_only, price or 61800.1)
    assert (got is None) if why is None else got.startswith(why), got
    assert venue_rejection("NOSUCHUSDT", 1.0, 1.0, "limit", False, 1.0).startswith("SYMBOL")
