import time

import jsonschema
import pytest

from aurora.events.logger import load_event_schema

from .conftest import QUIET, check_body


def ev(code, cid, **kw):
    body = {"event_code": code, "ts_ns": kw.pop("ts_ns", time.time_ns()), "cid": cid, "details": kw.pop("details", {})}
    body.update(kw)
    return body


def submit(live, cid, symbol="SOLUSDT", side="buy", qty=1.0, price=100.0, account="acc-1"):
    r = live.post("/posttrade/log", ev("ORDER.SUBMIT", cid, symbol=symbol, side=side, qty=qty, account=account,
                                       details={"price": price, "order_type": "limit", "reduce_only": False}))  # fmt: skip
    assert r.status_code == 200, r.text


def test_lifecycle_is_recorded_in_events_and_order_logs(live):
    t0 = time.time_ns()
    submit(live, "o1")
    live.post("/posttrade/log", ev("ORDER.ACK", "o1", oid="v-1", ts_ns=t0 + 40_000_000))
    live.post("/posttrade/log", ev("ORDER.PARTIAL", "o1", oid="v-1",
                                   details={"fill_qty": 0.4, "fill_price": 100.0, "cum_qty": 0.4, "trade_id": "t1"}))  # fmt: skip
    live.post("/posttrade/log", ev("ORDER_FILL", "o1", oid="v-1",
                                   details={"fill_qty": 0.6, "fill_price": 100.0, "cum_qty": 1.0, "trade_id": "t2"}))  # fmt: skip
    submit(live, "o2", side="sell")
    live.post("/posttrade/log", ev("ORDER.REJECT", "o2", details={"reason": "INSUFFICIENT_MARGIN"}))
    codes = [(e["event_code"], e["cid"]) for e in live.events() if e["event_code"].startswith("ORDER.")]
    assert codes == [("ORDER.SUBMIT", "o1"), ("ORDER.ACK", "o1"), ("ORDER.PARTIAL", "o1"), ("ORDER.FILL", "o1"),
                     ("ORDER.SUBMIT", "o2"), ("ORDER.REJECT", "o2")]  # fmt: skip
    (succ,) = live.orders("success")
    assert succ["cid"] == "o1" and succ["symbol"] == "SOLUSDT" and succ["side"] == "buy" and succ["qty"] == 1.0
    assert succ["fill_qty"] == 0.6 and succ["price"] == 100.0 and succ["oid"] == "v-1" and succ["stream"] == "success"
    (fail,) = live.orders("failed")
    assert fail["reason"] == "INSUFFICIENT_MARGIN" and fail["side"] == "sell" and fail["event_code"] == "ORDER.REJECT"
    assert [o["stream"] for o in live.orders()] == ["success", "failed"]
    assert live.gate.pipeline.risk.book.positions == {"acc-1": {"SOLUSDT": 1.0}}
    m = live.client.get("/metrics").text
    assert "aurora_orders_success_total 1.0" in m and "aurora_orders_rejected_total 1.0" in m
    assert "aurora_order_submit_ack_seconds_count 1.0" in m
    validator = jsonschema.Draft202012Validator(load_event_schema())
    for rec in live.events():
        validator.validate(rec)


def test_exact_repost_is_idempotent(live):
    body = ev("ORDER.SUBMIT", "dup", symbol="SOLUSDT", side="buy", qty=1.0)
    first = live.post("/posttrade/log", body).json()
    assert first == {"ok": True, "event_code": "ORDER.SUBMIT", "trading_state": "ACTIVE", "state_seq": first["state_seq"]}
    assert live.post("/posttrade/log", body).json()["duplicate"] is True
    assert len(live.events("ORDER.SUBMIT")) == 1


@pytest.mark.parametrize(
    "body, field",
    [
        ({"event_code": "ORDER.TELEPORT", "ts_ns": 1, "cid": "x"}, "event_code"),
        ({"event_code": "POLICY_DECISION", "ts_ns": 1, "cid": "x"}, "event_code"),
        ({"event_code": "ORDER.ACK", "ts_ns": 0, "cid": "x"}, "ts_ns"),
        ({"event_code": "ORDER.ACK", "ts_ns": "12", "cid": "x"}, "ts_ns"),
        ({"event_code": "ORDER.ACK", "ts_ns": 1}, "cid"),
        ({"event_code": "ORDER.FILL", "ts_ns": 1, "cid": "x", "details": {"fill_qty": -1}}, "details"),
        ({"event_code": "ORDER.ACK", "ts_ns": 1, "cid": "x", "side": "long"}, "side"),
        ({"event_code": "ORDER.ACK", "ts_ns": 1, "cid": "x", "bogus": 1}, "bogus"),
    ],
)
def test_bad_events_are_422_naming_the_field(shared_live, body, field):
    from .conftest import API_TOKEN

    r = shared_live.client.post("/posttrade/log", json=body, headers={"X-API-TOKEN": API_TOKEN})
    assert r.status_code == 422
    assert field in [e["field"] for e in r.json()["detail"]]


