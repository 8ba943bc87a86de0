"""Lifecycle audit (SPEC §8): every order's ``ORDER.*`` events checked against the order FSM.

Anomaly classes (each reported with the client order ids):

* ``illegal_transition`` — an event the FSM does not allow in the order's state;
* ``missing_terminal`` — the order never reached FILLED / CANCELED / REJECTED / EXPIRED (orders whose last
  event is within ``ack_ttl_s`` of the end of the log are *in flight*, listed but not flagged);
* ``late_ack`` — the first ACK came more than ``observability.ack.ttl_s`` after SUBMIT (when the
  AckTracker had already expired the order, that ACK is late *and* illegal: it follows a terminal state);
* ``duplicate_ack`` — a second ACK (ignored by the walk: a replayed message, not a transition); after a
  terminal state it is an illegal transition as well;
* ``duplicate_fill`` — a PARTIAL/FILL repeating a ``trade_id`` already seen (ignored likewise);
* ``overfill`` — cumulative fill quantity above the order's quantity;
* ``fill_after_cancel`` — a PARTIAL/FILL after CANCEL.ACK (a real-world race: a *warning*);
* ``orphan_event`` — lifecycle events of an order that has no SUBMIT (not walked further).

The walk is :mod:`aurora.analytics.order_walk` (shared with the metrics summary, so the two count the
same orders the same way). networkx graphs are built from its steps: the aggregate transition graph
always, and one ``DiGraph`` per order by :meth:`AuditResult.order_graph` / :meth:`AuditResult.order_graphs`
(building 100k small graphs costs more than the whole walk, so it is done when asked for: for reports,
anomalous orders, or ``--order CID``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import orjson

from aurora.analytics.order_timing import histogram
from aurora.analytics.order_walk import (
    COLUMNS,
    EVENTS,
    FILL_COUNTS,
    KIND_NAMES,
    PREPARED,
    STATES,
    WALK_ANOMALIES,
    OrderWalk,
    transition_counts,
    walk_orders,
)
from aurora.events.codes import EventCode
from aurora.orders.fsm import FILL_EVENTS, TERMINAL_STATES
from aurora.session.fields import Field
from aurora.session.frame import Frame
from aurora.session.reader import SessionData, arrow_mask, read_session
from aurora.stats import describe

SCHEMA = "aurora.lifecycle_audit/1"
#: What the audit reads: the walk's fields only (a few bytes per event: 1 KB per order at most).
EVENT_COLUMNS: tuple[Field, ...] = COLUMNS
#: Per-event fields of an ``--order`` timeline (read for that order only).
TIMELINE_FIELDS: tuple[Field, ...] = (
    *COLUMNS, Field.OID, Field.SYMBOL, Field.SIDE, Field.PRICE, Field.FILL_PRICE, Field.REASON,
)  # fmt: skip
#: The order's gate decisions, with the config value that decided a deny (``details.threshold``).
DECISION_FIELDS: tuple[Field, ...] = (
    Field.ALLOW, Field.MAX_QTY, Field.GUARD, Field.CONFIG_KEY, Field.CONFIG_VALUE, Field.CONFIG_SOURCE,
    Field.CONFIG_OBSERVED,
)  # fmt: skip

ANOMALY_CLASSES: tuple[str, ...] = (
    "illegal_transition",
    "missing_terminal",
    "late_ack",
    "duplicate_ack",
    "duplicate_fill",
    "overfill",
    "fill_after_cancel",
    "orphan_event",
)
SEVERITY: dict[str, str] = {c: "warning" if c == "fill_after_cancel" else "error" for c in ANOMALY_CLASSES}
MAX_LISTED = 1000  # anomalies listed per class in JSON (all are counted)
NO_CID = "<no cid>"
__all__ = ["EVENTS", "KIND_NAMES", "STATES", "AuditResult", "audit", "audit_session", "order_timeline", "write_audit"]


@dataclass
class Anomaly:
    cls: str
    cid: str
    ts_ns: int
    detail: str
    count: int = 1
    event: str | None = None  # the event that caused it (first occurrence)

    def to_dict(self) -> dict[str, Any]:
        return {
            "cid": self.cid,
            "ts": _iso(self.ts_ns),
            "event": self.event,
            "detail": self.detail,
            "count": self.count,
            "severity": SEVERITY[self.cls],
        }


def _iso(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns / 1e9, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class AuditResult:
    session_dir: Path
    ack_ttl_s: float
    orders: int
    events: int
    final_states: dict[str, int]
    anomalies: dict[str, list[Anomaly]]
    in_flight: list[str]
    transitions: Counter  # (from, event, to, kind) -> count, all small ints
    latency: dict[str, dict[str, Any]]
    latency_histograms: dict[str, dict[str, Any]]
    read: dict[str, Any]
    unknown_codes: dict[str, int] = field(default_factory=dict)
    walk: OrderWalk | None = field(repr=False, default=None)

    @property
    def anomaly_counts(self) -> dict[str, int]:
        return {c: len(self.anomalies.get(c, [])) for c in ANOMALY_CLASSES}

    @property
    def ok(self) -> bool:
        """No anomaly of error severity (fill-after-cancel warnings allowed)."""
        return not any(self.anomalies.get(c) for c in ANOMALY_CLASSES if SEVERITY[c] == "error")

    def anomalous_ids(self) -> set[str]:
        return {a.cid for lst in self.anomalies.values() for a in lst}

    # -- graphs -----------------------------------------------------------------------------
    def aggregate_graph(self) -> nx.MultiDiGraph:
        """States as nodes; one edge per (from, event, to, kind) with its ``count``."""
        g = nx.MultiDiGraph(name="aurora order lifecycle", session=str(self.session_dir))
        for s in STATES:
            g.add_node(s.value, terminal=s in TERMINAL_STATES)
        for (a, e, b, kind), n in sorted(self.transitions.items()):
            g.add_edge(STATES[a].value, STATES[b].value, key=f"{EVENTS[e]}/{KIND_NAMES[kind]}",
                       event=EVENTS[e], kind=KIND_NAMES[kind], count=int(n))  # fmt: skip
        return g

    def has_order(self, cid: str) -> bool:
        return self._order_index(cid) is not None

    def _order_index(self, cid: str) -> int | None:
        assert self.walk is not None
        code = -1 if cid == NO_CID else self.walk.cids.find(cid)
        if code < 0 and cid != NO_CID:
            return None
        hits = np.flatnonzero(self.walk.cids.codes == code)
        return int(hits[0]) if hits.size else None

    def order_index(self, cid: str) -> int:
        """The walk's index of order ``cid`` (KeyError when the session has no ``ORDER.*`` event for it)."""
        j = self._order_index(cid)
        if j is None:
            raise KeyError(cid)
        return j

    def order_steps(self, cid: str) -> list[tuple[int, int, int, int, int]]:
        """(from, event, to, kind, ts) for each of the order's events."""
        assert self.walk is not None
        return self.walk.steps(self.order_index(cid))

    def order_graph(self, cid: str) -> nx.DiGraph:
        """The directed graph of one order's path: states as nodes, each event as an edge (with times)."""
        return _path_graph(cid, self.order_steps(cid))

    def order_graphs(self, cids: list[str] | None = None) -> dict[str, nx.DiGraph]:
        assert self.walk is not None
        if cids is not None:
            return {c: self.order_graph(c) for c in cids}
        w = self.walk
        return {w.cids.get(j) or NO_CID: _path_graph(w.cids.get(j) or NO_CID, w.steps(j)) for j in range(w.n)}

    # -- output -----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "session": str(self.session_dir),
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "ok": self.ok,
            "ack_ttl_s": self.ack_ttl_s,
            "orders": self.orders,
            "events": self.events,
            "final_states": self.final_states,
            "anomaly_counts": self.anomaly_counts,
            "severity": SEVERITY,
            "anomalies": {
                c: {
                    "orders": [a.to_dict() for a in self.anomalies.get(c, [])[:MAX_LISTED]],
                    "truncated": len(self.anomalies.get(c, [])) > MAX_LISTED,
                }
                for c in ANOMALY_CLASSES
            },
            "in_flight": self.in_flight[:MAX_LISTED],
            "in_flight_count": len(self.in_flight),
            "latency_ms": self.latency,
            "latency_histograms_ms": self.latency_histograms,
            "unknown_codes": self.unknown_codes,
            "transitions": [
                {
                    "from": STATES[a].value,
                    "event": EVENTS[e],
                    "to": STATES[b].value,
                    "kind": KIND_NAMES[k],
                    "count": int(n),
                }
                for (a, e, b, k), n in sorted(self.transitions.items(), key=lambda x: -x[1])
            ],  # fmt: skip
            "read": self.read,
        }

    def write_graphml(self, path: Path) -> Path:
        nx.write_graphml(self.aggregate_graph(), path)
        return path

    def write_dot(self, path: Path) -> Path:
        path.write_text(to_dot(self.aggregate_graph()))
        return path


