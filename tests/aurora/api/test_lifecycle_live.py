"""Posted ORDER.* events checked live against the lifecycle: metrics by class, ORDER.ANOMALY events, the
kill-switch, a restart — and the same verdicts as the audit on the same recorded orders."""

from __future__ import annotations

import time
from pathlib import Path

import orjson

from aurora.analytics.lifecycle_audit import audit_session

from .conftest import QUIET

S = 1_000_000_000


def post(live, code, cid, ts_ns, **kw):
    body = {"event_code": code, "ts_ns": ts_ns, "cid": cid, "details": kw.pop("details", {}), **kw}
    r = live.post("/posttrade/log", body)
    assert r.status_code == 200, r.text
    return r.json()


def metric(text: str, cls: str) -> float:
    line = next(x for x in text.splitlines() if x.startswith(f'aurora_lifecycle_anomalies_total{{class="{cls}"}}'))
    return float(line.rsplit(" ", 1)[1])


def test_fill_after_reject_and_an_overfill_show_on_metrics_and_as_events(live):
    t = time.time_ns()
    post(live, "ORDER.SUBMIT", "rj", t, symbol="SOLUSDT", side="buy", qty=1.0, details={"price": 100.0})
    post(live, "ORDER.REJECT", "rj", t + 1, details={"reason": "MARGIN"})
    post(live, "ORDER.FILL", "rj", t + 2, details={"fill_qty": 1.0, "fill_price": 100.0})
    post(live, "ORDER.SUBMIT", "of", t + 3, symbol="SOLUSDT", side="buy", qty=1.0)
    post(live, "ORDER.ACK", "of", t + 4)
    post(live, "ORDER.FILL", "of", t + 5, details={"fill_qty": 1.5, "trade_id": "x9"})
    text = live.client.get("/metrics").text
    assert metric(text, "illegal_transition") == 1.0 and metric(text, "overfill") == 1.0
    assert metric(text, "duplicate_fill") == 0.0  # every class is exposed from the start
    found = {(e["cid"], e["details"]["class"]) for e in live.events("ORDER.ANOMALY")}
    assert found == {("rj", "illegal_transition"), ("of", "overfill")}
    (illegal,) = [e for e in live.events("ORDER.ANOMALY") if e["cid"] == "rj"]
    assert illegal["details"]["detail"] == "REJECTED --FILL-->" and illegal["details"]["event"] == "ORDER.FILL"
    assert illegal["details"]["severity"] == "error" and illegal["symbol"] == "SOLUSDT"
    status = live.ops("/ops/status", method="GET").json()
    assert status["lifecycle_anomalies"]["overfill"] == 1
    # a re-posted event is a duplicate post (idempotent), not a second anomaly
    assert post(live, "ORDER.FILL", "of", t + 5, details={"fill_qty": 1.5, "trade_id": "x9"})["duplicate"] is True
    assert len(live.events("ORDER.ANOMALY")) == 2
    # the one-click dashboard's tally reads the session: ORDER.ANOMALY is not a lifecycle step of its own
    from oneclick.session_tally import SessionTally

    tally = SessionTally()
    tally.add_many(live.events())
    assert tally.illegal_transitions == 1


def test_counted_anomalies_trip_the_kill_switch(gate_factory):
    live = gate_factory({**QUIET, "killswitch": {"window_trades": 10, "min_outcomes": 6, "max_reject_rate_pct": 35}})
    t = time.time_ns()
    for i in range(3):  # acked (a good outcome each), then filled beyond their size (a hit each)
        post(live, "ORDER.SUBMIT", f"o{i}", t + 10 * i, symbol="SOLUSDT", side="buy", qty=1.0)
        post(live, "ORDER.ACK", f"o{i}", t + 10 * i + 1)
        post(live, "ORDER.FILL", f"o{i}", t + 10 * i + 2, details={"fill_qty": 2.0})
    (trip,) = live.events("GOVERNANCE.KILL_SWITCH")
    assert trip["details"]["trigger"] == "reject_rate" and trip["details"]["rate_pct"] == 50.0


def test_classes_outside_the_counted_set_do_not_trip_it(gate_factory):
    live = gate_factory({**QUIET, "killswitch": {"window_trades": 10, "min_outcomes": 6, "max_reject_rate_pct": 35,
                                                 "counted_anomalies": []}})  # fmt: skip
    t = time.time_ns()
    for i in range(3):
        post(live, "ORDER.SUBMIT", f"o{i}", t + 10 * i, symbol="SOLUSDT", side="buy", qty=1.0)
        post(live, "ORDER.ACK", f"o{i}", t + 10 * i + 1)
        post(live, "ORDER.FILL", f"o{i}", t + 10 * i + 2, details={"fill_qty": 2.0})
    assert live.events("GOVERNANCE.KILL_SWITCH") == [] and len(live.events("ORDER.ANOMALY")) == 3


