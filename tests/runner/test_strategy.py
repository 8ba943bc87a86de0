"""Score → calibrated p → ENR gate → ParentGate, the XAI records of each step, and position P&L."""

from __future__ import annotations

import pytest

from aurora.calibration import CalibrationMap
from runner.book import L2Book
from runner.config import StrategySection
from runner.features import FeatureParams, SymbolFeatures
from runner.parent_gate import ParentGate
from runner.positions import PositionBook
from runner.strategy import Strategy


def make_feats(symbol: str, bid_qty: float, ask_qty: float) -> SymbolFeatures:
    b = L2Book(symbol)
    b.load_snapshot([("100.0", str(bid_qty)), ("99.9", str(bid_qty))], [("100.1", str(ask_qty)), ("100.2", str(ask_qty))], 1)
    f = SymbolFeatures(symbol, b, FeatureParams())
    f.on_ticker(100.0, bid_qty, 100.1, ask_qty, 1, 0)
    return f


def strategy(**cfg) -> tuple[Strategy, list[str]]:  # noqa: ANN003
    sc = StrategySection(warmup_s=1.0, cooldown_ms=500, z_window_s=5.0, score_threshold=0.5, **cfg)
    cids: list[str] = []

    def new_cid() -> str:
        cids.append(f"c{len(cids) + 1}")
        return cids[-1]

    s = Strategy(sc, predict=CalibrationMap.load().predict, parent_gate=ParentGate(z_threshold=0.75),
                 parents={"SOLUSDT": None, "SOONUSDT": "SOLUSDT"}, tradable={"SOLUSDT", "SOONUSDT"}, new_cid=new_cid)
    return s, cids


def warm(s: Strategy, f: SymbolFeatures, until_ms: int, step: int = 50) -> None:
    """Feed a noisy, balanced book so the signal's running mean/std settle near 0 / small."""
    for i, t in enumerate(range(0, until_ms, step)):
        q = 10.0 + (1.0 if i % 2 else -1.0)
        f.on_ticker(100.0, q, 100.1, 20.0 - q, i, t)
        s.on_tick(f.symbol, f, t, can_open=False)


def test_a_strong_bid_imbalance_becomes_a_buy_candidate_with_its_xai_records() -> None:
    s, _ = strategy(enr_threshold_bps=-100.0)
    f = make_feats("SOLUSDT", 10, 10)
    warm(s, f, 2_000)
    f.on_ticker(100.0, 19.0, 100.1, 1.0, 99, 2_000)  # microprice pushed to the ask
    cand = s.on_tick("SOLUSDT", f, 2_000, can_open=True)
    assert cand is not None and cand.side == "buy" and cand.z > 0 and cand.passed
    assert cand.score == pytest.approx(abs(cand.z))
    assert cand.p_win == pytest.approx(CalibrationMap.load().predict(cand.score))
    codes = [c for c, _ in cand.events]
    assert codes == ["MODEL", "ENR_GATE", "PARENT_GATE"]
    model, enr, parent = (d for _, d in cand.events)
    assert {"obi", "tfi", "micro_tilt", "spread_bps", "vol_std_bps", "z", "score", "p_win", "weights"} <= set(model)
    want_enr = cand.p_win * 12.0 - (1 - cand.p_win) * 8.0 - 4.0
    assert enr["enr_bps"] == pytest.approx(want_enr, abs=1e-3) and enr["pass"] is True
    assert parent == {"parent": None, "side": "buy", "z_threshold": 0.75, "pass": True, "reason": "NO_PARENT"}
    # Cooldown: no second candidate within 500 ms.
    assert s.on_tick("SOLUSDT", f, 2_100, can_open=True) is None


def test_enr_gate_stops_weak_candidates_and_says_why() -> None:
    s, _ = strategy(enr_threshold_bps=50.0)  # unreachable: p*12 - (1-p)*8 - 4 < 8
    f = make_feats("SOLUSDT", 10, 10)
    warm(s, f, 2_000)
    f.on_ticker(100.0, 19.0, 100.1, 1.0, 99, 2_000)
    cand = s.on_tick("SOLUSDT", f, 2_000, can_open=True)
    assert cand is not None and not cand.passed and cand.stage == "ENR_GATE"
    assert [c for c, _ in cand.events] == ["MODEL", "ENR_GATE"]
    assert cand.events[1][1]["pass"] is False and cand.events[1][1]["threshold_bps"] == 50.0


