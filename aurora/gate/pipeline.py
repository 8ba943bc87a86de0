"""The pre-trade pipeline: trading state, then a list of guards, first deny decides, fail closed.

Usable without HTTP: ``Pipeline(cfg, calibration).decide(request, now_ns)`` returns a :class:`Decision`
and changes nothing: the gate applies an allowed decision's effects (reservation, throttle, kill-switch
sample) only once its journal record is written (:mod:`aurora.gate.gate_state`).

Before the guards: market-data sanity (:mod:`aurora.gate.market_guard`: ``MARKET_DATA_INVALID``,
``STALE_MARKET_DATA``), the instrument rules, the request's deadline (``REQUEST_EXPIRED``: nobody waits
for the answer), what the order is (:meth:`RiskManager.classify`: exit, new risk, or an invalid
reduce-only), and the trading state (:mod:`aurora.gate.trading_state`). The market-data sanity and the instrument rules
(:mod:`aurora.gate.instrument_guard`) come first of all and apply to every order. An exit is then
judged on safety only: the risk manager's price collar and cid; it skips the latency, health, TRAP,
edge (expected return, slippage, SPRT) and spread guards. An allowed ``max_qty`` is rounded down to the
lot step last. Any exception inside a guard denies with ``GUARD_ERROR`` (counted, reported via
``on_guard_error``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from aurora.config.models import AuroraConfig
from aurora.gate.expected_return_guard import ExpectedReturnGuard
from aurora.gate.guard import CheckRequest, Decision, DecisionState, Guard, Reason
from aurora.gate.health_guard import HealthGuard
from aurora.gate.instrument_guard import InstrumentGuard
from aurora.gate.kill_switch import KillSwitch
from aurora.gate.latency_guard import LatencyGuard
from aurora.gate.market_guard import MarketGuard
from aurora.gate.risk_manager import RiskManager
from aurora.gate.slippage_guard import SlippageGuard
from aurora.gate.spread_guard import SpreadGuard
from aurora.gate.sprt_guard import SprtGuard
from aurora.gate.trading_state import TradingState, Trigger, resolve
from aurora.gate.trap_guard import TrapGuard
from aurora.instruments import InstrumentRegistry

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
        instruments: InstrumentRegistry | None = None,
        timed: bool = True,
    ) -> None:
        self.market = MarketGuard(cfg)
        self.instrument = InstrumentGuard(cfg, instruments)
        self.latency = LatencyGuard(cfg)
        self.health = HealthGuard(cfg, emit)
        self.trap = TrapGuard(cfg)
        self.expected_return = ExpectedReturnGuard(cfg, calibration)
        self.slippage = SlippageGuard(cfg, calibration)
        self.risk = RiskManager(cfg)
        self.sprt = SprtGuard(cfg)
        self.spread = SpreadGuard(cfg, emit)
        self.kill_switch = KillSwitch(cfg)
        self.armed = armed
        self.ops_halt: dict[str, Any] | None = None  # set by ``ops halt`` until ``ops resume``
        self.guard_errors = 0
        self.on_guard_error: Callable[[str, BaseException], None] | None = None
        #: each stage's time in its observability (``us``); a replay (``auroractl whatif``) re-decides
        #: without it: the clock reads are a tenth of a decision, and a replay's timings mean nothing
        self.timed = timed
        self.configure(cfg)

    def configure(self, cfg: AuroraConfig, instruments: InstrumentRegistry | None = None) -> None:
        """Apply a (reloaded) config: thresholds change, windows and positions are kept."""
        self.cfg = cfg
        for g in (self.market, self.latency, self.health, self.trap, self.expected_return, self.slippage,
                  self.risk, self.sprt, self.spread, self.kill_switch):  # fmt: skip
            g.configure(cfg)
        self.instrument.configure(cfg, instruments)
        er, slip = self.expected_return, self.slippage
        middle: list[Guard] = [er, slip] if cfg.pretrade.order_profile == "er_before_slip" else [slip, er]
        self.guards: list[Guard] = [self.latency, self.health, self.trap, *middle, self.risk, self.sprt, self.spread]
        ts = cfg.trading_state
        self.state_of = {name: TradingState(getattr(ts, name)) for name in
                         ("kill_switch", "health_cool_off", "health_halt", "disarmed")}  # fmt: skip
        self.max_age_ns = int(cfg.guards.max_request_age_ms * 1e6)
        self._rebuild_stages()

    def _rebuild_stages(self) -> None:
        self._stages = [(g.name, g) for g in self.guards]
        # an exit meets only the safety checks (after the sanity and instrument rules every order meets):
        # the risk manager's exit branch
        self._exit_stages = [(g.name, g) for g in self.guards if g is self.risk]

    def set_calibration(self, calibration: Any) -> None:
        self.expected_return.calibration = calibration
        self.slippage.calibration = calibration

    def _guard_error(self, g: Guard, d: DecisionState, exc: BaseException) -> str:
        d.obs[g.name] = {"error": type(exc).__name__, "message": str(exc)[:200], "pass": False}
        self._report(g.name, exc)  # reporting never turns a deny into a crash
        return Reason.GUARD_ERROR

    def triggers(self, account: str | None) -> list[Trigger]:
        """Active trading-state triggers for ``account`` (``None``: the gate-wide ones only)."""
        out: list[Trigger] = []
        if self.ops_halt is not None:
            out.append(Trigger("ops_halt", TradingState.HALTED, Reason.HALTED))
        hs = self.health.state
        if hs == "HALT":
            out.append(Trigger("health_halt", self.state_of["health_halt"], Reason.HALTED))
        ks = self.kill_switch
        if ks.halt and (ks.tripped(account) if account is not None else not ks.per_account and ks.active):
            out.append(Trigger("kill_switch", self.state_of["kill_switch"], Reason.KILL_SWITCH))
        if not self.armed:
            out.append(Trigger("disarmed", self.state_of["disarmed"], Reason.DISARMED))
        if hs == "COOL_OFF":
            out.append(Trigger("health_cool_off", self.state_of["health_cool_off"], Reason.HEALTH_COOL_OFF))
        return out

    def trading_state(self, account: str | None = None) -> tuple[TradingState, Trigger | None]:
        return resolve(self.triggers(account))

    def state_for(self, account: str | None) -> TradingState:
        """The trading state an ``account``'s orders meet now (every answer carries it; cheap when ACTIVE)."""
        if self.ops_halt is None and self.armed and not self.kill_switch.active and self.health.state in ("OK", "WARN"):
            return TradingState.ACTIVE
        return resolve(self.triggers(account))[0]

    def decide(self, r: CheckRequest, now_ns: int) -> Decision:
        t0 = _perf_ns()
        reason: str | None = None
        deciding: str | None = None
        d = DecisionState(r.qty, False)
        obs = d.obs
        # before anything else, every order (exits too): the quote, then the instrument rules
        g: Guard = self.market
        try:
            reason = g.check(r, d, now_ns)
            if self.timed:
                tm = _perf_ns()
                obs["market"]["us"] = (tm - t0) / 1000.0
                if reason is None:
                    g = self.instrument
                    reason = g.check(r, d, now_ns)
                    obs["instrument"]["us"] = (_perf_ns() - tm) / 1000.0
            elif reason is None:
                g = self.instrument
                reason = g.check(r, d, now_ns)
        except Exception as exc:  # noqa: BLE001 - fail closed
            reason = self._guard_error(g, d, exc)
        if reason is not None:
            return Decision(False, reason, 0.0, 0.0, 0.0, obs, (_perf_ns() - t0) / 1000.0, False, g.name)
        ts = r.ts_ns
        if ts is not None:
            age_ns = now_ns - ts
            limit_ns = self.max_age_ns
            if r.deadline_ms is not None and r.deadline_ms * 1e6 < limit_ns:
                limit_ns = int(r.deadline_ms * 1e6)
            if age_ns > limit_ns or -age_ns > self.max_age_ns:
                obs["deadline"] = {"age_ms": age_ns / 1e6, "limit_ms": limit_ns / 1e6, "pass": False,
                                   "key": "market.deadline_ms" if limit_ns != self.max_age_ns
                                   else "guards.max_request_age_ms"}  # fmt: skip
                return Decision(False, Reason.REQUEST_EXPIRED, 0.0, 0.0, 0.0, obs, (_perf_ns() - t0) / 1000.0,
                                False, "deadline")  # fmt: skip
        try:
            rr, qty = self.risk.classify(r)
        except Exception as exc:  # noqa: BLE001 - unknown means new risk (the stricter answer)
            rr, qty = False, r.qty
            self._report(self.risk.name, exc)
        d.max_qty = qty
        d.risk_reducing = rr
        self.health.observe(r.latency_ms, now_ns)
        self.health.tick(now_ns)
        triggers = self.triggers(r.account_id) if (self.ops_halt is not None or not self.armed or
                                                   self.health.state in ("COOL_OFF", "HALT") or
                                                   self.kill_switch.active) else None  # fmt: skip
        state, trig = resolve(triggers) if triggers else (TradingState.ACTIVE, None)
        if r.reduce_only and qty <= 0.0:
            reason, deciding = Reason.RISK_REDUCE_ONLY_INVALID, "reduce_only"
            obs["reduce_only"] = {**self.risk.position_obs(r), "side": r.side, "qty": r.qty, "pass": False,
                                  "why": "would open or grow a position (no opposite position known to the gate)"}
        elif trig is not None and (state is TradingState.HALTED or not rr):
            reason, deciding = trig.reason, "trading_state"
            obs["trading_state"] = {"state": state, "trigger": trig.name, "triggers": [t.name for t in triggers or ()],
                                    "risk_reducing": rr, "pass": False}  # fmt: skip
            o = obs["trading_state"]
            if trig.name == "kill_switch":
                trip = o["trip"] = self.kill_switch.tripped(r.account_id)
                if trip is not None:  # the window's rate and the limit it crossed (the key named on the deny)
                    o["rate_pct"] = trip.get("rate_pct")
                    o["key"] = "killswitch.max_denied_rate_pct" if trip.get("trigger") == "denied_rate" \
                        else "killswitch.max_reject_rate_pct"  # fmt: skip
            elif trig.name == "ops_halt":
                o["halt"] = self.ops_halt
            elif trig.name == "health_cool_off":
                d.cooldown_ms = max(0.0, (self.health.cooloff_until_ns - now_ns) / 1e6)
                o["p95_ms"] = self.health.p95_ms
                o["key"] = "aurora.latency_guard_ms"
            elif trig.name == "health_halt":
                o["cooloffs"] = self.health.cooloffs
                o["key"] = "aurora.halt_threshold_repeats"
        else:
            if state is not TradingState.ACTIVE:
                obs["trading_state"] = {"state": state, "trigger": trig.name if trig else None,
                                        "risk_reducing": rr, "pass": True}  # fmt: skip
            stages = self._exit_stages if rr else self._stages
            if self.timed:
                perf = _perf_ns
                ts = perf()
                for name, g in stages:
                    try:
                        reason = g.check(r, d, now_ns)
                    except Exception as exc:  # noqa: BLE001 - fail closed
                        reason = self._guard_error(g, d, exc)
                    # one clock read per guard: the end of one guard is the start of the next
                    te = perf()
                    stage_obs = obs.get(name)
                    if stage_obs is not None:
                        stage_obs["us"] = (te - ts) / 1000.0
                    ts = te
                    if reason is not None:
                        deciding = name
                        break
            else:
                for name, g in stages:
                    try:
                        reason = g.check(r, d, now_ns)
                    except Exception as exc:  # noqa: BLE001 - fail closed
                        reason = self._guard_error(g, d, exc)
                    if reason is not None:
                        deciding = name
                        break
            if reason is None:
                try:
                    reason = self.instrument.finish(r, d)
                except Exception as exc:  # noqa: BLE001 - fail closed
                    reason = self._guard_error(self.instrument, d, exc)
                if reason is not None:
                    deciding = "instrument"
        allow = reason is None
        # positional: keyword construction of a slotted dataclass costs more on this path
        return Decision(
            allow, _OK if allow else reason, d.max_qty if allow else 0.0, d.risk_scale, d.cooldown_ms, obs,  # type: ignore[arg-type]
            (_perf_ns() - t0) / 1000.0, rr, deciding,
        )  # fmt: skip

    def _report(self, where: str, exc: BaseException) -> None:
        self.guard_errors += 1
        if self.on_guard_error is not None:
            try:
                self.on_guard_error(where, exc)
            except Exception:  # noqa: BLE001
                pass

    # -- operator actions -------------------------------------------------------------------------
    def reset(self, now_ns: int) -> None:
        """Clear health HALT/COOL_OFF, the kill-switch, throttle/duplicate and TRAP windows (not an
        ``ops halt``, not disarm: those are undone by their own actions)."""
        self.health.reset(now_ns)
        self.kill_switch.reset()
        self.risk.reset()
        self.trap.reset()

    @property
    def halted(self) -> bool:
        """Gate-wide HALTED, or a trigger that stops new risk for everyone (readiness is false then)."""
        return (self.ops_halt is not None or self.health.state == "HALT"
                or (self.kill_switch.halt and self.kill_switch.active and not self.kill_switch.per_account))
