import math

import pytest

from aurora.gate.sprt_guard import SprtGuard


def wald(alpha, beta):
    return math.log((1 - beta) / alpha), math.log(beta / (1 - alpha))


def test_bounds_match_hand_computed_wald(mkcfg):
    g = SprtGuard(mkcfg(sprt={"alpha": 0.05, "beta": 0.1, "A": None, "B": None}))
    A, B = wald(0.05, 0.1)
    assert g.A == pytest.approx(A) and g.B == pytest.approx(B)
    assert A == pytest.approx(2.8903718) and B == pytest.approx(-2.2512918)


@pytest.mark.parametrize(("x", "sigma", "llr"), [(1.0, 1.0, 0.5), (0.0, 2.0, -0.125)])
def test_llr_step_gaussian(mkcfg, req, state, x, sigma, llr):
    # one sample adds (mu1-mu0)(x-(mu0+mu1)/2)/sigma^2, here with mu0=0, mu1=1
    g = SprtGuard(mkcfg(sprt={"A": 100.0, "B": -100.0, "mu0": 0.0, "mu1": 1.0, "sigma": sigma}))
    r = req(sprt_samples=[x])
    d = state(r)
    g.check(r, d, 0)
    assert d.obs["sprt"]["n"] == 1 and d.obs["sprt"]["llr"] == llr


def test_accept_h1_exactly_at_the_bound(mkcfg, req, state):
    # A = 2.0: four samples of 1.0 give llr 0.5 each -> reaches exactly 2.0 on the 4th
    g = SprtGuard(mkcfg(sprt={"A": 2.0, "B": -2.0, "mu0": 0.0, "mu1": 1.0, "sigma": 1.0}))
    r = req(sprt_samples=[1.0, 1.0, 1.0, 1.0, -50.0])
    d = state(r)
    assert g.check(r, d, 0) is None
    assert d.obs["sprt"]["verdict"] == "H1" and d.obs["sprt"]["n"] == 4 and d.obs["sprt"]["llr"] == 2.0


def test_just_below_upper_bound_is_undecided(mkcfg, req, state):
    g = SprtGuard(mkcfg(sprt={"A": 2.0001, "B": -2.0, "on_undecided": "deny"}))
    r = req(sprt_samples=[1.0] * 4)
    d = state(r)
    assert g.check(r, d, 0) == "SPRT_REJECT" and d.obs["sprt"]["verdict"] == "undecided"
    g.configure(g_cfg := mkcfg(sprt={"A": 2.0001, "B": -2.0, "on_undecided": "allow"}))
    assert g_cfg.sprt.on_undecided == "allow"
    assert g.check(r, state(r), 0) is None


def test_accept_h0_rejects(mkcfg, req, state):
    A, B = wald(0.05, 0.1)
    g = SprtGuard(mkcfg(sprt={"A": A, "B": B}))
    # each 0.0 sample adds -0.5: B = -2.2513 is crossed on the 5th sample
    r = req(sprt_samples=[0.0] * 10)
    d = state(r)
    assert g.check(r, d, 0) == "SPRT_REJECT"
    assert d.obs["sprt"]["verdict"] == "H0" and d.obs["sprt"]["n"] == 5


def test_max_obs_stops_the_test(mkcfg, req, state):
    g = SprtGuard(mkcfg(sprt={"max_obs": 3, "on_undecided": "deny"}))
    r = req(sprt_samples=[0.5] * 100)  # llr stays 0
    d = state(r)
    assert g.check(r, d, 0) == "SPRT_REJECT" and d.obs["sprt"]["n"] == 3


def test_no_samples_or_disabled_passes(mkcfg, req, state):
    g = SprtGuard(mkcfg())
    r = req(sprt_samples=None)
    d = state(r)
    assert g.check(r, d, 0) is None and d.obs["sprt"]["tested"] is False
    g.configure(mkcfg(sprt={"enabled": False}))
    r = req(sprt_samples=[0.0] * 10)
    assert g.check(r, state(r), 0) is None


def test_timeout_is_checked_every_64_samples(mkcfg, req, state):
    g = SprtGuard(mkcfg(sprt={"max_obs": 10_000, "timeout_ms": 0.0, "on_undecided": "deny"}))
    flat = [0.5] * 1000  # x == (mu0 + mu1) / 2: the LLR never moves
    r = req(sprt_samples=flat)
    d = state(r)
    assert g.check(r, d, 0) == "SPRT_REJECT"
    assert d.obs["sprt"]["verdict"] == "timeout" and d.obs["sprt"]["n"] == 64
    r = req(sprt_samples=flat[:63])  # a short test never reads the clock: undecided, not timed out
    d = state(r)
    assert g.check(r, d, 0) == "SPRT_REJECT" and d.obs["sprt"]["verdict"] == "undecided"
    assert d.obs["sprt"]["n"] == 63
