"""Governance kill-switch around the pipeline (SPEC §4).

Over the last ``killswitch.window_trades`` venue outcomes (a REJECT vs any other first response) and
the last ``window_trades`` gate decisions (deny vs allow): a reject rate above
``max_reject_rate_pct`` or a denied rate above ``max_denied_rate_pct`` (judged once ``min_outcomes``
are in the window) trips the switch and emits ``GOVERNANCE.KILL_SWITCH``. With ``HALT_AND_ALERT`` new
risk-increasing orders are denied ``KILL_SWITCH`` while risk-reducing ones pass; ``ALERT_ONLY`` only
alerts. Only an ops reset clears it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from aurora.config.models import AuroraConfig
from aurora.events.codes import EventCode


class _RateWindow:
    __slots__ = ("q", "hits")

    def __init__(self, size: int) -> None:
        self.q: deque[bool] = deque(maxlen=size)
        self.hits = 0

    def add(self, hit: bool) -> None:
        q = self.q
        if len(q) == q.maxlen and q[0]:
            self.hits -= 1
        q.append(hit)
        if hit:
            self.hits += 1

    def rate_pct(self) -> float:
        return 100.0 * self.hits / len(self.q) if self.q else 0.0

    def resize(self, size: int) -> None:
        items = list(self.q)[-size:]
        self.q = deque(items, maxlen=size)
        self.hits = sum(items)


class KillSwitch:
    def __init__(self, cfg: AuroraConfig, emit: Callable[..., Any] | None = None) -> None:
        self.emit = emit
        self.active = False
        self.trip_info: dict[str, Any] | None = None
        self.on_change: Callable[[bool], None] | None = None
        self.configure(cfg)
        self.outcomes = _RateWindow(self.window)
        self.decisions = _RateWindow(self.window)

    def configure(self, cfg: AuroraConfig) -> None:
        k = cfg.killswitch
        self.window = k.window_trades
        self.max_reject = k.max_reject_rate_pct
        self.max_denied = k.max_denied_rate_pct
        self.min_outcomes = k.min_outcomes
        self.halt = k.action == "HALT_AND_ALERT"
        self.action = k.action
        for w in (getattr(self, "outcomes", None), getattr(self, "decisions", None)):
            if w is not None and w.q.maxlen != self.window:
                w.resize(self.window)

    def blocks(self, risk_reducing: bool) -> bool:
        return self.active and self.halt and not risk_reducing

    def record_outcome(self, rejected: bool) -> None:
        w = self.outcomes
        w.add(rejected)
        if not self.active and len(w.q) >= self.min_outcomes and w.rate_pct() > self.max_reject:
            self._trip("reject_rate", w.rate_pct(), self.max_reject, len(w.q))

    def record_decision(self, denied: bool) -> None:
        w = self.decisions
        q = w.q
        # _RateWindow.add, inlined: this runs once per decision
        if len(q) == q.maxlen and q[0]:
            w.hits -= 1
        q.append(denied)
        if denied:
            w.hits += 1
            if not self.active and len(q) >= self.min_outcomes and w.rate_pct() > self.max_denied:
                self._trip("denied_rate", w.rate_pct(), self.max_denied, len(q))

    def _trip(self, why: str, rate: float, limit: float, n: int) -> None:
        self.active = True
        self.trip_info = {"trigger": why, "rate_pct": rate, "limit_pct": limit, "window": n, "action": self.action}
        if self.emit is not None:
            self.emit(EventCode.GOVERNANCE_KILL_SWITCH, dict(self.trip_info))
        if self.on_change is not None:
            self.on_change(True)

    def reset(self) -> None:
        was = self.active
        self.active = False
        self.trip_info = None
        self.outcomes = _RateWindow(self.window)
        self.decisions = _RateWindow(self.window)
        if was and self.on_change is not None:
            self.on_change(False)

    def snapshot(self) -> dict[str, Any]:
        return {
            "active": self.active,
            "action": self.action,
            "reject_rate_pct": round(self.outcomes.rate_pct(), 3),
            "denied_rate_pct": round(self.decisions.rate_pct(), 3),
            "outcomes": len(self.outcomes.q),
            "decisions": len(self.decisions.q),
            "trip": self.trip_info,
        }
