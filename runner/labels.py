"""Labelled outcomes from the runner's own lifecycle: a sink on the order executor's events.

Calibration needs ``(score, win)`` pairs for the trades the runner really makes. They are read off its
lifecycle, not re-simulated: :class:`LabellingSink` sees every enriched ``ORDER.*`` event the gate would
see (:attr:`runner.executor.OrderExecutor.sinks`), and each round trip — a position opened by an entry's
fills, closed to flat by the fills of its take-profit, stop-loss, time stop or flatten — becomes one
:class:`Label`: the side-aligned entry score and the ``p_win`` the runner used, the realised P&L after
fees over its closing fills (win when > 0, the rule of the session's ECE), how it ended and when it
was opened (market time). A position still open when the data ends gives no label (counted).

:func:`label_run` runs the real runner (market loop, exit manager, executor, paper venue) on a feed with
the runner's own ENR bar opened, so that every idea the strategy scores gets traded and labelled, and
with :class:`LabellingGate` instead of the gate: it allows every order as asked. That is on purpose —
the gate's expected-return and slippage guards are the consumers of the map being fitted, and their
veto would leave only the scores the old map already liked. Offline only: it refuses other venues.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from aurora.calibration import CalibrationError, CalibrationMap, expected_calibration_error, fit_calibration
from aurora.events.codes import EventCode
from runner.config import RunnerConfig
from runner.feeds.base import Feed
from runner.gate_client import GateDecision
from runner.orders import OrderTracker
from runner.positions import PositionBook

_FILLS = (EventCode.ORDER_FILL.value, EventCode.ORDER_PARTIAL.value)


@dataclass(frozen=True, slots=True)
class Label:
    symbol: str
    score: float  # side-aligned entry score (what the map takes)
    p_win: float | None  # what the runner's map said at entry
    pnl_bps: float  # realised, after fees, over the closing fills (qty-weighted)
    pnl_usd: float
    win: bool  # pnl_usd > 0
    exit: str  # the purpose of the last closing order: take_profit | stop_loss | time_stop | flatten
    opened_ns: int  # market time of the first entry fill
    closed_ns: int


@dataclass
class _Trip:
    opened_ns: int
    usd: float = 0.0
    bps_qty: float = 0.0
    qty: float = 0.0


class LabellingSink:
    """A lifecycle sink: one :class:`Label` per round trip, from the events the runner already makes."""

    def __init__(self, tracker: OrderTracker, positions: PositionBook) -> None:
        self.tracker = tracker
        self.positions = positions
        self.labels: list[Label] = []
        self._trips: dict[str, _Trip] = {}
        self.unscored = 0  # closed round trips without an entry score (cannot be labelled)

    def __call__(self, event: dict[str, Any]) -> None:
        if event["event_code"] not in _FILLS:
            return
        order = self.tracker.orders.get(event.get("cid", ""))
        if order is None:
            return
        details = event.get("details") or {}
        symbol = order.symbol
        trip = self._trips.get(symbol)
        if not order.reduce_only:
            if trip is None:
                self._trips[symbol] = _Trip(event["ts_ns"])
            return
        if trip is None or "realized_pnl_usd" not in details:
            return  # a reduce-only fill that closed nothing
        qty = float(details.get("fill_qty") or 0.0)
        trip.usd += float(details["realized_pnl_usd"])
        trip.bps_qty += float(details["realized_pnl_bps"]) * qty
        trip.qty += qty
        if not self.positions.get(symbol).flat:
            return
        del self._trips[symbol]
        score = details.get("entry_score")
        if score is None:
            self.unscored += 1
            return
        self.labels.append(Label(
            symbol, float(score), details.get("entry_p_win"),
            round(trip.bps_qty / trip.qty, 4) if trip.qty > 0 else 0.0, round(trip.usd, 8), trip.usd > 0,
            str(order.purpose), trip.opened_ns, event["ts_ns"],
        ))  # fmt: skip

    @property
    def open_at_end(self) -> int:
        return len(self._trips)


class LabellingGate:
    """Stands in for the gate while labelling: every order allowed as asked, nothing posted.

    The same interface the runner uses of :class:`runner.gate_client.GateClient`; never used to trade.
    """

    base_url = "offline:labelling"
    available = True
    pending_posts = 0

    def __init__(self) -> None:
        self.stats: dict[str, int] = {"checks": 0, "allowed": 0}
        self.tick_to_request_ns: deque[int] = deque()
        self.on_state = None

    async def start(self) -> None:
        pass

    async def aclose(self, timeout_s: float | None = None) -> None:
        pass

    async def describe(self) -> dict[str, Any]:
        return {"clock": "request"}  # it has no clock of its own: the runner's is the only one

    async def check(self, body: dict[str, Any], *, tick_ns: int = 0) -> GateDecision:
        self.stats["checks"] += 1
        self.stats["allowed"] += 1
        return GateDecision(True, "OK", float(body["order"]["qty"]), 1.0, 0.0)

    def post_lifecycle(self, event: dict[str, Any]) -> None:
        pass

    async def trading_state(self, account: str, *, since: int | None = None, wait_ms: float = 0.0) -> dict[str, Any]:
        """Always ACTIVE (nothing here can halt); a long-poll just waits, as a gate without changes would."""
        if since is not None and wait_ms > 0:
            await asyncio.sleep(wait_ms / 1000.0)
        return {"trading_state": "ACTIVE", "state_seq": 0, "trigger": None, "cancel_all": False}


@dataclass
class LabelRun:
    """What one labelling run gave."""

    labels: list[Label] = field(default_factory=list)
    candidates: int = 0
    open_at_end: int = 0
    unscored: int = 0
    first_ns: int = 0  # the data's first and last market time (for a split by time)
    last_ns: int = 0
    messages: int = 0


def labelling_config(cfg: RunnerConfig, warmup_s: float | None = None) -> RunnerConfig:
    """The strategy as configured, with its own ENR bar opened (every scored idea is traded) on the
    paper venue, ending flat where the data ends."""
    data = cfg.model_dump()
    data["runner"].update(mode="paper", flatten_on_stop=True, duration_s=None)
    data["strategy"]["enr_threshold_bps"] = -1e9
    if warmup_s is not None:
        data["strategy"]["warmup_s"] = warmup_s
    data["gate"].update(send_book_age=False)
    return RunnerConfig.model_validate(data)


async def label_run(cfg: RunnerConfig, session_dir: Path, *, feed: Feed | None = None,
                    run_id: str = "labels") -> LabelRun:
    """Run the runner over ``cfg``'s feed (or ``feed``) as :func:`labelling_config` makes it; its labels."""
    from runner.app import Runner, RunnerError

    if cfg.runner.mode != "paper":
        raise RunnerError("labelling runs on the paper venue only (use labelling_config)")
    gate = LabellingGate()
    runner = Runner(cfg, session_dir=session_dir, run_id=run_id, feed=feed, environ={}, gate_client=gate)
    sink = LabellingSink(runner.tracker, runner.positions)
    runner.executor.sinks.append(sink)
    summary = await runner.run()
    if summary.get("error"):
        raise RunnerError(f"the labelling run failed: {summary['error']}")
    return LabelRun(sink.labels, summary["strategy"]["candidates"], sink.open_at_end, sink.unscored,
                    runner.clock.first_ns, runner.clock.market_ns, summary["market"]["messages"])


