"""RiskManager over the gate's own RiskBook, changed through GateState.commit as the gate does."""

from pathlib import Path

import pytest

from aurora import stats
from aurora.config.loader import load_aurora
from aurora.gate.pipeline import Pipeline

from .conftest import TEST_CALIBRATION as CAL

MS = 1_000_000
DAY_NS = 86_400 * 1_000_000_000


@pytest.fixture
def cfg(mkcfg):
    return mkcfg(
        risk={"max_concurrent": 2, "equity_usd": 10_000, "max_notional_usd": 1_000, "max_orders_per_sec": 3,
              "duplicate_window_ms": 500, "price_collar_bps": 50, "size_scale": 1.0},
        gates={"dd_day_pct_max": 5.0, "cvar_day_pct_max": 1.0},
        guards={"vol_guard_std_bps": 60},
    )  # fmt: skip


@pytest.fixture
def h(cfg, harness):
    return harness(Pipeline(cfg, CAL))


def run(h, r, state, now_ms=0):
    """classify + the risk stage alone, and the allow's reservation committed like the gate does."""
    rm = h.pipeline.risk
    rr, qty = rm.classify(r)
    d = state(r, rr)
    d.max_qty = qty
    res = rm.check(r, d, now_ms * MS)
    h.commit_decision(r, res is None, d.max_qty, rr, now_ms * MS)
    return res, d


def test_the_gates_cvar_is_the_shared_definition(h):
    rm = h.pipeline.risk
    for sample in ([1, -2, 3, -4, 5, 0, 0, 0, 0, 0], [5, 6, 7], [-1.0] * 30):
        assert rm.cvar_pct(f"a{len(sample)}{sample[0]}", sample) == stats.cvar_loss(sample, rm.cvar_alpha)
    assert rm.cvar_pct("none", []) is None


def test_size_scale_and_volatility_scaling(mkcfg, req, state, harness):
    h = harness(Pipeline(mkcfg(risk={"size_scale": 0.5}, guards={"vol_guard_std_bps": 60}), CAL))
    res, d = run(h, req(qty=2.0, vol_std_bps=120.0), state)
    assert res is None and d.risk_scale == pytest.approx(0.25) and d.max_qty == pytest.approx(0.5)
    h0 = harness(Pipeline(mkcfg(risk={"size_scale": 0.0}), CAL), "s0")
    assert run(h0, req(), state)[0] == "RISK_SIZE_ZERO"


def test_daily_drawdown_at_limit_denies_risk_increasing_only(h, req, state):
    h.fill("o1", "SOLUSDT", "buy", 1.0, pnl=100.0)  # peak +100
    h.fill("o2", "SOLUSDT", "sell", 2.0, pnl=-500.0)  # 500 below the peak = 5% of 10k; now short 1
    res, d = run(h, req(symbol="ETHUSDT"), state)
    assert res == "RISK_DAILY_DD" and d.obs["risk"]["dd_pct"] == pytest.approx(5.0)
    assert d.obs["risk"]["equity_source"] == "risk.equity_usd"
    # the client's equity claim changes nothing (it is only logged)
    res, d = run(h, req(symbol="ETHUSDT", equity_usd=1e9, cid="big-equity"), state)
    assert res == "RISK_DAILY_DD" and d.obs["risk"]["client_equity_usd"] == 1e9
    # closing the short still passes
    assert run(h, req(side="buy", reduce_only=True, cid="r1"), state)[0] is None


def test_drawdown_just_under_limit_passes(h, req, state):
    h.fill("o1", "SOLUSDT", "buy", 1.0, pnl=-499.0)
    assert run(h, req(symbol="ETHUSDT"), state)[0] is None


def test_a_reported_balance_can_only_lower_equity(h, req, state):
    h.fill("o1", "SOLUSDT", "buy", 1.0, pnl=-300.0)  # 3 % of the configured 10k
    assert run(h, req(symbol="ETHUSDT", cid="a"), state)[0] is None
    h.state.commit({"k": "eq", "t": 0, "a": "acc-1", "v": 1e9})
    assert h.pipeline.risk.equity("acc-1") == (10_000, "risk.equity_usd")
    h.state.commit({"k": "eq", "t": 0, "a": "acc-1", "v": 5_000})  # now 6 %
    res, d = run(h, req(symbol="XUSDT", cid="b"), state, now_ms=1000)
    assert res == "RISK_DAILY_DD" and d.obs["risk"]["equity_source"] == "reported balance"


