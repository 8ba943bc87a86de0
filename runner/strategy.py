"""The WiseScalp signal: features → score → calibrated win probability → ENR gate → ParentGate.

* **Score.** ``raw = w_obi·OBI + w_micro·microprice_tilt + w_tfi·TFI`` is standardised by its own
  running mean and variance (exponential, time constant ``z_window_s``): ``z = (raw − mean) / std``.
  The sign picks the side; the *side-aligned* score sent to the gate and calibrated is ``|z|`` (higher
  = the trade in its own direction is more likely to win), as :mod:`aurora.calibration` expects.
* **Calibration.** ``p_win = CalibrationMap.predict(score)`` — the same map and code as the gate's
  expected-return guard (imported, never copied); a map file with a symbol's own map (``per_symbol``)
  is used for that symbol, by the gate too.
* **ENR gate.** ``ENR = p·TP − (1 − p)·SL − fees`` (bps) must be ≥ ``enr_threshold_bps``.
* **ParentGate.** A child symbol needs its parent's z to agree (:mod:`runner.parent_gate`).

Each candidate carries the three XAI records (``MODEL``, ``ENR_GATE``, ``PARENT_GATE``) with inputs and
verdicts; the run loop writes them. The strategy does no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from runner.config import StrategySection
from runner.features import SymbolFeatures
from runner.parent_gate import ParentGate, ParentVerdict


@dataclass(slots=True)
class SignalState:
    """Running statistics of one symbol's raw signal."""

    mean: float = 0.0
    var: float = 0.0
    raw: float = 0.0
    z: float = float("nan")
    first_ms: int = 0
    last_ms: int = 0
    next_decision_ms: int = 0


@dataclass(slots=True)
class Candidate:
    """A trade idea that passed (or failed) the runner's own gates, with its XAI records."""

    cid: str
    symbol: str
    side: str
    ts_ms: int
    z: float
    score: float
    p_win: float
    enr_bps: float
    passed: bool
    stage: str  # where it stopped: ENR_GATE | PARENT_GATE | PASSED
    features: dict[str, Any] = field(default_factory=dict)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


_exp, _sqrt, _NAN = math.exp, math.sqrt, float("nan")  # per tick: no module attribute lookups
_MODEL_INPUTS = ("bid", "ask", "mid", "spread_bps", "microprice", "micro_tilt", "obi", "tfi", "vol_std_bps")


class SignalModel:
    """``raw`` from features and its exponentially-weighted z-score (per symbol)."""

    def __init__(self, cfg: StrategySection) -> None:
        w = cfg.weights
        self.w_obi, self.w_micro, self.w_tfi = w.obi, w.micro, w.tfi
        self.tau_ms = cfg.z_window_s * 1000.0

    def update(self, st: SignalState, feats: SymbolFeatures, now_ms: int) -> float:
        raw = self.w_obi * feats.obi() + self.w_micro * feats.micro_tilt + self.w_tfi * feats.tfi(now_ms)
        st.raw = raw
        if st.first_ms == 0:
            st.first_ms = st.last_ms = now_ms
            st.mean, st.var = raw, 0.0
            return st.z
        dt = now_ms - st.last_ms
        st.last_ms = now_ms
        # Exponential forgetting by elapsed time, so the z-score does not depend on the message rate.
        a = 1.0 - _exp(-dt / self.tau_ms) if dt > 0 else 0.0
        d = raw - st.mean
        st.mean += a * d
        st.var = var = (1.0 - a) * (st.var + a * d * d)
        st.z = z = d / _sqrt(var) if var > 1e-12 else _NAN
        return z


