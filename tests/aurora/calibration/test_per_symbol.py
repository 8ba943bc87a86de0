"""A map file with a map of its own per symbol (``per_symbol``): saved, loaded, picked by symbol."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from aurora.calibration import CalibrationError, CalibrationMap


def test_per_symbol_maps_round_trip_and_fall_back_to_the_pooled_map(tmp_path: Path) -> None:
    pooled = CalibrationMap([0.5, 1.0, 1.5, 2.0, 2.5], [0.4, 0.45, 0.5, 0.55, 0.6])
    btc = CalibrationMap([0.5, 1.0, 1.5, 2.0, 2.5], [0.1, 0.15, 0.2, 0.25, 0.3], meta={"symbol": "BTCUSDT"})
    pooled.per_symbol["BTCUSDT"] = btc
    loaded = CalibrationMap.load(pooled.save(tmp_path / "m.json"))
    assert loaded.for_symbol("BTCUSDT").predict(1.5) == pytest.approx(0.2)
    assert loaded.for_symbol("ETHUSDT") is loaded and loaded.for_symbol(None) is loaded
    assert loaded.predict(1.5) == pytest.approx(0.5)
    assert loaded.for_symbol("BTCUSDT").meta == {"symbol": "BTCUSDT"}


def test_a_bad_per_symbol_entry_names_where(tmp_path: Path) -> None:
    good = CalibrationMap([0.5, 1.0], [0.4, 0.5]).to_dict()
    bad = {**good, "per_symbol": {"BTCUSDT": {**good, "y": [0.6, 0.5]}}}
    (tmp_path / "m.json").write_bytes(orjson.dumps(bad))
    with pytest.raises(CalibrationError, match=r"per_symbol\.BTCUSDT: .*non-decreasing"):
        CalibrationMap.load(tmp_path / "m.json")
    nested = {**good, "per_symbol": {"BTCUSDT": {**good, "per_symbol": {}}}}
    (tmp_path / "n.json").write_bytes(orjson.dumps(nested))
    with pytest.raises(CalibrationError, match="no nesting"):
        CalibrationMap.load(tmp_path / "n.json")
