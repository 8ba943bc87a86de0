import math

from aurora.gate.trap_guard import TrapGuard

MS = 1_000_000


def feed(g, req, state, n, t0_ms, add, cancel, step_ms=10, symbol="SOLUSDT"):
    res = None
    for i in range(n):
        r = req(symbol=symbol, l2_add_volumes=add(i), l2_cancel_volumes=cancel(i))
        res = g.check(r, state(r), (t0_ms + i * step_ms) * MS)
    return res


def noisy(base, amp, phase=0.0):
    return lambda i: [base + amp * math.sin(i * 1.7 + k + phase) for k in range(5)]


def test_vanishing_liquidity_is_denied(mkcfg, req, state):
    g = TrapGuard(mkcfg(trap={"window_s": 2.0, "levels": 5, "z_threshold": 2.2, "cancel_pctl": 90}))
    assert feed(g, req, state, 100, 0, noisy(10, 2), noisy(10, 2, 2.0)) is None
    # cancels spike while nobody replenishes: huge z and cancel volume above the 90th percentile
    r = req(l2_add_volumes=[0.5] * 5, l2_cancel_volumes=[60.0] * 5)
    d = state(r)
    assert g.check(r, d, 1000 * MS) == "TRAP_GUARD"
    o = d.obs["trap"]
    assert o["z"] > 2.2 and o["cancel"] > o["cancel_pctl_value"] and o["pass"] is False


def test_high_z_but_cancel_rate_not_extreme_passes(mkcfg, req, state):
    g = TrapGuard(mkcfg())
    feed(g, req, state, 100, 0, noisy(10, 2), noisy(10, 2, 2.0))
    # imbalance is extreme (no adds) but the cancel volume is ordinary: both conditions are needed
    r = req(l2_add_volumes=[0.0] * 5, l2_cancel_volumes=[9.0] * 5)
    d = state(r)
    assert g.check(r, d, 1000 * MS) is None
    assert d.obs["trap"]["z"] > 2.2


def test_levels_beyond_config_are_ignored(mkcfg, req, state):
    g = TrapGuard(mkcfg(trap={"levels": 2}))
    r = req(l2_add_volumes=[1, 1, 100, 100, 100], l2_cancel_volumes=[3, 3, 0, 0, 0])
    d = state(r)
    g.check(r, d, 0)
    assert d.obs["trap"]["add"] == 2 and d.obs["trap"]["cancel"] == 6


def test_window_is_per_symbol_and_expires(mkcfg, req, state):
    g = TrapGuard(mkcfg(trap={"window_s": 1.0}))
    feed(g, req, state, 50, 0, noisy(10, 2), noisy(10, 2), symbol="AAAUSDT")
    assert len(g.windows["AAAUSDT"].samples) == 50
    r = req(symbol="BBBUSDT")
    d = state(r)
    g.check(r, d, 600 * MS)
    assert d.obs["trap"]["samples"] == 0 and d.obs["trap"]["warming_up"] is True
    r = req(symbol="AAAUSDT")
    d = state(r)
    g.check(r, d, 5000 * MS)  # everything older than 1 s is gone
    assert d.obs["trap"]["samples"] == 0
    assert g.windows["AAAUSDT"].sum_x == 0 or len(g.windows["AAAUSDT"].samples) == 1


def test_disabled_guard_passes(mkcfg, req, state):
    g = TrapGuard(mkcfg(guards={"trap_guard_enabled": False}))
    r = req(l2_add_volumes=[0.0] * 5, l2_cancel_volumes=[1e6] * 5)
    d = state(r)
    assert g.check(r, d, 0) is None and d.obs["trap"]["enabled"] is False