class Strategy:
    def __init__(
        self,
        cfg: StrategySection,
        *,
        predict: Callable[[float], float],
        parent_gate: ParentGate,
        parents: dict[str, str | None],
        tradable: set[str],
        new_cid: Callable[[], str],
        predict_by_symbol: Mapping[str, Callable[[float], float]] | None = None,
    ) -> None:
        self.cfg = cfg
        self.model = SignalModel(cfg)
        self.predict = predict
        # a symbol's own calibration where the map file has one (CalibrationMap.for_symbol)
        self.predict_by_symbol = dict(predict_by_symbol or {})
        self.parent_gate = parent_gate
        self.parents = parents
        self.tradable = tradable
        self.new_cid = new_cid
        self.states: dict[str, SignalState] = {}
        self.counters = {"evaluations": 0, "candidates": 0, "enr_fail": 0, "parent_fail": 0, "passed": 0}

    def state(self, symbol: str) -> SignalState:
        st = self.states.get(symbol)
        if st is None:
            st = self.states[symbol] = SignalState()
        return st

    def z(self, symbol: str) -> float | None:
        st = self.states.get(symbol)
        return None if st is None or st.z != st.z else st.z

    def on_tick(self, symbol: str, feats: SymbolFeatures, now_ms: int, *, can_open: bool) -> Candidate | None:
        """Update the symbol's signal; return a candidate when a new position may be considered."""
        st = self.states.get(symbol) or self.state(symbol)
        if not feats.ready:
            return None
        z = self.model.update(st, feats, now_ms)
        self.counters["evaluations"] += 1
        cfg = self.cfg
        if (
            not can_open
            or symbol not in self.tradable
            or now_ms < st.next_decision_ms
            or now_ms - st.first_ms < cfg.warmup_s * 1000.0
            or z != z
            or abs(z) < cfg.score_threshold
            or not feats.book.bid_px  # L2 book not synced yet
        ):
            return None
        st.next_decision_ms = now_ms + int(cfg.cooldown_ms)
        return self._candidate(symbol, feats, st, now_ms)

    def _candidate(self, symbol: str, feats: SymbolFeatures, st: SignalState, now_ms: int) -> Candidate:
        cfg = self.cfg
        z = st.z
        side = "buy" if z > 0 else "sell"
        score = abs(z)
        p = self.predict_by_symbol.get(symbol, self.predict)(score)
        enr = p * cfg.tp_bps - (1.0 - p) * cfg.sl_bps - cfg.fees_bps
        cid = self.new_cid()
        features = feats.as_dict(now_ms)
        self.counters["candidates"] += 1
        model_details = {
            **{k: features[k] for k in _MODEL_INPUTS},
            "weights": {"obi": self.model.w_obi, "micro": self.model.w_micro, "tfi": self.model.w_tfi},
            "raw": round(st.raw, 6),
            "z": round(z, 4),
            "score": round(score, 4),
            "p_win": round(p, 4),
            "score_threshold": cfg.score_threshold,
        }
        enr_ok = enr >= cfg.enr_threshold_bps
        enr_details = {
            "p_win": round(p, 4),
            "tp_bps": cfg.tp_bps,
            "sl_bps": cfg.sl_bps,
            "fees_bps": cfg.fees_bps,
            "enr_bps": round(enr, 4),
            "threshold_bps": cfg.enr_threshold_bps,
            "pass": enr_ok,
        }
        events: list[tuple[str, dict[str, Any]]] = [("MODEL", model_details), ("ENR_GATE", enr_details)]
        cand = Candidate(cid, symbol, side, now_ms, z, score, p, enr, False, "ENR_GATE", features, events)
        if not enr_ok:
            self.counters["enr_fail"] += 1
            return cand
        parent = self.parents.get(symbol)
        verdict: ParentVerdict = self.parent_gate.check(side, parent, self.z(parent) if parent else None)
        events.append(("PARENT_GATE", verdict.details))
        if not verdict.passed:
            cand.stage = "PARENT_GATE"
            self.counters["parent_fail"] += 1
            return cand
        cand.passed = True
        cand.stage = "PASSED"
        self.counters["passed"] += 1
        return cand
