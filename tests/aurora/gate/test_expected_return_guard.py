import pytest

from aurora.calibration import CalibrationMap
from aurora.gate.expected_return_guard import ExpectedReturnGuard
from aurora.gate.slippage_guard import SlippageGuard

# p = 0.6 everywhere in [−1, 1] on a 5-knot isotonic map
FLAT = CalibrationMap([-1.0, -0.5, 0.0, 0.5, 1.0], [0.6] * 5)


def test_expected_return_formula_and_threshold(mkcfg, req, state):
    # E = 0.6*20 - 0.4*10 - fees 2 - eta 0.5 * half-spread 2 = 12 - 4 - 2 - 1 = 5
    cfg = mkcfg(risk={"pi_min_bps": 5.0, "fees_bps": 2.0}, slippage={"eta_fraction_of_b": 0.5})
    g = ExpectedReturnGuard(cfg, FLAT)
    r = req(score=0.0, tp_bps=20, sl_bps=10, spread_bps=4.0)
    d = state(r)
    assert g.check(r, d, 0) is None  # exactly at pi_min passes
    assert d.obs["expected_return"]["e_pi_bps"] == pytest.approx(5.0)
    assert d.obs["expected_return"]["p_win"] == pytest.approx(0.6)
    g.configure(mkcfg(risk={"pi_min_bps": 5.01, "fees_bps": 2.0}, slippage={"eta_fraction_of_b": 0.5}))
    assert g.check(r, state(r), 0) == "ER_BELOW_MIN"


def test_platt_fallback_when_map_is_sparse(mkcfg, req, state):
    sparse = CalibrationMap([0.0, 1.0], [0.1, 0.9], platt_a=0.0, platt_b=0.0, min_points=5)  # p = 0.5
    g = ExpectedReturnGuard(mkcfg(risk={"fees_bps": 0.0, "pi_min_bps": 0.0}, slippage={"eta_fraction_of_b": 0}), sparse)
    r = req(score=0.9, tp_bps=10, sl_bps=10)
    d = state(r)
    assert g.check(r, d, 0) is None
    assert d.obs["expected_return"]["p_win"] == 0.5 and d.obs["expected_return"]["e_pi_bps"] == 0.0


def test_slippage_larger_than_touch_grows_cost_and_scales(mkcfg, req, state):
    cfg = mkcfg(risk={"fees_bps": 0.0}, slippage={"eta_fraction_of_b": 1.0})
    g = SlippageGuard(cfg, FLAT)
    # edge = 0.6*10 - 0.4*10 = 2 bps; slip at touch = 1.0 * half-spread 1 = 1 bps; qty 4x touch -> 4 bps
    r = req(score=0.0, tp_bps=10, sl_bps=10, spread_bps=2.0, ask_size=10.0, qty=40.0)
    d = state(r)
    assert g.check(r, d, 0) is None
    assert d.obs["slippage"]["slip_bps"] == pytest.approx(4.0)
    assert d.max_qty == pytest.approx(20.0)  # 2x the touch costs exactly the 2 bps edge
    g.configure(mkcfg(risk={"fees_bps": 0.0}, slippage={"eta_fraction_of_b": 1.0, "scale_instead_of_deny": False}))
    assert g.check(r, state(r), 0) == "SLIPPAGE_GUARD"


def test_slippage_deny_when_even_the_touch_costs_more_than_the_edge(mkcfg, req, state):
    g = SlippageGuard(mkcfg(risk={"fees_bps": 0.0}, slippage={"eta_fraction_of_b": 1.0}), FLAT)
    r = req(score=0.0, tp_bps=10, sl_bps=10, spread_bps=6.0)  # slip 3 > edge 2
    d = state(r)
    assert g.check(r, d, 0) == "SLIPPAGE_GUARD" and d.obs["slippage"]["pass"] is False
    r = req(score=0.0, tp_bps=10, sl_bps=10, spread_bps=4.0)  # slip 2 == edge 2 passes
    assert g.check(r, state(r), 0) is None


def test_sell_uses_bid_size(mkcfg, req, state):
    g = SlippageGuard(mkcfg(risk={"fees_bps": 0.0}, slippage={"eta_fraction_of_b": 1.0}), FLAT)
    r = req(side="sell", score=0.0, tp_bps=10, sl_bps=10, spread_bps=2.0, bid_size=5.0, ask_size=1000.0, qty=10.0)
    d = state(r)
    g.check(r, d, 0)
    assert d.obs["slippage"]["slip_bps"] == pytest.approx(2.0)
