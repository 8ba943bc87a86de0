from pathlib import Path

import pytest

from aurora.config.loader import load_aurora
from aurora.gate.risk_manager import RiskManager, cvar_loss_pct

MS = 1_000_000


@pytest.fixture
def rm(mkcfg):
    cfg = mkcfg(
        risk={"max_concurrent": 2, "equity_usd": 10_000, "max_notional_usd": 1_000, "max_orders_per_sec": 3,
              "duplicate_window_ms": 500, "price_collar_bps": 50, "size_scale": 1.0},
        gates={"dd_day_pct_max": 5.0, "cvar_day_pct_max": 1.0},
        guards={"vol_guard_std_bps": 60},
    )  # fmt: skip
    return RiskManager(cfg, wall_clock=lambda: 1_800_000_000.0)


def run(rm, r, state, now_ms=0, rr=None):
    d = state(r, rm.is_risk_reducing(r) if rr is None else rr)
    res = rm.check(r, d, now_ms * MS)
    if res is None:
        rm.on_allow(r, now_ms * MS)
    return res, d


def fill(rm, cid, symbol, side, qty, pnl=None):
    rm.on_order_event("SUBMIT", cid, {"symbol": symbol, "side": side, "qty": qty, "details": {}})
    details = {"fill_qty": qty}
    if pnl is not None:
        details["realized_pnl_usd"] = pnl
    return rm.on_order_event("FILL", cid, {"details": details})


def test_cvar_hand_computed():
    assert cvar_loss_pct([1, -2, 3, -4, 5, 0, 0, 0, 0, 0], 0.2) == pytest.approx(3.0)
    assert cvar_loss_pct([1, 2], 0.1) == 0.0
    assert cvar_loss_pct([], 0.1) == 0.0


def test_size_scale_and_volatility_scaling(mkcfg, req, state):
    rm = RiskManager(mkcfg(risk={"size_scale": 0.5}, guards={"vol_guard_std_bps": 60}))
    r = req(qty=2.0, vol_std_bps=120.0)
    res, d = run(rm, r, state)
    assert res is None and d.risk_scale == pytest.approx(0.25) and d.max_qty == pytest.approx(0.5)
    rm0 = RiskManager(mkcfg(risk={"size_scale": 0.0}))
    assert run(rm0, req(), state)[0] == "RISK_SIZE_ZERO"


def test_daily_drawdown_at_limit_denies_risk_increasing_only(rm, req, state):
    fill(rm, "o1", "SOLUSDT", "buy", 1.0, pnl=100.0)  # peak +100
    upd = fill(rm, "o2", "SOLUSDT", "sell", 1.0, pnl=-500.0)  # 500 below the peak = 5% of 10k
    assert upd["dd_pct"] == pytest.approx(5.0)
    res, d = run(rm, req(symbol="ETHUSDT"), state)
    assert res == "RISK_DAILY_DD" and d.obs["risk"]["dd_pct"] == pytest.approx(5.0)
    # a reduce-only order still passes
    assert run(rm, req(symbol="ETHUSDT", reduce_only=True, cid="r1"), state)[0] is None


def test_drawdown_just_under_limit_passes(rm, req, state):
    fill(rm, "o1", "SOLUSDT", "buy", 1.0, pnl=-499.0)
    assert run(rm, req(symbol="ETHUSDT"), state)[0] is None


def test_cvar_limit(rm, req, state):
    for i in range(9):
        fill(rm, f"w{i}", "SOLUSDT", "buy", 1.0, pnl=10.0)
    assert run(rm, req(symbol="XUSDT", cid="a"), state)[0] is None  # fewer than 10 trades: not judged
    fill(rm, "l1", "SOLUSDT", "sell", 9.0, pnl=-150.0)  # worst 1 of 10 = -1.5% > 1%
    assert rm.cvar_pct == pytest.approx(1.5)
    assert run(rm, req(symbol="XUSDT", cid="b"), state, now_ms=1000)[0] == "RISK_CVAR"


def test_max_concurrent_positions(rm, req, state):
    fill(rm, "o1", "AUSDT", "buy", 1.0)
    fill(rm, "o2", "BUSDT", "sell", 1.0)
    assert rm.positions == {"AUSDT": 1.0, "BUSDT": -1.0}
    assert run(rm, req(symbol="CUSDT"), state)[0] == "RISK_MAX_CONCURRENT"
    assert run(rm, req(symbol="AUSDT", cid="add"), state)[0] is None  # adding to an open one is fine
    # closing B (a risk-reducing buy) frees a slot
    assert rm.is_risk_reducing(req(symbol="BUSDT", side="buy", qty=1.0))
    fill(rm, "o3", "BUSDT", "buy", 1.0)
    assert run(rm, req(symbol="CUSDT", cid="c"), state, now_ms=2000)[0] is None


def test_live_submitted_orders_count_as_open(rm, req, state):
    rm.on_order_event("SUBMIT", "s1", {"symbol": "AUSDT", "side": "buy", "qty": 1, "details": {}})
    rm.on_order_event("SUBMIT", "s2", {"symbol": "BUSDT", "side": "buy", "qty": 1, "details": {}})
    assert run(rm, req(symbol="CUSDT"), state)[0] == "RISK_MAX_CONCURRENT"
    rm.on_order_event("REJECT", "s2", {"details": {"reason": "x"}})
    assert run(rm, req(symbol="CUSDT"), state)[0] is None


