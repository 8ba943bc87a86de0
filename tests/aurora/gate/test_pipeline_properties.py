"""Wide inputs: whatever a (schema-valid) request holds, the pipeline answers with a known reason code,
never raises, and never allows more than was asked."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aurora.config.models import AuroraConfig
from aurora.gate.guard import CheckRequest, Reason
from aurora.gate.pipeline import Pipeline

from .conftest import TEST_CALIBRATION

CAL = TEST_CALIBRATION
pos = st.floats(1e-6, 1e9, allow_nan=False, allow_infinity=False)
nonneg = st.floats(0, 1e9, allow_nan=False, allow_infinity=False)
vols = st.lists(nonneg, max_size=8)

requests = st.builds(
    CheckRequest,
    account_id=st.sampled_from(["a", "b"]),
    symbol=st.sampled_from(["SOLUSDT", "SOONUSDT"]),
    side=st.sampled_from(["buy", "sell"]),
    qty=pos,
    best_bid=pos,
    best_ask=pos,
    bid_size=nonneg,
    ask_size=nonneg,
    spread_bps=nonneg,
    latency_ms=nonneg,
    vol_std_bps=nonneg,
    score=st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
    tp_bps=pos,
    sl_bps=pos,
    l2_add_volumes=vols,
    l2_cancel_volumes=vols,
    sprt_samples=st.none() | st.lists(st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False), max_size=30),
    price=st.none() | pos,
    order_type=st.sampled_from(["limit", "market"]),
    reduce_only=st.booleans(),
    cid=st.none() | st.text(min_size=1, max_size=8),
)

_cfg = AuroraConfig().model_dump()
_cfg["killswitch"]["min_outcomes"] = 10**6  # keep every guard reachable (no kill-switch short-cut)
_cfg["risk"]["max_orders_per_sec"] = 10**6
_cfg["aurora"]["latency_guard_ms"] = 1e12  # HealthGuard escalation has its own tests
PIPE = Pipeline(AuroraConfig.model_validate(_cfg), CAL)
CODES = {r.value for r in Reason}
CLOCK = [0]  # the gate clock across examples: it only moves forward


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(r=requests, dt=st.integers(0, 10**9))
def test_any_valid_request_gets_a_known_answer(r, dt):
    CLOCK[0] += dt
    dec = PIPE.decide(r, CLOCK[0])
    assert dec.reason in CODES
    assert dec.reason != "GUARD_ERROR", dec.observability
    assert dec.allow == (dec.reason == "OK")
    assert 0.0 <= dec.max_qty <= r.qty + 1e-9
    if dec.allow:
        assert dec.max_qty > 0
    else:
        assert dec.max_qty == 0.0

