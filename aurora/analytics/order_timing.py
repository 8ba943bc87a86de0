"""Latency histograms for plots and machines, shared by the metrics summary and the lifecycle audit.

(The latencies themselves come from the order walk, :mod:`aurora.analytics.order_walk`; percentiles
from :mod:`aurora.stats`.)
"""

from __future__ import annotations

from typing import Any

import numpy as np


def histogram(values: np.ndarray, bins: int = 40) -> dict[str, Any]:
    """Log-spaced histogram (latencies span decades) for plots and for machines: ``edges`` and ``counts``."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    zeros = int((v <= 0).sum())  # a log axis cannot place them: counted beside the bins, never dropped
    v = v[v > 0]
    if v.size == 0:
        return {"edges": [], "counts": [], "zeros": zeros}
    lo, hi = float(v.min()), float(v.max())
    if hi <= lo:
        hi = lo * 1.01 + 1e-9
    edges = np.geomspace(lo, hi, bins + 1)
    counts, edges = np.histogram(v, bins=edges)
    return {"edges": [float(f"{e:.6g}") for e in edges], "counts": counts.astype(int).tolist(), "zeros": zeros}
