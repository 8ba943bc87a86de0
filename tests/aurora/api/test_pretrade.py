import time

import jsonschema
import pytest

from aurora.events.logger import load_event_schema
from tests.support.faults import CrashingPipeline, raising_trap

from .conftest import QUIET, check_body


def test_allow_path_writes_decision_events(live):
    r = live.post("/pretrade/check", check_body(cid="ok-1", sprt_samples=[1.5] * 8))
    assert r.status_code == 200
    body = r.json()
    assert body["allow"] is True and body["reason"] == "OK" and body["max_qty"] == 1.0
    assert set(body) == {"allow", "max_qty", "risk_scale", "cooldown_ms", "reason", "observability", "trading_state",
                         "state_seq"}
    assert body["trading_state"] == "ACTIVE"
    assert set(body["observability"]) == {
        "market", "instrument", "latency", "health", "trap", "expected_return", "slippage", "risk", "sprt", "spread",
    }  # fmt: skip
    (dec,) = live.events("POLICY_DECISION")
    assert dec["cid"] == "ok-1" and dec["symbol"] == "SOLUSDT" and dec["side"] == "buy" and dec["qty"] == 1.0
    d = dec["details"]
    assert d["allow"] is True and d["reason"] == "OK" and d["reduce_only"] is False and d["decision_us"] > 0
    # the market inputs the session summary judges its gates on, straight from the request
    m = check_body()["market"]
    assert (d["spread_bps"], d["vol_std_bps"], d["latency_ms"], d["score"]) == (
        m["spread_bps"], m["vol_std_bps"], m["latency_ms"], m["score"])  # fmt: skip
    er = body["observability"]["expected_return"]
    assert (d["p_win"], d["e_pi_bps"]) == (er["p_win"], er["e_pi_bps"]) and 0 < d["p_win"] < 1
    assert [e["details"]["reason"] for e in live.events("GOVERNANCE.ALLOW")] == ["OK"]
    assert live.orders("denied") == []
    validator = jsonschema.Draft202012Validator(load_event_schema())
    for rec in live.events():
        validator.validate(rec)


def _cases():
    return [
        ("LATENCY_GUARD", {}, {"latency_ms": 10_000.0}),
        ("SPREAD_GUARD", {}, {"spread_bps": 81.0, "tp_bps": 400.0}),
        ("ER_BELOW_MIN", {}, {"score": -3.0}),
        ("SLIPPAGE_GUARD", {"pretrade": {"order_profile": "slip_before_er"}}, {"score": -1.0, "spread_bps": 30.0}),
        ("SPRT_REJECT", {}, {"sprt_samples": [0.0] * 20}),
        ("RISK_PRICE_COLLAR", {}, {"price": 101.0}),
        ("RISK_MAX_NOTIONAL", {}, {"qty": 100.0}),
        ("RISK_SIZE_ZERO", {"risk": {"size_scale": 0.0}}, {}),
    ]


@pytest.mark.parametrize("reason, extra, over", _cases(), ids=[c[0] for c in _cases()])
def test_single_request_deny_reasons(gate_factory, reason, extra, over):
    merged = {**QUIET, **{k: {**QUIET.get(k, {}), **v} for k, v in extra.items()}}
    live = gate_factory(merged)
    r = live.post("/pretrade/check", check_body(cid="d-1", **over))
    assert r.status_code == 200
    body = r.json()
    assert body["allow"] is False and body["reason"] == reason and body["max_qty"] == 0.0
    (denied,) = live.orders("denied")
    assert denied["reason"] == reason and denied["cid"] == "d-1" and denied["stream"] == "denied"
    assert denied["event_code"] == "POLICY_DECISION" and denied["details"]["why"]["pass"] is False
    assert [o["stream"] for o in live.orders()] == ["denied"]
    assert live.events("GOVERNANCE.DENY")[0]["details"]["reason"] == reason
    if reason == "SPREAD_GUARD":
        trip = live.events("SPREAD_GUARD_TRIP")[0]["details"]  # the spread of the book, not the claim
        assert trip["spread_bps"] == pytest.approx(81.0) and trip["limit_bps"] == 80.0
    (dec,) = live.events("POLICY_DECISION")
    d, market = dec["details"], check_body(**over)["market"]
    assert (d["spread_bps"], d["vol_std_bps"], d["latency_ms"]) == (
        market["spread_bps"], market["vol_std_bps"], market["latency_ms"])  # fmt: skip
    why = body["observability"].get("expected_return", {})
    if "p_win" in why:  # computed before the deciding guard (or by it): carried to the event
        assert (d["p_win"], d["e_pi_bps"]) == (why["p_win"], why["e_pi_bps"])
    else:
        assert "p_win" not in d and "e_pi_bps" not in d
    if reason == "ER_BELOW_MIN":
        assert d["e_pi_bps"] < 5.0 and d["score"] == -3.0
    jsonschema.Draft202012Validator(load_event_schema()).validate(dec)


