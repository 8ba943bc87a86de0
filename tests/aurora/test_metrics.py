from prometheus_client.parser import text_string_to_metric_families

from aurora.metrics import GateMetrics


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
