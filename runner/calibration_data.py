"""Labelled (score, outcome) pairs from the runner on the synthetic market, and the shipped map's fit.

The shipped calibration map (:data:`aurora.calibration.DEFAULT_MAP_PATH`) is fitted on the runner's
own trades: for each seed, the synthetic market (as fast as possible, ``seconds`` of market time) is
traded by the real runner — market loop, exit manager, executor, paper venue — and its lifecycle is
labelled by :class:`runner.labels.LabellingSink` (one label per round trip, win when the realised P&L
after fees is > 0; the runner's own ENR bar opened and the gate's veto left out, see
:mod:`runner.labels`). Nothing of the trading is re-implemented here. Round trips closed because the
data ended (``flatten``) are not labels; positions open at the end are dropped (counted).

Scores are side-aligned (``|z|``), as the gate and :mod:`aurora.calibration` expect.

Regenerate the shipped map after changing the shipped strategy settings (``configs/runner/base.yaml``;
seeds 11-18 fitted, 30 simulated minutes each; the ECE measured on held-out seeds 1-3 and the
config's feed seed)::

    python -m runner.calibration_data --out aurora/calibration/default_map.json

A map is only valid for the strategy it was fitted with (recorded in its ``meta.strategy``). For a
profile with other settings, fit its own and point both the runner (``strategy.calibration_path``) and
the gate (``calibration.path``) at it; for a recording of real data use
``auroractl calibrate --from-replay PATH --profile P`` (one map per symbol)::

    python -m runner.calibration_data --profile sol_soon_base --out configs/calibration/sol_soon.json
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from aurora.calibration import (
    DEFAULT_MAP_PATH,
    CalibrationError,
    CalibrationMap,
    expected_calibration_error,
    fit_calibration,
)
from runner.config import RunnerConfig
from runner.feeds.synthetic_feed import SyntheticFeed
from runner.labels import CUT_BY_END, label_run, labelling_config, strategy_fingerprint

__all__ = ["LabelledData", "fit_from_synthetic", "holdout_ece", "label_seed", "label_seeds", "main",
           "parse_seeds", "score_table", "strategy_fingerprint"]


@dataclass
class LabelledData:
    """Pairs from one or more seeded runs, plus how they were made."""

    scores: list[float] = field(default_factory=list)
    outcomes: list[int] = field(default_factory=list)
    pnl_bps: list[float] = field(default_factory=list)  # realised P&L of each labelled round trip, after fees
    exits: list[str] = field(default_factory=list)  # how each ended: take_profit | stop_loss | time_stop
    candidates: int = 0  # ideas the strategy scored (each traded when the runner was free to)
    cut_by_end: int = 0  # closed because the data ended: not a label
    unresolved: int = 0  # still open when the data ended: dropped
    sim_seconds: float = 0.0

    def extend(self, other: LabelledData) -> None:
        self.scores += other.scores
        self.outcomes += other.outcomes
        self.pnl_bps += other.pnl_bps
        self.exits += other.exits
        self.candidates += other.candidates
        self.cut_by_end += other.cut_by_end
        self.unresolved += other.unresolved
        self.sim_seconds += other.sim_seconds

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return np.asarray(self.scores, dtype=float), np.asarray(self.outcomes, dtype=int)

    def stats(self) -> dict[str, Any]:
        n = len(self.outcomes)
        return {
            "pairs": n,
            "win_rate": round(sum(self.outcomes) / n, 4) if n else None,
            "candidates": self.candidates,
            "cut_by_end": self.cut_by_end,
            "unresolved": self.unresolved,
            "exits": {k: self.exits.count(k) for k in sorted(set(self.exits))},
            "sim_seconds": self.sim_seconds,
        }


def parse_seeds(text: str) -> list[int]:
    """``"1..8"``, ``"1,2,5"`` or a mix (``"1..4,9"``) → a list of seeds."""
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            if ".." in part:
                lo, hi = (int(x) for x in part.split("..", 1))
                if hi < lo:
                    raise ValueError
                seeds.extend(range(lo, hi + 1))
            else:
                seeds.append(int(part))
        except ValueError:
            raise ValueError(f"bad seed list {text!r}: use e.g. 1..8 or 1,2,5") from None
    if not seeds:
        raise ValueError(f"bad seed list {text!r}: no seeds")
    return seeds


def label_seed(
    cfg: RunnerConfig, seed: int, seconds: float, symbols: Sequence[str] | None = None
) -> LabelledData:
    """The runner's labelled round trips on ``seconds`` of the synthetic market with ``seed``."""
    data = cfg.model_dump()
    if symbols:
        wanted = {s.upper() for s in symbols}
        data["symbols"] = [s for s in data["symbols"] if s["symbol"] in wanted]
    data["feed"].update(source="synthetic", seed=seed, realtime=False)
    lcfg = labelling_config(RunnerConfig.model_validate(data))
    parents = {s.symbol: s.parent for s in lcfg.symbols if s.parent}
    feed = SyntheticFeed([s.symbol for s in lcfg.symbols], seed=seed, realtime=False, parents=parents or None,
                         max_market_s=seconds)
    with tempfile.TemporaryDirectory(prefix="aurora-labels-") as tmp:
        run = asyncio.run(label_run(lcfg, Path(tmp), feed=feed, run_id=f"labels-seed{seed}"))
    out = LabelledData(candidates=run.candidates, unresolved=run.open_at_end, sim_seconds=seconds)
    for x in run.labels:
        if x.exit in CUT_BY_END:
            out.cut_by_end += 1
            continue
        out.scores.append(x.score)
        out.outcomes.append(int(x.win))
        out.pnl_bps.append(x.pnl_bps)
        out.exits.append(x.exit)
    return out


