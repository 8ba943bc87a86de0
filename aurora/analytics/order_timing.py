"""Per-order timestamps (submit, first ack, first terminal event) and latency percentiles.

Shared by the metrics summary and the lifecycle audit so that both report the same submit→ack and
ack→done numbers. Vectorised: one ``np.minimum.at`` per event kind over integer order ids.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from aurora.orders.fsm import TERMINAL_STATES, TRANSITIONS

#: Lifecycle events (short names) that end an order: derived from the FSM, not restated.
TERMINAL_EVENTS: frozenset[str] = frozenset(
    ev for (_, ev), nxt in TRANSITIONS.items() if nxt in TERMINAL_STATES
)

NO_TS = np.iinfo(np.int64).max
PERCENTILES = (50, 95, 99)


def code_index(codes: pd.Series) -> dict[str, int]:
    """Category -> integer code of a categorical ``event_code`` column."""
    return {c: i for i, c in enumerate(codes.cat.categories)}


def order_times(events: pd.DataFrame) -> pd.DataFrame:
    """One row per client order id seen in ``ORDER.*`` events: ``submit_ns``, ``ack_ns``, ``done_ns``.

    Each is the earliest such event of the order (``-1`` when absent); ``done`` is the first event that
    leads to a terminal state (FILL, REJECT, CANCEL.ACK, EXPIRE).
    """
    if events.empty or "cid" not in events:
        return pd.DataFrame({"submit_ns": [], "ack_ns": [], "done_ns": []}, dtype="int64")
    idx = code_index(events["event_code"])
    codes = events["event_code"].cat.codes.to_numpy()
    cid = events["cid"].cat.codes.to_numpy()
    ts = events["ts_ns"].to_numpy()
    n = len(events["cid"].cat.categories)
    out: dict[str, np.ndarray] = {}
    for col, names in (("submit_ns", {"SUBMIT"}), ("ack_ns", {"ACK"}), ("done_ns", TERMINAL_EVENTS)):
        wanted = [idx[f"ORDER.{name}"] for name in names if f"ORDER.{name}" in idx]
        arr = np.full(n, NO_TS, dtype=np.int64)
        if wanted:
            m = np.isin(codes, wanted) & (cid >= 0)
            np.minimum.at(arr, cid[m], ts[m])
        arr[arr == NO_TS] = -1
        out[col] = arr
    frame = pd.DataFrame(out, index=events["cid"].cat.categories)
    seen = np.zeros(n, dtype=bool)
    order_codes = [i for c, i in idx.items() if c.startswith("ORDER.")]
    seen[np.unique(cid[np.isin(codes, order_codes) & (cid >= 0)])] = True
    return frame[seen]


def latency_samples(
    times: pd.DataFrame, start_ns: int | None = None, end_ns: int | None = None
) -> dict[str, np.ndarray]:
    """submit→ack and ack→done latencies in ms, each counted when its closing event is in the window."""
    sub, ack, done = (times[c].to_numpy() for c in ("submit_ns", "ack_ns", "done_ns"))
    lo = -1 if start_ns is None else start_ns
    hi = np.iinfo(np.int64).max if end_ns is None else end_ns
    m1 = (sub >= 0) & (ack >= sub) & (ack >= lo) & (ack <= hi)
    m2 = (ack >= 0) & (done >= ack) & (done >= lo) & (done <= hi)
    return {
        "submit_to_ack": (ack[m1] - sub[m1]) / 1e6,
        "ack_to_done": (done[m2] - ack[m2]) / 1e6,
    }


def percentiles(values: np.ndarray, digits: int = 3) -> dict[str, Any]:
    """``n``, p50/p95/p99 (linear interpolation), mean and max; ``None`` values when there is no sample."""
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return {"n": 0, **{f"p{p}": None for p in PERCENTILES}, "mean": None, "max": None}
    qs = np.percentile(v, PERCENTILES)
    return {
        "n": int(v.size),
        **{f"p{p}": round(float(q), digits) for p, q in zip(PERCENTILES, qs, strict=True)},
        "mean": round(float(v.mean()), digits),
        "max": round(float(v.max()), digits),
    }


def histogram(values: np.ndarray, bins: int = 40) -> dict[str, Any]:
    """Log-spaced histogram (latencies span decades) for plots and for machines: ``edges`` and ``counts``."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    if v.size == 0:
        return {"edges": [], "counts": []}
    lo, hi = float(v.min()), float(v.max())
    if hi <= lo:
        hi = lo * 1.01 + 1e-9
    edges = np.geomspace(lo, hi, bins + 1)
    counts, edges = np.histogram(v, bins=edges)
    return {"edges": [float(f"{e:.6g}") for e in edges], "counts": counts.astype(int).tolist()}
