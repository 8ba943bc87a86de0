"""A running tally of a session's events, fed one record at a time (from log tails or a full read).

The dashboard feeds it incrementally while the run goes on; the proof feeds a fresh one from a full
read of the session (rotated files included) when the analytics package cannot summarise the session.
Order states follow the shared lifecycle FSM (:mod:`aurora.orders.fsm`); percentiles, CVaR and ECE come
from :mod:`aurora.stats`.
"""

from __future__ import annotations

import math
import time
from array import array
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from aurora.events.codes import EventCode, is_lifecycle_code
from aurora.orders.fsm import OrderState, TransitionVerdict, short_name, step
from aurora.stats import cvar_loss, ece, percentile, percentiles
from oneclick.tuner_tally import CODES as TUNER_CODES
from oneclick.tuner_tally import TunerTally

#: XAI stages in chain order; ``ORDER`` stands for every ``ORDER.*`` lifecycle event.
XAI_STAGES: tuple[str, ...] = ("MODEL", "ENR_GATE", "PARENT_GATE", "POLICY_DECISION", "ORDER")
HEALTH_CODES = frozenset(
    {
        EventCode.HEALTH_LATENCY_HIGH,
        EventCode.HEALTH_LATENCY_P95_HIGH,
        EventCode.AURORA_COOL_OFF,
        EventCode.AURORA_ESCALATION,
        EventCode.AURORA_ARM_STATE,
        EventCode.GOVERNANCE_KILL_SWITCH,
        EventCode.OPS_RESET,
        EventCode.OPS_COOLOFF,
    }
)
RATE_WINDOW_S = 5.0


def stage_of(code: str) -> str | None:
    if is_lifecycle_code(code):  # ORDER.ANOMALY is the gate's verdict on an order, not a step of it
        return "ORDER"
    return code if code in XAI_STAGES else None


