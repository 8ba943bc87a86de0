"""The pre-trade pipeline: a list of guards, first deny decides, fail closed.

Usable without HTTP: ``Pipeline(cfg, calibration).decide(request)`` returns a :class:`Decision`.
Around the guards: the arm switch (disarmed → ``DISARMED``) and the governance kill-switch
(``KILL_SWITCH``); both let risk-reducing orders through so positions can always be closed.
Any exception inside a guard denies with ``GUARD_ERROR`` (counted, reported via ``on_guard_error``).
Risk-reducing orders (reduce-only, or against an open position and no larger) skip the edge-based
guards (expected return, slippage, SPRT): an exit is judged on safety, not on alpha.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from aurora.config.models import AuroraConfig
from aurora.gate.expected_return_guard import ExpectedReturnGuard
from aurora.gate.guard import CheckRequest, Decision, DecisionState, Guard, Reason
from aurora.gate.health_guard import HealthGuard
from aurora.gate.kill_switch import KillSwitch
from aurora.gate.latency_guard import LatencyGuard
from aurora.gate.risk_manager import RiskManager
from aurora.gate.slippage_guard import SlippageGuard
from aurora.gate.spread_guard import SpreadGuard
from aurora.gate.sprt_guard import SprtGuard
from aurora.gate.trap_guard import TrapGuard

_perf_ns = time.perf_counter_ns
_OK = Reason.OK


class Pipeline:
    def __init__(
        self,
        cfg: AuroraConfig,
        calibration: Any,
        emit: Callable[..., Any] | None = None,
        *,
        armed: bool = True,
    ) -> None:
        self.latency = LatencyGuard(cfg)
        self.health = HealthGuard(cfg, emit)
        self.trap = TrapGuard(cfg)
        self.expected_return = ExpectedReturnGuard(cfg, calibration)
        self.slippage = SlippageGuard(cfg, calibration)
        self.risk = RiskManager(cfg)
        self.sprt = SprtGuard(cfg)
        self.spread = SpreadGuard(cfg, emit)
        self.kill_switch = KillSwitch(cfg, emit)
        self.armed = armed
        self.guard_errors = 0
        self.on_guard_error: Callable[[str, BaseException], None] | None = None
        self.configure(cfg)

    def configure(self, cfg: AuroraConfig) -> None:
        """Apply a (reloaded) config: thresholds change, windows and positions are kept."""
        self.cfg = cfg
        for g in (self.latency, self.health, self.trap, self.expected_return, self.slippage, self.risk,
                  self.sprt, self.spread, self.kill_switch):  # fmt: skip
            g.configure(cfg)
        er, slip = self.expected_return, self.slippage
        middle: list[Guard] = [er, slip] if cfg.pretrade.order_profile == "er_before_slip" else [slip, er]
        self.guards: list[Guard] = [self.latency, self.health, self.trap, *middle, self.risk, self.sprt, self.spread]
        self._rebuild_stages()

    def _rebuild_stages(self) -> None:
        self._stages = [(g.name, g) for g in self.guards]

    def set_calibration(self, calibration: Any) -> None:
        self.expected_return.calibration = calibration
        self.slippage.calibration = calibration

    def _guard_error(self, g: Guard, d: DecisionState, exc: BaseException) -> str:
        self.guard_errors += 1
        d.obs[g.name] = {"error": type(exc).__name__, "message": str(exc)[:200], "pass": False}
        if self.on_guard_error is not None:
            try:
                self.on_guard_error(g.name, exc)
            except Exception:  # noqa: BLE001 - reporting must never turn a deny into a crash
                pass
        return Reason.GUARD_ERROR

    def decide(self, r: CheckRequest, now_ns: int | None = None) -> Decision:
        t0 = _perf_ns()
        if now_ns is None:
            now_ns = time.monotonic_ns()
        try:
            rr = self.risk.is_risk_reducing(r)
        except Exception:  # noqa: BLE001 - unknown means not reducing (the stricter answer)
            rr = False
        d = DecisionState(r.qty, rr)
        obs = d.obs
        reason: str | None = None
        deciding: str | None = None
        self.health.observe(r.latency_ms, now_ns)
        if not self.armed and not rr:
            reason, deciding = Reason.DISARMED, "arm"
            obs["arm"] = {"armed": False, "pass": False}
        elif self.kill_switch.active and self.kill_switch.halt and not rr:  # KillSwitch.blocks, inlined
            reason, deciding = Reason.KILL_SWITCH, "kill_switch"
            obs["kill_switch"] = {"active": True, "trip": self.kill_switch.trip_info, "pass": False}
        else:
            perf = _perf_ns
            ts = perf()
            for name, g in self._stages:
                try:
                    reason = g.check(r, d, now_ns)
                except Exception as exc:  # noqa: BLE001 - fail closed
                    reason = self._guard_error(g, d, exc)
                # one clock read per guard: the end of one guard is the start of the next
                te = perf()
                o = obs.get(name)
                if o is not None:
                    o["us"] = (te - ts) / 1000.0
                ts = te
                if reason is not None:
                    deciding = name
                    break
        allow = reason is None
        if allow:
            try:
                self.risk.on_allow(r, now_ns)
            except Exception as exc:  # noqa: BLE001
                reason, deciding, allow = self._guard_error(self.risk, d, exc), self.risk.name, False
        self.kill_switch.record_decision(not allow)
        # positional: keyword construction of a slotted dataclass costs more on this path
        return Decision(
            allow, _OK if allow else reason, d.max_qty if allow else 0.0, d.risk_scale, d.cooldown_ms, obs,  # type: ignore[arg-type]
            (_perf_ns() - t0) / 1000.0, rr, deciding,
        )  # fmt: skip

    # -- operator actions -------------------------------------------------------------------------
    def reset(self, now_ns: int | None = None) -> None:
        """Clear HALT/COOL_OFF, the kill-switch, throttle and duplicate windows and TRAP windows."""
        now_ns = time.monotonic_ns() if now_ns is None else now_ns
        self.health.reset(now_ns)
        self.kill_switch.reset()
        self.risk.reset()
        self.trap.reset()

    @property
    def halted(self) -> bool:
        return self.health.state == "HALT" or (self.kill_switch.active and self.kill_switch.halt)
