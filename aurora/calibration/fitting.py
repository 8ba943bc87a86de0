"""Offline fitting of calibration maps from labelled (score, outcome) pairs.

Isotonic regression is the pool-adjacent-violators algorithm (exact, O(n) after sorting); Platt
scaling is a two-parameter logistic regression fitted by Newton's method. Both are small enough to
hand-write with numpy, which keeps scikit-learn/scipy out of the dependencies.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from aurora.calibration.calibration_map import CalibrationError, CalibrationMap, expected_calibration_error


def _as_arrays(scores: Any, outcomes: Any) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=float).ravel()
    y = np.asarray(outcomes, dtype=float).ravel()
    if s.shape != y.shape:
        raise CalibrationError(f"scores and outcomes differ in length ({s.size} vs {y.size})")
    if s.size == 0:
        raise CalibrationError("no (score, outcome) pairs to fit")
    if not np.all(np.isfinite(s)):
        raise CalibrationError("scores must be finite numbers")
    if not np.all((y == 0) | (y == 1)):
        raise CalibrationError("outcomes must be 0 (loss) or 1 (win)")
    return s, y


def fit_isotonic(
    scores: Any, outcomes: Any, *, max_knots: int = 64, min_block: int = 20
) -> tuple[list[float], list[float]]:
    """Knots of the isotonic (non-decreasing) fit: one knot per PAV block at the block's mean score.

    Blocks lighter than ``min_block`` samples are merged into a neighbour, and blocks are merged down to
    ``max_knots`` so the hot-path interpolation stays tiny.
    """
    s, y = _as_arrays(scores, outcomes)
    order = np.argsort(s, kind="mergesort")
    s, y = s[order], y[order]
    # Ties in score must share one value: collapse them first.
    uniq, start = np.unique(s, return_index=True)
    counts = np.diff(np.append(start, s.size)).astype(float)
    sums = np.add.reduceat(y, start)
    # PAV on (mean value, weight, weighted score sum) blocks.
    val: list[float] = []
    wt: list[float] = []
    xs: list[float] = []
    for u, c, t in zip(uniq.tolist(), counts.tolist(), sums.tolist(), strict=True):
        val.append(t / c)
        wt.append(c)
        xs.append(u * c)
        while len(val) > 1 and val[-2] >= val[-1]:
            v1, w1, x1 = val.pop(), wt.pop(), xs.pop()
            w0 = wt[-1]
            val[-1] = (val[-1] * w0 + v1 * w1) / (w0 + w1)
            wt[-1] = w0 + w1
            xs[-1] += x1
    # Merge small blocks (a tail block of 3 wins is not a probability of 1.0) and cap the knot count;
    # merging adjacent blocks of a non-decreasing sequence keeps it non-decreasing.
    min_w = max(min_block, 1)
    while len(val) > 1 and (len(val) > max_knots or min(wt) < min_w):
        k = min(range(len(val)), key=lambda i: wt[i])
        if k == 0:
            j = 0
        elif k == len(val) - 1:
            j = k - 1
        else:
            j = k - 1 if wt[k - 1] <= wt[k + 1] else k
        w0, w1 = wt[j], wt[j + 1]
        val[j] = (val[j] * w0 + val[j + 1] * w1) / (w0 + w1)
        wt[j] = w0 + w1
        xs[j] += xs[j + 1]
        del val[j + 1], wt[j + 1], xs[j + 1]
    knots_x = [x / w for x, w in zip(xs, wt, strict=True)]
    return knots_x, [min(1.0, max(0.0, v)) for v in val]


def fit_platt(scores: Any, outcomes: Any, *, iterations: int = 100) -> tuple[float, float]:
    """``(a, b)`` of ``p = sigmoid(a * score + b)`` by Newton-Raphson on the log-loss.

    Targets use Platt's prior correction ((n+ + 1)/(n+ + 2), 1/(n- + 2)) so a separable sample does
    not drive the slope to infinity.
    """
    s, y = _as_arrays(scores, outcomes)
    n_pos = float(y.sum())
    n_neg = float(y.size - n_pos)
    t = np.where(y == 1, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))
    a, b = 0.0, math.log((n_pos + 1) / (n_neg + 1))
    for _ in range(iterations):
        z = np.clip(a * s + b, -35, 35)
        p = 1.0 / (1.0 + np.exp(-z))
        g = p - t
        w = np.maximum(p * (1 - p), 1e-12)
        ga, gb = float((g * s).sum()), float(g.sum())
        haa, hab, hbb = float((w * s * s).sum()) + 1e-9, float((w * s).sum()), float(w.sum()) + 1e-9
        det = haa * hbb - hab * hab
        if det <= 0:
            break
        da = (hbb * ga - hab * gb) / det
        db = (haa * gb - hab * ga) / det
        a, b = a - da, b - db
        if abs(da) < 1e-10 and abs(db) < 1e-10:
            break
    return float(a), float(b)


def fit_calibration(
    scores: Any,
    outcomes: Any,
    *,
    max_knots: int = 64,
    min_block: int = 20,
    min_points: int = 5,
    meta: dict | None = None,
) -> CalibrationMap:
    """Fit both maps; the result predicts with the isotonic knots unless fewer than ``min_points``."""
    s, y = _as_arrays(scores, outcomes)
    xs, ys = fit_isotonic(s, y, max_knots=max_knots, min_block=min_block)
    a, b = fit_platt(s, y)
    cmap = CalibrationMap(xs, ys, a, b, min_points=min_points)
    p = cmap.predict_many(s)
    cmap.meta = {
        "n": int(s.size),
        "win_rate": round(float(y.mean()), 6),
        "knots": len(xs),
        "ece_in_sample": round(expected_calibration_error(p, y), 6),
        **(meta or {}),
    }
    return cmap
