"""The lifecycle engine: each anomaly class, durability, and the same verdicts as the audit on the same log."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aurora.analytics.lifecycle_audit import audit_session
from aurora.events.codes import ORDER_EVENT_NAMES
from aurora.orders.anomalies import (
    ANOMALY_CLASSES,
    AnomalyClass,
    LifecycleMonitor,
    OrderEvent,
    OrderTrack,
    StepKind,
    walk_order,
)
from aurora.orders.fsm import OrderState

S = 1_000_000_000
TTL_S = 5.0
TTL = int(TTL_S * S)


def classes(found) -> list[str]:
    return [a.cls.value for a in found]


def test_each_class_is_found_when_it_happens():
    m = LifecycleMonitor()
    assert classes(m.observe("o1", "SUBMIT", 0, qty=1.0)) == []
    assert classes(m.observe("o1", "ACK", 6 * S, ack_ttl_ns=TTL)) == ["late_ack"]
    assert classes(m.observe("o1", "ACK", 7 * S, ack_ttl_ns=TTL)) == ["duplicate_ack"]
    assert classes(m.observe("o1", "PARTIAL", 8 * S, fill_qty=0.6, trade_id="t1")) == []
    assert classes(m.observe("o1", "PARTIAL", 9 * S, fill_qty=0.6, trade_id="t1")) == ["duplicate_fill"]
    assert classes(m.observe("o1", "FILL", 10 * S, fill_qty=0.6, trade_id="t2")) == ["overfill"]
    assert m.tracks["o1"].state is OrderState.FILLED
    # FILL after REJECT: illegal, and counted into the fills (so an overfill too when it is one)
    m.observe("o2", "SUBMIT", 0, qty=1.0)
    m.observe("o2", "REJECT", S)
    assert classes(m.observe("o2", "FILL", 2 * S, fill_qty=2.0)) == ["overfill", "illegal_transition"]
    m.observe("o3", "SUBMIT", 0, qty=1.0)
    m.observe("o3", "CANCEL.REQUEST", S)
    m.observe("o3", "CANCEL.ACK", 2 * S)
    assert classes(m.observe("o3", "PARTIAL", 3 * S, fill_qty=0.1)) == ["fill_after_cancel"]
    assert classes(m.observe("ghost", "ACK", 0)) == ["orphan_event"]
    assert classes(m.observe("ghost", "FILL", 1)) == []  # one orphan report per order
    m.observe("o4", "SUBMIT", 0, qty=1.0)
    missing, in_flight = m.finish(100 * S, TTL)
    assert [a.cid for a in missing] == ["o4"] and in_flight == []
    assert m.counts[AnomalyClass.OVERFILL] == 2 and sum(m.counts.values()) == 8  # finish() reports, never counts


def test_a_step_reports_the_fsm_view():
    t = OrderTrack()
    st0 = t.step("SUBMIT", 0, qty=2.0)
    assert (st0.before, st0.after, st0.kind, st0.outcome) == (OrderState.PREPARED, OrderState.SUBMITTED, StepKind.OK, 0)
    st1 = t.step("REJECT", 1)
    assert st1.after is OrderState.REJECTED and st1.outcome == 2
    st2 = t.step("TELEPORT", 2)
    assert st2.kind is StepKind.ILLEGAL and st2.after is OrderState.REJECTED


def test_snapshot_and_restore_keep_every_track():
    m = LifecycleMonitor()
    m.observe("a", "SUBMIT", 0, qty=1.0)
    m.observe("a", "PARTIAL", 1, fill_qty=0.5, trade_id="x")
    m.observe("b", "ACK", 0)
    snap = orjson.loads(orjson.dumps(m.snapshot()))
    r = LifecycleMonitor()
    r.restore(snap)
    assert classes(r.observe("a", "PARTIAL", 2, fill_qty=0.5, trade_id="x")) == ["duplicate_fill"]
    assert classes(r.observe("b", "FILL", 3)) == [] and r.counts == m.counts | {AnomalyClass.DUPLICATE_FILL: 1}


def test_memory_is_bounded():
    m = LifecycleMonitor(max_orders=10)
    for i in range(50):
        m.observe(f"o{i}", "SUBMIT", i, qty=1.0)
        m.observe(f"x{i}", "ACK", i)
    assert len(m.tracks) == 10 and len(m.orphans) == 10


# -- the audit and the engine on the same recorded orders ---------------------------------------------------
_EVENTS = list(ORDER_EVENT_NAMES)
_order = st.fixed_dictionaries({
    "submit_first": st.booleans(),
    "has_submit": st.integers(0, 9),  # 0: an orphan
    "qty": st.one_of(st.none(), st.sampled_from([1.0, 2.0, 0.5])),
    "events": st.lists(st.tuples(st.sampled_from(_EVENTS), st.integers(1, 8 * S),
                                 st.one_of(st.none(), st.sampled_from([0.25, 0.5, 1.0, 1.5])),
                                 st.one_of(st.none(), st.sampled_from(["t1", "t2", "t3"])),
                                 st.booleans()), max_size=7),
})  # fmt: skip


def _log(orders: list[dict], base: int) -> list[dict]:
    recs = []
    for j, o in enumerate(orders):
        cid = f"c{j}"
        t = base + j * 1000
        evs = [(e, gap, fq, tid, cum) for e, gap, fq, tid, cum in o["events"] if e != "SUBMIT"]
        if o["has_submit"]:
            pos = 0 if o["submit_first"] or not evs else len(evs) // 2
            evs.insert(pos, ("SUBMIT", 1000, None, None, False))
        cum = 0.0
        for e, gap, fq, tid, as_cum in evs:
            t += gap
            rec = {"ts_ns": t, "run_id": "rec", "event_code": "ORDER." + e, "cid": cid, "details": {}}
            if e == "SUBMIT":
                rec.update(symbol="SOLUSDT", side="buy")
                if o["qty"] is not None:
                    rec["qty"] = o["qty"]
            if e in ("PARTIAL", "FILL") and fq is not None:
                cum += fq
                rec["details"]["cum_qty" if as_cum else "fill_qty"] = cum if as_cum else fq
                if tid is not None:
                    rec["details"]["trade_id"] = tid
            recs.append(rec)
    return recs


def _engine_verdicts(recs: list[dict], live: bool) -> dict[str, set[str]]:
    """What the engine finds, fed as the gate is (``live``: event by event) or as the audit walks a log."""
    out: dict[str, set[str]] = {}
    by_cid: dict[str, list[dict]] = {}
    for r in sorted(recs, key=lambda r: (r["cid"], r["ts_ns"])):
        by_cid.setdefault(r["cid"], []).append(r)
    end = max(r["ts_ns"] for r in recs)
    monitor = LifecycleMonitor()
    for cid, rs in by_cid.items():
        evs = [OrderEvent(r["event_code"][6:], r["ts_ns"], r.get("qty"), r["details"].get("fill_qty"),
                          r["details"].get("cum_qty"), r["details"].get("trade_id")) for r in rs]  # fmt: skip
        if live:
            for e in evs:
                for a in monitor.observe(cid, e.event, e.ts, qty=e.qty, fill_qty=e.fill_qty, cum_qty=e.cum_qty,
                                         trade_id=e.trade_id, ack_ttl_ns=TTL):  # fmt: skip
                    out.setdefault(cid, set()).add(a.cls.value)
        else:
            w = walk_order(evs, TTL)
            out.setdefault(cid, set()).update(c.value for c, _, _ in w.anomalies)
            if w.track is not None and w.track.at_end(end, TTL) == "missing_terminal":
                out[cid].add("missing_terminal")
    if live:
        for a in monitor.finish(end, TTL)[0]:
            out.setdefault(a.cid, set()).add(a.cls.value)
    return {k: v for k, v in out.items() if v}


def _engine_details(recs: list[dict]) -> dict[tuple[str, str], str]:
    """(cid, class) -> the detail of the order's first anomaly of that class, as the engine words it."""
    out: dict[tuple[str, str], str] = {}
    by_cid: dict[str, list[dict]] = {}
    for r in sorted(recs, key=lambda r: (r["cid"], r["ts_ns"])):
        by_cid.setdefault(r["cid"], []).append(r)
    for cid, rs in by_cid.items():
        evs = [OrderEvent(r["event_code"][6:], r["ts_ns"], r.get("qty"), r["details"].get("fill_qty"),
                          r["details"].get("cum_qty"), r["details"].get("trade_id")) for r in rs]  # fmt: skip
        for c, d, _ in walk_order(evs, TTL).anomalies:
            out.setdefault((cid, c.value), d)
    return out


