"""Lifecycle audit (SPEC §8): every order's ``ORDER.*`` events checked against the order FSM.

Anomaly classes (each reported with the client order ids):

* ``illegal_transition`` — an event the FSM does not allow in the order's state;
* ``missing_terminal`` — the order never reached FILLED / CANCELED / REJECTED / EXPIRED (orders whose last
  event is within ``ack_ttl_s`` of the end of the log are *in flight*, listed but not flagged);
* ``late_ack`` — the first ACK came more than ``observability.ack.ttl_s`` after SUBMIT (also when the
  AckTracker had already expired the order: that ACK is late, not illegal);
* ``duplicate_ack`` — a second ACK (ignored by the walk: a replayed message, not a transition);
* ``duplicate_fill`` — a PARTIAL/FILL repeating a ``trade_id`` already seen (ignored likewise);
* ``overfill`` — cumulative fill quantity above the order's quantity;
* ``fill_after_cancel`` — a PARTIAL/FILL after CANCEL.ACK (a real-world race: a *warning*);
* ``orphan_event`` — lifecycle events of an order that has no SUBMIT (not walked further).

How it stays fast at 100k orders / 500k events: the events are grouped by order with one vectorised
sort (``np.lexsort`` on order id, time, read position), states and events are small integers, and the
walk is one tight Python loop over a list-of-lists transition table derived from
:data:`aurora.orders.fsm.TRANSITIONS` (the FSM is imported, never restated). The walk records each
order's path as integer steps; networkx graphs are built from those steps: the aggregate transition
graph always, and one ``DiGraph`` per order by :meth:`AuditResult.order_graph` /
:meth:`AuditResult.order_graphs` (building 100k small graphs costs more than the whole walk, so it is
done when asked for: for reports, anomalous orders, or ``--order CID``).
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
import pandas as pd

from aurora.analytics.order_timing import histogram, latency_samples, order_times, percentiles
from aurora.session.reader import SessionData, read_session
from aurora.events.codes import ORDER_EVENT_NAMES
from aurora.orders.fsm import FILL_EVENTS, TERMINAL_STATES, TRANSITIONS, OrderState

SCHEMA = "aurora.lifecycle_audit/1"
EVENT_COLUMNS: tuple[str, ...] = ("cid", "oid", "symbol", "qty", "fill_qty", "cum_qty", "trade_id", "reason")

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

# --- integer encoding of the FSM (derived, not restated) ------------------------------------------
STATES: tuple[OrderState, ...] = tuple(OrderState)
EVENTS: tuple[str, ...] = ORDER_EVENT_NAMES + ("?",)  # "?" = an ORDER.* code the FSM does not know
S_IDX = {s: i for i, s in enumerate(STATES)}
E_IDX = {e: i for i, e in enumerate(EVENTS)}
TABLE: list[list[int]] = [[-1] * len(EVENTS) for _ in STATES]
for (_s, _e), _n in TRANSITIONS.items():
    TABLE[S_IDX[_s]][E_IDX[_e]] = S_IDX[_n]
PREPARED, EXPIRED, CANCELED = (
    S_IDX[OrderState.PREPARED],
    S_IDX[OrderState.EXPIRED],
    S_IDX[OrderState.CANCELED],
)
TERMINAL = frozenset(S_IDX[s] for s in TERMINAL_STATES)
E_SUBMIT, E_ACK = E_IDX["SUBMIT"], E_IDX["ACK"]
E_FILLS = frozenset(E_IDX[e] for e in FILL_EVENTS)
# step kinds
OK, ILLEGAL, FAC, LATE_ACK_AFTER_EXPIRE, DUP_ACK, DUP_FILL = range(6)
KIND_NAMES = ("ok", "illegal", "fill_after_cancel", "late_ack", "duplicate_ack", "duplicate_fill")


@dataclass
class Anomaly:
    cls: str
    cid: str
    ts_ns: int
    detail: str
    count: int = 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "cid": self.cid,
            "ts": _iso(self.ts_ns),
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
    # per-order replay material (for graphs): sorted columns and each order's slice
    _frame: pd.DataFrame = field(repr=False, default=None)
    _cols: tuple = field(repr=False, default=())
    _slices: dict[str, tuple[int, int]] = field(repr=False, default_factory=dict)
    _steps: dict[str, list[tuple[int, int, int, int, int]]] = field(repr=False, default_factory=dict)

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

    def order_graph(self, cid: str) -> nx.DiGraph:
        """The directed graph of one order's path: states as nodes, each event as an edge (with times)."""
        steps = self._steps.get(cid)
        if steps is None:
            if cid not in self._slices:
                raise KeyError(cid)
            lo, hi = self._slices[cid]
            steps = []
            _walk(self._cols, lo, hi, int(self.ack_ttl_s * 1e9), steps, None, cid)
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
        return {c: self.order_graph(c) for c in (cids if cids is not None else list(self._slices))}

    def order_events(self, cid: str) -> pd.DataFrame:
        lo, hi = self._slices[cid]
        return self._frame.iloc[lo:hi]

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