@dataclass
class ChainEvidence:
    """One order that went all the way: MODEL → allowed POLICY_DECISION → ORDER.*."""

    cid: str
    symbol: str | None
    model_ts_ns: int
    decision_ts_ns: int
    order_ts_ns: int
    order_events: list[str]

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class SessionTally:
    def __init__(self, *, tail_n: int = 5, cvar_alpha: float = 0.1) -> None:
        self.tail_n = tail_n
        self.cvar_alpha = cvar_alpha
        self.records = 0
        self.first_ts_ns: int | None = None
        self.last_ts_ns: int | None = None
        self.codes: Counter[str] = Counter()
        # decisions
        self.decisions = 0
        self.allowed = 0
        self.denied = 0
        self.deny_reasons: Counter[str] = Counter()
        self.decision_us = array("d")  # 8 bytes a sample: a long, busy run stays small
        self._recent_decisions: deque[int] = deque()
        self.allowed_cids: dict[str, int] = {}  # cid -> decision ts
        # XAI
        self.xai_counts: Counter[str] = Counter()
        self.xai_tail: dict[str, deque[dict[str, Any]]] = {s: deque(maxlen=tail_n) for s in XAI_STAGES}
        self._model_first_ts: dict[str | None, int] = {}  # symbol -> earliest MODEL ts
        self._model_cids: dict[str, int] = {}  # cid -> MODEL ts, when the runner stamps cids on MODEL
        # orders
        self.order_state: dict[str, OrderState] = {}
        self.order_events: dict[str, list[str]] = {}
        self.order_symbol: dict[str, str | None] = {}
        self.order_first_ts: dict[str, int] = {}
        self.state_counts: Counter[str] = Counter()
        self.illegal_transitions = 0
        self.fill_after_cancel = 0
        self.fills = 0  # FILL and PARTIAL events
        self.filled_qty = 0.0
        self._submit_ts: dict[str, int] = {}
        self.submit_ack_ms = array("d")
        self.realized_pnl_usd = 0.0
        self.closed_trades = 0
        self.pnl_bps = array("d")
        self.p_win: list[float] = []
        self.won: list[float] = []
        # health / kill-switch / runner status
        self.health_tail: deque[dict[str, Any]] = deque(maxlen=tail_n)
        self.runner_status: Counter[str] = Counter()
        self.runner_started: dict[
            str, int
        ] = {}  # group -> ts of its first RUNNER.START (it trades from then)
        self.runner_metrics: dict[str, str] = {}  # group -> its /metrics URL (RUNNER.START details.metrics)
        self.tuner = TunerTally(tail_n)  # the live tuner's events and the runners' answers (one-click --tune)

    # --- feeding ---------------------------------------------------------------------------------

    def add(self, rec: dict[str, Any]) -> None:
        code = rec.get("event_code")
        if not isinstance(code, str):
            return
        self.records += 1
        ts = rec.get("ts_ns")
        ts = int(ts) if isinstance(ts, int | float) else 0
        if ts:
            self.first_ts_ns = ts if self.first_ts_ns is None else min(self.first_ts_ns, ts)
            self.last_ts_ns = ts if self.last_ts_ns is None else max(self.last_ts_ns, ts)
        self.codes[code] += 1
        stage = stage_of(code)
        if stage:
            self.xai_counts[stage] += 1
            self.xai_tail[stage].append(rec)
        details = rec.get("details") if isinstance(rec.get("details"), dict) else {}
        if code in TUNER_CODES:
            self.tuner.add(code, rec, details, ts)
        if code == EventCode.POLICY_DECISION:
            self._decision(rec, details, ts)
        elif code == EventCode.MODEL:
            sym = rec.get("symbol")
            if sym not in self._model_first_ts or ts < self._model_first_ts[sym]:
                self._model_first_ts[sym] = ts
            if isinstance(rec.get("cid"), str):
                self._model_cids.setdefault(rec["cid"], ts)
        elif is_lifecycle_code(code):
            self._order(rec, code, details, ts)
        elif code in HEALTH_CODES:
            self.health_tail.append(rec)
        elif code.startswith("RUNNER."):
            self.runner_status[code] += 1
            if code == EventCode.RUNNER_START:
                group = str(details.get("group") or "default")
                self.runner_started.setdefault(group, ts)
                metrics = details.get("metrics")
                if isinstance(metrics, dict) and isinstance(metrics.get("url"), str):
                    self.runner_metrics[group] = metrics["url"]  # the latest start's: a restart moves it

    def add_many(self, records: Any) -> None:
        for rec in records:
            self.add(rec)

    def _decision(self, rec: dict[str, Any], details: dict[str, Any], ts: int) -> None:
        self.decisions += 1
        self._recent_decisions.append(ts or time.time_ns())
        if details.get("allow"):
            self.allowed += 1
            if isinstance(rec.get("cid"), str):
                self.allowed_cids.setdefault(rec["cid"], ts)
        else:
            self.denied += 1
            self.deny_reasons[str(details.get("reason", "UNKNOWN"))] += 1
        us = details.get("decision_us")
        if isinstance(us, int | float) and math.isfinite(us):
            self.decision_us.append(float(us))

    def _order(self, rec: dict[str, Any], code: str, details: dict[str, Any], ts: int) -> None:
        cid = rec.get("cid")
        event = short_name(code)
        if event in ("FILL", "PARTIAL"):
            self.fills += 1
            fq = details.get("fill_qty")
            if isinstance(fq, int | float):
                self.filled_qty += float(fq)
            self._closing_fill(details)
        if not isinstance(cid, str):
            return
        state = self.order_state.get(cid)
        if state is None:
            state = OrderState.PREPARED
            self.order_events[cid] = []
            self.order_symbol[cid] = rec.get("symbol")
            self.order_first_ts[cid] = ts
        else:
            self.state_counts[state] -= 1
        nxt, verdict = step(state, event)
        if verdict is TransitionVerdict.ILLEGAL:
            self.illegal_transitions += 1
        elif verdict is TransitionVerdict.FILL_AFTER_CANCEL:
            self.fill_after_cancel += 1
        self.order_state[cid] = nxt
        self.state_counts[nxt] += 1
        if len(self.order_events[cid]) < 16:
            self.order_events[cid].append(code)
        if event == "SUBMIT":
            self._submit_ts[cid] = ts
        elif event == "ACK" and cid in self._submit_ts:
            self.submit_ack_ms.append((ts - self._submit_ts.pop(cid)) / 1e6)

    def _closing_fill(self, details: dict[str, Any]) -> None:
        usd, bps, p = (
            details.get("realized_pnl_usd"),
            details.get("realized_pnl_bps"),
            details.get("entry_p_win"),
        )
        if isinstance(usd, int | float):
            self.realized_pnl_usd += float(usd)
        if isinstance(bps, int | float) and math.isfinite(bps):
            self.closed_trades += 1
            self.pnl_bps.append(float(bps))
            if isinstance(p, int | float) and 0.0 <= p <= 1.0:
                self.p_win.append(float(p))
                self.won.append(1.0 if bps > 0 else 0.0)

    # --- reading -------------------------------------------------------------------------------

    @property
    def orders(self) -> int:
        return len(self.order_state)

    def decisions_per_s(self, now_ns: int | None = None) -> float:
        now_ns = now_ns or time.time_ns()
        horizon = now_ns - int(RATE_WINDOW_S * 1e9)
        while self._recent_decisions and self._recent_decisions[0] < horizon:
            self._recent_decisions.popleft()
        return len(self._recent_decisions) / RATE_WINDOW_S

    @staticmethod
    def p50_p99(values: array, scale: float = 1.0) -> tuple[float | None, float | None]:
        """p50 and p99 of every sample, as :mod:`aurora.stats` defines them (linear interpolation) — the
        metrics summary's definition, so the dashboard and the proof report the same figure."""
        p50, p99 = percentiles(np.array(values, dtype=np.float64), (50, 99))  # a copy: the array grows
        return (None, None) if p50 is None or p99 is None else (p50 * scale, p99 * scale)

    def deny_rate(self) -> float | None:
        return self.denied / self.decisions if self.decisions else None

    def calibration_ece(self) -> float | None:
        return ece(self.p_win, self.won)

    def cvar_bps(self) -> float | None:
        """CVaR (positive loss, bps per closed trade) as :mod:`aurora.stats` defines it."""
        return cvar_loss(self.pnl_bps, self.cvar_alpha)

    def orders_by_state(self) -> dict[str, int]:
        return {str(s): n for s, n in self.state_counts.items() if n > 0}

    def submitted_cids(self) -> list[str]:
        return [cid for cid, evs in self.order_events.items() if "ORDER.SUBMIT" in evs]

    def orders_without_allow(self) -> list[str]:
        """Orders submitted with no allowed POLICY_DECISION for their cid (must be none)."""
        return [cid for cid in self.submitted_cids() if cid not in self.allowed_cids]

    def chain(self) -> ChainEvidence | None:
        """The first order whose cid was allowed by the gate after a MODEL event (same cid when the
        runner stamps it on MODEL, else the same symbol, no later than the decision)."""
        for cid in self.submitted_cids():
            dts = self.allowed_cids.get(cid)
            if dts is None:
                continue
            sym = self.order_symbol.get(cid)
            mts = self._model_cids.get(cid)
            if mts is None:
                mts = self._model_first_ts.get(sym)
            if mts is None or mts > dts:
                continue
            return ChainEvidence(cid, sym, mts, dts, self.order_first_ts[cid], list(self.order_events[cid]))
        return None

    def why_no_chain(self) -> str:
        """What stopped the first order, for the proof's failure line (the operator's first question)."""
        if not self.decisions:
            return "no order was ever checked by the gate"
        if not self.allowed:
            reasons = ", ".join(f"{r} {n}" for r, n in self.deny_reasons.most_common(3))
            return (f"every one of the {self.decisions} decisions was denied ({reasons}); the summary's deny "
                    "table names the config value behind each reason")
        if not self.submitted_cids():
            return f"{self.allowed} decision(s) allowed, but no order was submitted"
        return "no submitted order follows a MODEL event and its allowed decision"

    def counts(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "decisions": self.decisions,
            "allowed": self.allowed,
            "denied": self.denied,
            "deny_by_reason": dict(self.deny_reasons.most_common()),
            "orders": self.orders,
            "orders_by_state": self.orders_by_state(),
            "fills": self.fills,
            "rejects": self.codes.get("ORDER.REJECT", 0),
            "expired": self.codes.get("ORDER.EXPIRE", 0),
            "canceled": self.codes.get("ORDER.CANCEL.ACK", 0),
            "closed_trades": self.closed_trades,
            "xai_events": {s: self.xai_counts.get(s, 0) for s in XAI_STAGES},
            "illegal_transitions": self.illegal_transitions,
            "fill_after_cancel": self.fill_after_cancel,
        }

    def slis(self) -> dict[str, Any]:
        return {
            "deny_rate": self.deny_rate(),
            "gate_latency_p50_ms": _ms(percentile(self.decision_us, 50)),
            "gate_latency_p99_ms": _ms(percentile(self.decision_us, 99)),
            "submit_ack_p50_ms": percentile(self.submit_ack_ms, 50),
            "submit_ack_p99_ms": percentile(self.submit_ack_ms, 99),
            "calibration_ece": self.calibration_ece(),
            "cvar_bps": self.cvar_bps(),
            "cvar_alpha": self.cvar_alpha,
            "realized_pnl_usd": round(self.realized_pnl_usd, 6),
        }


def _ms(us: float | None) -> float | None:
    return None if us is None else us / 1000.0