def label_passes(cfg: RunnerConfig, session_dir: Path, *, passes: int = 1, stagger_s: float = 7.0,
                 feed_factory: Callable[[], Feed] | None = None,
                 progress: Callable[[int, LabelRun], None] | None = None) -> list[LabelRun]:
    """``passes`` runs of the same data, pass ``k`` starting to trade ``k * stagger_s`` later.

    One position at a time per symbol: a single pass labels only the moments it was flat at. Later
    starts make it flat at other moments, so more of the data's ideas are traded — each pass still the
    runner's own trading, its labels the runner's own outcomes.
    """
    runs: list[LabelRun] = []
    for k in range(passes):
        pcfg = labelling_config(cfg, warmup_s=cfg.strategy.warmup_s + k * stagger_s)
        run = asyncio.run(label_run(pcfg, session_dir / f"pass{k}", feed=feed_factory() if feed_factory else None,
                                    run_id=f"labels-{k}"))
        if progress is not None:
            progress(k, run)
        runs.append(run)
    return runs


def split_by_time(labels: Sequence[Label], at_ns: int) -> tuple[list[Label], list[Label]]:
    """Labels opened before ``at_ns`` and those opened at or after it (a held-out later part)."""
    return [x for x in labels if x.opened_ns < at_ns], [x for x in labels if x.opened_ns >= at_ns]


# -- fitting a map on a recording ---------------------------------------------------------------------
def strategy_fingerprint(cfg: RunnerConfig) -> dict[str, Any]:
    """The settings a map is only valid for — what shapes the score and how a trade ends (in ``meta``)."""
    sc = cfg.strategy
    keys = ("tp_bps", "sl_bps", "fees_bps", "score_threshold", "max_hold_s", "order_type", "entry", "order_ttl_s",
            "z_window_s", "obi_levels", "tfi_window_s", "cooldown_ms")  # fmt: skip
    paper = cfg.venue.paper
    return {
        **{k: getattr(sc, k) for k in keys},
        "weights": sc.weights.model_dump(),
        "paper": {"latency_ms": paper.latency_ms, "jitter_ms": paper.jitter_ms, "slippage_bps": paper.slippage_bps},
    }


