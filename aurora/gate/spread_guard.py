"""Stage 8: deny when the quoted spread exceeds ``guards.spread_bps_limit``; emits ``SPREAD_GUARD_TRIP``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aurora.config.models import AuroraConfig
from aurora.events.codes import EventCode
from aurora.gate.guard import CheckRequest, DecisionState, Reason


class SpreadGuard:
    name = "spread"

    def __init__(self, cfg: AuroraConfig, emit: Callable[..., Any] | None = None) -> None:
        self.emit = emit
        self.trips = 0
        self.configure(cfg)

    def configure(self, cfg: AuroraConfig) -> None:
        self.limit_bps = cfg.guards.spread_bps_limit

    def check(self, r: CheckRequest, d: DecisionState, now_ns: int) -> str | None:
        ok = r.spread_bps <= self.limit_bps  # exactly at the limit passes
        d.obs["spread"] = {"spread_bps": r.spread_bps, "limit_bps": self.limit_bps, "pass": ok}
        if ok:
            return None
        self.trips += 1
        if self.emit is not None:
            self.emit(
                EventCode.SPREAD_GUARD_TRIP,
                {"spread_bps": r.spread_bps, "limit_bps": self.limit_bps},
                symbol=r.symbol,
                cid=r.cid,
            )
        return Reason.SPREAD_GUARD