def label_seeds(
    cfg: RunnerConfig,
    seeds: Iterable[int],
    seconds: float,
    symbols: Sequence[str] | None = None,
    progress: Callable[[int, LabelledData], None] | None = None,
    jobs: int = 1,
) -> LabelledData:
    """Every seed's pairs, in seed order; ``jobs > 1`` labels seeds in that many processes."""
    seeds = list(seeds)
    total = LabelledData()
    if jobs > 1 and len(seeds) > 1:
        with ProcessPoolExecutor(min(jobs, len(seeds))) as pool:
            results = pool.map(label_seed, repeat(cfg), seeds, repeat(seconds), repeat(symbols))
            for seed, data in zip(seeds, results, strict=True):
                if progress is not None:
                    progress(seed, data)
                total.extend(data)
        return total
    for seed in seeds:
        data = label_seed(cfg, seed, seconds, symbols)
        if progress is not None:
            progress(seed, data)
        total.extend(data)
    return total


def fit_from_synthetic(
    cfg: RunnerConfig,
    seeds: Sequence[int],
    seconds: float,
    symbols: Sequence[str] | None = None,
    progress: Callable[[int, LabelledData], None] | None = None,
    jobs: int = 1,
) -> tuple[CalibrationMap, LabelledData]:
    data = label_seeds(cfg, seeds, seconds, symbols, progress, jobs)
    scores, outcomes = data.arrays()
    if scores.size < 50:
        raise CalibrationError(
            f"only {scores.size} labelled trades from seeds {list(seeds)}; run longer (--seconds)"
        )
    cmap = fit_calibration(scores, outcomes, meta={
        "source": "runner pipeline on the synthetic market (runner.calibration_data, runner.labels)",
        "seeds": list(seeds),
        "seconds_per_seed": seconds,
        "symbols": list(symbols) if symbols else [s.symbol for s in cfg.symbols],
        "label": "realised P&L after fees > 0 over a round trip (take-profit / stop-loss / time stop, "
                 "paper venue fills)",
        "strategy": strategy_fingerprint(cfg),
        **{k: v for k, v in data.stats().items() if k not in ("pairs", "win_rate")},
    })  # fmt: skip
    return cmap, data


def holdout_ece(cmap: CalibrationMap, data: LabelledData) -> float:
    scores, outcomes = data.arrays()
    return expected_calibration_error(cmap.predict_many(scores), outcomes)


def score_table(
    cmap: CalibrationMap, data: LabelledData, edges: Sequence[float] = (0.0, 1.0, 1.25, 1.5, 2.0, 2.5, 1e9)
) -> list[dict[str, Any]]:
    """Per score band: trades, observed win rate, mean predicted p_win and mean realised P&L (bps)."""
    scores, outcomes = data.arrays()
    pnl = np.asarray(data.pnl_bps, dtype=float)
    pred = cmap.predict_many(scores)
    rows = []
    for lo, hi in zip(edges, edges[1:], strict=False):
        m = (scores >= lo) & (scores < hi)
        if m.any():
            rows.append({
                "score": f"[{lo:g}, {hi:g})" if hi < 1e9 else f">= {lo:g}",
                "n": int(m.sum()),
                "win_rate": round(float(outcomes[m].mean()), 4),
                "p_win": round(float(pred[m].mean()), 4),
                "pnl_bps": round(float(pnl[m].mean()), 3),
            })  # fmt: skip
    return rows