def test_ack_tracker_expires_unacked_orders(gate_factory):
    live = gate_factory(QUIET, env={"AURORA_ACK_TTL_S": "0.2", "AURORA_ACK_SCAN_PERIOD_S": "0.05"})
    submit(live, "slow")
    submit(live, "fast")
    live.post("/posttrade/log", ev("ORDER.ACK", "fast"))
    deadline = time.monotonic() + 5
    while not live.events("ORDER.EXPIRE") and time.monotonic() < deadline:
        time.sleep(0.05)
    (exp,) = live.events("ORDER.EXPIRE")
    assert exp["cid"] == "slow" and exp["details"]["reason"] == "ACK_TIMEOUT" and exp["symbol"] == "SOLUSDT"
    assert exp["details"]["latency_ms"] >= 200
    (failed,) = live.orders("failed")
    assert failed["cid"] == "slow" and failed["event_code"] == "ORDER.EXPIRE" and failed["reason"] == "ACK_TIMEOUT"
    assert live.gate.pending_acks() == 0
    assert "aurora_orders_expired_total 1.0" in live.client.get("/metrics").text


def test_reject_storm_trips_kill_switch_reducing_allowed_reset_clears(gate_factory):
    live = gate_factory({"risk": {"max_orders_per_sec": 10_000},
                         "killswitch": {"window_trades": 20, "min_outcomes": 10, "max_reject_rate_pct": 35}})  # fmt: skip
    # an open long position, so that a sell is risk-reducing
    submit(live, "pos")
    live.post("/posttrade/log", ev("ORDER.FILL", "pos", details={"fill_qty": 1.0, "fill_price": 100.0}))
    for i in range(12):
        submit(live, f"s{i}", symbol="ETHUSDT")
        live.post("/posttrade/log", ev("ORDER.REJECT", f"s{i}", details={"reason": "RATE"}))
    (ks,) = live.events("GOVERNANCE.KILL_SWITCH")
    assert ks["details"]["trigger"] == "reject_rate" and ks["details"]["action"] == "HALT_AND_ALERT"
    h = live.client.get("/health").json()
    # per account (the default scope): this account is REDUCING, the gate as a whole is not halted
    assert h["halted"] is False and h["kill_switch"] is True and h["trading_state"] == "ACTIVE"
    assert list(live.ops("/ops/status", method="GET").json()["kill_switch"]["tripped"]) == ["acc-1"]
    assert live.post("/pretrade/check", check_body(cid="new")).json()["reason"] == "KILL_SWITCH"
    reducing = live.post("/pretrade/check", check_body(cid="close", side="sell", qty=1.0, price=100.01)).json()
    assert reducing["allow"] is True and reducing["reason"] == "OK"
    assert live.ops("/ops/reset").json()["kill_switch"]["active"] is False
    assert live.post("/pretrade/check", check_body(cid="after", qty=2.0)).json()["reason"] == "OK"
    m = live.client.get("/metrics").text
    assert 'aurora_orders_denied_total{reason="KILL_SWITCH"} 1.0' in m


def test_realized_losses_drive_daily_drawdown_and_cvar(gate_factory):
    live = gate_factory({**QUIET, "risk": {"max_orders_per_sec": 10_000, "equity_usd": 10_000},
                         "gates": {"dd_day_pct_max": 5.0, "cvar_day_pct_max": 10.0}})  # fmt: skip
    submit(live, "x")
    live.post("/posttrade/log", ev("ORDER.FILL", "x", details={"fill_qty": 1.0, "realized_pnl_usd": -600.0,
                                                              "realized_pnl_bps": -60.0, "entry_p_win": 0.6}))  # fmt: skip
    body = live.post("/pretrade/check", check_body(cid="dd", symbol="ETHUSDT")).json()
    assert body["reason"] == "RISK_DAILY_DD" and body["observability"]["risk"]["dd_pct"] == 6.0
    (upd,) = live.events("RISK.UPDATE")
    assert upd["details"]["pnl_usd_today"] == -600.0


def test_max_concurrent_from_fills(gate_factory):
    live = gate_factory({**QUIET, "risk": {"max_orders_per_sec": 10_000, "max_concurrent": 1}})
    submit(live, "a")
    live.post("/posttrade/log", ev("ORDER.FILL", "a", details={"fill_qty": 1.0}))
    assert live.post("/pretrade/check", check_body(cid="b", symbol="ETHUSDT")).json()["reason"] == "RISK_MAX_CONCURRENT"
    reasons = {live.post("/pretrade/check", check_body(cid="c", symbol="SOLUSDT", qty=0.5)).json()["reason"]}
    assert reasons == {"OK"}


def test_cvar_from_closed_trades(gate_factory):
    live = gate_factory({**QUIET, "risk": {"max_orders_per_sec": 10_000, "equity_usd": 10_000, "cvar_alpha": 0.1},
                         "gates": {"dd_day_pct_max": 100.0, "cvar_day_pct_max": 1.0}})  # fmt: skip
    for i in range(10):
        pnl = -150.0 if i == 0 else 20.0
        submit(live, f"k{i}")
        live.post("/posttrade/log", ev("ORDER.FILL", f"k{i}", details={"fill_qty": 1.0, "realized_pnl_usd": pnl}))
        submit(live, f"k{i}c", side="sell")
        live.post("/posttrade/log", ev("ORDER.FILL", f"k{i}c", details={"fill_qty": 1.0}))
    body = live.post("/pretrade/check", check_body(cid="cv", symbol="ETHUSDT")).json()
    assert body["reason"] == "RISK_CVAR" and body["observability"]["risk"]["cvar_pct"] == 1.5


def test_an_event_that_cannot_be_recorded_is_503_so_the_runner_reposts(live):
    def disk_full(ev):
        raise OSError(28, "No space left on device")

    live.gate.posttrade = disk_full
    r = live.post("/posttrade/log", ev("ORDER.ACK", "x1"))
    assert r.status_code == 503 and r.json() == {"ok": False, "detail": "event not recorded: OSError"}
