"""Stage 2: HealthGuard — rolling p95 of observed request latency with WARN -> COOL_OFF -> HALT.

Escalation (SPEC §4): p95 over ``aurora.latency_window_sec`` above ``aurora.latency_guard_ms`` (with at
least ``min_samples`` samples) moves OK -> WARN (``HEALTH.LATENCY_P95_HIGH``). Still high after
``warn_grace_sec`` -> COOL_OFF (deny ``HEALTH_COOL_OFF`` for ``cooloff_base_sec``, doubling with each
repeat; ``AURORA.COOL_OFF``). When a cool-off ends the guard is back in WARN; still high after the grace
and ``halt_threshold_repeats`` cool-offs already spent -> HALT (deny ``HALTED`` until an ops reset;
``AURORA.ESCALATION``). A p95 back under the limit returns to OK; a full healthy window forgets repeats.

The p95 is :func:`aurora.stats.percentile` (linear interpolation, the one definition the summary and
the dashboard use). Only "is the p95 above the limit" drives the state machine, and a running count of
samples above the limit answers that in O(1) for all but one count: with ``lo = floor(0.95·(n−1))``,
more than ``n − lo − 1`` samples above means ``x[lo] > limit`` (high), fewer than ``n − lo − 1`` means
``x[lo+1] <= limit`` (not high); exactly ``n − lo − 1`` needs the interpolated value (a sort, rarely).
The p95 value itself (events, observability, status) is computed on a state change or when asked.
At most ``max_samples`` samples are kept.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from aurora.config.models import AuroraConfig
from aurora.events.codes import EventCode
from aurora.gate.guard import CheckRequest, DecisionState, Reason
from aurora.stats import percentile

NS = 1_000_000_000
_KEY = "aurora.latency_guard_ms"


class HealthState(StrEnum):
    OK = "OK"
    WARN = "WARN"
    COOL_OFF = "COOL_OFF"
    HALT = "HALT"


#: Gauge values of ``aurora_health_state``.
HEALTH_LEVEL: dict[HealthState, int] = {HealthState.OK: 0, HealthState.WARN: 1, HealthState.COOL_OFF: 2, HealthState.HALT: 3}


class HealthGuard:
    name = "health"

    def __init__(
        self,
        cfg: AuroraConfig,
        emit: Callable[..., Any] | None = None,
        *,
        eval_period_ms: float = 0.0,
        max_samples: int = 16_384,
    ) -> None:
        self.emit = emit
        self.eval_period_ns = int(eval_period_ms * 1e6)
        self.max_samples = max_samples
        self.samples: deque[tuple[int, float]] = deque()
        self.n_high = 0  # samples in the window above limit_ms
        self.state = HealthState.OK
        self.cooloffs = 0
        self.cooloff_until_ns = 0
        self.cooloff_s = 0.0
        self.warn_since_ns = 0
        self.ok_since_ns: int | None = None
        self.last_eval_ns: int | None = None
        self.p95_ms: float | None = None
        self.on_change: Callable[[HealthState], None] | None = None
        self.configure(cfg)

    def configure(self, cfg: AuroraConfig) -> None:
        h = cfg.aurora
        self.limit_ms = h.latency_guard_ms
        self.window_ns = h.latency_window_sec * NS
        self.cooloff_base_s = float(h.cooloff_base_sec)
        self.halt_repeats = h.halt_threshold_repeats
        self.min_samples = h.min_samples
        self.grace_ns = int(h.warn_grace_sec * NS)
        self.n_high = sum(1 for _, v in getattr(self, "samples", ()) if v > self.limit_ms)
        self.last_eval_ns = None  # new thresholds: evaluate on the next request

    # -- state machine ----------------------------------------------------------------------------
    def _emit(self, code: str, **details: Any) -> None:
        if self.emit is not None:
            self.emit(code, details)

    def _set(self, state: HealthState, now_ns: int) -> None:
        prev = self.state
        self.p95_ms = self.p95()
        self.state = state
        if state is HealthState.OK:
            self.ok_since_ns = now_ns
        elif state is HealthState.WARN:
            self.warn_since_ns = now_ns
            self.ok_since_ns = None
        if prev is not state:
            self._emit(EventCode.AURORA_ESCALATION, **{"from": prev.value, "to": state.value, "p95_ms": self.p95_ms})
            if self.on_change is not None:
                self.on_change(state)

    def observe(self, latency_ms: float, now_ns: int) -> None:
        samples = self.samples
        if len(samples) >= self.max_samples:
            if samples.popleft()[1] > self.limit_ms:
                self.n_high -= 1
        samples.append((now_ns, latency_ms))
        if latency_ms > self.limit_ms:
            self.n_high += 1

    def p95(self) -> float | None:
        """The window's p95 (sorts it: not for the hot path)."""
        if len(self.samples) < self.min_samples:
            return None
        return percentile([v for _, v in self.samples], 95)

    def is_high(self) -> bool:
        n = len(self.samples)
        if n < self.min_samples:
            return False
        border = n - math.floor(0.95 * (n - 1)) - 1  # samples above the limit when x[lo] <= limit < x[lo+1]
        if self.n_high != border:
            return self.n_high > border
        p95 = self.p95()
        return p95 is not None and p95 > self.limit_ms

    def evaluate(self, now_ns: int) -> None:
        self.last_eval_ns = now_ns
        cutoff = now_ns - self.window_ns
        samples, limit = self.samples, self.limit_ms
        while samples and samples[0][0] < cutoff:
            if samples.popleft()[1] > limit:
                self.n_high -= 1
        state = self.state
        if state is HealthState.OK and not self.n_high and not self.cooloffs:
            return  # the common case: healthy, no sample above the limit, nothing to forget
        n = len(samples)
        if state is HealthState.HALT:
            return
        if state is HealthState.COOL_OFF:
            if now_ns < self.cooloff_until_ns:
                return
            self._set(HealthState.WARN, now_ns)  # probation after a cool-off
            state = HealthState.WARN
        high = self.is_high()
        if not high:
            if state is not HealthState.OK:
                self._set(HealthState.OK, now_ns)
            elif self.cooloffs and self.ok_since_ns is not None and now_ns - self.ok_since_ns >= self.window_ns:
                self.cooloffs = 0  # a whole healthy window: forget earlier cool-offs
                if self.on_change is not None:
                    self.on_change(self.state)
            return
        if state is HealthState.OK:
            self._set(HealthState.WARN, now_ns)
            self._emit(
                EventCode.HEALTH_LATENCY_P95_HIGH, p95_ms=self.p95_ms, limit_ms=self.limit_ms, samples=n
            )
            return
        if now_ns - self.warn_since_ns < self.grace_ns:
            return
        if self.cooloffs >= self.halt_repeats:
            self._set(HealthState.HALT, now_ns)
            return
        self.start_cooloff(self.cooloff_base_s * (2**self.cooloffs), now_ns, repeat=True)

    def start_cooloff(self, seconds: float, now_ns: int, *, repeat: bool = False, source: str = "health") -> None:
        if repeat:
            self.cooloffs += 1
        self.cooloff_s = float(seconds)
        self.cooloff_until_ns = now_ns + int(seconds * NS)
        self._set(HealthState.COOL_OFF, now_ns)
        self._emit(
            EventCode.AURORA_COOL_OFF,
            duration_s=self.cooloff_s,
            repeat=self.cooloffs,
            p95_ms=self.p95_ms,
            source=source,
        )

    def reset(self, now_ns: int) -> None:
        self.samples.clear()
        self.n_high = 0
        self.cooloffs = 0
        self.cooloff_until_ns = 0
        self.p95_ms = None
        self._set(HealthState.OK, now_ns)

    # -- durability -------------------------------------------------------------------------------
    def durable(self) -> dict[str, Any]:
        """What survives a restart (the latency samples do not: they describe the process that died)."""
        return {"state": self.state.value, "cooloffs": self.cooloffs, "cooloff_until_ns": self.cooloff_until_ns,
                "cooloff_s": self.cooloff_s, "p95_ms": self.p95_ms}  # fmt: skip

    def restore(self, snap: dict[str, Any], now_ns: int) -> None:
        self.state = HealthState(snap.get("state", "OK"))
        self.cooloffs = int(snap.get("cooloffs", 0))
        self.cooloff_until_ns = int(snap.get("cooloff_until_ns", 0))
        self.cooloff_s = float(snap.get("cooloff_s", 0.0))
        self.p95_ms = snap.get("p95_ms")
        self.warn_since_ns = now_ns
        self.ok_since_ns = now_ns if self.state is HealthState.OK else None
        self.last_eval_ns = None

    def tick(self, now_ns: int) -> HealthState:
        """Evaluate when due (or when a cool-off has just ended); the state in force now."""
        last = self.last_eval_ns
        if last is None or now_ns - last >= self.eval_period_ns or (
            self.state is HealthState.COOL_OFF and now_ns >= self.cooloff_until_ns
        ):
            self.evaluate(now_ns)
        return self.state

    # -- the guard --------------------------------------------------------------------------------
    def check(self, r: CheckRequest, d: DecisionState, now_ns: int) -> str | None:
        # the pipeline ticks before it resolves the trading state; evaluate once per decision
        state = self.state if self.last_eval_ns == now_ns else self.tick(now_ns)
        if state is HealthState.OK or state is HealthState.WARN:
            # the pass path: one dict literal (a StrEnum member serializes as its value)
            d.obs["health"] = {"state": state, "above_limit": self.n_high, "samples": len(self.samples),
                               "limit_ms": self.limit_ms, "p95_ms_at_change": self.p95_ms, "cooloffs": self.cooloffs,
                               "key": _KEY, "pass": True}  # fmt: skip
            return None
        obs = {"state": state, "above_limit": self.n_high, "samples": len(self.samples), "limit_ms": self.limit_ms,
               "p95_ms_at_change": self.p95_ms, "p95_ms": self.p95_ms, "cooloffs": self.cooloffs, "key": _KEY,
               "pass": False}  # fmt: skip
        d.obs["health"] = obs
        if state is HealthState.HALT:
            obs["key"] = "aurora.halt_threshold_repeats"
            return Reason.HALTED
        remaining_ms = (self.cooloff_until_ns - now_ns) / 1e6
        d.cooldown_ms = remaining_ms
        obs["cooloff_remaining_ms"] = remaining_ms
        return Reason.HEALTH_COOL_OFF
