import math
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.utils import floatToGoString

from aurora.metrics import ACK_BUCKETS, DECISION_BUCKETS, GateMetrics
from oneclick.dashboard_model import MetricsView, histogram_ms


def test_names_follow_conventions_and_registries_are_isolated():
    a, b = GateMetrics(), GateMetrics()
    a.event("POLICY_DECISION")
    a.event("POLICY_DECISION")
    a.decision(False, "SPREAD_GUARD", 12e-6)
    a.decision(True, "OK", 8e-6)
    fams = {f.name: f for f in text_string_to_metric_families(a.exposition().decode())}
    assert fams["aurora_events_emitted"].type == "counter"
    assert fams["aurora_decision_duration_seconds"].type == "histogram"
    assert fams["aurora_health_state"].type == "gauge"
    vals = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in fams.values() for s in f.samples}
    assert vals[("aurora_events_emitted_total", (("code", "POLICY_DECISION"),))] == 2.0
    assert vals[("aurora_orders_denied_total", (("reason", "SPREAD_GUARD"),))] == 1.0
    assert vals[("aurora_decisions_total", (("result", "allow"),))] == 1.0
    assert vals[("aurora_decision_duration_seconds_count", ())] == 2.0
    other = b.exposition().decode()
    assert 'aurora_events_emitted_total{code="POLICY_DECISION"}' not in other


@pytest.mark.parametrize("hist, lo, hi", [("decision_seconds", 5e-6, 5e-3), ("submit_ack_seconds", 1e-3, 10.0)])
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    median_pos=st.floats(0.0, 1.0),
    sigma=st.floats(0.05, 1.2),
    tail_share=st.sampled_from([0.0, 0.02, 0.05]),
    tail_factor=st.floats(2.0, 30.0),
    seed=st.integers(0, 2**31),
)
def test_bucket_quantiles_track_the_true_ones(hist, lo, hi, median_pos, sigma, tail_share, tail_factor, seed):
    """p50/p99 as the one-click dashboard derives them from the buckets are within 25% of the true ones."""
    rng = np.random.default_rng(seed)
    median = math.exp(math.log(lo) + median_pos * (math.log(hi) - math.log(lo)))
    n = 4000
    x = rng.lognormal(math.log(median), sigma, n)
    slow = rng.random(n) < tail_share  # a slow mode (GC pause, disk stall) that moves the p99
    x[slow] *= tail_factor
    m = GateMetrics()
    h = getattr(m, hist)
    for v in x.tolist():
        h.observe(v)
    view = MetricsView.parse(m.exposition().decode())
    p50_ms, p99_ms = histogram_ms(view, h.name)
    assert view.histogram(h.name).count == n
    for q, est_ms in ((50, p50_ms), (99, p99_ms)):
        true = float(np.percentile(x, q))
        if lo <= true <= hi:
            assert est_ms / 1000 == pytest.approx(true, rel=0.25), (q, true, est_ms)


def test_histogram_boundaries_and_exposition():
    m = GateMetrics()
    b = DECISION_BUCKETS
    assert b[0] <= 5e-6 and max(y / x for x, y in pairwise(b) if y <= 5e-3 * 1.25) < 1.22
    assert ACK_BUCKETS[0] <= 1e-3 and max(y / x for x, y in pairwise(ACK_BUCKETS) if y <= 10.0) < 1.22
    m.decision_seconds.observe(b[3])  # exactly on a bound: counted in that bucket (le = less or equal)
    m.decision_seconds.observe(5.0)  # beyond the last bound: only +Inf
    fam = {f.name: f for f in text_string_to_metric_families(m.exposition().decode())}
    samples = fam["aurora_decision_duration_seconds"].samples
    cum = {s.labels["le"]: s.value for s in samples if s.name.endswith("_bucket")}
    assert cum[floatToGoString(b[2])] == 0 and cum[floatToGoString(b[3])] == 1
    assert cum[floatToGoString(b[-1])] == 1 and cum["+Inf"] == 2
    total = {s.name: s.value for s in samples if not s.name.endswith("_bucket")}
    assert total["aurora_decision_duration_seconds_count"] == 2
    assert total["aurora_decision_duration_seconds_sum"] == pytest.approx(5.0 + b[3])