def test_trap_guard_over_http(live):
    for i in range(30):
        adds = [10.0 + (i % 3)] * 5
        cancels = [9.0 + (i % 4)] * 5
        live.post("/pretrade/check", check_body(cid=f"t{i}", qty=1 + i / 100, l2_add_volumes=adds,
                                                l2_cancel_volumes=cancels))  # fmt: skip
    r = live.post("/pretrade/check", check_body(cid="trap", l2_add_volumes=[0.1] * 5, l2_cancel_volumes=[80.0] * 5))
    assert r.json()["reason"] == "TRAP_GUARD"


def test_rate_limit_and_duplicates(gate_factory):
    live = gate_factory({"risk": {"max_orders_per_sec": 2}, "killswitch": {"min_outcomes": 10_000}})
    assert live.post("/pretrade/check", check_body(cid="r1")).json()["reason"] == "OK"
    assert live.post("/pretrade/check", check_body(cid="r1", qty=2.0)).json()["reason"] == "RISK_DUPLICATE"
    assert live.post("/pretrade/check", check_body(cid="r2", qty=3.0)).json()["reason"] == "OK"
    body = live.post("/pretrade/check", check_body(cid="r3", qty=4.0)).json()
    assert body["reason"] == "RISK_RATE_LIMIT" and 0 < body["cooldown_ms"] <= 1000


def test_halted_by_latency_escalation(gate_factory):
    live = gate_factory({**QUIET, "aurora": {"latency_guard_ms": 10, "min_samples": 1, "warn_grace_sec": 0,
                                             "cooloff_base_sec": 0, "halt_threshold_repeats": 1}})  # fmt: skip
    reasons = [live.post("/pretrade/check", check_body(cid=f"h{i}", qty=1 + i, latency_ms=100.0)).json()["reason"]
               for i in range(4)]  # fmt: skip
    assert reasons[0] == "OK"  # WARN still allows
    assert "HEALTH_COOL_OFF" in reasons and reasons[-1] == "HALTED"
    assert live.client.get("/health").json()["halted"] is True
    codes = [e["event_code"] for e in live.events()]
    assert "HEALTH.LATENCY_P95_HIGH" in codes and "AURORA.COOL_OFF" in codes and "AURORA.ESCALATION" in codes


def test_ops_cooloff_and_disarm_deny(live):
    assert live.ops("/ops/cooloff/30").status_code == 200
    body = live.post("/pretrade/check", check_body(cid="c1")).json()
    assert body["reason"] == "HEALTH_COOL_OFF" and 29_000 < body["cooldown_ms"] <= 30_000
    live.ops("/ops/reset")
    # a known long position, so that a sell reduces it
    live.post("/posttrade/log", {"event_code": "ORDER.SUBMIT", "ts_ns": time.time_ns(), "cid": "p0", "account": "acc-1",
                                 "symbol": "SOLUSDT", "side": "buy", "qty": 1.0, "details": {"price": 100.0}})
    live.post("/posttrade/log", {"event_code": "ORDER.FILL", "ts_ns": time.time_ns(), "cid": "p0",
                                 "details": {"fill_qty": 1.0, "fill_price": 100.0}})
    live.ops("/aurora/disarm")
    assert live.post("/pretrade/check", check_body(cid="c2")).json()["reason"] == "DISARMED"
    body = live.post("/pretrade/check", check_body(cid="c3", side="sell", reduce_only=True)).json()
    assert body["allow"] is True, body
    live.ops("/aurora/arm")
    assert live.post("/pretrade/check", check_body(cid="c4", qty=2.0)).json()["reason"] == "OK"
    codes = [e["event_code"] for e in live.events()]
    assert {"OPS.COOLOFF", "OPS.RESET", "AURORA.ARM_STATE"} <= set(codes)


