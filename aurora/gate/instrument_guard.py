"""Instrument rules from the registry (:mod:`aurora.instruments`): what the venue would refuse, refused here.

The first guard of every order, exits included (a closing order the venue rejects leaves the risk
open just the same, and silently):

* ``RISK_UNKNOWN_INSTRUMENT`` — the symbol is not in the registry for ``instruments.venue`` (never guessed);
  ``RISK_INSTRUMENT_NOT_TRADING`` — it is, with a status other than TRADING;
* ``RISK_PRICE_TICK`` — a limit price that is not a multiple of the tick;
* ``RISK_QTY_STEP`` / ``RISK_MIN_QTY`` / ``RISK_MAX_QTY`` — quantity off the lot step, below the minimum,
  above the maximum (the market-order maximum for market orders);
* ``RISK_MIN_NOTIONAL`` — qty × price (the touch for a market order) below the minimum notional;
  ``reduce_only`` orders are exempt, as on Binance.

:meth:`InstrumentGuard.finish` runs after every other guard of an allowed order: the ``max_qty`` the gate
answers (scaled by size, volatility, slippage ...) is rounded *down* to the step; rounded to nothing it is
``RISK_SIZE_ZERO``, below the minimum quantity or notional it is denied as above. What the gate allows
is always an order the venue accepts.
"""

from __future__ import annotations

import math

from aurora.config.models import AuroraConfig
from aurora.gate.guard import CheckRequest, DecisionState, Reason
from aurora.instruments import Instrument, InstrumentRegistry, registry_at, resolve_path
from aurora.instruments.registry import (
    MAX_QTY,
    MIN_NOTIONAL,
    MIN_QTY,
    NOT_TRADING,
    PRICE_TICK,
    QTY_STEP,
    order_violation,
)


class InstrumentGuard:
    name = "instrument"

    def __init__(self, cfg: AuroraConfig, registry: InstrumentRegistry | None = None) -> None:
        # without one handed in (the gate passes the one it loaded with its project root): the config's file,
        # a relative path taken from the working dir
        self.registry = registry if registry is not None else registry_at(resolve_path(cfg.instruments.path, None))
        self.configure(cfg)

    def configure(self, cfg: AuroraConfig, registry: InstrumentRegistry | None = None) -> None:
        if registry is not None:
            self.registry = registry
        self.venue = cfg.instruments.venue
        self.by_symbol: dict[str, Instrument] = self.registry.symbols(self.venue)

    def check(self, r: CheckRequest, d: DecisionState, now_ns: int) -> str | None:
        inst = self.by_symbol.get(r.symbol)
        if inst is None:
            d.obs["instrument"] = {"symbol": r.symbol, "venue": self.venue, "registry": self.registry.fetched_at,
                                   "known": len(self.by_symbol), "pass": False}  # fmt: skip
            return Reason.RISK_UNKNOWN_INSTRUMENT
        d.instrument = inst
        price = r.price
        px = price if price is not None else (r.best_ask if r.side == "buy" else r.best_bid)
        rule = order_violation(inst, price, r.qty, r.order_type, r.reduce_only, px)
        if rule is not None:
            return self._deny(d, inst, r, rule, px)
        d.obs["instrument"] = {"tick": inst.tick, "step": inst.step, "notional": r.qty * px, "pass": True}
        return None

    def finish(self, r: CheckRequest, d: DecisionState) -> str | None:
        """Round an allowed ``max_qty`` down to the step (see the module doc)."""
        inst = d.instrument
        if inst is None:  # check() did not run: nothing is allowed that was not judged
            d.obs["instrument"] = {"why": "instrument rules did not run", "pass": False}
            return Reason.GUARD_ERROR
        raw = d.max_qty
        if raw == r.qty:  # not scaled: check() found it on the step, above the minimums
            return None
        step = inst.step
        x = raw / step
        q = round(math.floor(x + 1e-6 + 1e-12 * x) * step, inst.qty_precision)  # floor_to_step(), inlined
        o = d.obs["instrument"]
        o["max_qty"] = q
        o["max_qty_raw"] = raw
        if q <= 0.0:
            o["pass"] = False
            o["why"] = f"max_qty {raw:g} rounds down to 0 at step {step:g}"
            return Reason.RISK_SIZE_ZERO
        if q < inst.min_qty:
            o["pass"] = False
            o["why"] = f"max_qty {q:g} is below min_qty {inst.min_qty:g}"
            return Reason.RISK_MIN_QTY
        if not r.reduce_only:
            px = r.price if r.price is not None else (r.best_ask if r.side == "buy" else r.best_bid)
            if q * px < inst.min_notional:
                o["pass"] = False
                o["why"] = f"max_qty {q:g} is {q * px:g} of notional, below min_notional {inst.min_notional:g}"
                return Reason.RISK_MIN_NOTIONAL
        d.max_qty = q
        return None

    @staticmethod
    def _deny(d: DecisionState, inst: Instrument, r: CheckRequest, rule: str, px: float) -> str:
        qty = r.qty
        obs: dict[str, object] = {"symbol": inst.symbol, "venue": inst.venue, "rule": rule}
        if rule == PRICE_TICK:
            obs.update(price=r.price, tick=inst.tick, nearest=[inst.round_price(px, "down"), inst.round_price(px, "up")])
        elif rule == QTY_STEP:
            obs.update(qty=qty, step=inst.step, floor=inst.floor_qty(qty))
        elif rule == MIN_QTY:
            obs.update(qty=qty, min_qty=inst.min_qty)
        elif rule == MAX_QTY:
            obs.update(qty=qty, max_qty=inst.max_qty_for(r.order_type), order_type=r.order_type)
        elif rule == MIN_NOTIONAL:
            obs.update(notional=qty * px, min_notional=inst.min_notional)
        else:
            obs.update(status=inst.status)
        obs["pass"] = False
        d.obs["instrument"] = obs
        return _REASON[rule]


_REASON: dict[str, Reason] = {
    NOT_TRADING: Reason.RISK_INSTRUMENT_NOT_TRADING, PRICE_TICK: Reason.RISK_PRICE_TICK,
    QTY_STEP: Reason.RISK_QTY_STEP, MIN_QTY: Reason.RISK_MIN_QTY, MAX_QTY: Reason.RISK_MAX_QTY,
    MIN_NOTIONAL: Reason.RISK_MIN_NOTIONAL,
}  # fmt: skip
