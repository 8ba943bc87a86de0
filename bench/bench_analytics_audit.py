"""`lifecycle-audit` at three sizes up to 100,000 orders (~500,000 lifecycle events).

Goal (issue 6): 100k orders in <= 10 s, time growing linearly with size. Reported per size: read time,
FSM-walk time, total, microseconds per event (flat = linear), and the time to build every order's own
networkx graph on top (one DiGraph per order).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from aurora.analytics.lifecycle_audit import EVENT_COLUMNS, audit
from aurora.session.reader import read_session
from tests.support.session_log_generator import ANOMALY_CLASSES, generate_session

SIZES = tuple(int(x) for x in os.environ.get("AURORA_BENCH_AUDIT_SIZES", "10000,30000,100000").split(","))
TARGET_S = 10.0
REPEATS = 3


def _one(session: Path) -> tuple[float, float, Any]:
    t0 = time.perf_counter()
    data = read_session(session, event_columns=EVENT_COLUMNS, runner_events=False, orders=False, sort=False)
    t1 = time.perf_counter()
    result = audit(data, 5.0)
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, result


def run() -> dict[str, Any]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="aurora-bench-audit-") as tmp:
        for n in SIZES:
            session = Path(tmp) / f"orders-{n}"
            gen = generate_session(
                session, n_orders=n, decisions=False, xai=False, order_logs=False, state_events=False,
                deny_ratio=0.0, mean_partials=3.5, rotations=2, anomalies={c: 10 for c in ANOMALY_CLASSES},
            )  # fmt: skip
            runs = [_one(session) for _ in range(REPEATS)]
            read_s, walk_s, result = min(runs, key=lambda r: r[0] + r[1])
            assert result.orders == n and all(len(result.anomalies[c]) == 10 for c in ANOMALY_CLASSES)
            t = time.perf_counter()
            graphs = result.order_graphs()
            graphs_s = time.perf_counter() - t
            total = read_s + walk_s
            rows.append({
                "orders": n,
                "events": result.events,
                "read_s": round(read_s, 3),
                "audit_s": round(walk_s, 3),
                "total_s": round(total, 3),
                "us_per_event": round(1e6 * total / result.events, 3),
                "all_order_graphs_s": round(graphs_s, 3),
                "total_with_graphs_s": round(total + graphs_s, 3),
                "graphs": len(graphs),
                "target_s": TARGET_S if n == max(SIZES) else None,
                "met": (total + graphs_s) <= TARGET_S if n == max(SIZES) else None,
            })  # fmt: skip
            del graphs, result
            assert gen.events >= rows[-1]["events"]
    per_event = [r["us_per_event"] for r in rows]
    return {
        "table": rows,
        "linear": max(per_event) <= 1.5 * min(per_event),
        "us_per_event_spread": round(max(per_event) / min(per_event), 3),
    }