def test_max_notional(rm, req, state):
    assert run(rm, req(qty=10.0, price=100.0), state)[0] is None  # exactly 1000
    res, d = run(rm, req(qty=10.01, price=100.0, cid="n2"), state, now_ms=1000)
    assert res == "RISK_MAX_NOTIONAL" and d.max_qty == pytest.approx(10.0)


def test_price_collar(rm, req, state):
    # mid 100.005; 50 bps -> 100.505
    assert run(rm, req(price=100.5, cid="p1"), state)[0] is None
    assert run(rm, req(price=100.6, cid="p2"), state, now_ms=1000)[0] == "RISK_PRICE_COLLAR"
    assert run(rm, req(price=99.4, side="sell", cid="p3"), state, now_ms=2000)[0] == "RISK_PRICE_COLLAR"
    assert run(rm, req(price=None, order_type="market", cid="p4"), state, now_ms=3000)[0] is None


def test_rate_throttle_per_account(rm, req, state):
    for i in range(3):
        assert run(rm, req(cid=f"t{i}", qty=1 + i), state, now_ms=i * 10)[0] is None
    res, d = run(rm, req(cid="t3", qty=9), state, now_ms=100)
    assert res == "RISK_RATE_LIMIT" and d.cooldown_ms == pytest.approx(900)
    assert run(rm, req(cid="t4", qty=9, account_id="other"), state, now_ms=100)[0] is None
    assert run(rm, req(cid="t5", qty=9), state, now_ms=1001)[0] is None  # the first one left the 1 s window


def test_duplicates(rm, req, state):
    assert run(rm, req(cid="d1"), state)[0] is None
    assert run(rm, req(cid="d1", qty=2.0), state, now_ms=5000)[0] == "RISK_DUPLICATE"
    assert run(rm, req(cid="d2"), state, now_ms=100)[0] == "RISK_DUPLICATE"  # same side/price/qty in 500 ms
    assert run(rm, req(cid="d3"), state, now_ms=700)[0] is None  # window passed


def test_day_rollover_resets_pnl(mkcfg):
    now = [1_800_000_000.0]
    rm = RiskManager(mkcfg(), wall_clock=lambda: now[0])
    rm.record_realized(-300.0)
    assert rm.pnl_usd == -300.0
    now[0] += 86_400
    rm._roll()
    assert rm.pnl_usd == 0.0 and rm.drawdown_pct() == 0.0


REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def testnet_rm():
    cfg = load_aurora("testnet", environ={}, root=REPO).config
    assert cfg.risk.size_scale == 0.5  # the shipped testnet scale this test is about
    return RiskManager(cfg, wall_clock=lambda: 1_800_000_000.0)


def test_reduce_only_close_is_not_scaled_by_size_scale(testnet_rm, req, state):
    fill(testnet_rm, "o1", "SOLUSDT", "buy", 0.5)
    res, d = run(testnet_rm, req(side="sell", qty=0.5, reduce_only=True, cid="close", price=100.0), state)
    assert res is None and d.max_qty == 0.5 and d.risk_scale == 1.0
    assert d.obs["risk"]["risk_reducing"] is True and d.obs["risk"]["max_qty"] == 0.5


def test_entry_is_still_scaled_on_testnet(testnet_rm, req, state):
    res, d = run(testnet_rm, req(qty=0.5, cid="entry"), state)
    assert res is None and d.max_qty == pytest.approx(0.25) and d.risk_scale == pytest.approx(0.5)


def test_exit_ignores_volatility_scaling(testnet_rm, req, state):
    fill(testnet_rm, "o1", "SOLUSDT", "sell", 2.0)  # short 2
    # vol 4x the limit would scale an entry by 0.5 * 0.25; the closing buy keeps its whole size
    res, d = run(testnet_rm, req(side="buy", qty=2.0, vol_std_bps=240.0, cid="x"), state)
    assert testnet_rm.is_risk_reducing(req(side="buy", qty=2.0))
    assert res is None and d.max_qty == 2.0 and d.risk_scale == 1.0
    res, d = run(testnet_rm, req(symbol="ETHUSDT", qty=2.0, vol_std_bps=240.0, cid="y"), state)
    assert res is None and d.max_qty == pytest.approx(0.25) and d.risk_scale == pytest.approx(0.125)


def test_reduce_only_is_capped_at_the_open_position(testnet_rm, req, state):
    fill(testnet_rm, "o1", "SOLUSDT", "buy", 0.3)
    res, d = run(testnet_rm, req(side="sell", qty=0.5, reduce_only=True, cid="big"), state)
    assert res is None and d.max_qty == pytest.approx(0.3) and d.risk_scale == 1.0
    # just under the position: the whole order
    res, d = run(testnet_rm, req(side="sell", qty=0.29, reduce_only=True, cid="small"), state, now_ms=1000)
    assert res is None and d.max_qty == pytest.approx(0.29)


def test_reduce_only_without_a_known_position_is_not_blocked(testnet_rm, req, state):
    # fills not posted yet (or a restarted gate): the venue's reduce-only flag bounds the order
    res, d = run(testnet_rm, req(side="sell", qty=0.5, reduce_only=True, cid="r"), state)
    assert res is None and d.max_qty == 0.5 and d.risk_scale == 1.0
