import pytest

from aurora.gate.latency_guard import LatencyGuard


@pytest.mark.parametrize("latency, allowed", [(0.0, True), (149.999, True), (150.0, True), (150.001, False), (1e6, False)])
def test_latency_limit_is_inclusive(latency, allowed, mkcfg, req, state):
    g = LatencyGuard(mkcfg(guards={"latency_ms_limit": 150}))
    r = req(latency_ms=latency)
    d = state(r)
    assert (g.check(r, d, 0) is None) is allowed
    assert d.obs["latency"] == {"latency_ms": latency, "limit_ms": 150.0, "key": "guards.latency_ms_limit", "pass": allowed}
    if not allowed:
        assert g.check(r, state(r), 0) == "LATENCY_GUARD"


def test_reconfigure_changes_threshold(mkcfg, req, state):
    g = LatencyGuard(mkcfg())
    r = req(latency_ms=400)
    assert g.check(r, state(r), 0) is None
    g.configure(mkcfg(guards={"latency_ms_limit": 300}))
    assert g.check(r, state(r), 0) == "LATENCY_GUARD"