def test_the_tracks_survive_a_restart(gate_factory, tmp_path):
    state = tmp_path / "lc-state"
    first = gate_factory(QUIET, state_dir=state)
    t = time.time_ns()
    post(first, "ORDER.SUBMIT", "r1", t, symbol="SOLUSDT", side="buy", qty=2.0)
    post(first, "ORDER.PARTIAL", "r1", t + 1, details={"fill_qty": 1.0, "trade_id": "a"})
    first.stop()
    again = gate_factory(QUIET, state_dir=state)
    post(again, "ORDER.PARTIAL", "r1", t + 2, details={"fill_qty": 1.0, "trade_id": "a"})  # the same trade again
    assert [e["details"]["class"] for e in again.events("ORDER.ANOMALY")] == ["duplicate_fill"]


#: Recorded orders (relative seconds), anomalies of every kind the gate can see live.
RECORDED: list[tuple[str, str, float, dict]] = [
    ("ok", "SUBMIT", 0.0, {"qty": 1.0}), ("ok", "ACK", 0.05, {}), ("ok", "FILL", 0.2, {"fill_qty": 1.0, "trade_id": "k1"}),
    ("late", "SUBMIT", 1.0, {"qty": 1.0}), ("late", "ACK", 70.0, {}), ("late", "CANCEL.REQUEST", 71.0, {}),
    ("late", "CANCEL.ACK", 71.5, {}), ("late", "PARTIAL", 72.0, {"fill_qty": 0.2, "trade_id": "k2"}),
    ("dup", "SUBMIT", 2.0, {"qty": 2.0}), ("dup", "ACK", 2.1, {}), ("dup", "ACK", 2.2, {}),
    ("dup", "PARTIAL", 2.3, {"fill_qty": 1.0, "trade_id": "k3"}), ("dup", "PARTIAL", 2.4, {"fill_qty": 1.0, "trade_id": "k3"}),
    ("dup", "FILL", 2.5, {"fill_qty": 1.0, "trade_id": "k4"}),
    ("over", "SUBMIT", 3.0, {"qty": 1.0}), ("over", "ACK", 3.1, {}), ("over", "FILL", 3.2, {"fill_qty": 1.4, "trade_id": "k5"}),
    ("rej", "SUBMIT", 4.0, {"qty": 1.0}), ("rej", "REJECT", 4.1, {}), ("rej", "FILL", 4.2, {"fill_qty": 1.0}),
    ("rej", "ACK", 4.3, {}),
    ("ghost", "ACK", 5.0, {}), ("ghost", "FILL", 5.1, {"fill_qty": 1.0}),
]  # fmt: skip


def test_the_gate_and_the_audit_classify_recorded_orders_identically(gate_factory, tmp_path):
    ttl_s = 60.0
    live = gate_factory(QUIET, env={"AURORA_ACK_TTL_S": str(ttl_s)})
    base = time.time_ns() - 600 * S
    records = []
    for cid, ev, sec, f in RECORDED:
        details = {k: v for k, v in f.items() if k != "qty"}
        rec = {"event_code": "ORDER." + ev, "ts_ns": base + int(sec * S), "cid": cid, "details": details}
        if ev == "SUBMIT":
            rec.update(symbol="SOLUSDT", side="buy", qty=f["qty"])
        post(live, rec["event_code"], cid, rec["ts_ns"], **{k: v for k, v in rec.items()
                                                           if k not in ("event_code", "cid", "ts_ns")})  # fmt: skip
        records.append({"run_id": "recorded", **rec})
    gate_view: dict[str, set[str]] = {}
    for e in live.events("ORDER.ANOMALY"):
        gate_view.setdefault(e["cid"], set()).add(e["details"]["class"])

    session = tmp_path / "recorded"
    session.mkdir()
    (session / "aurora_events.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    result = audit_session(session, ttl_s)
    audit_view: dict[str, set[str]] = {}
    for cls, items in result.anomalies.items():
        for a in items:
            audit_view.setdefault(a.cid, set()).add(cls)
    assert gate_view == audit_view
    assert gate_view == {"late": {"late_ack", "fill_after_cancel"}, "dup": {"duplicate_ack", "duplicate_fill"},
                         "over": {"overfill"}, "rej": {"illegal_transition"}, "ghost": {"orphan_event"}}  # fmt: skip
    assert Path(session / "aurora_events.jsonl").exists()
    # the gate's own log holds its ORDER.ANOMALY verdicts beside the lifecycle: the audit reads the same
    own = audit_session(live.session_dir, ttl_s)
    own_view: dict[str, set[str]] = {}
    for cls, items in own.anomalies.items():
        for a in items:
            own_view.setdefault(a.cid, set()).add(cls)
    assert own_view == audit_view
