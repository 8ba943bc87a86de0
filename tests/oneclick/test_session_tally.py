"""The tally behind the dashboard and the proof, the incremental log tails, and the /metrics reading."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import numpy as np
import pytest

from aurora.calibration import expected_calibration_error
from aurora.stats import cvar_loss
from oneclick.dashboard_model import (
    ARMED,
    DECISION_SECONDS,
    HALTED,
    HEALTH_STATE,
    KILL_SWITCH,
    SUBMIT_ACK_SECONDS,
    DashboardModel,
    Histogram,
    MetricsView,
    histogram_ms,
    summarize_event,
)
from oneclick.log_tail import JsonlTail, SessionTails
from oneclick.proof import read_session_tally
from oneclick.session_tally import SessionTally
from tests.support.session_log_generator import generate_session


def raw_records(session: Path) -> list[dict]:
    out = []
    for p in sorted(session.iterdir()):
        if not p.name.startswith(("aurora_events", "runner_events")):
            continue
        data = gzip.open(p).read() if p.name.endswith(".gz") else p.read_bytes()
        for line in data.split(b"\n"):
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            out.append(rec)
    return out


def test_full_read_matches_independent_counts(tmp_path: Path) -> None:
    gen = generate_session(tmp_path / "s", n_orders=300, rotations=2, torn_last_line=True)
    tally, stats = read_session_tally(gen.path, cvar_alpha=0.1)
    assert stats["torn"] == 1 and stats["errors"] == []
    assert tally.decisions == gen.counts["decisions"]
    assert tally.allowed == gen.counts["allow"] and tally.denied == gen.counts["deny"]
    assert dict(tally.deny_reasons) == {k[5:]: v for k, v in gen.counts.items() if k.startswith("deny:")}

    recs = raw_records(gen.path)
    decisions = [r for r in recs if r["event_code"] == "POLICY_DECISION"]
    us = np.array([r["details"]["decision_us"] for r in decisions])
    slis = tally.slis()
    assert slis["deny_rate"] == pytest.approx(
        sum(not r["details"]["allow"] for r in decisions) / len(decisions)
    )
    assert slis["gate_latency_p99_ms"] == pytest.approx(np.percentile(us, 99) / 1000)
    closing = [r["details"] for r in recs if r["event_code"] in ("ORDER.FILL", "ORDER.PARTIAL")
               and "realized_pnl_bps" in r["details"]]  # fmt: skip
    bps = [d["realized_pnl_bps"] for d in closing]
    assert slis["cvar_bps"] == pytest.approx(cvar_loss(bps, 0.1))
    assert slis["calibration_ece"] == pytest.approx(
        expected_calibration_error([d["entry_p_win"] for d in closing], [b > 0 for b in bps])
    )
    assert tally.fills == sum(r["event_code"] in ("ORDER.FILL", "ORDER.PARTIAL") for r in recs)
    submits = {r["cid"] for r in recs if r["event_code"] == "ORDER.SUBMIT"}
    assert len(tally.submitted_cids()) == len(submits)
    assert tally.orders_without_allow() == []
    chain = tally.chain()
    assert chain is not None and chain.model_ts_ns <= chain.decision_ts_ns <= chain.order_ts_ns
    assert "ORDER.SUBMIT" in chain.order_events


def rec(code: str, ts: int, **kw) -> dict:
    return {"ts_ns": ts, "run_id": "r", "event_code": code, "details": kw.pop("details", {}), **kw}


def test_chain_needs_a_model_before_an_allowed_decision_with_an_order() -> None:
    t = SessionTally()
    t.add(rec("POLICY_DECISION", 10, cid="a", symbol="X", details={"allow": True, "reason": "OK"}))
    t.add(rec("ORDER.SUBMIT", 11, cid="a", symbol="X"))
    assert t.chain() is None  # no MODEL at all
    t.add(rec("MODEL", 12, symbol="X"))
    assert t.chain() is None  # MODEL only after the decision
    t.add(rec("MODEL", 20, symbol="X", cid="b"))
    t.add(rec("POLICY_DECISION", 21, cid="b", symbol="X", details={"allow": False, "reason": "SPREAD_GUARD"}))
    t.add(rec("ORDER.SUBMIT", 22, cid="b", symbol="X"))
    assert t.chain() is None  # denied: and that order is a violation
    assert t.orders_without_allow() == ["b"]
    t.add(rec("MODEL", 30, symbol="X", cid="c"))
    t.add(rec("POLICY_DECISION", 31, cid="c", symbol="X", details={"allow": True, "reason": "OK"}))
    t.add(rec("ORDER.SUBMIT", 32, cid="c", symbol="X"))
    t.add(rec("ORDER.ACK", 32 + 2_000_000, cid="c"))
    chain = t.chain()
    assert chain is not None and chain.cid == "c" and chain.order_events == ["ORDER.SUBMIT", "ORDER.ACK"]
    assert list(t.submit_ack_ms) == [2.0]


def test_why_no_chain_names_what_stopped_the_first_order() -> None:
    t = SessionTally()
    assert t.why_no_chain() == "no order was ever checked by the gate"
    for i, reason in enumerate(["ER_BELOW_MIN", "ER_BELOW_MIN", "SPREAD_GUARD"]):
        t.add(rec("POLICY_DECISION", 10 + i, cid=f"d{i}", symbol="X", details={"allow": False, "reason": reason}))
    assert t.why_no_chain() == (
        "every one of the 3 decisions was denied (ER_BELOW_MIN 2, SPREAD_GUARD 1); the summary's deny table "
        "names the config value behind each reason"
    )
    t.add(rec("POLICY_DECISION", 20, cid="a", symbol="X", details={"allow": True, "reason": "OK"}))
    assert t.why_no_chain() == "1 decision(s) allowed, but no order was submitted"


def test_order_states_follow_the_fsm() -> None:
    t = SessionTally()
    for code in ("ORDER.SUBMIT", "ORDER.ACK", "ORDER.PARTIAL", "ORDER.FILL"):
        t.add(rec(code, 1, cid="f", details={"fill_qty": 1.0} if "FILL" in code or "PARTIAL" in code else {}))
    for code in ("ORDER.SUBMIT", "ORDER.CANCEL.REQUEST", "ORDER.CANCEL.ACK", "ORDER.FILL"):
        t.add(rec(code, 1, cid="k"))
    t.add(rec("ORDER.ACK", 1, cid="orphan"))
    assert t.orders_by_state() == {"FILLED": 1, "CANCELED": 1, "PREPARED": 1}
    assert t.fill_after_cancel == 1 and t.illegal_transitions == 1 and t.fills == 3


def test_tail_hands_out_only_complete_lines(tmp_path: Path) -> None:
    path = tmp_path / "aurora_events.jsonl"
    tail = JsonlTail(path)
    assert tail.poll() == []
    with open(path, "ab") as fh:
        fh.write(b'{"event_code": "A"}\n{"event_code": "B"')
        fh.flush()
        assert [r["event_code"] for r in tail.poll()] == ["A"]
        fh.write(b', "x": 1}\nnot json\n')
        fh.flush()
        assert tail.poll() == [{"event_code": "B", "x": 1}] and tail.corrupt == 1
        assert tail.poll() == []


def test_tail_follows_rotation_without_losing_or_repeating(tmp_path: Path) -> None:
    path = tmp_path / "aurora_events.jsonl"
    tail = JsonlTail(path)
    seen: list[int] = []
    n = 0
    for _round in range(3):
        with open(path, "ab") as fh:
            for _ in range(5):
                n += 1
                fh.write(json.dumps({"event_code": "X", "n": n}).encode() + b"\n")
        seen += [r["n"] for r in tail.poll()]
        with open(path, "ab") as fh:  # written after the poll, before the rotation
            n += 1
            fh.write(json.dumps({"event_code": "X", "n": n}).encode() + b"\n")
        os.rename(path, tmp_path / f"aurora_events.20261121-{_round + 1:03d}.jsonl")
        with open(path, "ab") as fh:
            n += 1
            fh.write(json.dumps({"event_code": "X", "n": n}).encode() + b"\n")
        seen += [r["n"] for r in tail.poll()]
    assert seen == list(range(1, n + 1))


def test_session_tails_pick_up_runner_logs_and_skip_rotated_ones(tmp_path: Path) -> None:
    tails = SessionTails(tmp_path)
    (tmp_path / "aurora_events.jsonl").write_text('{"event_code": "POLICY_DECISION"}\n')
    (tmp_path / "aurora_events.20261121-001.jsonl").write_text('{"event_code": "OLD"}\n')
    (tmp_path / "orders.jsonl").write_text('{"event_code": "ORDER.FILL"}\n')
    assert [r["event_code"] for r in tails.poll()] == ["POLICY_DECISION"]
    (tmp_path / "runner_events-sol.jsonl").write_text('{"event_code": "MODEL"}\n')
    assert [r["event_code"] for r in tails.poll()] == ["MODEL"]
    assert sorted(tails.tails) == ["aurora_events.jsonl", "runner_events-sol.jsonl"]


def test_histogram_quantile_interpolates_like_promql() -> None:
    h = Histogram([(1.0, 50.0), (2.0, 90.0), (4.0, 100.0), (float("inf"), 100.0)], 100.0, 0.0)
    assert h.quantile(0.5) == pytest.approx(1.0)
    assert h.quantile(0.7) == pytest.approx(1.5)
    assert h.quantile(0.99) == pytest.approx(2.0 + 2.0 * 9 / 10)
    assert Histogram([], 0.0, 0.0).quantile(0.5) is None


def test_reads_the_real_gate_metrics() -> None:
    """The metric names the dashboard reads exist in the gate's exposition (aurora/metrics.py)."""
    gate_metrics = pytest.importorskip("aurora.metrics")
    m = gate_metrics.GateMetrics()
    for i in range(100):
        m.decision(i % 4 != 0, "OK" if i % 4 else "SPREAD_GUARD", 3e-5 if i < 95 else 8e-4)
    m.halted.set(1)
    m.health_state.set(2)
    view = MetricsView.parse(m.exposition().decode())
    for name in (DECISION_SECONDS, SUBMIT_ACK_SECONDS, ARMED, HALTED, HEALTH_STATE, KILL_SWITCH):
        assert name in view.families, name
    p50, p99 = histogram_ms(view, DECISION_SECONDS)
    assert 0.02 <= p50 <= 0.04 and 0.5 <= p99 <= 1.0
    assert view.by_label("aurora_orders_denied", "reason") == {"SPREAD_GUARD": 25.0}
    model = DashboardModel(Path("/nonexistent"), "http://127.0.0.1:9")
    model.gate.metrics, model.gate.reachable = view, True
    health = model.health_state()
    assert (
        health["halted"] is True and health["health_state"] == "COOL_OFF" and health["kill_switch"] is False
    )
    model.close()


def test_summarize_event_is_short_and_telling() -> None:
    line = summarize_event(
        rec("POLICY_DECISION", 1, symbol="SOLUSDT", side="buy", cid="c1",
            details={"max_qty": 1.0, "allow": False, "reason": "SPREAD_GUARD", "decision_us": 41.2345, "obs": {"x": 1}})
    )  # fmt: skip
    assert (
        line
        == "POLICY_DECISION SOLUSDT buy allow=False reason=SPREAD_GUARD max_qty=1 decision_us=41.23 cid=c1"
    )
