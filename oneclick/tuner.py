"""The live tuner: one-click's ``--tune`` child (``python -m oneclick.tuner``), an Optuna study beside the runners.

An Optuna study (seeded TPE, ask/tell) over the space file's *runner* parameters that an explore arm can
apply live (:data:`runner.explore.LIVE_KEYS`). Every ``--period`` it writes ``OPTUNA.HEARTBEAT`` into the
session's ``tuner_events.jsonl`` (:class:`aurora.events.logger.EventLogger`, the writer every process of
a session uses; the name is :mod:`aurora.session.files`'). A trial is one candidate:

1. **Proposed.** ``study.ask()``, the space's suggestion, written as a runner overlay
   (``tuning/trial-NNNN.yaml``, atomically), then *validated* exactly as the runners will load it:
   the space's bounds (:meth:`SearchSpace.check_bounds`) and ``load_runner(..., overlays=[..., it])`` over
   the runners' own layers. Only then is it announced, ``OPTUNA.PARAMETER_UPDATE`` (trial, params,
   overlay path and sha256, explore ratio); a candidate that fails is ``OPTUNA.PROPOSAL_REFUSED`` with
   the reason, told to the study as failed, and never reaches a runner.
2. **Scored** after ``--trial-s`` from the session's own records: the explore arm's closed trades of this
   trial — the gate's ``ORDER.FILL`` / ``ORDER.PARTIAL`` events whose ``details.arm`` is ``explore`` and
   ``details.trial`` this trial (the runners tag every lifecycle event of a position with the arm that
   opened it), read with the one session reader and walked by the analytics' order walk (replayed fills
   do not count). Their figures are put in the metrics summary's shape (realized P&L net of fees, the
   maximum drawdown and the per-trade figures, all from :mod:`aurora.stats`) and scored by the offline
   tuner's objective (:mod:`oneclick.tuning.objectives`, ``--objective``; default ``pnl_dd``: realized
   P&L minus a weight times the worst drawdown, USD): one definition for both tuners. Trades of the
   trial's positions that close after it is told are not counted.
3. **No trade.** An arm that closed no trade in a trial's time says nothing about its parameters (with a
   small explore share that is mostly chance), so its trial is extended by another ``--trial-s``, up to
   ``--patience`` times; still nothing, it is told to the study as *failed* (TPE leaves failed trials out
   of its model: no evidence either way), not as a score of 0, and the next trial is proposed.

What it never does: apply the space's gate parameters (one gate serves both arms, so a threshold cannot
apply to a share of the decisions; they are named in ``OPTUNA.START`` as not applied, and the gate's
limits are never touched), or change a runner key outside :data:`LIVE_KEYS` (same, named). Exit codes:
0 after a stop signal; 2 for a bad space file or arguments (one paragraph, no traceback).
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import math
import signal
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from aurora import stats
from aurora.analytics.order_walk import COLUMNS as WALK_COLUMNS
from aurora.analytics.order_walk import E_FILLS, FILL_COUNTS, walk_orders
from aurora.config.errors import ConfigError
from aurora.config.loader import load_runner
from aurora.events.codes import EventCode
from aurora.events.logger import EventLogger, new_run_id
from aurora.session.fields import PARAMS_KEY, Field
from aurora.session.files import TUNER_EVENTS_FILE, TUNING_DIR, trial_overlay_file
from aurora.session.reader import SessionReadError, read_session
from oneclick.tuning.objectives import DEFAULT_OBJECTIVE, ObjectiveError, objective
from oneclick.tuning.space import Overlay, SearchSpace, Target, load_space
from runner.config import RunnerConfig
from runner.explore import EXPLORE, LIVE_KEYS

DEFAULT_SPACE = "profiles/spaces/btc_small.yaml"
DEFAULT_PERIOD_S = 5.0
DEFAULT_EXPLORE_RATIO = 0.05
#: A trial's time as heartbeat periods (one-click's default): long enough for a few explore trades.
TRIAL_PERIODS = 6
DEFAULT_PATIENCE = 2
STUDY_NAME = "live"


@dataclass
class TunerSettings:
    session_dir: Path
    space: Path
    explore_ratio: float = DEFAULT_EXPLORE_RATIO
    period_s: float = DEFAULT_PERIOD_S
    trial_s: float = DEFAULT_PERIOD_S * TRIAL_PERIODS
    patience: int = DEFAULT_PATIENCE
    seed: int = 0
    objective: str = DEFAULT_OBJECTIVE
    #: the runners' own config layers: a candidate is validated over exactly these
    runner_config: str | None = None
    profile: str | None = None
    overlays: list[str] = field(default_factory=list)
    run_id: str | None = None


@dataclass
class Live:
    """The trial the runners are told to explore."""

    trial: Any  # optuna.trial.Trial
    path: Path
    sha256: str
    params: dict[str, Any]
    ends_at: float
    extensions: int = 0


def live_subspace(space: SearchSpace) -> tuple[SearchSpace, dict[str, str]]:
    """The parameters a live explore arm can apply, and why each other one is left out."""
    live, ignored = [], {}
    for p in space.parameters:
        if p.target is Target.GATE:
            ignored[p.name] = ("a gate threshold: one gate serves both arms, so it cannot apply to a share of "
                               "the decisions; the tuner never changes the gate's limits")
        elif p.key not in LIVE_KEYS:
            ignored[p.name] = "shared by both arms of a runner (not one of the keys an explore arm applies)"
        else:
            live.append(p)
    return SearchSpace(path=space.path, sha256=space.sha256, parameters=tuple(live),
                       description=space.description), ignored  # fmt: skip


def arm_pnl(session_dir: Path, trial: int) -> np.ndarray:
    """Realized P&L (USD, fees netted) of the explore arm's closed trades of ``trial``, in time order."""
    try:
        data = read_session(session_dir, event_columns=[*WALK_COLUMNS, Field.REALIZED_PNL_USD, Field.ARM, Field.TRIAL],
                            runner_events=False, orders=False)  # fmt: skip
    except SessionReadError:
        return np.zeros(0)
    ev = data.events
    if not len(ev):
        return np.zeros(0)
    w = walk_orders(ev)
    real_fill = np.isin(w.ev, list(E_FILLS)) & np.isin(w.kind, FILL_COUNTS)
    pnl = np.asarray(w.col(ev, Field.REALIZED_PNL_USD.value), dtype=float)
    arm = w.col(ev, Field.ARM.value)
    on_arm = arm.isin([EXPLORE]) if hasattr(arm, "isin") else np.zeros(pnl.size, dtype=bool)
    of_trial = np.asarray(w.col(ev, Field.TRIAL.value), dtype=float) == float(trial)
    sel = real_fill & on_arm & of_trial & np.isfinite(pnl)
    order = np.argsort(w.ts[sel], kind="stable")
    return pnl[sel][order]


