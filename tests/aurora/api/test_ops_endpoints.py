import time

from prometheus_client.parser import text_string_to_metric_families

from .conftest import QUIET, TEST_CALIBRATION_PATH, check_body


def test_status_reports_state(live):
    st = live.ops("/ops/status", "GET").json()
    assert st["armed"] is True and st["halted"] is False and st["health_state"] == "OK"
    assert st["kill_switch"]["active"] is False and st["config_version"] == live.gate.version
    assert st["calibration"]["kind"] == "isotonic"


def test_production_starts_disarmed(gate_factory):
    live = gate_factory(QUIET, mode="production")
    assert live.client.get("/health").json()["armed"] is False
    assert live.post("/pretrade/check", check_body()).json()["reason"] == "DISARMED"
    live.ops("/aurora/arm")
    assert live.post("/pretrade/check", check_body(cid="c2")).json()["allow"] is True


def test_reload_validates_then_swaps_and_emits_config_switched(gate_factory, project):
    live = gate_factory(QUIET)
    old_version = live.client.get("/health").json()["config_version"]
    path = project / "configs" / "aurora" / "gate_test.yaml"
    cal = f"calibration:\n  path: {TEST_CALIBRATION_PATH}\n"
    path.write_text("risk:\n  max_orders_per_sec: 10000\nkillswitch:\n  min_outcomes: 10000\nguards:\n  spread_bps_limit: 0.5\n" + cal)
    r = live.ops("/ops/reload")
    assert r.status_code == 200 and r.json()["ok"] is True
    (sw,) = live.events("CONFIG.SWITCHED")
    d = sw["details"]
    assert d["name"] == "development" and d["path"].endswith("gate_test.yaml") and len(d["checksum"]) == 64
    assert d["previous_version"] == old_version and d["config_version"] != old_version
    assert live.client.get("/health").json()["config_version"] == d["config_version"]
    assert live.post("/pretrade/check", check_body(cid="s1")).json()["reason"] == "SPREAD_GUARD"
    # an invalid file: refused, the running config stays, readiness says why
    path.write_text("guards:\n  spread_bps_limit: -3\n  not_a_key: 1\n")
    r = live.ops("/ops/reload")
    assert r.status_code == 409 and r.json()["ok"] is False
    assert any(i.get("key") == "guards.spread_bps_limit" for i in r.json()["issues"])
    assert live.client.get("/health").json()["config_version"] == d["config_version"]
    ready = live.ops("/readiness", "GET")
    assert ready.status_code == 503 and "config invalid (last reload failed)" in ready.json()["reasons"]
    assert live.events("CONFIG.RELOAD_FAILED")
    path.write_text("risk:\n  max_orders_per_sec: 10000\nkillswitch:\n  min_outcomes: 10000\n" + cal)
    assert live.ops("/ops/reload").status_code == 200
    assert live.ops("/readiness", "GET").status_code == 200


def test_readiness_false_while_halted_and_log_dir_unwritable(live):
    live.gate.pipeline.health.state = live.gate.pipeline.health.state.__class__("HALT")
    r = live.ops("/readiness", "GET")
    assert r.status_code == 503 and "halted" in r.json()["reasons"]
    live.ops("/ops/reset")
    live.session_dir.chmod(0o500)
    try:
        import os

        if os.geteuid() != 0:  # root can write anyway
            r = live.ops("/readiness", "GET")
            assert r.status_code == 503 and "log dir unwritable" in r.json()["reasons"]
    finally:
        live.session_dir.chmod(0o755)


def test_metrics_exposition_parses_and_names(live):
    live.post("/pretrade/check", check_body(cid="m1"))
    live.post("/pretrade/check", check_body(cid="m2", qty=2.0, spread_bps=99.0, tp_bps=500.0))
    live.ops("/ops/status", "GET", token="bad")
    text = live.client.get("/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for name in ("aurora_events_emitted", "aurora_orders_success", "aurora_orders_rejected", "aurora_orders_denied",
                 "aurora_ops_auth_fail", "aurora_ops_token_rotations", "aurora_decision_duration_seconds",
                 "aurora_order_submit_ack_seconds", "aurora_armed", "aurora_halted", "aurora_health_state",
                 "aurora_kill_switch_tripped"):  # fmt: skip
        assert name in families, name
    denied = {s.labels["reason"]: s.value for s in families["aurora_orders_denied"].samples if s.name.endswith("_total")}
    assert denied == {"SPREAD_GUARD": 1.0}
    emitted = {s.labels["code"]: s.value for s in families["aurora_events_emitted"].samples if s.name.endswith("_total")}
    assert emitted["POLICY_DECISION"] == 2.0 and emitted["GOVERNANCE.DENY"] == 1.0
    hist = {s.name: s.value for s in families["aurora_decision_duration_seconds"].samples}
    assert hist["aurora_decision_duration_seconds_count"] == 2.0
    assert [s.value for s in families["aurora_armed"].samples] == [1.0]
    time.sleep(0)  # no per-order labels anywhere:
    assert "cid=" not in text and "m1" not in text


def test_an_event_log_failure_after_an_ops_change_is_503_never_500(live, monkeypatch):
    def full(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(live.gate.events, "emit", full)
    r = live.ops("/aurora/disarm")
    assert r.status_code == 503 and "state journal" in r.json()["detail"] and r.json()["ok"] is False
    assert live.gate.pipeline.armed is False  # the change itself is durable and in force
    # a stranger is still told 401 (the refusal's event is best effort)
    assert live.client.get("/ops/status", headers={"X-OPS-TOKEN": "wrong"}).status_code == 401
