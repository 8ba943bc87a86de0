"""`lifecycle-audit` at 1M and 2M orders: memory per order and time per event, whole process.

Goal (issue 14): at most 1 KB of memory per order, and linear to 2M orders. Each size is audited by
``auroractl lifecycle-audit`` as its own child process; its peak resident memory (the child's rusage)
divided by the orders is the figure, and so is the marginal memory of the second million (what one more
order costs, start-up and libraries not included). Time per lifecycle event should stay flat.

The sessions are written in parts of :data:`PART` orders (each part one rotated ``.gz`` file, the last
one live), so that generating 2M orders never holds more than one part in memory; the 1M session is the
first half of the 2M one (the same files, hard-linked). Every anomaly class is planted in every part and
must be found exactly.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aurora.analytics.lifecycle_audit import ANOMALY_CLASSES
from bench.bench_analytics_summary import run_measured
from tests.support.session_log_generator import DEFAULT_START_NS, NS, generate_session

SIZES = tuple(int(x) for x in os.environ.get("AURORA_BENCH_AUDIT_SIZES", "1000000,2000000").split(","))
PART = int(os.environ.get("AURORA_BENCH_AUDIT_PART", "250000"))
TARGET_BYTES_PER_ORDER = 1024
PER_PART = 2  # of each anomaly class


def _parts(root: Path, n_parts: int) -> list[tuple[Path, Path, dict[str, set[str]], int]]:
    """Generate ``n_parts`` parts: (gz file, plain file, anomalies planted, lifecycle events)."""
    out = []
    for k in range(n_parts):
        d = root / f"part{k}"
        g = generate_session(
            d, n_orders=PART, first_order=k * PART, start_ns=DEFAULT_START_NS + k * 4 * 3600 * NS, decisions=False,
            xai=False, order_logs=False, state_events=False, deny_ratio=0.0, mean_partials=3.5, rotations=0,
            runner_groups=(), anomalies={c: PER_PART for c in ANOMALY_CLASSES},
        )  # fmt: skip
        plain = d / "aurora_events.jsonl"
        gz = d / "aurora_events.gz"
        with open(plain, "rb") as src, gzip.open(gz, "wb", compresslevel=1) as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        out.append((gz, plain, {c: set(v) for c, v in g.anomalies.items()}, g.events))
    return out


def _session(root: Path, parts: list[tuple[Path, Path, dict[str, set[str]], int]]) -> Path:
    s = root / f"orders-{len(parts) * PART}"
    s.mkdir()
    for k, (gz, plain, _, _) in enumerate(parts):
        if k < len(parts) - 1:
            os.link(gz, s / f"aurora_events.20261121-{k + 1:03d}.jsonl.gz")
        else:
            os.link(plain, s / "aurora_events.jsonl")
    return s


def run() -> dict[str, Any]:
    auroractl = str(Path(sys.executable).with_name("auroractl"))
    rows = []
    with tempfile.TemporaryDirectory(prefix="aurora-bench-audit-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        parts = _parts(root, max(SIZES) // PART)
        gen_s = time.perf_counter() - t0
        for n in SIZES:
            mine = parts[: n // PART]
            session = _session(root, mine)
            out_json = root / f"audit-{n}.json"
            cmd = [auroractl, "lifecycle-audit", "--session", str(session), "--out-dir", str(root / f"out-{n}"), "--json"]
            wall, cpu, peak_mb = run_measured(cmd, out_json)
            result = json.loads(out_json.read_text())
            want = {c: set().union(*(p[2].get(c, set()) for p in mine)) for c in ANOMALY_CLASSES}
            found = {c: {o["cid"] for o in result["anomalies"][c]["orders"]} for c in ANOMALY_CLASSES}
            events = sum(p[3] for p in mine)
            rows.append({
                "orders": result["orders"],
                "events": result["events"],
                "wall_s": round(wall, 2),
                "cpu_s": round(cpu, 2),
                "us_per_event": round(1e6 * wall / result["events"], 3),
                "peak_mb": round(peak_mb, 1),
                "bytes_per_order": round(peak_mb * 1024 * 1024 / result["orders"]),
                "anomalies_exact": found == want and result["orders"] == n and result["events"] == events,
            })  # fmt: skip
            shutil.rmtree(root / f"out-{n}", ignore_errors=True)
    per_event = [r["us_per_event"] for r in rows]
    marginal = None
    if len(rows) >= 2:
        a, b = rows[-2], rows[-1]
        marginal = round((b["peak_mb"] - a["peak_mb"]) * 1024 * 1024 / (b["orders"] - a["orders"]))
    met_mem = all(r["bytes_per_order"] <= TARGET_BYTES_PER_ORDER for r in rows)
    linear = max(per_event) <= 1.5 * min(per_event)
    return {
        "generate_s": round(gen_s, 1),
        "table": [*rows, {"target_bytes_per_order": TARGET_BYTES_PER_ORDER, "met_memory": met_mem,
                          "marginal_bytes_per_order": marginal, "linear": linear,
                          "us_per_event_spread": round(max(per_event) / min(per_event), 3)}],  # fmt: skip
        "met": met_mem and linear and all(r["anomalies_exact"] for r in rows),
    }