# --- the walk ------------------------------------------------------------------------------------
def _columns(frame: pd.DataFrame) -> tuple[list, ...]:
    ev = frame["_ev"].tolist()
    ts = frame["ts_ns"].tolist()
    qty = frame["qty"].tolist()
    fq = frame["fill_qty"].tolist()
    cq = frame["cum_qty"].tolist()
    tid = frame["trade_id"].cat.codes.tolist()
    return ev, ts, qty, fq, cq, tid


def _walk(cols: tuple[list, ...], lo: int, hi: int, ttl_ns: int, steps: list | None,
          found: dict[str, list] | None, cid: str) -> int:  # fmt: skip
    """Walk one order's events ``[lo, hi)``; append anomalies to ``found``; return the final state.

    ``steps`` receives (from, event, to, kind, ts) for every event (for graphs and the aggregate).
    """
    ev, ts, qty, fq, cq, tid = cols
    state = PREPARED
    acked = False
    submit_ts = -1
    order_qty = float("nan")
    cum = 0.0
    overfilled = False
    trades: set[int] = set()
    table = TABLE
    for i in range(lo, hi):
        e = ev[i]
        t = ts[i]
        kind = OK
        nxt = table[state][e]
        if e == E_ACK:
            if acked:
                kind = DUP_ACK
            else:
                acked = True
                if submit_ts >= 0 and t - submit_ts > ttl_ns:
                    if found is not None:
                        found["late_ack"].append(
                            (t, f"ack {(t - submit_ts) / 1e9:.3f}s after submit (ttl {ttl_ns / 1e9:g}s)")
                        )
                    if state == EXPIRED:
                        kind = LATE_ACK_AFTER_EXPIRE
        elif e in E_FILLS:
            k = tid[i]
            if k >= 0 and k in trades:
                kind = DUP_FILL
            else:
                if k >= 0:
                    trades.add(k)
                f = fq[i]
                if f != f:  # NaN: derive from the cumulative quantity when that is all we have
                    c = cq[i]
                    f = c - cum if c == c and c > cum else 0.0
                cum += f
                if not overfilled and order_qty == order_qty and cum > order_qty * (1 + 1e-9) + 1e-12:
                    overfilled = True
                    if found is not None:
                        found["overfill"].append((t, f"filled {cum:g} of {order_qty:g}"))
        if kind == OK:
            if nxt >= 0:
                if e == E_SUBMIT and submit_ts < 0:
                    submit_ts = t
                    order_qty = qty[i]
            elif state == CANCELED and e in E_FILLS:
                kind, nxt = FAC, state
            else:
                kind, nxt = ILLEGAL, state
        else:
            nxt = state
        if found is not None:
            if kind == ILLEGAL:
                found["illegal_transition"].append((t, f"{STATES[state].value} --{EVENTS[e]}-->"))
            elif kind == DUP_ACK:
                found["duplicate_ack"].append((t, "second ACK"))
            elif kind == DUP_FILL:
                found["duplicate_fill"].append((t, f"{EVENTS[e]} repeats a trade_id"))
            elif kind == FAC:
                found["fill_after_cancel"].append((t, f"{EVENTS[e]} after CANCEL.ACK"))
        if steps is not None:
            steps.append((state, e, nxt, kind, t))
        state = nxt
    return state


