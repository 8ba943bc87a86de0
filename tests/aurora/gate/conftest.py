"""Builders for gate unit tests: a realistic request and a config with section overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from aurora.calibration import CalibrationMap
from aurora.config.models import AuroraConfig
from aurora.gate.guard import CheckRequest, DecisionState

#: A fixed calibration for gate tests: the shipped default map is refitted as the synthetic market
#: evolves, and these tests are about the gate, so they pin the score -> p_win curve they reason with.
TEST_CALIBRATION_PATH = Path(__file__).resolve().parents[1] / "fixtures" / "gate_calibration.json"
TEST_CALIBRATION = CalibrationMap.load(TEST_CALIBRATION_PATH)


def make_cfg(**sections: dict[str, Any]) -> AuroraConfig:
    data = AuroraConfig().model_dump()
    for name, values in sections.items():
        data[name].update(values)
    return AuroraConfig.model_validate(data)


def make_request(**overrides: Any) -> CheckRequest:
    base: dict[str, Any] = {
        "account_id": "acc-1",
        "symbol": "SOLUSDT",
        "side": "buy",
        "qty": 1.0,
        "best_bid": 100.0,
        "best_ask": 100.01,
        "bid_size": 50.0,
        "ask_size": 50.0,
        "spread_bps": 1.0,
        "latency_ms": 5.0,
        "vol_std_bps": 10.0,
        "score": 2.5,
        "tp_bps": 20.0,
        "sl_bps": 10.0,
        "l2_add_volumes": [5.0, 5.0, 5.0, 5.0, 5.0],
        "l2_cancel_volumes": [4.0, 4.0, 4.0, 4.0, 4.0],
        "price": 100.0,
    }
    base.update(overrides)
    return CheckRequest(**base)


def make_state(r: CheckRequest, risk_reducing: bool = False) -> DecisionState:
    return DecisionState(r.qty, risk_reducing)


# Fixtures hand the builders to tests (tests/ is not an importable package).
@pytest.fixture
def mkcfg():
    return make_cfg


@pytest.fixture
def req():
    return make_request


@pytest.fixture
def state():
    return make_state