def report_candidates(runs: Sequence[LabelRun]) -> str:
    return (f"{sum(r.candidates for r in runs)} candidates over {len(runs)} passes, "
            f"{sum(r.messages for r in runs)} messages")

#: exits that say nothing about the score: the data ended and the position was closed at the last book
CUT_BY_END = ("flatten",)


def _ece(cmap: CalibrationMap, labels: Sequence[Label]) -> float | None:
    if not labels:
        return None
    p = cmap.predict_many(np.asarray([x.score for x in labels], dtype=float))
    return round(expected_calibration_error(p, np.asarray([int(x.win) for x in labels])), 6)


def calibrate_replay(
    cfg: RunnerConfig,
    recording: Path,
    work_dir: Path,
    *,
    base: CalibrationMap,
    passes: int = 12,
    stagger_s: float = 2.5,
    holdout: float = 0.5,
    min_pairs: int = 50,
    max_knots: int = 64,
    progress: Callable[[int, LabelRun], None] | None = None,
) -> tuple[CalibrationMap, dict[str, Any]]:
    """A map with a map of its own for each traded symbol, fitted on the runner's trades on a recording.

    The labels (:func:`label_passes`) are split by the time a trade was opened: the first
    ``1 - holdout`` of the recording is fitted, the rest held out and scored (ECE of the new map and of
    ``base`` on the same trades). ``base`` stays the map of every other symbol (the file's pooled map).
    Raises :class:`CalibrationError` when a symbol has fewer than ``min_pairs`` trades to fit.
    """
    if not 0.0 <= holdout < 1.0:
        raise CalibrationError(f"holdout must be in [0, 1) (got {holdout})")
    data = cfg.model_dump()
    data["feed"].update(source=f"replay:{recording}", realtime=False)
    cfg = RunnerConfig.model_validate(data)
    runs = label_passes(cfg, work_dir, passes=passes, stagger_s=stagger_s, progress=progress)
    first = min((r.first_ns for r in runs if r.first_ns), default=0)
    last = max((r.last_ns for r in runs), default=0)
    cut = first + int((last - first) * (1.0 - holdout)) if holdout > 0 else last + 1
    labels = [x for r in runs for x in r.labels]
    usable = [x for x in labels if x.exit not in CUT_BY_END]
    train, held = split_by_time(usable, cut)
    symbols = sorted({x.symbol for x in usable})
    if not symbols:
        raise CalibrationError(f"{recording}: the runner made no trade to label ({report_candidates(runs)})")
    out = CalibrationMap(base.x, base.y, base.platt_a, base.platt_b, base.min_points, dict(base.meta),
                         dict(base.per_symbol))
    report: dict[str, Any] = {
        "recording": str(recording), "passes": passes, "stagger_s": stagger_s, "holdout": holdout,
        "labels": len(labels), "cut_by_end": len(labels) - len(usable),
        "open_at_end": sum(r.open_at_end for r in runs), "candidates": sum(r.candidates for r in runs),
        "split_at_ns": cut if holdout > 0 else None, "symbols": {},
    }
    for sym in symbols:
        tr = [x for x in train if x.symbol == sym]
        he = [x for x in held if x.symbol == sym]
        if len(tr) < min_pairs:
            raise CalibrationError(
                f"{sym}: only {len(tr)} labelled trades to fit (of {len(tr) + len(he)}; at least {min_pairs} "
                "are needed): more --passes, a longer recording, or a lower --min-pairs")
        meta = {
            "source": f"runner pipeline on a replay (runner.labels): {recording.name}", "symbol": sym,
            "label": "realised P&L after fees > 0 over a round trip (paper venue fills)",
            "passes": passes, "stagger_s": stagger_s, "fitted_before_ns": cut if holdout > 0 else None,
            "strategy": strategy_fingerprint(cfg),
        }
        cmap = fit_calibration([x.score for x in tr], [int(x.win) for x in tr], max_knots=max_knots,
                               min_points=base.min_points, meta=meta)
        base_sym = base.for_symbol(sym)
        row = {
            "train": len(tr), "holdout": len(he), "win_rate_train": cmap.meta["win_rate"],
            "win_rate_holdout": round(sum(x.win for x in he) / len(he), 4) if he else None,
            "kind": cmap.kind, "knots": len(cmap.x), "ece_in_sample": cmap.meta["ece_in_sample"],
            "ece_holdout": _ece(cmap, he), "ece_holdout_base": _ece(base_sym, he),
            "exits": {k: sum(1 for x in tr + he if x.exit == k) for k in sorted({x.exit for x in tr + he})},
        }
        cmap.meta["holdout"] = {k: row[k] for k in ("holdout", "win_rate_holdout", "ece_holdout", "ece_holdout_base")}
        out.per_symbol[sym] = cmap
        report["symbols"][sym] = row
    return out, report