def test_a_guard_that_raises_denies_guard_error_with_200(live):
    raising_trap(live.gate.pipeline, RuntimeError("kaboom"))
    r = live.post("/pretrade/check", check_body(cid="g1"))
    assert r.status_code == 200
    body = r.json()
    assert body["allow"] is False and body["reason"] == "GUARD_ERROR"
    assert body["observability"]["trap"]["error"] == "RuntimeError"
    (err,) = live.events("AURORA.GUARD_ERROR")
    assert err["details"]["guard"] == "trap"
    metrics = live.client.get("/metrics").text
    assert 'aurora_guard_errors_total{guard="trap"} 1.0' in metrics


def test_a_crashing_pipeline_still_answers_200(live):
    live.gate.pipeline = CrashingPipeline(live.gate.pipeline, MemoryError("no"))
    r = live.post("/pretrade/check", check_body(cid="g2"))
    assert r.status_code == 200 and r.json()["reason"] == "GUARD_ERROR"
    assert live.orders("denied")[0]["reason"] == "GUARD_ERROR"


@pytest.mark.parametrize(
    "mutate, field",
    [
        (lambda b: b["order"].update(qty=0), "order.qty"),
        (lambda b: b["order"].update(qty=-1.5), "order.qty"),
        (lambda b: b["order"].update(side="hold"), "order.side"),
        (lambda b: b["order"].update(price=0), "order.price"),
        (lambda b: b["market"].update(extra_field=1), "market.extra_field"),
        (lambda b: b["market"].pop("score"), "market.score"),
        (lambda b: b["market"].update(spread_bps="wide"), "market.spread_bps"),
        (lambda b: b["market"].update(l2_add_volumes=[1.0, -2.0]), "market.l2_add_volumes.1"),
        (lambda b: b["order"].update(reduce_only="yes"), "order.reduce_only"),
        (lambda b: b.update(unknown={}), "unknown"),
    ],
)
def test_422_names_the_field(shared_live, mutate, field):
    body = check_body()
    mutate(body)
    r = shared_live.post("/pretrade/check", body)
    assert r.status_code == 422
    fields = [e["field"] for e in r.json()["detail"]]
    assert field in fields
    assert field in r.json()["error"]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_are_422(shared_live, literal):
    import json

    text = json.dumps(check_body()).replace('"spread_bps": 1.0', f'"spread_bps": {literal}')
    r = shared_live.client.post("/pretrade/check", content=text, headers={"X-API-TOKEN": live_token(),
                                                                    "content-type": "application/json"})  # fmt: skip
    assert r.status_code == 422 and "market.spread_bps" in r.json()["error"]


def live_token():
    from .conftest import API_TOKEN

    return API_TOKEN


def test_malformed_json_is_422_not_500(shared_live):
    r = shared_live.client.post("/pretrade/check", content=b"{not json", headers={"X-API-TOKEN": live_token(),
                                                                           "content-type": "application/json"})  # fmt: skip
    assert r.status_code == 422


def test_openapi_is_complete(shared_live):
    spec = shared_live.client.get("/openapi.json").json()
    paths = spec["paths"]
    for p in ("/health", "/liveness", "/readiness", "/metrics", "/pretrade/check", "/posttrade/log",
              "/ops/rotate_token", "/ops/cooloff/{sec}", "/ops/reset", "/aurora/arm", "/aurora/disarm", "/ops/reload"):  # fmt: skip
        assert p in paths, p
    assert "/bench/noop" not in paths
    schemas = spec["components"]["schemas"]
    assert schemas["PretradeCheck"]["examples"] and schemas["PosttradeEvent"]["examples"]
    assert {"OpsToken", "ApiToken", "BearerToken"} <= set(spec["components"]["securitySchemes"])
    assert paths["/pretrade/check"]["post"]["security"] == [{"ApiToken": []}, {"BearerToken": []}]
    assert paths["/ops/reset"]["post"]["security"] == [{"OpsToken": []}]


def test_an_error_after_the_decision_is_still_a_counted_deny(live):
    def broken(r, dec):
        raise KeyError("p_win")

    live.gate.record_decision = broken
    r = live.post("/pretrade/check", check_body(cid="late"))
    assert r.status_code == 200 and r.json()["reason"] == "GUARD_ERROR"
    assert 'aurora_guard_errors_total{guard="gate"} 1.0' in live.client.get("/metrics").text
