"""Labelled (score, outcome) pairs from the runner's own pipeline on the synthetic market.

The shipped calibration map (:data:`aurora.calibration.DEFAULT_MAP_PATH`) is fitted on these pairs, so
``p_win`` means what the runner will actually see. For each seed, the synthetic market
(:class:`runner.feeds.synthetic_feed.SyntheticMarket`, as fast as possible, no gate, no sleeping) is fed
through the runner's :class:`runner.market.MarketData` (book sync + features) and
:class:`runner.strategy.Strategy`, exactly as ``Runner._on_message`` does. Every *candidate* the strategy
produces (``|z| ≥ score_threshold``, side from the sign of ``z``; the runner's ENR gate and position
limits are ignored, so every such moment is labelled) opens one hypothetical trade, resolved the way the
runner resolves its real ones:

* the entry goes to the same :class:`runner.venues.paper_venue.PaperVenue` the paper runner uses (its
  queue model, trade-through fills, latency and expiry); the venue's orders do not interact, so one
  venue serves every overlapping trial. An entry that expires unfilled is no trade and gets no label;
* once the entry is done, a reduce-only take-profit limit rests ``tp_bps`` away from the entry price;
  when the mid moves ``sl_bps`` against the position (stop-loss) or ``max_hold_s`` passes (time stop),
  the take-profit is cancelled and the position is closed at market;
* the P&L comes from :class:`runner.positions.PositionBook` (fees included), and the outcome is a win
  when the realised P&L is > 0 — the rule ``metrics summary`` and one-click use for calibration ECE. A
  time stop is therefore labelled by the sign of its net P&L at exit, never dropped. Trials still open
  when the data ends are dropped.

Scores are side-aligned (``|z|``), as the gate and :mod:`aurora.calibration` expect.

Regenerate the shipped map after changing the shipped strategy settings (``configs/runner/base.yaml``;
a minute or two: seeds 11-18 fitted, 30 simulated minutes each; the ECE measured on held-out seeds 1-3
and the config's feed seed)::

    python -m runner.calibration_data --out aurora/calibration/default_map.json

A map is only valid for the strategy it was fitted with (recorded in its ``meta.strategy``). For a
profile with other settings, fit its own and point both the runner (``strategy.calibration_path``) and
the gate (``calibration.path``) at it::

    python -m runner.calibration_data --profile sol_soon_base --out configs/calibration/sol_soon.json
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
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
from aurora.events.codes import EventCode
from runner.app import floor_to_lot, round_to_tick
from runner.config import RunnerConfig
from runner.features import FeatureParams
from runner.feeds.synthetic_feed import SyntheticMarket, instrument_for
from runner.feeds.wire import Kind
from runner.market import MarketData
from runner.parent_gate import ParentGate
from runner.positions import Position, PositionBook
from runner.strategy import Strategy
from runner.venues.base import OrderRequest
from runner.venues.paper_venue import PaperVenue

MS = 1_000_000
_TERMINAL = {
    EventCode.ORDER_FILL.value,
    EventCode.ORDER_CANCEL_ACK.value,
    EventCode.ORDER_REJECT.value,
    EventCode.ORDER_EXPIRE.value,
}
_FILLS = {EventCode.ORDER_FILL.value, EventCode.ORDER_PARTIAL.value}


@dataclass
class LabelledData:
    """Pairs from one or more seeded runs, plus how they were made."""

    scores: list[float] = field(default_factory=list)
    outcomes: list[int] = field(default_factory=list)
    pnl_bps: list[float] = field(default_factory=list)  # realised P&L of each labelled trade, after fees
    exits: list[str] = field(
        default_factory=list
    )  # how each trade ended: take_profit | stop_loss | time_stop
    candidates: int = 0
    unfilled: int = 0  # entries that expired without a fill: no trade, no label
    parent_blocked: int = (
        0  # a child symbol's candidates its parent disagreed with (ParentGate): never traded
    )
    unresolved: int = 0  # still under way when the data ended: dropped
    sim_seconds: float = 0.0

    def extend(self, other: LabelledData) -> None:
        self.scores += other.scores
        self.outcomes += other.outcomes
        self.pnl_bps += other.pnl_bps
        self.exits += other.exits
        self.candidates += other.candidates
        self.unfilled += other.unfilled
        self.parent_blocked += other.parent_blocked
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
            "unfilled_entries": self.unfilled,
            "parent_blocked": self.parent_blocked,
            "unresolved": self.unresolved,
            "exits": {k: self.exits.count(k) for k in sorted(set(self.exits))},
            "sim_seconds": self.sim_seconds,
        }


@dataclass
class _Trial:
    """One hypothetical trade: a candidate's entry, then the runner's exit rules."""

    symbol: str
    score: float
    entry_cid: str
    book: PositionBook
    pos: Position  # the book's position in ``symbol`` (the same object for the trial's life)
    working: set[str] = field(default_factory=set)  # this trial's orders not yet terminal
    reduce_cids: set[str] = field(default_factory=set)
    entry_done: bool = False
    tp_cid: str | None = None
    cancel_sent: set[str] = field(default_factory=set)
    exit_reason: str | None = None
    realized_usd: float = 0.0
    entry_notional: float = 0.0


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


class _Labeller:
    """Runs one seeded market through the runner's pipeline and resolves every candidate's trade."""

    def __init__(self, cfg: RunnerConfig, seed: int, symbols: Sequence[str]) -> None:
        self.cfg = cfg
        sc = cfg.strategy
        self.symbols = [s.upper() for s in symbols]
        specs = {s.symbol: s for s in cfg.symbols}
        self.qty = {s: (specs[s].qty or 1.0) if s in specs else 1.0 for s in self.symbols}
        self.tick = {
            s: (specs[s].tick if s in specs and specs[s].tick else instrument_for(s).tick)
            for s in self.symbols
        }
        self.lot = {
            s: (specs[s].lot if s in specs and specs[s].lot else instrument_for(s).lot) for s in self.symbols
        }
        # Children follow their parents as in a run (correlated pressure), and trade only when it agrees.
        self.parents = {
            s.symbol: s.parent
            for s in cfg.symbols
            if s.parent and s.symbol in self.symbols and s.parent in self.symbols
        }
        self.parent_gate = ParentGate(
            enabled=cfg.parent_gate.enabled, z_threshold=cfg.parent_gate.z_threshold
        )
        self.market = SyntheticMarket(self.symbols, seed=seed, parents=self.parents)
        params = FeatureParams(
            obi_levels=sc.obi_levels,
            tfi_window_ms=sc.tfi_window_s * 1000.0,
            vol_window_ms=sc.vol_window_s * 1000.0,
            trap_levels=sc.trap_levels,
            trap_window_ms=sc.trap_window_s * 1000.0,
        )
        self.md = MarketData(self.symbols, params=params, request_snapshot=self.market.request_snapshot)
        self._seq = 0
        # p_win is irrelevant here: every candidate is labelled, whatever the ENR gate would say (and
        # the ParentGate is applied below, whether or not the ENR gate would have reached it).
        self.strategy = Strategy(
            sc,
            predict=lambda score: 0.5,
            parent_gate=ParentGate(enabled=False),
            parents=dict.fromkeys(self.symbols),
            tradable=set(self.symbols),
            new_cid=self._new_cid,
        )
        # The paper venue as configured, minus its fault switches (they test plumbing, not outcomes).
        paper = cfg.venue.paper.model_copy(update={
            "late_ack": False, "duplicate_ack": False, "fill_after_cancel": False, "overfill": False,
            "reject_rate": 0.0, "seed": seed,
        })  # fmt: skip
        self.venue = PaperVenue(self._on_event, paper, books=self.md.books)
        self.owner: dict[str, _Trial] = {}
        self.trials: list[_Trial] = []
        self.data = LabelledData()

    def _new_cid(self) -> str:
        self._seq += 1
        return f"cal-{self._seq:08d}"

    # -- venue events (the same bookkeeping as Runner._on_lifecycle) ------------------------------
    def _on_event(self, event: dict[str, Any]) -> None:
        cid = event["cid"]
        t = self.owner.get(cid)
        if t is None:
            return
        code = event["event_code"]
        if code in _FILLS:
            d = event["details"]
            pos = t.pos
            qty = float(d.get("fill_qty") or 0.0)
            if cid in t.reduce_cids:  # a reduce-only fill can only shrink the position
                closes = not pos.flat and (pos.qty > 0) == (event["side"] == "sell")
                qty = min(qty, abs(pos.qty)) if closes else 0.0
            price = float(d.get("fill_price") or 0.0)
            if qty > 0 and price > 0:
                pnl = t.book.on_fill(t.symbol, event["side"], qty, price, event["ts_ns"])
                if cid == t.entry_cid:
                    t.entry_notional += qty * price
                if pnl is not None:
                    t.realized_usd += pnl["realized_pnl_usd"]
        if code in _TERMINAL:
            t.working.discard(cid)
            if cid == t.entry_cid:
                t.entry_done = True

    # -- the run ----------------------------------------------------------------------------------
    async def run(self, seconds: float) -> LabelledData:
        md, venue, strategy = self.md, self.venue, self.strategy
        steps = int(seconds * 1000 / self.market.step_ms)
        now = 0
        for _, raw in self.market.messages(max_steps=steps):
            res = md.on_raw(raw)
            if res is None:
                continue
            symbol, kind = res
            now = max(now, md.last_event_ms * MS)
            feats = md.features[symbol]
            if kind is Kind.BOOK_TICKER:
                venue.on_ticker(symbol, feats.bid, feats.bid_qty, feats.ask, feats.ask_qty, now)
            elif kind is Kind.TRADE:
                _, price, qty, maker, _ = md.last_trade  # type: ignore[misc]
                venue.on_trade(symbol, price, qty, maker, now)
            else:
                venue.advance(now)
                continue
            if self.trials:
                await self._manage(symbol, feats.mid, now)
            cand = strategy.on_tick(symbol, feats, md.last_event_ms, can_open=True)
            if cand is not None:
                parent = self.parents.get(symbol)
                if parent and not self.parent_gate.check(cand.side, parent, strategy.z(parent)).passed:
                    self.data.candidates += 1
                    self.data.parent_blocked += 1
                    continue
                await self._open(cand.cid, symbol, cand.side, cand.score, feats.bid, feats.ask, now)
        self.data.unresolved += len(self.trials)  # entry or exit still under way when the data ended
        self.data.sim_seconds += seconds
        return self.data

    async def _submit(
        self,
        t: _Trial,
        cid: str,
        side: str,
        qty: float,
        price: float | None,
        order_type: str,
        reduce_only: bool,
        ttl_ms: float | None,
        now: int,
    ) -> None:
        self.owner[cid] = t
        t.working.add(cid)
        if reduce_only:
            t.reduce_cids.add(cid)
        await self.venue.submit(
            OrderRequest(cid, t.symbol, side, qty, price, order_type, reduce_only, ttl_ms), now
        )
        self.venue.advance(now)

    async def _open(
        self, cid: str, symbol: str, side: str, score: float, bid: float, ask: float, now: int
    ) -> None:
        sc = self.cfg.strategy
        self.data.candidates += 1
        book = PositionBook(fees_bps=sc.fees_bps)
        t = _Trial(symbol, score, cid, book, book.get(symbol))
        self.trials.append(t)
        buy = side == "buy"
        if sc.order_type == "market":
            price = None
        elif sc.entry == "cross":
            price = ask if buy else bid
        else:
            price = bid if buy else ask
        await self._submit(
            t, cid, side, self.qty[symbol], price, sc.order_type, False, sc.order_ttl_s * 1000.0, now
        )

    async def _manage(self, symbol: str, mid: float, now: int) -> None:
        keep: list[_Trial] = []
        for t in self.trials:
            if t.symbol == symbol:
                await self._manage_one(t, mid, now)
            if t.entry_done and t.pos.flat and not t.working:
                self._finish(t)
            else:
                keep.append(t)
        self.trials = keep

    async def _manage_one(self, t: _Trial, mid: float, now: int) -> None:
        """``Runner._manage`` for one trial: take-profit, then stop-loss / time stop at market."""
        sc = self.cfg.strategy
        pos = t.pos
        if pos.flat:
            if t.entry_done:  # closed: tidy a stray reduce-only order
                for cid in list(t.working):
                    if cid not in t.cancel_sent:
                        t.cancel_sent.add(cid)
                        await self.venue.cancel(cid, now)
            return
        adverse_bps = (pos.avg_price - mid) / pos.avg_price * 1e4 * (1 if pos.qty > 0 else -1)
        if t.exit_reason is None:
            if adverse_bps >= sc.sl_bps:
                t.exit_reason = "stop_loss"
            elif now - pos.opened_ns > sc.max_hold_s * 1e9:
                t.exit_reason = "time_stop"
        long = pos.qty > 0
        if t.exit_reason is not None:
            if t.tp_cid in t.working and t.tp_cid not in t.cancel_sent:
                t.cancel_sent.add(t.tp_cid)
                await self.venue.cancel(t.tp_cid, now)
                self.venue.advance(now)
                return
            if t.working:
                return  # wait for the take-profit cancel / the entry to finish
            qty = floor_to_lot(abs(pos.qty), self.lot[t.symbol]) or abs(pos.qty)
            await self._submit(
                t, self._new_cid(), "sell" if long else "buy", qty, None, "market", True, None, now
            )
            return
        if not t.working:
            target = pos.avg_price * (1 + sc.tp_bps / 1e4 * (1 if long else -1))
            price = round_to_tick(target, self.tick[t.symbol], "up" if long else "down")
            qty = floor_to_lot(abs(pos.qty), self.lot[t.symbol]) or abs(pos.qty)
            t.tp_cid = self._new_cid()
            await self._submit(t, t.tp_cid, "sell" if long else "buy", qty, price, "limit", True, None, now)

    def _finish(self, t: _Trial) -> None:
        if t.pos.closes == 0:
            self.data.unfilled += 1
        else:
            self.data.scores.append(t.score)
            self.data.outcomes.append(1 if t.realized_usd > 0 else 0)
            self.data.pnl_bps.append(t.realized_usd / t.entry_notional * 1e4 if t.entry_notional else 0.0)
            self.data.exits.append(t.exit_reason or "take_profit")
        for cid in [t.entry_cid, *t.reduce_cids]:
            self.owner.pop(cid, None)


def label_seed(
    cfg: RunnerConfig, seed: int, seconds: float, symbols: Sequence[str] | None = None
) -> LabelledData:
    """Labelled pairs from ``seconds`` of the synthetic market with ``seed`` (the config's symbols by default)."""
    chosen = list(symbols) if symbols else [s.symbol for s in cfg.symbols]
    return asyncio.run(_Labeller(cfg, seed, chosen).run(seconds))


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


def strategy_fingerprint(cfg: RunnerConfig) -> dict[str, Any]:
    """The settings a map is only valid for — what shapes the score and how a trade ends (in ``meta``)."""
    sc = cfg.strategy
    keys = ("tp_bps", "sl_bps", "fees_bps", "score_threshold", "max_hold_s", "order_type", "entry", "order_ttl_s",
            "z_window_s", "obi_levels", "tfi_window_s", "cooldown_ms")  # fmt: skip
    paper = cfg.venue.paper
    return {
        **{k: getattr(sc, k) for k in keys},
        "weights": sc.weights.model_dump(),
        "paper": {
            "latency_ms": paper.latency_ms,
            "jitter_ms": paper.jitter_ms,
            "slippage_bps": paper.slippage_bps,
        },
    }


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
        "source": "runner pipeline on the synthetic market (runner.calibration_data)",
        "seeds": list(seeds),
        "seconds_per_seed": seconds,
        "symbols": list(symbols) if symbols else [s.symbol for s in cfg.symbols],
        "label": "realised P&L after fees > 0 (take-profit / stop-loss / time stop, paper venue fills)",
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
        description="Fit the score → p_win calibration map on trades the runner's own pipeline makes on the "
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
            print(f"seed {seed}: {len(d.outcomes)} trades from {d.candidates} candidates", file=sys.stderr)

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
        f"wrote {args.out}: {result['pairs']} trades (win rate {result['win_rate']}), {result['knots']} knots, "
        f"in-sample ECE {result['ece_in_sample']}"
    )
    if holdout:
        h = result["holdout"]
        print(f"held-out seeds {h['seeds']}: {h['pairs']} trades, ECE {h['ece']:.4f}")
    for row in result.get("holdout", result)["table"]:
        print(
            "  score {score:>12}  n={n:<6} win {win_rate:.3f}  p_win {p_win:.3f}  pnl {pnl_bps:+.2f} bps".format(
                **row
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
