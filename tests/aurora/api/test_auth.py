import pytest
from prometheus_client.parser import text_string_to_metric_families

from .conftest import API_TOKEN, NEW_OPS_TOKEN, OPS_TOKEN, QUIET, check_body


def auth_failures(live, scope):
    text = live.client.get("/metrics").text
    for fam in text_string_to_metric_families(text):
        if fam.name == "aurora_ops_auth_fail":
            for s in fam.samples:
                if s.name == "aurora_ops_auth_fail_total" and s.labels == {"scope": scope}:
                    return s.value
    raise AssertionError("aurora_ops_auth_fail_total missing")


OPS_ENDPOINTS = [
    ("GET", "/liveness"), ("GET", "/readiness"), ("GET", "/ops/status"), ("POST", "/ops/cooloff/5"),
    ("POST", "/ops/reset"), ("POST", "/aurora/arm"), ("POST", "/aurora/disarm"), ("POST", "/ops/reload"),
    ("POST", "/ops/rotate_token"),
]  # fmt: skip


@pytest.mark.parametrize("method, path", OPS_ENDPOINTS)
@pytest.mark.parametrize("token", [None, "wrong-token", OPS_TOKEN[:-1], API_TOKEN])
def test_ops_endpoints_refuse_missing_or_wrong_token(shared_live, method, path, token):
    before = auth_failures(shared_live, "ops")
    headers = {} if token is None else {"X-OPS-TOKEN": token}
    r = shared_live.client.request(method, path, headers=headers, json={"new_token": NEW_OPS_TOKEN})
    assert r.status_code == 401
    assert r.json() == {"detail": "unauthorized"}  # no hint of the token
    assert auth_failures(shared_live, "ops") == before + 1


@pytest.mark.parametrize("path", ["/pretrade/check", "/posttrade/log"])
@pytest.mark.parametrize("headers", [{}, {"X-API-TOKEN": "nope"}, {"Authorization": "Bearer nope"},
                                     {"X-OPS-TOKEN": OPS_TOKEN}])  # fmt: skip
def test_trading_endpoints_refuse_missing_or_wrong_token(shared_live, path, headers):
    before = auth_failures(shared_live, "api")
    r = shared_live.client.post(path, json=check_body(), headers=headers)
    assert r.status_code == 401 and r.json() == {"detail": "unauthorized"}
    assert auth_failures(shared_live, "api") == before + 1


def test_bearer_is_accepted(shared_live):
    r = shared_live.client.post("/pretrade/check", json=check_body(cid="bearer-1", qty=7.0),
                                headers={"Authorization": f"Bearer {API_TOKEN}"})  # fmt: skip
    assert r.status_code == 200


def test_ops_with_token_and_health_without(shared_live):
    assert shared_live.client.get("/health").status_code == 200
    assert shared_live.ops("/liveness", "GET").json()["alive"] is True
    r = shared_live.ops("/readiness", "GET")
    assert r.status_code == 200 and r.json()["ready"] is True


def test_without_api_token_trading_is_open(gate_factory):
    live = gate_factory(QUIET, tokens=False, env={"OPS_TOKEN": OPS_TOKEN})
    assert live.client.post("/pretrade/check", json=check_body()).status_code == 200


def test_without_ops_token_ops_stay_closed(gate_factory):
    live = gate_factory(QUIET, tokens=False)
    assert live.client.post("/ops/reset", headers={"X-OPS-TOKEN": ""}).status_code == 401
    assert live.client.post("/ops/reset").status_code == 401


def test_rotation_old_token_fails_at_once(live):
    r = live.ops("/ops/rotate_token", json={"new_token": NEW_OPS_TOKEN})
    assert r.status_code == 200 and r.json() == {"ok": True, "target": "ops"}
    assert live.ops("/ops/status", "GET").status_code == 401
    assert live.ops("/ops/status", "GET", token=NEW_OPS_TOKEN).status_code == 200
    (rot,) = live.events("OPS.TOKEN_ROTATE")
    assert rot["details"] == {"target": "ops"}
    assert "aurora_ops_token_rotations_total 1.0" in live.client.get("/metrics").text


def test_api_token_rotation(live):
    new_api = "apitok-rotated-Uy6Tr4Ew2Qa9Sd7Fg5Hj3Kl1Zx8Cv0B"
    assert live.ops("/ops/rotate_token", json={"new_token": new_api, "target": "api"}).status_code == 200
    assert live.post("/pretrade/check", check_body(cid="r-old")).status_code == 401
    assert live.post("/pretrade/check", check_body(cid="r-new"), token=new_api).status_code == 200


@pytest.mark.parametrize(
    "new_token",
    ["short-Ab3", "changeme-changeme-changeme-changeme-1", "a" * 40, " opstok-Xy7Kp2Lm5Nq8Rt1Vw4Zb6Cd9Fg3Hj "],
)
def test_rotation_refuses_weak_tokens_without_echoing_them(live, new_token):
    r = live.ops("/ops/rotate_token", json={"new_token": new_token})
    assert r.status_code == 422 and "new_token" in r.json()["error"]
    assert new_token.strip() not in r.text
    assert live.ops("/ops/status", "GET").status_code == 200  # the old token still works


def test_metrics_need_token_outside_development(gate_factory):
    live = gate_factory(QUIET, mode="testnet")
    assert live.client.get("/metrics").status_code == 401
    assert live.ops("/metrics", "GET").status_code == 200


def test_alias_event_emitted_at_startup(gate_factory):
    live = gate_factory(QUIET, tokens=False, env={"AURORA_OPS_TOKEN": OPS_TOKEN})
    (alias,) = live.events("OPS.TOKEN.ALIAS_USED")
    assert alias["details"] == {"alias": "AURORA_OPS_TOKEN", "canonical": "OPS_TOKEN"}
    assert live.ops("/ops/status", "GET").status_code == 200


METRICS_TOKEN = "apitok-Metrics-Rk3Lp8Qw"  # named apitok-… so the suite's leak check greps for it too


def test_prometheus_scrapes_metrics_with_a_read_only_bearer_token(gate_factory):
    live = gate_factory(QUIET, env={"AURORA_METRICS_TOKEN": METRICS_TOKEN}, mode="testnet")
    get = live.client.get
    assert get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).status_code == 200
    assert get("/metrics", headers={"Authorization": f"Bearer {OPS_TOKEN}"}).status_code == 200
    assert get("/metrics", headers={"Authorization": f"Bearer {API_TOKEN}"}).status_code == 401
    assert get("/metrics").status_code == 401
    # read-only: it opens nothing else
    assert live.ops("/ops/status", "GET", token=METRICS_TOKEN).status_code == 401
    assert live.client.post("/aurora/disarm", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).status_code == 401
    text = get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).text
    assert 'aurora_ops_auth_fail_total{scope="metrics"} 2.0' in text


def test_a_misconfigured_scraper_is_counted_but_does_not_flood_the_event_log(gate_factory):
    live = gate_factory(QUIET, mode="testnet")
    for _ in range(5):
        assert live.client.get("/metrics", headers={"Authorization": "Bearer wrong-token-xxxxxxxx"}).status_code == 401
    assert len(live.events("OPS.AUTH_FAIL")) == 1
    assert 'aurora_ops_auth_fail_total{scope="metrics"} 5.0' in live.ops("/metrics", "GET").text
