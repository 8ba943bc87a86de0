"""Labelled (score, outcome) pairs from a simple synthetic market, used to fit the shipped default map.

Model: each trade has a hidden per-step drift (its true edge, in bps); the alpha score the strategy
sees is a noisy, standardised reading of that edge. The mid price then follows a random walk with that
drift until it touches the take-profit or the stop-loss (or the horizon ends: the sign of the P&L
decides). Scores are side-aligned (higher = the trade in its own direction is more likely to win).

Regenerate the shipped map with ``python -m aurora.calibration.synthetic_outcomes``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from aurora.calibration.calibration_map import DEFAULT_MAP_PATH, CalibrationMap
from aurora.calibration.fitting import fit_calibration

DEFAULTS = {
    "tp_bps": 12.0,
    "sl_bps": 8.0,
    "step_vol_bps": 1.5,
    "edge_std_bps": 0.25,
    "score_noise": 0.8,
    "horizon_steps": 300,
}


def simulate_trades(
    n: int = 40_000,
    *,
    seed: int = 7,
    tp_bps: float = DEFAULTS["tp_bps"],
    sl_bps: float = DEFAULTS["sl_bps"],
    step_vol_bps: float = DEFAULTS["step_vol_bps"],
    edge_std_bps: float = DEFAULTS["edge_std_bps"],
    score_noise: float = DEFAULTS["score_noise"],
    horizon_steps: int = int(DEFAULTS["horizon_steps"]),
    chunk: int = 5_000,
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(scores, outcomes)``: ``outcomes[i] == 1`` when trade ``i`` hit TP first."""
    rng = np.random.default_rng(seed)
    scores = np.empty(n)
    outcomes = np.empty(n, dtype=np.int8)
    for lo in range(0, n, chunk):
        m = min(chunk, n - lo)
        edge = rng.normal(0.0, edge_std_bps, m)
        scores[lo : lo + m] = edge / edge_std_bps + rng.normal(0.0, score_noise, m)
        path = np.cumsum(rng.normal(edge[:, None], step_vol_bps, (m, horizon_steps)), axis=1)
        hit_tp = path >= tp_bps
        hit_sl = path <= -sl_bps
        never = horizon_steps + 1
        first_tp = np.where(hit_tp.any(axis=1), hit_tp.argmax(axis=1), never)
        first_sl = np.where(hit_sl.any(axis=1), hit_sl.argmax(axis=1), never)
        undecided = (first_tp == never) & (first_sl == never)
        win = (first_tp < first_sl) | (undecided & (path[:, -1] > 0))
        outcomes[lo : lo + m] = win
    return scores, outcomes


def build_default_map(n: int = 40_000, seed: int = 7) -> CalibrationMap:
    scores, outcomes = simulate_trades(n, seed=seed)
    return fit_calibration(
        scores,
        outcomes,
        meta={"source": "synthetic market model (aurora.calibration.synthetic_outcomes)", "seed": seed, **DEFAULTS},
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_MAP_PATH)
    parser.add_argument("-n", type=int, default=40_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    cmap = build_default_map(args.n, args.seed)
    cmap.save(args.out)
    print(f"wrote {args.out}: {cmap.meta}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