def test_per_account_equity_from_config(mkcfg, req, state, harness):
    h = harness(Pipeline(mkcfg(risk={"accounts": {"small": {"equity_usd": 1_000}}}, gates={"dd_day_pct_max": 5.0}), CAL))
    h.fill("o1", "SOLUSDT", "buy", 1.0, pnl=-60.0, account="small")
    res, d = run(h, req(symbol="ETHUSDT", account_id="small"), state)
    assert res == "RISK_DAILY_DD" and d.obs["risk"]["equity_source"] == "risk.accounts.small.equity_usd"
    assert run(h, req(symbol="ETHUSDT", cid="other"), state)[0] is None  # acc-1 has no loss


def test_non_finite_risk_state_raises(h, req, state):
    h.pipeline.risk.book.account_day("acc-1", 0).pnl_usd = float("-inf")
    with pytest.raises(ValueError, match="not finite"):
        run(h, req(symbol="ETHUSDT"), state)


def test_cvar_limit(h, req, state):
    for i in range(9):
        h.fill(f"w{i}", "SOLUSDT", "buy", 1.0, pnl=10.0)
    assert run(h, req(symbol="XUSDT", cid="a"), state)[0] is None  # fewer than 10 trades: not judged
    h.fill("l1", "SOLUSDT", "sell", 9.0, pnl=-150.0)  # worst 1 of 10 = -1.5% > 1%
    res, d = run(h, req(symbol="XUSDT", cid="b"), state, now_ms=1000)
    assert res == "RISK_CVAR" and d.obs["risk"]["cvar_pct"] == pytest.approx(1.5)


def test_max_concurrent_counts_positions_and_reservations(h, req, state):
    h.fill("o1", "AUSDT", "buy", 1.0)
    h.fill("o2", "BUSDT", "sell", 1.0)
    assert h.pipeline.risk.book.positions == {"acc-1": {"AUSDT": 1.0, "BUSDT": -1.0}}
    assert run(h, req(symbol="CUSDT"), state)[0] == "RISK_MAX_CONCURRENT"
    assert run(h, req(symbol="AUSDT", cid="add"), state)[0] is None  # adding to an open one is fine
    h.fill("o3", "BUSDT", "buy", 1.0)  # closing B frees a slot
    assert run(h, req(symbol="CUSDT", cid="c"), state, now_ms=2000)[0] is None
    # ... and the allowed C holds it (a reservation) before any SUBMIT arrives
    assert run(h, req(symbol="DUSDT", cid="d"), state, now_ms=2100)[0] == "RISK_MAX_CONCURRENT"
    # until its reservation lapses (risk.reservation_ttl_ms, 3 s by default)
    assert run(h, req(symbol="DUSDT", cid="d2"), state, now_ms=5100)[0] is None


def test_submitted_orders_count_as_open_until_terminal(h, req, state):
    h.event("SUBMIT", "s1", symbol="AUSDT", side="buy", qty=1)
    h.event("SUBMIT", "s2", symbol="BUSDT", side="buy", qty=1)
    assert run(h, req(symbol="CUSDT"), state)[0] == "RISK_MAX_CONCURRENT"
    h.event("REJECT", "s2")
    assert run(h, req(symbol="CUSDT"), state)[0] is None


def test_max_notional(h, req, state):
    assert run(h, req(qty=10.0, price=100.0), state)[0] is None  # exactly 1000
    res, d = run(h, req(qty=10.01, price=100.0, cid="n2"), state, now_ms=1000)
    assert res == "RISK_MAX_NOTIONAL" and d.obs["risk"]["max_qty_cap"] == pytest.approx(10.0)


def test_price_collar(h, req, state):
    # mid 100.005; 50 bps -> 100.505
    assert run(h, req(price=100.5, cid="p1"), state)[0] is None
    assert run(h, req(price=100.6, cid="p2"), state, now_ms=1000)[0] == "RISK_PRICE_COLLAR"
    assert run(h, req(price=99.4, side="sell", cid="p3"), state, now_ms=2000)[0] == "RISK_PRICE_COLLAR"
    assert run(h, req(price=None, order_type="market", cid="p4"), state, now_ms=3000)[0] is None


def test_rate_throttle_per_account(h, req, state):
    for i in range(3):
        assert run(h, req(cid=f"t{i}", qty=1 + i), state, now_ms=i * 10)[0] is None
    res, d = run(h, req(cid="t3", qty=9), state, now_ms=100)
    assert res == "RISK_RATE_LIMIT" and d.cooldown_ms == pytest.approx(900)
    assert run(h, req(cid="t4", qty=9, account_id="other"), state, now_ms=100)[0] is None
    assert run(h, req(cid="t5", qty=9), state, now_ms=1001)[0] is None  # the first one left the 1 s window


