import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aurora.gate.health_guard import HealthGuard, HealthState
from aurora.stats import percentile

from .conftest import make_cfg

S = 1_000_000_000
EMITTED: dict[int, list] = {}  # id(guard) -> the events its emit callback saw


@pytest.fixture
def guard(mkcfg):
    events = []
    cfg = mkcfg(
        aurora={
            "latency_guard_ms": 30,
            "latency_window_sec": 60,
            "cooloff_base_sec": 10,
            "halt_threshold_repeats": 2,
            "min_samples": 5,
            "warn_grace_sec": 1.0,
        }
    )
    g = HealthGuard(cfg, emit=lambda code, details=None, **kw: events.append((str(code), details)), eval_period_ms=0)
    EMITTED[id(g)] = events
    return g


def step(g, req, state, t_s, latency=None):
    r = req(latency_ms=latency if latency is not None else 1.0)
    if latency is not None:
        g.observe(latency, int(t_s * S))
    d = state(r)
    return g.check(r, d, int(t_s * S)), d


def emitted(g):
    """What ``g`` emitted (a compiled guard takes no attribute of a test's)."""
    return EMITTED[id(g)]


def codes(g):
    return [c for c, _ in emitted(g)]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([1.0, 9.0, 10.0, 10.5, 11.0, 50.0]), min_size=1, max_size=60))
def test_is_high_is_exactly_the_shared_p95_above_the_limit(latencies):
    """The O(1) running count answers "p95 > limit" as aurora.stats' linear p95 does, at every window."""
    g = HealthGuard(make_cfg(aurora={"latency_guard_ms": 10.0, "min_samples": 1}))
    for i, v in enumerate(latencies):
        g.observe(v, i)
        p95 = percentile([x for _, x in g.samples], 95)
        assert g.is_high() == (p95 > 10.0), (latencies[: i + 1], p95)
        assert g.p95() == p95


def test_exactly_at_limit_is_healthy(guard, req, state):
    for i in range(20):
        guard.observe(30.0, i * S // 10)
    assert guard.check(req(), state(req()), 2 * S) is None
    assert guard.state is HealthState.OK and guard.p95() == 30.0 and guard.n_high == 0


def test_too_few_samples_never_escalate(guard, req, state):
    for i in range(4):
        guard.observe(1000.0, i)
    assert guard.check(req(), state(req()), 10) is None
    assert guard.state is HealthState.OK and guard.p95() is None


def test_escalation_sequence_warn_cooloff_doubling_halt_and_reset(guard, req, state):
    for i in range(20):
        guard.observe(100.0, int(i * 0.01 * S))
    # OK -> WARN (still allowed), event HEALTH.LATENCY_P95_HIGH
    result, d = step(guard, req, state, 1.0)
    assert result is None and guard.state is HealthState.WARN
    assert "HEALTH.LATENCY_P95_HIGH" in codes(guard)
    assert d.obs["health"]["p95_ms_at_change"] == 100.0 and d.obs["health"]["above_limit"] == 20
    # within the grace: still WARN
    assert step(guard, req, state, 1.9)[0] is None and guard.state is HealthState.WARN
    # past the grace: COOL_OFF #1 for the base 10 s
    result, d = step(guard, req, state, 2.1, latency=100.0)
    assert result == "HEALTH_COOL_OFF" and guard.cooloffs == 1
    assert d.cooldown_ms == pytest.approx(10_000, abs=1)
    assert step(guard, req, state, 11.0, latency=100.0)[0] == "HEALTH_COOL_OFF"
    # cool-off over -> WARN probation; still high after the grace -> COOL_OFF #2, doubled (20 s)
    assert step(guard, req, state, 12.2, latency=100.0)[0] is None and guard.state is HealthState.WARN
    result, d = step(guard, req, state, 13.3, latency=100.0)
    assert result == "HEALTH_COOL_OFF" and guard.cooloffs == 2
    assert d.cooldown_ms == pytest.approx(20_000, abs=1)
    # after the second cool-off and the grace: HALT (halt_threshold_repeats = 2)
    assert step(guard, req, state, 33.4, latency=100.0)[0] is None
    assert step(guard, req, state, 34.5, latency=100.0)[0] == "HALTED"
    assert guard.state is HealthState.HALT
    assert step(guard, req, state, 500.0, latency=1.0)[0] == "HALTED"  # only ops clear a HALT
    cool = [d for c, d in emitted(guard) if c == "AURORA.COOL_OFF"]
    assert [c["duration_s"] for c in cool] == [10.0, 20.0]
    transitions = [(d["from"], d["to"]) for c, d in emitted(guard) if c == "AURORA.ESCALATION"]
    assert transitions == [
        ("OK", "WARN"), ("WARN", "COOL_OFF"), ("COOL_OFF", "WARN"), ("WARN", "COOL_OFF"),
        ("COOL_OFF", "WARN"), ("WARN", "HALT"),
    ]  # fmt: skip
    guard.reset(501 * S)
    assert guard.state is HealthState.OK and guard.cooloffs == 0
    assert step(guard, req, state, 502.0, latency=1.0)[0] is None


def test_recovery_returns_to_ok_and_forgets_repeats(guard, req, state):
    for i in range(20):
        guard.observe(100.0, i)
    step(guard, req, state, 0.5)
    step(guard, req, state, 2.0)
    assert guard.state is HealthState.COOL_OFF and guard.cooloffs == 1
    # latencies drop: the old samples leave the 60 s window, the new ones are fast
    for i in range(20):
        guard.observe(2.0, int((70 + i * 0.1) * S))
    assert step(guard, req, state, 72.0)[0] is None
    assert guard.state is HealthState.OK and guard.cooloffs == 1
    for i in range(20):
        guard.observe(2.0, int((135 + i * 0.1) * S))
    step(guard, req, state, 137.0)
    assert guard.cooloffs == 0  # a whole healthy window forgets earlier cool-offs


def test_ops_cooloff_forces_a_deny(guard, req, state):
    guard.start_cooloff(5, 0, source="ops")
    assert step(guard, req, state, 4.9)[0] == "HEALTH_COOL_OFF"
    assert guard.cooloffs == 0  # an operator's cool-off is not an escalation repeat
    assert step(guard, req, state, 5.1)[0] is None