def test_no_candidate_during_warmup_when_not_allowed_or_below_threshold() -> None:
    s, cids = strategy()
    f = make_feats("SOLUSDT", 10, 10)
    f.on_ticker(100.0, 19.0, 100.1, 1.0, 2, 0)
    assert s.on_tick("SOLUSDT", f, 0, can_open=True) is None  # warm-up
    warm(s, f, 2_000)
    f.on_ticker(100.0, 19.0, 100.1, 1.0, 99, 2_000)
    assert s.on_tick("SOLUSDT", f, 2_000, can_open=False) is None
    assert cids == []


@pytest.mark.parametrize(
    ("side", "parent_z", "reason", "ok"),
    [
        ("buy", 1.2, "AGREE", True),
        ("sell", -0.9, "AGREE", True),
        ("buy", -1.5, "DISAGREE_SIGN", False),
        ("sell", 0.3, "DISAGREE_SIGN", False),
        ("buy", 0.5, "PARENT_WEAK", False),
        ("buy", None, "PARENT_NOT_READY", False),
    ],
)
def test_parent_gate(side: str, parent_z: float | None, reason: str, ok: bool) -> None:
    v = ParentGate(z_threshold=0.75).check(side, "SOLUSDT", parent_z)
    assert (v.passed, v.reason) == (ok, reason)
    assert v.details["pass"] is ok and v.details["parent"] == "SOLUSDT"
    assert ParentGate(enabled=False).check(side, "SOLUSDT", parent_z).reason == "DISABLED"


def test_child_candidate_waits_for_its_parent_to_agree() -> None:
    s, _ = strategy(enr_threshold_bps=-100.0)
    parent, child = make_feats("SOLUSDT", 10, 10), make_feats("SOONUSDT", 10, 10)
    for t in range(0, 2_000, 50):
        q = 10.0 + (1.0 if (t // 50) % 2 else -1.0)
        parent.on_ticker(100.0, q, 100.1, 20 - q, t, t)
        child.on_ticker(100.0, q, 100.1, 20 - q, t, t)
        s.on_tick("SOLUSDT", parent, t, can_open=False)
        s.on_tick("SOONUSDT", child, t, can_open=False)
    parent.on_ticker(100.0, 1.0, 100.1, 19.0, 99, 2_000)  # the parent turns bearish
    s.on_tick("SOLUSDT", parent, 2_000, can_open=False)
    child.on_ticker(100.0, 19.0, 100.1, 1.0, 99, 2_000)  # the child wants to buy
    cand = s.on_tick("SOONUSDT", child, 2_000, can_open=True)
    assert cand is not None and cand.side == "buy" and not cand.passed and cand.stage == "PARENT_GATE"
    assert cand.events[-1][0] == "PARENT_GATE" and cand.events[-1][1]["reason"] == "DISAGREE_SIGN"


def test_closing_fills_carry_realized_pnl_and_the_entry_probability() -> None:
    pb = PositionBook(fees_bps=4.0)
    assert pb.on_fill("SOLUSDT", "buy", 2.0, 100.0, 1, p_win=0.7) is None
    assert pb.on_fill("SOLUSDT", "buy", 2.0, 102.0, 2, p_win=0.9) is None  # adds: avg 101
    assert pb.get("SOLUSDT").avg_price == pytest.approx(101.0)
    out = pb.on_fill("SOLUSDT", "sell", 1.0, 102.01, 3)
    assert out["realized_pnl_bps"] == pytest.approx((102.01 / 101 - 1) * 1e4 - 4.0, abs=1e-3)
    assert out["realized_pnl_usd"] == pytest.approx(101 * out["realized_pnl_bps"] / 1e4, abs=1e-6)
    assert out["entry_p_win"] == 0.7
    out = pb.on_fill("SOLUSDT", "sell", 4.0, 100.0, 4, p_win=0.6)  # closes 3, flips 1 short
    assert out["closed_qty"] == 3.0
    pos = pb.get("SOLUSDT")
    assert pos.qty == -1.0 and pos.avg_price == 100.0 and pos.entry_p_win == 0.6
    out = pb.on_fill("SOLUSDT", "buy", 1.0, 99.0, 5)
    assert out["realized_pnl_bps"] == pytest.approx(100 - 4.0, abs=1e-6) and pb.get("SOLUSDT").flat
