"""Lifecycle audit on hand-built logs: each anomaly class on the right order id, nothing else flagged."""

from __future__ import annotations

import statistics

import networkx as nx
import pytest

from aurora.analytics.lifecycle_audit import ANOMALY_CLASSES, audit_session, write_audit
from tests.aurora.analytics.session_builder import rec, write_jsonl
from tests.support.session_log_generator import generate_session

TTL = 5.0  # seconds


def _order(cid, t, steps, qty=1.0):
    """SUBMIT at ``t`` ms, then (offset_ms, event, fields) steps."""
    out = [rec(t, "ORDER.SUBMIT", cid, symbol="SOLUSDT", side="buy", qty=qty, price=100.0)]
    for dt, name, fields in steps:
        out.append(rec(t + dt, "ORDER." + name, cid, oid="v-" + cid, **fields))
    return out


def _fill(q, trade, cum=None):
    return {"fill_qty": q, "trade_id": trade, **({"cum_qty": cum} if cum is not None else {})}


def _session(tmp_path):
    r = []
    r += _order(
        "ok-fill", 0, [(10, "ACK", {}), (50, "PARTIAL", _fill(0.4, "t1")), (90, "FILL", _fill(0.6, "t2"))]
    )
    r += _order("ok-cancel", 100, [(20, "ACK", {}), (500, "CANCEL.REQUEST", {}), (520, "CANCEL.ACK", {})])
    r += _order("ok-reject", 200, [(30, "REJECT", {"reason": "PRICE_FILTER"})])
    r += _order("ok-expire", 300, [(TTL * 1000, "EXPIRE", {"reason": "ACK_TIMEOUT"})])
    r += _order(
        "ok-race", 400, [(15, "ACK", {}), (100, "CANCEL.REQUEST", {}), (110, "FILL", _fill(1.0, "t9"))]
    )
    # one order per anomaly class
    r += _order("illegal", 1000, [(10, "ACK", {}), (20, "CANCEL.ACK", {}), (30, "FILL", _fill(1.0, "x1"))])
    r += _order("no-terminal", 2000, [(10, "ACK", {}), (50, "PARTIAL", _fill(0.5, "y1"))])
    r += _order("late", 3000, [(TTL * 1000 + 1500, "ACK", {}), (TTL * 1000 + 1600, "FILL", _fill(1.0, "z1"))])
    r += _order("late-after-expire", 3500, [(TTL * 1000, "EXPIRE", {}), (TTL * 1000 + 700, "ACK", {})])
    r += _order(
        "dup-ack", 4000, [(10, "ACK", {}), (12, "ACK", {}), (40, "FILL", _fill(1.0, "w1")), (60, "ACK", {})]
    )
    r += _order("dup-fill", 5000, [(10, "ACK", {}), (30, "PARTIAL", _fill(0.5, "d1")), (31, "PARTIAL", _fill(0.5, "d1")),
                                   (80, "FILL", _fill(0.5, "d2"))])  # fmt: skip
    r += _order(
        "over", 6000, [(10, "ACK", {}), (30, "PARTIAL", _fill(0.7, "o1")), (60, "FILL", _fill(0.7, "o2"))]
    )
    r += _order(
        "over-by-cum",
        6500,
        [(10, "ACK", {}), (30, "PARTIAL", {"cum_qty": 0.5}), (60, "FILL", {"cum_qty": 1.25})],
    )
    r += _order("fac", 7000, [(10, "ACK", {}), (100, "CANCEL.REQUEST", {}), (120, "CANCEL.ACK", {}),
                               (125, "FILL", _fill(1.0, "f1"))])  # fmt: skip
    r += [rec(8000, "ORDER.ACK", "orphan", oid="v-orphan"), rec(8050, "ORDER.FILL", "orphan", fill_qty=1.0)]
    # still open, but its last event is within the ack TTL of the end of the log: in flight, not flagged
    r += _order("in-flight", 60_000, [(10, "ACK", {})])
    r += [rec(60_500, "POLICY_DECISION", "zz", allow=True, reason="OK")]
    # the runner's own copy of a lifecycle event must not be audited (the gate's log is the record)
    write_jsonl(tmp_path / "runner_events.jsonl", [rec(1, "ORDER.ACK", "runner-copy"), rec(2, "MODEL")])
    r.sort(key=lambda x: x["ts_ns"])
    write_jsonl(tmp_path / "aurora_events.20261121-001.jsonl.gz", r[:20], gz=True)
    write_jsonl(tmp_path / "aurora_events.jsonl", r[20:], tail=b'{"ts_ns": 1, "event_code": "ORDER.FI')
    return tmp_path


EXPECTED = {
    # SPEC §8: anything after a terminal state but the cancel race is illegal, an ACK too
    "illegal_transition": ["illegal", "late-after-expire", "dup-ack"],
    "missing_terminal": ["no-terminal"],
    "late_ack": ["late", "late-after-expire"],
    "duplicate_ack": ["dup-ack"],
    "duplicate_fill": ["dup-fill"],
    "overfill": ["over", "over-by-cum"],
    "fill_after_cancel": ["fac"],
    "orphan_event": ["orphan"],
}