def test_duplicates(h, req, state):
    assert run(h, req(cid="d1"), state)[0] is None
    assert run(h, req(cid="d1", qty=2.0), state, now_ms=5000)[0] == "RISK_DUPLICATE"
    assert run(h, req(cid="d2"), state, now_ms=100)[0] == "RISK_DUPLICATE"  # same side/price/qty in 500 ms
    assert run(h, req(cid="d3"), state, now_ms=700)[0] is None  # window passed


def test_day_rolls_at_the_configured_utc_time(mkcfg, req, state, harness):
    h = harness(Pipeline(mkcfg(risk={"day_roll_utc": "22:00"}, gates={"dd_day_pct_max": 5.0}), CAL))
    t0 = 100 * DAY_NS + 21 * 3600 * 10**9  # 21:00 UTC
    h.fill("o1", "SOLUSDT", "buy", 1.0, pnl=-600.0, now_ns=t0)
    assert run(h, req(symbol="ETHUSDT", cid="a"), state, now_ms=(t0 + 3600 * 10**9 - 1) // MS)[0] == "RISK_DAILY_DD"
    assert run(h, req(symbol="ETHUSDT", cid="b"), state, now_ms=(t0 + 3600 * 10**9) // MS)[0] is None  # 22:00


REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def testnet_h(harness):
    cfg = load_aurora("testnet", environ={}, root=REPO).config
    assert cfg.risk.size_scale == 0.5  # the shipped testnet scale this test is about
    return harness(Pipeline(cfg, CAL))


def test_reduce_only_close_is_not_scaled_by_size_scale(testnet_h, req, state):
    testnet_h.fill("o1", "SOLUSDT", "buy", 0.5)
    res, d = run(testnet_h, req(side="sell", qty=0.5, reduce_only=True, cid="close", price=100.0), state)
    assert res is None and d.max_qty == 0.5 and d.risk_scale == 1.0
    assert d.obs["risk"]["risk_reducing"] is True and d.obs["risk"]["max_qty"] == 0.5


def test_entry_is_still_scaled_on_testnet(testnet_h, req, state):
    res, d = run(testnet_h, req(qty=0.5, cid="entry"), state)
    assert res is None and d.max_qty == pytest.approx(0.25) and d.risk_scale == pytest.approx(0.5)


def test_exit_ignores_volatility_scaling(testnet_h, req, state):
    testnet_h.fill("o1", "SOLUSDT", "sell", 2.0)  # short 2
    # vol 4x the limit would scale an entry by 0.5 * 0.25; the closing buy keeps its whole size
    res, d = run(testnet_h, req(side="buy", qty=2.0, vol_std_bps=240.0, cid="x"), state)
    assert res is None and d.max_qty == 2.0 and d.risk_scale == 1.0
    res, d = run(testnet_h, req(symbol="ETHUSDT", qty=2.0, vol_std_bps=240.0, cid="y"), state)
    assert res is None and d.max_qty == pytest.approx(0.25) and d.risk_scale == pytest.approx(0.125)


def test_reduce_only_is_capped_at_the_position_less_exits_already_allowed(testnet_h, req, state):
    testnet_h.fill("o1", "SOLUSDT", "buy", 0.3)
    res, d = run(testnet_h, req(side="sell", qty=0.5, reduce_only=True, cid="big"), state)
    assert res is None and d.max_qty == pytest.approx(0.3) and d.risk_scale == 1.0
    # that allowed (unfilled) exit already uses the whole position
    assert testnet_h.pipeline.risk.classify(req(side="sell", qty=0.1, reduce_only=True, cid="more")) == (False, 0.0)


def test_reduce_only_that_would_open_or_grow_is_invalid(testnet_h, req):
    rm = testnet_h.pipeline.risk
    assert rm.classify(req(side="sell", qty=0.5, reduce_only=True)) == (False, 0.0)  # no known position
    testnet_h.fill("o1", "SOLUSDT", "buy", 2.0)
    assert rm.classify(req(side="buy", qty=5.0, reduce_only=True)) == (False, 0.0)  # would grow the long
    assert rm.classify(req(side="sell", qty=5.0, reduce_only=True)) == (True, 2.0)
    assert rm.classify(req(side="sell", qty=1.0)) == (True, 1.0)  # a plain sell within the long is an exit
    assert rm.classify(req(side="sell", qty=3.0)) == (False, 3.0)  # a flip is new risk