def audit(data: SessionData, ack_ttl_s: float, *, keep_steps_for: set[str] | None = None) -> AuditResult:
    """Audit the ``ORDER.*`` events of ``data`` (gate's log only: the system of record)."""
    ev = data.events
    codes = ev["event_code"]
    cats = codes.cat.categories
    src = ev["source"]
    gate_src = [i for i, s in enumerate(src.cat.categories) if not s.startswith("runner_events")]
    order_code_ids = [i for i, c in enumerate(cats) if c.startswith("ORDER.")]
    mask = np.isin(codes.cat.codes.to_numpy(), order_code_ids) & np.isin(src.cat.codes.to_numpy(), gate_src)
    frame = ev.loc[mask, ["ts_ns", "event_code", "cid", "qty", "fill_qty", "cum_qty", "trade_id"]]
    # event code -> FSM event index ("?" for an ORDER.* code the FSM does not know)
    code_to_ev = np.array(
        [E_IDX.get(c[len("ORDER.") :], E_IDX["?"]) if c.startswith("ORDER.") else -1 for c in cats] + [-1]
    )
    cid_codes = frame["cid"].cat.codes.to_numpy()
    ts = frame["ts_ns"].to_numpy()
    order = np.lexsort((np.arange(len(frame)), ts, cid_codes))
    frame = frame.iloc[order].reset_index(drop=True)
    frame["_ev"] = code_to_ev[frame["event_code"].cat.codes.to_numpy()]
    cid_sorted = cid_codes[order]
    n = len(frame)
    bounds = np.flatnonzero(np.diff(cid_sorted)) + 1 if n else np.array([], dtype=int)
    starts = np.concatenate(([0], bounds)).tolist() if n else []
    ends = np.concatenate((bounds, [n])).tolist() if n else []
    group_cid = cid_sorted[starts].tolist() if n else []
    cid_names = (
        frame["cid"].cat.categories.astype(str).tolist()
    )  # a list: Index.__getitem__ is slow in a loop
    has_submit = np.zeros(len(cid_names) + 1, dtype=bool)
    sub_rows = frame["_ev"].to_numpy() == E_SUBMIT
    has_submit[cid_sorted[sub_rows]] = True
    has_submit[-1] = False  # events without a cid (code -1) are orphans whatever they are

    ttl_ns = int(ack_ttl_s * 1e9)
    end_ns = int(ev["ts_ns"].max()) if len(ev) else 0
    cols = _columns(frame)
    ts_list = cols[1]
    transitions: Counter = Counter()
    anomalies: dict[str, list[Anomaly]] = {c: [] for c in ANOMALY_CLASSES}
    final: Counter = Counter()
    in_flight: list[str] = []
    slices: dict[str, tuple[int, int]] = {}
    kept: dict[str, list] = {}
    keep = keep_steps_for or set()
    for lo, hi, code in zip(starts, ends, group_cid, strict=True):
        cid = NO_CID if code < 0 else cid_names[code]
        slices[cid] = (lo, hi)
        if not has_submit[code]:
            anomalies["orphan_event"].append(
                Anomaly("orphan_event", cid, ts_list[lo], f"{hi - lo} event(s), no SUBMIT")
            )
            final["(orphan)"] += 1
            continue
        found: dict[str, list] = {c: [] for c in ANOMALY_CLASSES}
        steps: list = []
        state = _walk(cols, lo, hi, ttl_ns, steps, found, cid)
        for a, e, b, k, _ in steps:
            transitions[(a, e, b, k)] += 1
        if cid in keep:
            kept[cid] = steps
        final[STATES[state].value] += 1
        if state not in TERMINAL:
            if end_ns - ts_list[hi - 1] <= ttl_ns:
                in_flight.append(cid)
            else:
                found["missing_terminal"].append((ts_list[hi - 1], f"last state {STATES[state].value}"))
        for cls, items in found.items():
            if items:
                anomalies[cls].append(Anomaly(cls, cid, items[0][0], items[0][1], len(items)))
    times = order_times(frame)
    lat = latency_samples(times)
    return AuditResult(
        session_dir=data.session_dir,
        ack_ttl_s=ack_ttl_s,
        orders=len(slices),
        events=n,
        final_states=dict(final.most_common()),
        anomalies=anomalies,
        in_flight=in_flight,
        transitions=transitions,
        latency={
            "submit_to_ack": percentiles(lat["submit_to_ack"]),
            "ack_to_done": percentiles(lat["ack_to_done"]),
        },
        latency_histograms={k: histogram(v) for k, v in lat.items()},
        read=data.report.to_dict(),
        _frame=frame,
        _cols=cols,
        _slices=slices,
        _steps=kept,
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
        if cid not in result._slices or cid == NO_CID:
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
