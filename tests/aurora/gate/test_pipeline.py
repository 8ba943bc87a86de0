import pytest

from aurora.gate.pipeline import Pipeline

from .conftest import TEST_CALIBRATION

MS = 1_000_000
CAL = TEST_CALIBRATION


def test_allow_path_reports_every_guard(mkcfg, req):
    p = Pipeline(mkcfg(), CAL)
    dec = p.decide(req(cid="a1", sprt_samples=[1.5] * 10), 0)
    assert dec.allow and dec.reason == "OK" and dec.max_qty == 1.0 and dec.risk_scale == 1.0
    assert list(dec.observability) == [
        "latency", "health", "trap", "expected_return", "slippage", "risk", "sprt", "spread",
    ]  # fmt: skip
    for name, o in dec.observability.items():
        assert o["pass"] is True and o["us"] >= 0, name
    assert dec.decision_us > 0


@pytest.mark.parametrize(
    "overrides, reason",
    [
        ({"latency_ms": 10_000}, "LATENCY_GUARD"),
        ({"score": -3.0}, "ER_BELOW_MIN"),
        ({"spread_bps": 81.0, "tp_bps": 500.0}, "SPREAD_GUARD"),
        ({"sprt_samples": [0.0] * 20}, "SPRT_REJECT"),
        ({"price": 120.0}, "RISK_PRICE_COLLAR"),
        ({"qty": 1000.0, "ask_size": 1e6}, "RISK_MAX_NOTIONAL"),
    ],
)
def test_first_deny_decides(mkcfg, req, overrides, reason):
    p = Pipeline(mkcfg(), CAL)
    dec = p.decide(req(**overrides), 0)
    assert not dec.allow and dec.reason == reason and dec.max_qty == 0.0
    assert list(dec.observability)[-1] == dec.guard  # nothing after the deciding guard ran


def test_order_profile_swaps_er_and_slippage(mkcfg, req):
    r = req(score=0.0, spread_bps=40.0)  # both would deny; the first in the profile decides
    assert Pipeline(mkcfg(), CAL).decide(r, 0).reason == "ER_BELOW_MIN"
    p = Pipeline(mkcfg(pretrade={"order_profile": "slip_before_er"}), CAL)
    assert p.decide(r, 0).reason == "SLIPPAGE_GUARD"
    assert [g.name for g in p.guards][3:5] == ["slippage", "expected_return"]


def test_a_raising_guard_denies_guard_error(mkcfg, req):
    p = Pipeline(mkcfg(), CAL)
    seen = []
    p.on_guard_error = lambda name, exc: seen.append((name, type(exc).__name__))

    def boom(r, d, now):
        raise ZeroDivisionError("bad input")

    p.trap.check = boom
    dec = p.decide(req(), 0)
    assert not dec.allow and dec.reason == "GUARD_ERROR" and dec.guard == "trap"
    assert dec.observability["trap"]["error"] == "ZeroDivisionError"
    assert seen == [("trap", "ZeroDivisionError")] and p.guard_errors == 1


def test_disarmed_denies_new_risk_but_lets_reducing_orders_out(mkcfg, req):
    p = Pipeline(mkcfg(), CAL, armed=False)
    assert p.decide(req(cid="x1"), 0).reason == "DISARMED"
    assert p.decide(req(cid="x2", reduce_only=True), 0).allow
    p.armed = True
    assert p.decide(req(cid="x3", qty=2.0), 0).allow


def test_kill_switch_blocks_increasing_allows_reducing_and_reset_clears(mkcfg, req):
    p = Pipeline(mkcfg(killswitch={"window_trades": 10, "min_outcomes": 5, "max_reject_rate_pct": 35}), CAL)
    for _ in range(5):
        p.kill_switch.record_outcome(True)
    assert p.halted
    dec = p.decide(req(cid="k1"), 0)
    assert dec.reason == "KILL_SWITCH" and dec.observability["kill_switch"]["trip"]["trigger"] == "reject_rate"
    p.risk.positions["SOLUSDT"] = 2.0
    dec = p.decide(req(cid="k2", side="sell", qty=1.0, price=100.0), 0)
    assert dec.allow and dec.risk_reducing
    p.reset(0)
    assert not p.halted and p.decide(req(cid="k3", qty=1.5), 0).allow


def test_reconfigure_keeps_state(mkcfg, req):
    p = Pipeline(mkcfg(), CAL)
    p.decide(req(cid="s1"), 0)
    p.configure(mkcfg(guards={"spread_bps_limit": 0.5}))
    assert p.decide(req(cid="s1"), 1000 * MS).reason == "RISK_DUPLICATE"  # remembered across reload
    assert p.decide(req(cid="s2", qty=2.0), 2000 * MS).reason == "SPREAD_GUARD"


def test_exits_skip_the_edge_guards_but_not_the_safety_ones(mkcfg, req):
    p = Pipeline(mkcfg(), CAL)
    # a stop-loss exit with a hopeless score and SPRT samples against it still goes out
    dec = p.decide(req(cid="sl1", reduce_only=True, score=-5.0, sprt_samples=[0.0] * 20), 0)
    assert dec.allow
    for name in ("expected_return", "slippage", "sprt"):
        assert dec.observability[name] == {"skipped": "risk-reducing order", "pass": True, "us": dec.observability[name]["us"]}
    # ... but latency and price collar still apply to it
    assert p.decide(req(cid="sl2", reduce_only=True, latency_ms=10_000), 0).reason == "LATENCY_GUARD"
    assert p.decide(req(cid="sl3", reduce_only=True, price=150.0), 0).reason == "RISK_PRICE_COLLAR"


def test_exit_keeps_its_size_under_size_scale_through_the_pipeline(mkcfg, req):
    p = Pipeline(mkcfg(risk={"size_scale": 0.5}), CAL)
    p.risk.positions["SOLUSDT"] = 0.5
    dec = p.decide(req(cid="e1", side="sell", qty=0.5, reduce_only=True), 0)
    assert dec.allow and dec.max_qty == 0.5 and dec.risk_scale == 1.0
    dec = p.decide(req(cid="e2", symbol="ETHUSDT", qty=0.5), 0)
    assert dec.allow and dec.max_qty == pytest.approx(0.25) and dec.risk_scale == 0.5