def test_each_anomaly_class_on_the_right_order_and_nothing_else(tmp_path):
    result = audit_session(_session(tmp_path), TTL)
    found = {c: sorted(a.cid for a in result.anomalies[c]) for c in ANOMALY_CLASSES}
    assert found == {c: sorted(v) for c, v in EXPECTED.items()}
    assert result.in_flight == ["in-flight"]
    assert result.orders == 16 and not result.has_order("runner-copy")
    dup = next(a for a in result.anomalies["duplicate_ack"] if a.cid == "dup-ack")
    assert dup.count == 2  # the ack replayed after the fill is a duplicate (and illegal: FILLED is terminal)
    illegal = {a.cid: (a.detail, a.event) for a in result.anomalies["illegal_transition"]}
    assert illegal == {
        "illegal": ("ACKED --CANCEL.ACK-->", "ORDER.CANCEL.ACK"),
        "late-after-expire": ("EXPIRED --ACK-->", "ORDER.ACK"),
        "dup-ack": ("FILLED --ACK-->", "ORDER.ACK"),
    }
    assert result.final_states["FILLED"] == 8 and result.final_states["EXPIRED"] == 2
    assert result.read["torn_lines"] == 1
    assert not result.ok  # errors present; fill-after-cancel alone would be only a warning


def test_latency_percentiles_match_an_independent_computation(tmp_path):
    result = audit_session(_session(tmp_path), TTL)
    # submit->ack of every order with a SUBMIT and an ACK (ms, by construction in _session)
    s2a = [10] * 9 + [20, 15, TTL * 1000 + 1500, TTL * 1000 + 700]
    q = statistics.quantiles(s2a, n=100, method="inclusive")
    got = result.latency["submit_to_ack"]
    assert got["n"] == len(s2a)
    assert got["p50"] == pytest.approx(statistics.median(s2a), abs=1e-3)
    assert got["p95"] == pytest.approx(q[94], abs=1e-3) and got["p99"] == pytest.approx(q[98], abs=1e-3)
    # ack->done: first ACK to the event that made the order terminal (the expired-then-acked order has
    # none after its ack); for "illegal" that is its legal FILL 20 ms after the ack; orphans never count
    a2d = [80, 500, 95, 20, 100, 30, 70, 50, 50, 110]
    got = result.latency["ack_to_done"]
    assert got["n"] == len(a2d) and got["p50"] == pytest.approx(statistics.median(a2d), abs=1e-3)


def test_aggregate_graph_counts_and_exports(tmp_path):
    result = audit_session(_session(tmp_path), TTL)
    g = result.aggregate_graph()
    submits = sum(d["count"] for u, v, d in g.edges(data=True) if d["event"] == "SUBMIT")
    assert submits == 15  # every order but the orphan
    kinds = {(u, v, d["event"], d["kind"]): d["count"] for u, v, d in g.edges(data=True)}
    assert kinds[("CANCELED", "CANCELED", "FILL", "fill_after_cancel")] == 1
    assert kinds[("ACKED", "ACKED", "CANCEL.ACK", "illegal")] == 1
    assert kinds[("EXPIRED", "EXPIRED", "ACK", "illegal")] == 1 and kinds[("FILLED", "FILLED", "ACK", "illegal")] == 1
    assert kinds[("PENDING_CANCEL", "FILLED", "FILL", "ok")] == 1  # the legal fill racing a cancel
    paths = write_audit(result, tmp_path / "out")
    back = nx.read_graphml(paths["graphml"])
    assert back.number_of_edges() == g.number_of_edges()
    dot = paths["dot"].read_text()
    assert dot.startswith("digraph") and '"SUBMITTED" -> "ACKED"' in dot and "fill_after_cancel" not in dot
    assert '"CANCELED" -> "CANCELED" [label="FILL (1)", color=orange]' in dot
    orders = nx.read_graphml(paths["orders_graphml"])  # every flagged order, the orphan included
    flagged = {c for ids in EXPECTED.values() for c in ids}
    assert {d["cid"] for _, d in orders.nodes(data=True)} == flagged
    assert orders.nodes["fac:CANCELED"]["anomalies"] == "fill_after_cancel"


def test_one_graph_per_order(tmp_path):
    result = audit_session(_session(tmp_path), TTL)
    g = result.order_graph("dup-fill")
    assert list(nx.topological_sort(nx.DiGraph(e for e in g.edges if e[0] != e[1]))) == [
        "PREPARED", "SUBMITTED", "ACKED", "PARTIALLY_FILLED", "FILLED",
    ]  # fmt: skip
    loop = g.edges["PARTIALLY_FILLED", "PARTIALLY_FILLED"]
    assert loop["kinds"] == "duplicate_fill" and loop["count"] == 1
    graphs = result.order_graphs()
    assert len(graphs) == 16 and all(isinstance(x, nx.DiGraph) for x in graphs.values())
    with pytest.raises(KeyError):
        result.order_graph("no-such-order")


def test_generated_session_every_class_found_exactly(tmp_path):
    classes = {c: 2 for c in ANOMALY_CLASSES}
    g = generate_session(
        tmp_path, n_orders=400, rotations=2, corrupt_lines=2, torn_last_line=True, anomalies=classes, seed=11
    )
    result = audit_session(tmp_path, g.spec.ack_ttl_s)
    assert {c: sorted(a.cid for a in result.anomalies[c]) for c in ANOMALY_CLASSES} == {
        c: sorted(g.anomalies[c]) for c in ANOMALY_CLASSES
    }