def _path_graph(cid: str, steps: list[tuple[int, int, int, int, int]]) -> nx.DiGraph:
    g = nx.DiGraph(cid=cid)
    g.add_node(STATES[PREPARED].value, terminal=False)
    for a, e, b, kind, ts in steps:
        u, v = STATES[a].value, STATES[b].value
        if g.has_edge(u, v):
            d = g.edges[u, v]
            d["count"] += 1
            d["events"] += "," + EVENTS[e]
            d["kinds"] += "," + KIND_NAMES[kind]
            d["last_ts_ns"] = ts
        else:  # attributes are scalars so that the graph can be written as GraphML as it is
            g.add_edge(u, v, events=EVENTS[e], kinds=KIND_NAMES[kind], count=1, first_ts_ns=ts, last_ts_ns=ts)
        g.nodes[v]["terminal"] = STATES[b] in TERMINAL_STATES
    return g


def to_dot(g: nx.MultiDiGraph) -> str:
    """Graphviz DOT of the aggregate graph (written directly: no pydot dependency for a few lines)."""

    def q(s: str) -> str:
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'

    colours = {"ok": "black", "illegal": "red", "fill_after_cancel": "orange", "late_ack": "purple"}
    lines = [
        f"digraph {q(g.graph.get('name', 'lifecycle'))} {{",
        "  rankdir=LR;",
        "  node [shape=box, style=rounded];",
    ]
    for n, d in g.nodes(data=True):
        lines.append(f"  {q(n)} [peripheries={2 if d.get('terminal') else 1}];")
    for u, v, d in g.edges(data=True):
        label = f"{d['event']} ({d['count']})"
        lines.append(f"  {q(u)} -> {q(v)} [label={q(label)}, color={colours.get(d['kind'], 'gray')}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


# --- the audit ----------------------------------------------------------------------------------
def _anomalies(w: OrderWalk, frame: Frame, ack_ttl_s: float, end_ns: int) -> tuple[dict[str, list[Anomaly]], list[str]]:
    """Every anomalous order by class (vectorised over orders: a Python object only per anomaly)."""
    ttl_ns = int(ack_ttl_s * 1e9)
    codes = frame.labels(Field.EVENT_CODE)
    name = w.cids

    def cid_of(j: int) -> str:
        return name.get(j) or NO_CID

    def code_at(pos: int) -> str | None:
        return codes.get(int(w.rows[pos]))

    out: dict[str, list[Anomaly]] = {c: [] for c in ANOMALY_CLASSES}
    for j in np.flatnonzero(w.orphan).tolist():
        lo, hi = int(w.starts[j]), int(w.ends[j])
        out["orphan_event"].append(
            Anomaly("orphan_event", cid_of(j), int(w.ts[lo]), f"{hi - lo} event(s), no SUBMIT", 1, code_at(lo))
        )
    open_ = ~w.orphan & ~np.isin(w.final, [STATES.index(s) for s in TERMINAL_STATES])
    flying = open_ & (end_ns - w.last_ns <= ttl_ns)
    in_flight = [cid_of(j) for j in np.flatnonzero(flying).tolist()]
    for j in np.flatnonzero(open_ & ~flying).tolist():
        out["missing_terminal"].append(
            Anomaly("missing_terminal", cid_of(j), int(w.last_ns[j]), f"last state {STATES[int(w.final[j])].value}")
        )
    for cls in WALK_ANOMALIES:
        orders, first, counts = w.first_by_order(cls)
        for j, pos, n in zip(orders.tolist(), first.tolist(), counts.tolist(), strict=True):
            out[cls].append(Anomaly(cls, cid_of(j), int(w.ts[pos]), w.detail(cls, pos, ack_ttl_s), n, code_at(pos)))
    for cls in ANOMALY_CLASSES:
        out[cls].sort(key=lambda a: (a.ts_ns, a.cid))
    return out, in_flight


def audit(data: SessionData, ack_ttl_s: float) -> AuditResult:
    """Audit the ``ORDER.*`` events of ``data`` (gate's log only: the system of record)."""
    ev = data.events
    w = walk_orders(ev, ack_ttl_s, collect=True)
    # the session's clock: its newest record (off-clock records are left out by the reader)
    end_ns = data.report.last_ts_ns if data.report.last_ts_ns is not None else int(ev[Field.TS_NS].max(initial=0))
    anomalies, in_flight = _anomalies(w, ev, ack_ttl_s, end_ns)
    lat = w.latency_ms()
    return AuditResult(
        session_dir=data.session_dir,
        ack_ttl_s=ack_ttl_s,
        orders=w.n,
        events=int(w.rows.size),
        final_states=w.final_counts(),
        anomalies=anomalies,
        in_flight=in_flight,
        transitions=Counter(transition_counts(w)),
        latency={k: describe(v) for k, v in lat.items()},
        latency_histograms={k: histogram(v) for k, v in lat.items()},
        read=data.report.to_dict(),
        unknown_codes=data.report.unknown_codes,
        walk=w,
    )


def _lifecycle_only(batch: Any) -> Any:
    """Rows of a batch that are ``ORDER.*`` lifecycle events (the audit keeps nothing else in memory; the
    gate's own ``ORDER.ANOMALY`` verdicts are not steps of an order)."""
    from aurora.session import arrow_kernels as kernels

    column = batch.column(Field.EVENT_CODE.value)
    return arrow_mask(kernels.lifecycle_codes(column, "ORDER.", EventCode.ORDER_ANOMALY.value))


def audit_session(session_dir: Path | str, ack_ttl_s: float) -> AuditResult:
    """Read the gate's event log of ``session_dir`` (lifecycle fields only) and audit it."""
    data = read_session(session_dir, event_columns=EVENT_COLUMNS, runner_events=False, orders=False, sort=False,
                        keep=_lifecycle_only, lean=True)  # fmt: skip
    return audit(data, ack_ttl_s)


def order_timeline(session_dir: Path | str, cid: str, ack_ttl_s: float) -> dict[str, Any]:
    """One order, readable: its gate decisions (a deny explained by the config value that decided it, see
    :func:`aurora.gate.thresholds.explain`); each event with ISO time, offset from SUBMIT, quantities,
    prices, trade id, reason, oid and what the walk made of it; the FSM path; each anomaly with its event.

    Only that order's events are kept from the read (``KeyError`` when there are none)."""
    from aurora.session import arrow_kernels as kernels

    def this_order(batch: Any) -> Any:
        return arrow_mask(kernels.equal(batch.column(Field.CID.value), cid))

    data = read_session(session_dir, event_columns=(*TIMELINE_FIELDS, *DECISION_FIELDS), runner_events=False,
                        orders=False, sort=False, keep=this_order)  # fmt: skip
    ev = data.events
    decisions = _decisions(ev)
    w = walk_orders(ev, ack_ttl_s, collect=True)
    if w.n == 0:
        if not decisions:
            raise KeyError(cid)
        return {"cid": cid, "decisions": decisions, "orphan": False, "final_state": None, "path": None,
                "events": [], "anomalies": [], "read": data.report.to_dict()}  # fmt: skip
    end_ns = data.report.last_ts_ns or 0
    found, _ = _anomalies(w, ev, ack_ttl_s, end_ns)
    orphan = bool(w.orphan[0])
    sub = int(w.submit_ns[0])

    def val(x: Any) -> Any:
        if x is None or (isinstance(x, float) and x != x):
            return None
        return x if isinstance(x, int | float) else str(x)

    rows, cum = [], 0.0
    fills = {e for e in FILL_EVENTS}
    for k, (a, e, b, kind, t) in enumerate(w.steps(0)):
        r = ev.row(int(w.rows[k]))
        fq = val(r.get(Field.FILL_QTY))
        counted = kind in FILL_COUNTS and EVENTS[e] in fills
        if counted:
            cum = float(val(r.get(Field.CUM_QTY)) or (cum + (fq or 0.0)))
        rows.append({
            "ts": _iso(t),
            "offset_ms": None if sub < 0 else round((t - sub) / 1e6, 3),
            Field.EVENT_CODE.value: str(r[Field.EVENT_CODE]),
            **{f.value: val(r.get(f)) for f in (Field.QTY,)},
            Field.FILL_QTY.value: fq,
            Field.CUM_QTY.value: round(cum, 12) if counted else None,
            **{f.value: val(r.get(f)) for f in (Field.PRICE, Field.FILL_PRICE, Field.TRADE_ID, Field.REASON, Field.OID)},
            "from": STATES[a].value,
            "to": STATES[b].value,
            "kind": KIND_NAMES[kind],
        })  # fmt: skip
    path = [STATES[PREPARED].value]
    for _, _, b, kind, _ in w.steps(0):
        if KIND_NAMES[kind] == "ok" and STATES[b].value != path[-1]:
            path.append(STATES[b].value)
    anomalies = [
        {"class": a.cls, "severity": SEVERITY[a.cls], "ts": _iso(a.ts_ns), "event": a.event, "detail": a.detail,
         "count": a.count}
        for lst in found.values() for a in lst
    ]  # fmt: skip
    return {
        "cid": cid,
        "decisions": decisions,
        "orphan": orphan,
        "final_state": None if orphan else STATES[int(w.final[0])].value,
        "path": None if orphan else path,
        "events": rows,
        "anomalies": anomalies,
        "read": data.report.to_dict(),
    }


def _decisions(ev: Frame) -> list[dict[str, Any]]:
    """The ``POLICY_DECISION`` rows of a one-order frame, in time order, each deny explained."""
    from aurora.gate.thresholds import explain

    rows = np.flatnonzero(ev.labels(Field.EVENT_CODE).isin([EventCode.POLICY_DECISION.value]))
    rows = rows[np.argsort(ev[Field.TS_NS][rows], kind="stable")]
    allow, max_qty, observed = ev.floats(Field.ALLOW), ev.floats(Field.MAX_QTY), ev.floats(Field.CONFIG_OBSERVED)
    out = []
    for i in rows.tolist():
        reason = ev.labels(Field.REASON).get(i) or "?"
        key = ev.labels(Field.CONFIG_KEY).get(i)
        threshold = None
        if key is not None:
            obs = float(observed[i])
            threshold = {"key": key, "value": ev.labels(Field.CONFIG_VALUE).get(i),
                         "source": ev.labels(Field.CONFIG_SOURCE).get(i), "observed": obs if obs == obs else None}  # fmt: skip
        out.append({"ts": _iso(int(ev[Field.TS_NS][i])), "allow": bool(allow[i] == 1.0), "reason": reason,
                    "max_qty": float(max_qty[i]) if max_qty[i] == max_qty[i] else None,
                    "guard": ev.labels(Field.GUARD).get(i), "threshold": threshold,
                    "explain": explain(reason, threshold)})  # fmt: skip
    return out


AUDIT_JSON, AUDIT_GRAPHML, AUDIT_DOT = (
    "lifecycle_audit.json",
    "lifecycle_transitions.graphml",
    "lifecycle_transitions.dot",
)
AUDIT_ORDERS_GRAPHML = "lifecycle_anomalous_orders.graphml"


def anomalous_orders_graph(result: AuditResult, limit: int = MAX_LISTED) -> nx.DiGraph:
    """The per-order graphs of (up to ``limit``) anomalous orders as one graph: nodes are ``cid:STATE``."""
    union = nx.DiGraph(name="anomalous orders")
    for cid in sorted(result.anomalous_ids())[:limit]:
        if cid == NO_CID or not result.has_order(cid):
            continue
        g = result.order_graph(cid)
        flagged = ",".join(c for c, lst in result.anomalies.items() if any(a.cid == cid for a in lst))
        for n, d in g.nodes(data=True):
            union.add_node(f"{cid}:{n}", cid=cid, state=n, anomalies=flagged, **d)
        for u, v, d in g.edges(data=True):
            union.add_edge(f"{cid}:{u}", f"{cid}:{v}", cid=cid, **d)
    return union


def write_audit(result: AuditResult, out_dir: Path | str) -> dict[str, Path]:
    """Write the audit JSON, the aggregate transition graph (GraphML, DOT) and the anomalous orders' graphs."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": out / AUDIT_JSON,
        "graphml": out / AUDIT_GRAPHML,
        "dot": out / AUDIT_DOT,
        "orders_graphml": out / AUDIT_ORDERS_GRAPHML,
    }
    data = result.to_dict()
    data["files"] = {k: str(v) for k, v in paths.items()}
    paths["json"].write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2, default=str) + b"\n")
    result.write_graphml(paths["graphml"])
    result.write_dot(paths["dot"])
    nx.write_graphml(anomalous_orders_graph(result), paths["orders_graphml"])
    return paths
