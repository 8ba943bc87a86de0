import pytest

from aurora.gate.pipeline import Pipeline
from tests.support.faults import raising_trap

from .conftest import TEST_CALIBRATION

MS = 1_000_000
CAL = TEST_CALIBRATION


def test_allow_path_reports_every_guard(mkcfg, req):
    p = Pipeline(mkcfg(), CAL)
    dec = p.decide(req(cid="a1", sprt_samples=[1.5] * 10), 0)
    assert dec.allow and dec.reason == "OK" and dec.max_qty == 1.0 and dec.risk_scale == 1.0
    assert list(dec.observability) == [
        "market", "instrument", "latency", "health", "trap", "expected_return", "slippage", "risk", "sprt", "spread",
    ]  # fmt: skip
    for name, o in dec.observability.items():
        assert o["pass"] is True and o["us"] >= 0, name
    assert dec.decision_us > 0


@pytest.mark.parametrize("overrides", [{}, {"latency_ms": 10_000}, {"score": -3.0}, {"price": 120.0}])
def test_untimed_pipeline_decides_the_same_without_stage_times(mkcfg, req, overrides):
    timed, untimed = Pipeline(mkcfg(), CAL), Pipeline(mkcfg(), CAL, timed=False)
    a, b = timed.decide(req(cid="u1", **overrides), 0), untimed.decide(req(cid="u1", **overrides), 0)
    assert (a.allow, a.reason, a.max_qty, a.guard) == (b.allow, b.reason, b.max_qty, b.guard)
    strip = {name: {k: v for k, v in o.items() if k != "us"} for name, o in a.observability.items()}
    assert b.observability == strip and all("us" in o for o in a.observability.values())


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
    raising_trap(p, ZeroDivisionError("bad input"))
    dec = p.decide(req(), 0)
    assert not dec.allow and dec.reason == "GUARD_ERROR" and dec.guard == "trap"
    assert dec.observability["trap"]["error"] == "ZeroDivisionError"
    assert seen == [("trap", "ZeroDivisionError")] and p.guard_errors == 1


def test_disarmed_denies_new_risk_but_lets_reducing_orders_out(mkcfg, req, harness):
    h = harness(Pipeline(mkcfg(), CAL, armed=False))
    assert h.decide(req(cid="x1")).reason == "DISARMED"
    assert h.decide(req(cid="x2", reduce_only=True, side="sell")).reason == "RISK_REDUCE_ONLY_INVALID"
    h.fill("p1", "SOLUSDT", "buy", 1.0)
    assert h.decide(req(cid="x3", reduce_only=True, side="sell")).allow
    h.pipeline.armed = True
    assert h.decide(req(cid="x4", qty=2.0)).allow


def test_kill_switch_puts_the_account_in_reducing_and_reset_clears(mkcfg, req, harness):
    h = harness(Pipeline(mkcfg(killswitch={"window_trades": 10, "min_outcomes": 5, "max_reject_rate_pct": 35}), CAL))
    h.fill("pos", "SOLUSDT", "buy", 2.0)
    for i in range(5):
        h.event("SUBMIT", f"r{i}", symbol="ETHUSDT", side="buy", qty=1.0)
        h.event("REJECT", f"r{i}")
    dec = h.decide(req(cid="k1"))
    ts = dec.observability["trading_state"]
    assert dec.reason == "KILL_SWITCH" and ts["state"] == "REDUCING" and ts["trip"]["trigger"] == "reject_rate"
    dec = h.decide(req(cid="k2", side="sell", qty=1.0, price=100.0))
    assert dec.allow and dec.risk_reducing
    assert h.decide(req(cid="k3", account_id="other", qty=1.5)).allow  # another account trades on
    h.pipeline.reset(0)
    assert h.decide(req(cid="k4", qty=1.7), 10**9).allow


def test_ops_halt_stops_exits_too(mkcfg, req, harness):
    h = harness(Pipeline(mkcfg(), CAL))
    h.fill("pos", "SOLUSDT", "buy", 2.0)
    h.pipeline.ops_halt = {"reason": "test"}
    assert h.decide(req(cid="h1", side="sell", qty=1.0, reduce_only=True)).reason == "HALTED"
    h.pipeline.ops_halt = None
    assert h.decide(req(cid="h2", side="sell", qty=1.0, reduce_only=True)).allow


def test_trading_state_per_trigger_is_configurable(mkcfg, req, harness):
    h = harness(Pipeline(mkcfg(trading_state={"disarmed": "HALTED"}), CAL, armed=False))
    h.fill("pos", "SOLUSDT", "buy", 2.0)
    dec = h.decide(req(cid="d1", side="sell", qty=1.0, reduce_only=True))
    assert dec.reason == "DISARMED" and dec.observability["trading_state"]["state"] == "HALTED"


def test_request_past_its_deadline_is_expired(mkcfg, req):
    p = Pipeline(mkcfg(guards={"max_request_age_ms": 2000, "max_quote_age_ms": 60_000}), CAL)
    now = 10**18
    assert p.decide(req(cid="e1", ts_ns=now - 300 * MS, deadline_ms=250.0), now).reason == "REQUEST_EXPIRED"
    assert p.decide(req(cid="e2", ts_ns=now - 200 * MS, deadline_ms=250.0), now).allow
    dec = p.decide(req(cid="e3", ts_ns=now - 2001 * MS), now)
    assert dec.reason == "REQUEST_EXPIRED" and dec.observability["deadline"]["key"] == "guards.max_request_age_ms"


def test_reconfigure_keeps_state(mkcfg, req, harness):
    h = harness(Pipeline(mkcfg(), CAL))
    h.decide(req(cid="s1"))
    h.pipeline.configure(mkcfg(guards={"spread_bps_limit": 0.5}))
    assert h.decide(req(cid="s1"), 1000 * MS).reason == "RISK_DUPLICATE"  # remembered across reload
    assert h.decide(req(cid="s2", qty=2.0), 2000 * MS).reason == "SPREAD_GUARD"


def test_exits_are_judged_on_safety_only(mkcfg, req, harness):
    h = harness(Pipeline(mkcfg(), CAL))
    h.fill("pos", "SOLUSDT", "buy", 5.0)
    # a stop-loss exit with a hopeless score, SPRT against it, a wide spread and a slow request still goes out
    dec = h.decide(req(cid="sl1", side="sell", reduce_only=True, score=-5.0, sprt_samples=[0.0] * 20,
                       spread_bps=500.0, latency_ms=10_000, order_type="market", price=None))  # fmt: skip
    assert dec.allow and dec.risk_reducing
    assert set(dec.observability) == {"market", "instrument", "risk"}
    # ... but the price collar and a duplicate cid still apply to it
    assert h.decide(req(cid="sl2", side="sell", reduce_only=True, price=50.0)).reason == "RISK_PRICE_COLLAR"
    assert h.decide(req(cid="sl1", side="sell", reduce_only=True)).reason == "RISK_DUPLICATE"


def test_exit_keeps_its_size_under_size_scale_through_the_pipeline(mkcfg, req, harness):
    h = harness(Pipeline(mkcfg(risk={"size_scale": 0.5}), CAL))
    h.fill("pos", "SOLUSDT", "buy", 0.5)
    dec = h.decide(req(cid="e1", side="sell", qty=0.5, reduce_only=True))
    assert dec.allow and dec.max_qty == 0.5 and dec.risk_scale == 1.0
    dec = h.decide(req(cid="e2", symbol="ETHUSDT", qty=0.5))
    assert dec.allow and dec.max_qty == pytest.approx(0.25) and dec.risk_scale == 0.5