def _load_config(args: argparse.Namespace) -> RunnerConfig:
    from aurora.config.loader import load_runner

    return load_runner(RunnerConfig, config=args.config, profile=args.profile, overlays=args.overlay).config


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m runner.calibration_data",
        description="Fit the score → p_win calibration map on the round trips the runner makes on the "
        "synthetic market (see the module docstring for how outcomes are labelled).",
    )
    parser.add_argument("--config", default="base", help="runner config (name in configs/runner or a path)")
    parser.add_argument("--profile", default=None, help="strategy profile (name in profiles/ or a path)")
    parser.add_argument("--overlay", action="append", default=[], help="overlay (repeatable)")
    parser.add_argument("--seeds", default="11..18", help="seeds to fit on, e.g. 11..18 or 1,2,5")
    parser.add_argument(
        "--holdout",
        default=None,
        help="seeds to measure the ECE on ('' for none; default: 1..3 and the config's feed seed)",
    )
    parser.add_argument("--seconds", type=float, default=1800.0, help="simulated seconds per seed")
    parser.add_argument(
        "--jobs", type=int, default=os.cpu_count() or 1, help="processes labelling seeds in parallel"
    )
    parser.add_argument("--symbols", default=None, help="comma-separated symbols (default: the config's)")
    parser.add_argument("--out", type=Path, default=DEFAULT_MAP_PATH, help="where to write the map (JSON)")
    parser.add_argument(
        "--pairs-out",
        type=Path,
        default=None,
        help="also write the fitting pairs as JSONL ({score, outcome}) for `auroractl calibrate`",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)

    def fail(msg: str) -> int:
        print(f"error: {msg}", file=sys.stderr)
        return 2

    from aurora.config.errors import ConfigError

    try:
        seeds = parse_seeds(args.seeds)
        holdout = parse_seeds(args.holdout) if args.holdout and args.holdout.strip() else []
    except ValueError as exc:
        return fail(f"--seeds/--holdout: {exc}")
    if not args.seconds > 0:
        return fail(f"--seconds must be > 0 (got {args.seconds})")
    try:
        cfg = _load_config(args)
    except ConfigError as exc:
        return fail(str(exc))
    if args.holdout is None:  # the market the config runs on is the one that matters most
        holdout = [1, 2, 3] + ([cfg.feed.seed] if cfg.feed.seed not in (1, 2, 3) else [])
    if set(holdout) & set(seeds):
        return fail(
            f"--holdout {sorted(set(holdout) & set(seeds))} also in --seeds: held-out seeds must not be fitted"
        )
    symbols = [s.strip().upper() for s in args.symbols.split(",") if s.strip()] if args.symbols else None

    def progress(seed: int, d: LabelledData) -> None:
        if not args.json:
            print(f"seed {seed}: {len(d.outcomes)} round trips from {d.candidates} candidates", file=sys.stderr)

    t0 = time.perf_counter()
    try:
        cmap, data = fit_from_synthetic(cfg, seeds, args.seconds, symbols, progress, args.jobs)
    except CalibrationError as exc:
        return fail(str(exc))
    result: dict[str, Any] = {
        "out": str(args.out),
        **data.stats(),
        "knots": len(cmap.x),
        "ece_in_sample": cmap.meta["ece_in_sample"],
    }
    if holdout:
        held = label_seeds(cfg, holdout, args.seconds, symbols, progress, args.jobs)
        ece = holdout_ece(cmap, held)
        cmap.meta["holdout"] = {"seeds": holdout, "pairs": len(held.outcomes), "ece": round(ece, 6)}
        result["holdout"] = {**cmap.meta["holdout"], "table": score_table(cmap, held)}
    result["table"] = score_table(cmap, data)
    try:
        cmap.save(args.out)
        if args.pairs_out is not None:
            args.pairs_out.parent.mkdir(parents=True, exist_ok=True)
            args.pairs_out.write_bytes(b"".join(
                orjson.dumps({"score": round(s, 6), "outcome": y}) + b"\n"
                for s, y in zip(data.scores, data.outcomes, strict=True)
            ))  # fmt: skip
    except OSError as exc:
        return fail(f"--out/--pairs-out: cannot write ({exc.strerror or exc})")
    result["seconds_wall"] = round(time.perf_counter() - t0, 1)
    if args.json:
        print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
        return 0
    print(
        f"wrote {args.out}: {result['pairs']} round trips (win rate {result['win_rate']}), {result['knots']} "
        f"knots, in-sample ECE {result['ece_in_sample']}"
    )
    if holdout:
        h = result["holdout"]
        print(f"held-out seeds {h['seeds']}: {h['pairs']} round trips, ECE {h['ece']:.4f}")
    for row in result.get("holdout", result)["table"]:
        print(
            "  score {score:>12}  n={n:<6} win {win_rate:.3f}  p_win {p_win:.3f}  pnl {pnl_bps:+.2f} bps".format(
                **row
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
