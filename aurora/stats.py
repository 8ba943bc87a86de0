"""The one definition of every statistic Aurora reports: gate guards, summary, audit, dashboard, proof.

Conventions (each stated once, here):

* **Percentile**: linear interpolation between the closest ranks (Hyndman & Fan type 7, numpy's and
  DuckDB's ``quantile_cont`` default): for sorted ``x[0..n-1]`` the q-th percentile is at rank
  ``h = (n - 1) * q / 100``, ``x[floor h] + (h - floor h) * (x[floor h + 1] - x[floor h])``.
  ``q`` is in percent (0..100). No samples -> ``None``.
* **CVaR** is a *loss*, positive when the tail loses: ``cvar_loss(r, alpha)`` is minus the mean of the
  worst ``ceil(alpha * n)`` returns (at least one). It is not clamped: a tail that still makes money
  has a negative CVaR (``cvar_loss([5, 6, 7], 0.1) == -5.0``).
* **ECE**: equal-width probability bins over [0, 1] (a probability of exactly 1 falls in the last bin),
  the sum over bins of ``|sum(p) - sum(y)|`` divided by ``n`` (each bin's gap weighted by its size).
* **Drawdown**: of cumulative PnL starting from 0 (the peak includes the starting zero), positive.
* **Rates**: ``rate_pct(hits, n) = 100 * hits / n``. The kill-switch rule: a rate over a window trips
  when the window holds at least ``min_n`` entries and the rate is strictly above the limit.
* **Trade statistics** are over closed trades' realized PnL: Sharpe = mean / sample std (ddof 1),
  Sortino = mean / downside deviation (root mean square of the losses, gains counted as 0), neither
  annualised; profit factor = gross profit / gross loss (``None`` without a losing trade).

Where a figure can only be approximated (a quantile from cumulative histogram buckets, as Prometheus
exposes them) the function says so in its name: :func:`histogram_quantile_approx`.
Pure numpy; no I/O. ``None`` (never NaN) stands for "no data".
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

__all__ = [
    "PERCENTILES",
    "cvar_loss",
    "describe",
    "drawdown_curve",
    "ece",
    "histogram_quantile_approx",
    "max_daily_drawdown",
    "max_drawdown",
    "percentile",
    "percentiles",
    "rate_exceeds",
    "rate_pct",
    "trade_stats",
    "window_counts",
]

#: The percentiles every latency figure reports.
PERCENTILES: tuple[int, ...] = (50, 95, 99)
NS_PER_DAY = 86_400 * 1_000_000_000


def _finite(values: Any) -> np.ndarray:
    v = np.asarray(values, dtype=float).ravel()
    return v[np.isfinite(v)]


# --- percentiles ----------------------------------------------------------------------------------
def percentile(values: Any, q: float) -> float | None:
    """The ``q``-th percentile (0..100) by linear interpolation; ``None`` without finite samples."""
    v = _finite(values)
    if v.size == 0:
        return None
    return float(np.percentile(v, q, method="linear"))


def percentiles(values: Any, qs: Sequence[float] = PERCENTILES) -> list[float | None]:
    """Several percentiles of the same samples (one sort)."""
    v = _finite(values)
    if v.size == 0:
        return [None] * len(qs)
    return [float(x) for x in np.percentile(v, list(qs), method="linear")]


def describe(values: Any, digits: int = 3, qs: Sequence[int] = PERCENTILES) -> dict[str, Any]:
    """``n``, ``p50``/``p95``/``p99`` (linear), ``mean`` and ``max``, rounded; ``None`` values without samples."""
    v = _finite(values)
    if v.size == 0:
        return {"n": 0, **{f"p{q}": None for q in qs}, "mean": None, "max": None}
    ps = np.percentile(v, list(qs), method="linear")
    return {
        "n": int(v.size),
        **{f"p{q}": round(float(x), digits) for q, x in zip(qs, ps, strict=True)},
        "mean": round(float(v.mean()), digits),
        "max": round(float(v.max()), digits),
    }


def histogram_quantile_approx(
    buckets: Sequence[tuple[float, float]], q: float, *, total: float | None = None
) -> float | None:
    """APPROXIMATE quantile (``q`` in 0..1) from cumulative ``(upper bound, count)`` buckets, ascending.

    Prometheus' ``histogram_quantile``: linear interpolation inside the bucket that holds rank
    ``q * count`` (the lowest bucket starts at 0; a rank in the ``+Inf`` bucket answers the highest
    finite bound). Only as exact as the bucket bounds: label what it produces as approximate.
    ``total`` is the observation count (default: the last bucket's).
    """
    if not buckets:
        return None
    total = buckets[-1][1] if total is None else total
    if total <= 0:
        return None
    rank = q * total
    prev_bound, prev_cum = 0.0, 0.0
    for bound, cum in buckets:
        if cum >= rank:
            if math.isinf(bound):
                return prev_bound
            if cum == prev_cum:
                return bound
            return prev_bound + (bound - prev_bound) * (rank - prev_cum) / (cum - prev_cum)
        prev_bound, prev_cum = bound, cum
    return prev_bound


# --- risk -----------------------------------------------------------------------------------------
def cvar_loss(returns: Any, alpha: float) -> float | None:
    """CVaR at ``alpha`` as a positive loss: minus the mean of the worst ``ceil(alpha * n)`` returns.

    Not clamped (a profitable tail gives a negative value); ``None`` without finite returns.
    ``alpha`` must be in (0, 1].
    """
    if not 0.0 < alpha <= 1.0:
        raise ValueError(f"alpha must be in (0, 1], got {alpha}")
    v = _finite(returns)
    if v.size == 0:
        return None
    k = max(1, math.ceil(alpha * v.size - 1e-9))  # 1e-9: 0.1 * 30 is 3.0000000000000004 in floats
    worst = np.partition(v, k - 1)[:k] if k < v.size else v
    return float(-worst.mean())


def drawdown_curve(pnl: Any) -> np.ndarray:
    """Drawdown after each trade (>= 0) of cumulative ``pnl`` starting from 0, in trade order."""
    v = np.asarray(pnl, dtype=float).ravel()
    if v.size == 0:
        return np.zeros(0)
    cum = np.cumsum(v)
    peak = np.maximum(np.maximum.accumulate(cum), 0.0)
    return peak - cum


def max_drawdown(pnl: Any) -> float | None:
    """Worst peak-to-trough of cumulative ``pnl`` (from 0), positive; ``None`` without trades."""
    dd = drawdown_curve(pnl)
    return float(dd.max()) if dd.size else None


def max_daily_drawdown(ts_ns: Any, pnl: Any) -> float | None:
    """Worst :func:`max_drawdown` within one UTC day (each day starts from 0); trades taken in time order."""
    ts = np.asarray(ts_ns, dtype=np.int64).ravel()
    v = np.asarray(pnl, dtype=float).ravel()
    if v.size == 0:
        return None
    order = np.argsort(ts, kind="stable")
    ts, v = ts[order], v[order]
    day = ts // NS_PER_DAY
    cuts = np.flatnonzero(np.diff(day)) + 1
    return float(max(max_drawdown(part) or 0.0 for part in np.split(v, cuts)))


def trade_stats(pnl: Any) -> dict[str, Any]:
    """Closed trades' figures: count, wins, win rate, expectancy, profit factor, Sharpe, Sortino."""
    v = _finite(pnl)
    n = int(v.size)
    if n == 0:
        keys = ("win_rate", "expectancy", "profit_factor", "sharpe", "sortino", "avg_win", "avg_loss")
        return {"trades": 0, "wins": 0, "losses": 0, **{k: None for k in keys}}
    wins, losses = v[v > 0], v[v < 0]
    gross_loss = float(-losses.sum())
    sd = float(v.std(ddof=1)) if n > 1 else 0.0
    downside = float(np.sqrt(np.mean(np.minimum(v, 0.0) ** 2)))
    mean = float(v.mean())
    return {
        "trades": n,
        "wins": int(wins.size),
        "losses": int(losses.size),
        "win_rate": wins.size / n,
        "expectancy": mean,
        "profit_factor": float(wins.sum()) / gross_loss if gross_loss > 0 else None,
        "sharpe": mean / sd if sd > 0 else None,
        "sortino": mean / downside if downside > 0 else None,
        "avg_win": float(wins.mean()) if wins.size else None,
        "avg_loss": float(losses.mean()) if losses.size else None,
    }


# --- calibration ----------------------------------------------------------------------------------
def ece(p: Any, y: Any, bins: int = 10) -> float | None:
    """Expected calibration error of probabilities ``p`` against outcomes ``y`` (0/1); ``None`` if empty.

    Equal-width bins; probabilities are clipped to [0, 1] first.
    """
    pa = np.asarray(p, dtype=float).ravel()
    ya = np.asarray(y, dtype=float).ravel()
    if pa.shape != ya.shape:
        raise ValueError(f"p and y differ in length ({pa.size} vs {ya.size})")
    if bins < 1:
        raise ValueError("bins must be >= 1")
    if pa.size == 0:
        return None
    pc = np.clip(pa, 0.0, 1.0)
    idx = np.minimum((pc * bins).astype(int), bins - 1)
    sum_p = np.bincount(idx, weights=pc, minlength=bins)
    sum_y = np.bincount(idx, weights=ya, minlength=bins)
    return float(np.abs(sum_p - sum_y).sum() / pa.size)


# --- rates and the kill-switch rule ----------------------------------------------------------------
def rate_pct(hits: float, n: float) -> float | None:
    """``100 * hits / n``; ``None`` when ``n`` is 0."""
    return 100.0 * hits / n if n else None


def rate_exceeds(hits: float, n: float, limit_pct: float, min_n: int) -> bool:
    """The kill-switch rule: True when the window holds ``n >= min_n`` entries and the rate is above the limit."""
    return n >= min_n and n > 0 and 100.0 * hits / n > limit_pct


def window_counts(flags: Iterable[bool] | np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """For each entry of ``flags`` (in time order): the hits and the size of the window of the last
    ``window`` entries ending there (smaller at the start) — what a rolling window of ``window``
    outcomes holds after each one, so each pair can be judged with :func:`rate_exceeds`."""
    f = np.asarray(flags if isinstance(flags, np.ndarray) else list(flags), dtype=np.int64).ravel()
    c = np.concatenate(([0], np.cumsum(f)))
    i = np.arange(1, f.size + 1)
    lo = np.maximum(i - window, 0)
    return c[i] - c[lo], i - lo
