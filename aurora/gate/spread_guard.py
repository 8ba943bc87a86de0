"""Stage 8: deny when the spread exceeds ``guards.spread_bps_limit``; emits ``SPREAD_GUARD_TRIP``.

The spread is the one computed from the book's bid/ask by the market guard, not the client's
``spread_bps`` (which the market guard only checks against it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aurora.config.models import AuroraConfig
from aurora.events.codes import EventCode
from aurora.gate.guard import CheckRequest, DecisionState, Reason

_KEY = "guards.spread_bps_limit"


class SpreadGuard:
    name = "spread"

    def __init__(self, cfg: AuroraConfig, emit: Callable[..., Any] | None = None) -> None:
        self.emit = emit
        self.trips = 0
        self.configure(cfg)

    def configure(self, cfg: AuroraConfig) -> None:
        self.limit_bps = cfg.guards.spread_bps_limit

    def check(self, r: CheckRequest, d: DecisionState, now_ns: int) -> str | None:
        spread = d.spread_bps
        if spread is None:  # run on its own (unit use): the book is still the source
            spread = (r.best_ask - r.best_bid) / r.mid * 1e4
        ok = spread <= self.limit_bps  # exactly at the limit passes
        d.obs["spread"] = {"spread_bps": spread, "limit_bps": self.limit_bps, "key": _KEY, "pass": ok}
        if ok:
            return None
        self.trips += 1
        if self.emit is not None:
            self.emit(
                EventCode.SPREAD_GUARD_TRIP,
                {"spread_bps": spread, "limit_bps": self.limit_bps},
                symbol=r.symbol,
                cid=r.cid,
            )
        return Reason.SPREAD_GUARD
