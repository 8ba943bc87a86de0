import pytest

from aurora.gate.spread_guard import SpreadGuard


@pytest.mark.parametrize("spread, allowed", [(0.0, True), (7.99, True), (8.0, True), (8.0001, False), (500.0, False)])
def test_spread_exactly_at_limit_passes(spread, allowed, mkcfg, req, state):
    events = []
    g = SpreadGuard(mkcfg(guards={"spread_bps_limit": 8}), emit=lambda *a, **k: events.append((a, k)))
    r = req(spread_bps=spread, cid="c-1")
    d = state(r)
    d.spread_bps = spread  # as the market guard computed it from the book
    result = g.check(r, d, 0)
    assert result == (None if allowed else "SPREAD_GUARD")
    assert d.obs["spread"]["limit_bps"] == 8.0 and d.obs["spread"]["pass"] is allowed
    if allowed:
        assert events == []
    else:
        (args, kwargs), = events
        assert args[0] == "SPREAD_GUARD_TRIP"
        assert args[1] == {"spread_bps": spread, "limit_bps": 8.0}
        assert kwargs == {"symbol": "SOLUSDT", "cid": "c-1"}
