"""The proof's counts are the metrics summary's and the lifecycle audit's (one walk of the orders), not a
second count by one-click: a duplicate ack and a replayed fill are what the audit says they are."""

from __future__ import annotations

from pathlib import Path

from aurora.config.loader import load_aurora
from aurora.events.logger import EventLogger
from oneclick.session_reports import build_session_reports

T0 = 1_723_161_255_000_000_000
MS = 1_000_000


def write_session(session: Path) -> None:
    log = EventLogger(session, "reports-test")
    order = {"cid": "c-1", "symbol": "SOLUSDT", "side": "buy", "qty": 1.0}
    fill = {"fill_qty": 1.0, "fill_price": 100.0, "cum_qty": 1.0, "trade_id": "t-1"}
    for i, (code, details, fields) in enumerate([
        ("POLICY_DECISION", {"allow": True, "reason": "OK", "max_qty": 1.0, "risk_scale": 1.0, "decision_us": 40.0},
         order),
        ("POLICY_DECISION", {"allow": False, "reason": "SPREAD_GUARD", "max_qty": 0.0, "risk_scale": 0.0,
                             "decision_us": 30.0}, {**order, "cid": "c-2"}),
        ("ORDER.SUBMIT", {"price": 100.0}, order),
        ("ORDER.ACK", {"latency_ms": 5.0}, {"cid": "c-1"}),
        ("ORDER.ACK", {"latency_ms": 6.0}, {"cid": "c-1"}),  # the venue acked twice
        ("ORDER.FILL", fill, {"cid": "c-1"}),
        ("ORDER.FILL", fill, {"cid": "c-1"}),  # the same trade again (a replay)
    ]):  # fmt: skip
        log.emit(code, details, ts_ns=T0 + i * MS, **fields)
    log.close()


def test_proof_counts_come_from_the_summary_and_the_audit(project: Path, tmp_path: Path) -> None:
    session = tmp_path / "session"
    write_session(session)
    loaded = load_aurora("development", root=project)
    reports = build_session_reports(session, tmp_path / "reports", loaded, html=False)
    assert reports.counts is not None, reports.notes
    c = reports.counts
    assert (c["decisions"], c["allowed"], c["denied"], c["deny_by_reason"]) == (2, 1, 1, {"SPREAD_GUARD": 1})
    assert (c["orders"], c["orders_by_state"], c["orphan_orders"]) == (1, {"FILLED": 1}, 0)
    assert (c["fills"], c["replayed_fills"], c["duplicate_acks"], c["illegal_transitions"]) == (1, 1, 1, 0)
    assert reports.audit_result["anomaly_counts"]["duplicate_ack"] == 1
