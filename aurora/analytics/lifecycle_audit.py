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
import orjson
import pandas as pd

from aurora.analytics.order_timing import histogram
from aurora.analytics.order_walk import (
    EVENTS,
    KIND_NAMES,
    PREPARED,
    STATES,
    TERMINAL,
    OrderWalk,
    transition_counts,
    walk_orders,
    walk_steps,
)
from aurora.orders.fsm import TERMINAL_STATES
from aurora.session.reader import SessionData, read_session
from aurora.stats import describe

SCHEMA = "aurora.lifecycle_audit/1"
EVENT_COLUMNS: tuple[str, ...] = (
    "cid", "oid", "symbol", "side", "qty", "price", "fill_qty", "fill_price", "cum_qty", "trade_id", "reason",
)  # fmt: skip
#: Per-event fields of ``--order`` timelines (carried through the walk).
TIMELINE_FIELDS: tuple[str, ...] = ("oid", "symbol", "side", "price", "fill_price", "reason")

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
__all__ = ["EVENTS", "KIND_NAMES", "STATES", "AuditResult", "audit", "audit_session", "write_audit"]


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
    _index: dict[str, int] = field(repr=False, default_factory=dict)

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

    def order_index(self, cid: str) -> int:
        """The walk's index of order ``cid`` (KeyError when the session has no ``ORDER.*`` event for it)."""
        return self._index[cid]

    def order_steps(self, cid: str) -> list[tuple[int, int, int, int, int]]:
        """(from, event, to, kind, ts) for each of the order's events."""
        assert self.walk is not None
        return walk_steps(self.walk, self.order_index(cid), self.ack_ttl_s)

    def order_graph(self, cid: str) -> nx.DiGraph:
        """The directed graph of one order's path: states as nodes, each event as an edge (with times)."""
        steps = self.order_steps(cid)
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
                g.add_edge(
                    u, v, events=EVENTS[e], kinds=KIND_NAMES[kind], count=1, first_ts_ns=ts, last_ts_ns=ts
                )
            g.nodes[v]["terminal"] = STATES[b] in TERMINAL_STATES
        return g

    def order_graphs(self, cids: list[str] | None = None) -> dict[str, nx.DiGraph]:
        return {c: self.order_graph(c) for c in (cids if cids is not None else list(self._index))}

    def order_events(self, cid: str) -> pd.DataFrame:
        assert self.walk is not None
        j = self.order_index(cid)
        return self.walk.frame.iloc[int(self.walk.starts[j]) : int(self.walk.ends[j])]

    def order_timeline(self, cid: str) -> dict[str, Any]:
        """One order, readable: each event with ISO time, offset from SUBMIT, quantities, prices, trade
        id, reason, oid and what the walk made of it; the FSM path; each anomaly with its event."""
        assert self.walk is not None
        j = self.order_index(cid)
        ev = self.order_events(cid)
        orphan = bool(self.walk.orphan[j])
        sub = int(self.walk.submit_ns[j])
        steps = self.order_steps(cid)

        def val(x: Any) -> Any:
            if x is None or (isinstance(x, float) and x != x):
                return None
            return x if isinstance(x, int | float) else str(x)

        rows, cum = [], 0.0
        for k, r in enumerate(ev.to_dict("records")):
            a, e, b, kind, _ = steps[k]
            fq = val(r.get("fill_qty"))
            counted = KIND_NAMES[kind] in ("ok", "fill_after_cancel") and EVENTS[e] in ("PARTIAL", "FILL")
            if counted:
                cum = float(val(r.get("cum_qty")) or (cum + (fq or 0.0)))
            rows.append({
                "ts": _iso(int(r["ts_ns"])),
                "offset_ms": None if sub < 0 else round((int(r["ts_ns"]) - sub) / 1e6, 3),
                "event_code": str(r["event_code"]),
                "qty": val(r.get("qty")),
                "fill_qty": fq,
                "cum_qty": round(cum, 12) if counted else None,
                "price": val(r.get("price")),
                "fill_price": val(r.get("fill_price")),
                "trade_id": val(r.get("trade_id")),
                "reason": val(r.get("reason")),
                "oid": val(r.get("oid")),
                "from": STATES[a].value,
                "to": STATES[b].value,
                "kind": KIND_NAMES[kind],
            })  # fmt: skip
        path = [STATES[PREPARED].value]
        for _, _, b, kind, _ in steps:
            if KIND_NAMES[kind] == "ok" and STATES[b].value != path[-1]:
                path.append(STATES[b].value)
        anomalies = [
            {"class": a.cls, "severity": SEVERITY[a.cls], "ts": _iso(a.ts_ns), "event": a.event, "detail": a.detail,
             "count": a.count}
            for lst in self.anomalies.values() for a in lst if a.cid == cid
        ]  # fmt: skip
        return {
            "cid": cid,
            "orphan": orphan,
            "final_state": None if orphan else STATES[int(self.walk.final[j])].value,
            "path": None if orphan else path,
            "events": rows,
            "anomalies": anomalies,
        }

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
def audit(data: SessionData, ack_ttl_s: float) -> AuditResult:
    """Audit the ``ORDER.*`` events of ``data`` (gate's log only: the system of record)."""
    ev = data.events
    w = walk_orders(ev, ack_ttl_s, collect=True, extra=TIMELINE_FIELDS)
    ttl_ns = int(ack_ttl_s * 1e9)
    end_ns = int(ev["ts_ns"].max()) if len(ev) else 0  # the session's clock (off-clock records are left out)
    anomalies: dict[str, list[Anomaly]] = {c: [] for c in ANOMALY_CLASSES}
    in_flight: list[str] = []
    index: dict[str, int] = {}
    codes = w.frame["event_code"].astype(str).tolist() if w.found else []
    last = w.last_ns.tolist()
    final = w.final.tolist()
    for j, cid_ in enumerate(w.cids):
        cid = NO_CID if cid_ is None else cid_
        index[cid] = j
        if w.orphan[j]:
            lo, hi = int(w.starts[j]), int(w.ends[j])
            first = str(w.frame["event_code"].iat[lo])
            anomalies["orphan_event"].append(
                Anomaly("orphan_event", cid, int(w.frame["ts_ns"].iat[lo]), f"{hi - lo} event(s), no SUBMIT", 1, first)
            )
            continue
        found = w.found.get(j, {})
        if final[j] not in TERMINAL:
            if end_ns - last[j] <= ttl_ns:
                in_flight.append(cid)
            else:
                anomalies["missing_terminal"].append(
                    Anomaly("missing_terminal", cid, last[j], f"last state {STATES[final[j]].value}")
                )
        for cls, items in found.items():
            if items:
                t, detail, row = items[0]
                anomalies[cls].append(Anomaly(cls, cid, t, detail, len(items), codes[row]))
    for cls in ANOMALY_CLASSES:
        anomalies[cls].sort(key=lambda a: (a.ts_ns, a.cid))
    lat = w.latency_ms()
    return AuditResult(
        session_dir=data.session_dir,
        ack_ttl_s=ack_ttl_s,
        orders=w.n,
        events=len(w.frame),
        final_states=w.final_counts(),
        anomalies=anomalies,
        in_flight=in_flight,
        transitions=Counter(transition_counts(w)),
        latency={k: describe(v) for k, v in lat.items()},
        latency_histograms={k: histogram(v) for k, v in lat.items()},
        read=data.report.to_dict(),
        unknown_codes=data.report.unknown_codes,
        walk=w,
        _index=index,
    )


def audit_session(session_dir: Path | str, ack_ttl_s: float) -> AuditResult:
    """Read the gate's event log of ``session_dir`` (lifecycle fields only) and audit it."""
    data = read_session(
        session_dir, event_columns=EVENT_COLUMNS, runner_events=False, orders=False, sort=False
    )
    return audit(data, ack_ttl_s)


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
        if cid not in result._index or cid == NO_CID:
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
