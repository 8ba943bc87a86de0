"""The instrument registry: the shipped snapshot, step arithmetic, and files that name their own errors."""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aurora.config.errors import ConfigError
from aurora.instruments import SHIPPED_PATH, floor_to_step, load_registry, on_step, registry_at
from aurora.instruments.registry import step_decimals

STEPS = [0.1, 0.01, 0.001, 0.0001, 0.00001, 1.0, 0.5, 0.25, 0.005, 10.0]


def test_the_shipped_snapshot_holds_the_profiles_symbols_with_source_and_date():
    reg = registry_at()
    assert reg.path == SHIPPED_PATH and reg.source and reg.fetched_at.startswith("20")
    assert {"BTCUSDT", "ETHUSDT", "SOLUSDT", "SOONUSDT"} <= set(reg.symbols("binanceusdm"))
    btc = reg.require("BTCUSDT")
    assert (btc.tick, btc.step, btc.min_qty, btc.price_precision, btc.qty_precision) == (0.1, 0.001, 0.001, 1, 3)
    assert btc.trading and btc.quote == "USDT" and btc.contract_size == 1.0


def test_every_shipped_profile_symbol_is_in_the_snapshot():
    import yaml

    root = Path(__file__).resolve().parents[3]
    reg = registry_at()
    files = [*(root / "profiles").glob("*.yaml"), *(root / "configs" / "runner").glob("*.yaml")]
    symbols = {s["symbol"] for f in files for s in (yaml.safe_load(f.read_text()) or {}).get("symbols", [])}
    assert symbols and all(reg.get(s) is not None for s in symbols), symbols


def test_an_unknown_symbol_is_an_error_that_says_what_to_do():
    reg = registry_at()
    assert reg.get("NOSUCHUSDT") is None
    with pytest.raises(LookupError) as exc:
        reg.require("NOSUCHUSDT")
    assert "NOSUCHUSDT" in str(exc.value) and "instruments fetch" in str(exc.value)


@settings(max_examples=300)
@given(n=st.integers(min_value=0, max_value=10**9), step=st.sampled_from(STEPS))
def test_multiples_of_the_step_are_on_it_and_half_steps_are_not(n, step):
    exact = Decimal(n) * Decimal(str(step))
    assert on_step(float(exact), step)
    assert not on_step(float(exact + Decimal(str(step)) / 2), step)


@settings(max_examples=300)
@given(x=st.floats(min_value=0, max_value=1e7, allow_nan=False), step=st.sampled_from(STEPS))
def test_floor_to_step_is_the_largest_clean_multiple_not_above(x, step):
    q = floor_to_step(x, step)
    assert on_step(q, step) and q <= x * (1 + 1e-12) + 1e-9
    assert x - q < step * (1 + 1e-6)
    assert q == round(q, step_decimals(step))  # the clean decimal: 0.016, not 0.016000000000000004


def test_the_issue_examples():
    btc = registry_at().require("BTCUSDT")
    assert not btc.price_on_tick(61800.05) and btc.price_on_tick(61800.1)
    assert not btc.qty_on_step(0.0105) and btc.floor_qty(0.00525) == 0.005 and btc.floor_qty(1000 / 61800) == 0.016
    assert btc.round_price(61800.05, "down") == 61800.0 and btc.round_price(61800.05, "up") == 61800.1
    assert math.isclose(btc.floor_qty(4.6e-05), 0.0)


def _write(path: Path, doc: dict) -> Path:
    path.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    return path


def test_a_broken_file_names_file_line_and_key(tmp_path):
    doc = orjson.loads(SHIPPED_PATH.read_bytes())
    doc["venues"]["binanceusdm"]["BTCUSDT"]["tick"] = -1
    with pytest.raises(ConfigError) as exc:
        load_registry(_write(tmp_path / "r.json", doc))
    (issue,) = exc.value.issues
    assert issue.key == "venues.binanceusdm.BTCUSDT.tick" and issue.source.endswith("r.json") and issue.line > 1
    text = (tmp_path / "r.json").read_text().splitlines()
    assert '"tick"' in text[issue.line - 1]

    (tmp_path / "torn.json").write_text('{"format": "aurora.instruments/1",\n  "venues": {')
    with pytest.raises(ConfigError) as exc:
        load_registry(tmp_path / "torn.json")
    assert exc.value.issues[0].line == 2 and "not valid JSON" in exc.value.issues[0].message
    with pytest.raises(ConfigError, match="cannot read"):
        load_registry(tmp_path / "missing.json")


def test_inconsistent_entries_are_refused(tmp_path):
    doc = orjson.loads(SHIPPED_PATH.read_bytes())
    doc["venues"]["binanceusdm"]["ETHUSDT"]["min_qty"] = 0.0015  # not on its 0.001 step
    with pytest.raises(ConfigError, match="not a multiple of step"):
        load_registry(_write(tmp_path / "r.json", doc))


def test_a_hand_written_yaml_registry_loads(tmp_path):
    p = tmp_path / "r.yaml"
    p.write_text("format: aurora.instruments/1\nsource: by hand\nfetched_at: '2026-12-01'\nvenues:\n"
                 "  binanceusdm:\n    DOGEUSDT: {tick: 0.00001, step: 1, min_qty: 1, min_notional: 5}\n")
    doge = load_registry(p).require("DOGEUSDT")
    assert doge.price_precision == 5 and doge.qty_precision == 0 and doge.status == "TRADING"


def test_write_then_load_round_trips(tmp_path):
    reg = registry_at()
    out = reg.write(tmp_path / "copy.json")
    again = load_registry(out)
    assert again.symbols() == {s: i for s, i in reg.symbols().items()}