def arm_summary(pnl: np.ndarray) -> dict[str, Any]:
    """The explore arm's closed trades in the metrics summary's shape (the figures an objective reads)."""
    return {"risk": {"realized_pnl_usd": float(pnl.sum())},
            "pnl": {"max_drawdown_usd": stats.max_drawdown(pnl), "per_trade": stats.trade_stats(pnl)}}  # fmt: skip


class Tuner:
    def __init__(self, settings: TunerSettings) -> None:
        import optuna  # here: a second to import, and only the tuner needs it

        self.optuna = optuna
        self.s = settings
        if not 0.0 < settings.explore_ratio < 1.0:
            raise ValueError(f"--explore-ratio must be between 0 and 1 (exclusive), got {settings.explore_ratio:g}")
        if not (settings.period_s > 0 and math.isfinite(settings.period_s)):
            raise ValueError(f"--period must be a positive number of seconds, got {settings.period_s:g}")
        if not (settings.trial_s >= settings.period_s and math.isfinite(settings.trial_s)):
            raise ValueError(f"--trial-s must be at least the period ({settings.period_s:g} s), got {settings.trial_s:g}")
        self.objective = objective(settings.objective)
        self.space, self.ignored = live_subspace(load_space(settings.space))
        if not self.space.parameters:
            raise ValueError(f"{settings.space}: no parameter an explore arm can apply live (all ignored: "
                             + "; ".join(f"{k}: {v}" for k, v in self.ignored.items()) + ")")
        self.dir = settings.session_dir / TUNING_DIR
        self.dir.mkdir(parents=True, exist_ok=True)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        # On disk in the session: a restarted tuner goes on with the same study and trial numbers (a
        # runner takes only a trial newer than its live one).
        self.study = optuna.create_study(
            study_name=STUDY_NAME, direction="maximize", load_if_exists=True,
            storage=f"sqlite:///{self.dir / 'study.db'}",
            sampler=optuna.samplers.TPESampler(seed=settings.seed),
        )  # fmt: skip
        self.log = EventLogger(settings.session_dir, settings.run_id or new_run_id(), filename=TUNER_EVENTS_FILE)
        self.live: Live | None = None
        self.told = 0
        self.last_update: dict[str, Any] | None = None
        self.next_heartbeat = 0.0

    # -- events ------------------------------------------------------------------------------------
    def emit(self, code: EventCode, details: dict[str, Any]) -> dict[str, Any]:
        return self.log.emit(code.value, details)

    def start(self, now: float) -> None:
        self.emit(EventCode.OPTUNA_START, {
            "space": str(self.s.space), "space_sha256": self.space.sha256,
            "tuned": [p.name for p in self.space.parameters], "not_applied_live": self.ignored,
            Field.EXPLORE_RATIO.value: self.s.explore_ratio, Field.PERIOD_S.value: self.s.period_s,
            "trial_s": self.s.trial_s, "patience": self.s.patience, "seed": self.s.seed,
            "sampler": "TPESampler", "study": STUDY_NAME, "objective": self.objective.name,
        })  # fmt: skip
        self.next_heartbeat = now

    def heartbeat(self, now: float) -> None:
        live = self.live
        self.emit(EventCode.OPTUNA_HEARTBEAT, {
            Field.PERIOD_S.value: self.s.period_s,
            Field.TRIAL.value: live.trial.number if live else None,
            Field.TRIALS_TOLD.value: self.told,
            Field.EXPLORE_RATIO.value: self.s.explore_ratio,
            "trial_ends_in_s": round(max(0.0, live.ends_at - now), 3) if live else None,
        })  # fmt: skip

    # -- trials ------------------------------------------------------------------------------------
    def propose(self, now: float, overlay: Overlay | None = None) -> bool:
        """Ask the study for a trial (or take ``overlay`` for it), validate it and announce it."""
        trial = self.study.ask()
        path = self.dir / trial_overlay_file(trial.number)
        try:
            ov = overlay if overlay is not None else self.space.suggest(trial)
            ov.write_runner(path, header=f"live tuner: study {STUDY_NAME}, trial {trial.number}\n"
                                         f"space {self.s.space} (sha256 {self.space.sha256[:16]})")  # fmt: skip
            why = self.validate(path, ov)
        except (ConfigError, OSError, ValueError) as exc:
            why = _one_line(exc)
            ov = overlay
        params = dict(ov.params) if ov is not None else {}
        if why is not None:
            self.study.tell(trial, state=self.optuna.trial.TrialState.FAIL)
            self.told += 1
            self.emit(EventCode.OPTUNA_PROPOSAL_REFUSED, {
                Field.TRIAL.value: trial.number, PARAMS_KEY: params, Field.OVERLAY.value: str(path),
                Field.REASON.value: why,
            })  # fmt: skip
            return False
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        self.live = Live(trial, path, sha, params, now + self.s.trial_s)
        self.last_update = self.emit(EventCode.OPTUNA_PARAMETER_UPDATE, {
            Field.TRIAL.value: trial.number, PARAMS_KEY: params, Field.OVERLAY.value: str(path),
            Field.OVERLAY_SHA256.value: sha, Field.EXPLORE_RATIO.value: self.s.explore_ratio,
            "runner": ov.runner,
        })  # fmt: skip
        return True

    def validate(self, path: Path, overlay: Overlay) -> str | None:
        """None when the overlay is within the space's bounds and loads over the runners' layers."""
        try:
            self.space.check_bounds(overlay)
            load_runner(RunnerConfig, config=self.s.runner_config, profile=self.s.profile,
                        overlays=[*self.s.overlays, str(path)])  # fmt: skip
        except ConfigError as exc:
            return _one_line(exc)
        if overlay.gate:
            return "the overlay sets gate keys: the live tuner never changes the gate"
        return None

    def finish_trial(self, now: float) -> None:
        """Score the live trial, tell the study (or extend it: see the module docstring)."""
        live = self.live
        assert live is not None
        pnl = arm_pnl(self.s.session_dir, live.trial.number)
        base = {Field.TRIAL.value: live.trial.number, PARAMS_KEY: live.params, "trades": int(pnl.size),
                "extensions": live.extensions}  # fmt: skip
        if pnl.size == 0 and live.extensions < self.s.patience:
            live.extensions += 1
            live.ends_at = now + self.s.trial_s
            return
        if pnl.size == 0:
            self.study.tell(live.trial, state=self.optuna.trial.TrialState.FAIL)
            details = {**base, Field.STATE.value: "FAIL",
                       Field.REASON.value: f"the explore arm closed no trade in {(live.extensions + 1) * self.s.trial_s:g} s"}  # fmt: skip
        else:
            value = float(self.objective.score(arm_summary(pnl)))
            self.study.tell(live.trial, value)
            details = {**base, Field.STATE.value: "COMPLETE", Field.VALUE.value: round(value, 8),
                       "pnl_usd": round(float(pnl.sum()), 8), "max_drawdown_usd": round(stats.max_drawdown(pnl) or 0.0, 8)}  # fmt: skip
        self.told += 1
        self.live = None
        self.emit(EventCode.OPTUNA_TRIAL_TOLD, details)

    def step(self, now: float) -> float:
        """Do what is due at ``now``; the time of the next thing due."""
        if self.live is not None and now >= self.live.ends_at:
            self.finish_trial(now)
        if self.live is None:
            self.propose(now)
        if now >= self.next_heartbeat:
            self.heartbeat(now)
            # on the period's grid: a slow step does not shift every later heartbeat
            self.next_heartbeat += self.s.period_s * max(1, math.floor((now - self.next_heartbeat) / self.s.period_s) + 1)
        return min(self.next_heartbeat, self.live.ends_at if self.live else now + self.s.period_s)

    def run(self, stop: threading.Event) -> None:
        now = time.time()
        self.start(now)
        try:
            while not stop.is_set():
                due = self.step(time.time())
                stop.wait(max(0.0, due - time.time()))
        finally:
            self.emit(EventCode.OPTUNA_STOP, {Field.TRIALS_TOLD.value: self.told,
                                               Field.TRIAL.value: self.live.trial.number if self.live else None})  # fmt: skip
            self.log.close()


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:800] or type(exc).__name__