def _audit(recs: list[dict], session: Path) -> tuple[dict[str, set[str]], dict[tuple[str, str], str]]:
    """The audit's verdicts per cid, and the detail of each (cid, class) it lists (missing_terminal aside)."""
    session.mkdir(parents=True, exist_ok=True)
    (session / "aurora_events.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in recs))
    result = audit_session(session, TTL_S)
    out: dict[str, set[str]] = {}
    words: dict[tuple[str, str], str] = {}
    for cls, items in result.anomalies.items():
        for a in items:
            out.setdefault(a.cid, set()).add(cls)
            if cls != "missing_terminal":
                words[(a.cid, cls)] = a.detail
    return out, words


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(orders=st.lists(_order, min_size=1, max_size=8))
def test_the_audit_and_the_engine_classify_a_log_identically(orders, tmp_path_factory):
    recs = _log(orders, time.time_ns() - 3600 * S)
    if not recs:
        return
    audit, words = _audit(recs, tmp_path_factory.mktemp("log"))
    assert _engine_verdicts(recs, live=False) == audit
    assert words == _engine_details(recs)  # ... and words each one alike (one describe())
    # the live monitor sees events as they arrive: the same verdicts whenever SUBMIT came first
    if all(o["submit_first"] or not o["has_submit"] for o in orders):
        assert _engine_verdicts(recs, live=True) == audit


def test_the_classes_are_the_audits():
    from aurora.analytics import lifecycle_audit

    assert tuple(c.value for c in ANOMALY_CLASSES) == lifecycle_audit.ANOMALY_CLASSES
    assert {c.value: s for c, s in __import__("aurora.orders.anomalies", fromlist=["SEVERITY"]).SEVERITY.items()} == \
        lifecycle_audit.SEVERITY


@pytest.mark.parametrize("cls", [c.value for c in ANOMALY_CLASSES])
def test_each_class_has_a_severity(cls):
    from aurora.orders.anomalies import SEVERITY

    assert SEVERITY[AnomalyClass(cls)] in ("error", "warning")


def test_every_event_sequence_of_three_steps_walks_alike_in_the_audit_and_the_engine(tmp_path):
    """Exhaustive where the sampled test is not: every order SUBMIT + 1..3 events of nine names (an unknown
    ORDER.* code among them; fills alternating two trade ids, so replays and new fills both come up):
    the audit's vectorised walk and the engine give each event the same step kind, state and venue outcome."""
    from itertools import product

    from aurora.analytics.order_walk import EVENTS, STATES, walk_orders
    from aurora.session.reader import read_session

    names = [*ORDER_EVENT_NAMES, "TELEPORT"]
    seqs = [seq for n in (1, 2, 3) for seq in product(names, repeat=n)]
    t0 = time.time_ns() - 86400 * S  # on the session's clock: all of it before the file was written
    recs, want = [], {}
    for j, seq in enumerate(seqs):
        cid, t = f"c{j:04d}", t0 + j * 10 * S
        track = OrderTrack()
        steps = [track.step("SUBMIT", t, qty=1.0)]
        recs.append({"ts_ns": t, "event_code": "ORDER.SUBMIT", "cid": cid, "qty": 1.0, "details": {}})
        for i, e in enumerate(seq, 1):
            tid = f"t{i % 2}" if e in ("PARTIAL", "FILL") else None
            steps.append(track.step(e, t + i * S, fill_qty=0.5 if tid else None, trade_id=tid, ack_ttl_ns=TTL))
            recs.append({"ts_ns": t + i * S, "event_code": "ORDER." + e, "cid": cid,
                         "details": {"fill_qty": 0.5, "trade_id": tid} if tid else {}})  # fmt: skip
        want[cid] = [(int(st.kind), st.after.value, int(st.outcome)) for st in steps]
    (tmp_path / "aurora_events.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in recs))
    w = walk_orders(read_session(tmp_path, runner_events=False, orders=False).events, TTL_S)
    names_of = w.cids
    got = {}
    for j in range(w.n):
        lo, hi = int(w.starts[j]), int(w.ends[j])
        got[names_of.get(j)] = [(int(k), STATES[int(a)].value, int(o))
                                for k, a, o in zip(w.kind[lo:hi], w.after[lo:hi], w.outcome[lo:hi], strict=True)]
    assert got == want and len(got) == len(seqs) == 819
    assert EVENTS[-1] == "?"  # the unknown code walked as the engine's UNKNOWN
