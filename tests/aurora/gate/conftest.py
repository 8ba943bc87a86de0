"""Builders for gate unit tests: a realistic request and a config with section overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from aurora.calibration import CalibrationMap
from aurora.config.models import AuroraConfig
from aurora.gate.guard import CheckRequest, DecisionState
from tests.support.instruments import registry_with  # noqa: F401 (for the gate tests)

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
    if "spread_bps" in overrides and not {"best_bid", "best_ask"} & set(overrides):
        # a consistent book for the spread asked for (the gate checks spread_bps against bid/ask)
        spread = overrides["spread_bps"]
        base["best_ask"] = base["best_bid"] * (2e4 + spread) / (2e4 - spread) if spread < 2e4 else base["best_bid"] * 1e6
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


class StateHarness:
    """A pipeline with its durable state, changed only through ``GateState.commit`` (as the gate does)."""

    def __init__(self, pipeline, state_dir: Path) -> None:
        from aurora.gate.gate_state import GateState
        from aurora.gate.state_store import StateJournal

        journal = StateJournal(state_dir)
        journal.open()
        journal.start_journal()
        self.pipeline = pipeline
        self.state = GateState(pipeline, journal)

    def event(self, short: str, cid: str, now_ns: int = 0, account: str = "acc-1", **fields: Any) -> dict:
        ev = {"short": short, "cid": cid, "account": account, **fields}
        eq = self.pipeline.risk.equity(account)[0]
        return self.state.commit({"k": "ord", "t": now_ns, "e": ev, "key": f"{cid}|{short}|{now_ns}", "eq": eq})

    def fill(self, cid: str, symbol: str, side: str, qty: float, pnl: float | None = None, now_ns: int = 0,
             account: str = "acc-1") -> dict:  # fmt: skip
        self.event("SUBMIT", cid, now_ns, account, symbol=symbol, side=side, qty=qty)
        extra = {} if pnl is None else {"realized_pnl_usd": pnl}
        return self.event("FILL", cid, now_ns, account, fill_qty=qty, **extra)

    def commit_decision(self, r: CheckRequest, allow: bool, max_qty: float, risk_reducing: bool, now_ns: int) -> None:
        if allow:
            o = [r.symbol, r.side, max_qty, r.price, risk_reducing, self.pipeline.risk.reservation_ns, r.qty]
            self.state.commit({"k": "dec", "t": now_ns, "a": r.account_id, "c": r.cid, "o": o, "h": False})

    def decide(self, r: CheckRequest, now_ns: int = 0):
        dec = self.pipeline.decide(r, now_ns)
        self.commit_decision(r, dec.allow, dec.max_qty, dec.risk_reducing, now_ns)
        return dec


@pytest.fixture
def harness(tmp_path):
    def make(pipeline, name: str = "state") -> StateHarness:
        return StateHarness(pipeline, tmp_path / name)

    return make
