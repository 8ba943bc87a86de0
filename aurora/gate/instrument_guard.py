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
from aurora.instruments import Instrument, InstrumentRegistry, registry_at
from aurora.instruments.registry import TRADING


class InstrumentGuard:
    name = "instrument"

    def __init__(self, cfg: AuroraConfig, registry: InstrumentRegistry | None = None) -> None:
        self.registry = registry if registry is not None else registry_at()
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
        if inst.status != TRADING:
            return self._deny(d, inst, Reason.RISK_INSTRUMENT_NOT_TRADING, status=inst.status)
        # on_step(), inlined (hot path): a whole number of ticks / steps within float noise
        price = r.price
        if price is not None:
            x = price / inst.tick
            n = round(x)
            if abs(x - n) > 1e-6 + 1e-12 * n:
                return self._deny(d, inst, Reason.RISK_PRICE_TICK, price=price, tick=inst.tick,
                                  nearest=[inst.round_price(price, "down"), inst.round_price(price, "up")])  # fmt: skip
        qty = r.qty
        x = qty / inst.step
        n = round(x)
        if abs(x - n) > 1e-6 + 1e-12 * n:
            return self._deny(d, inst, Reason.RISK_QTY_STEP, qty=qty, step=inst.step, floor=inst.floor_qty(qty))
        if qty < inst.min_qty:
            return self._deny(d, inst, Reason.RISK_MIN_QTY, qty=qty, min_qty=inst.min_qty)
        max_qty = inst.max_market_qty if r.order_type == "market" and inst.max_market_qty is not None else inst.max_qty
        if max_qty is not None and qty > max_qty:
            return self._deny(d, inst, Reason.RISK_MAX_QTY, qty=qty, max_qty=max_qty, order_type=r.order_type)
        px = price if price is not None else (r.best_ask if r.side == "buy" else r.best_bid)
        notional = qty * px
        if notional < inst.min_notional and not r.reduce_only:
            return self._deny(d, inst, Reason.RISK_MIN_NOTIONAL, notional=notional, min_notional=inst.min_notional)
        d.obs["instrument"] = {"tick": inst.tick, "step": inst.step, "notional": notional, "pass": True}
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
    def _deny(d: DecisionState, inst: Instrument, reason: str, **obs: object) -> str:
        d.obs["instrument"] = {"symbol": inst.symbol, "venue": inst.venue, **obs, "pass": False}
        return reason