def parse_args(argv: Sequence[str]) -> TunerSettings:
    p = argparse.ArgumentParser(prog="python -m oneclick.tuner", description=__doc__.split("\n\n")[0])
    p.add_argument("--session", required=True, type=Path, help="The session dir (tuner_events.jsonl, tuning/).")
    p.add_argument("--space", type=Path, default=Path(DEFAULT_SPACE), help="Search space file.")
    p.add_argument("--explore-ratio", type=float, default=DEFAULT_EXPLORE_RATIO)
    p.add_argument("--period", type=float, default=DEFAULT_PERIOD_S, help="Heartbeat period (s).")
    p.add_argument("--trial-s", type=float, default=None, help=f"A trial's time (s); default {TRIAL_PERIODS} periods.")
    p.add_argument("--patience", type=int, default=DEFAULT_PATIENCE)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--objective", default=DEFAULT_OBJECTIVE, help="What a trial maximises (oneclick.tuning.objectives).")
    p.add_argument("--runner-config", default=None)
    p.add_argument("--profile", default=None)
    p.add_argument("--overlay", action="append", default=[])
    a = p.parse_args(list(argv))
    return TunerSettings(session_dir=a.session, space=a.space, explore_ratio=a.explore_ratio, period_s=a.period,
                         trial_s=a.trial_s if a.trial_s is not None else a.period * TRIAL_PERIODS,
                         patience=max(0, a.patience), seed=a.seed, objective=a.objective, runner_config=a.runner_config,
                         profile=a.profile, overlays=list(a.overlay))  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING)
    settings = parse_args(sys.argv[1:] if argv is None else argv)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())
    try:
        tuner = Tuner(settings)
    except (ConfigError, ObjectiveError, ValueError, OSError) as exc:
        print(f"tuner: {_one_line(exc)}", file=sys.stderr)
        return 2
    tuner.run(stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
