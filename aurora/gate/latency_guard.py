"""Stage 1: deny when the runner-measured request latency exceeds ``guards.latency_ms_limit``."""

from __future__ import annotations

from aurora.config.models import AuroraConfig
from aurora.gate.guard import CheckRequest, DecisionState, Reason

_KEY = "guards.latency_ms_limit"


class LatencyGuard:
    name = "latency"

    def __init__(self, cfg: AuroraConfig) -> None:
        self.configure(cfg)

    def configure(self, cfg: AuroraConfig) -> None:
        self.limit_ms = cfg.guards.latency_ms_limit

    def check(self, r: CheckRequest, d: DecisionState, now_ns: int) -> str | None:
        ok = r.latency_ms <= self.limit_ms  # exactly at the limit passes
        d.obs["latency"] = {"latency_ms": r.latency_ms, "limit_ms": self.limit_ms, "key": _KEY, "pass": ok}
        return None if ok else Reason.LATENCY_GUARD
