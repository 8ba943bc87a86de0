"""What the runner trades: the symbols of its group (and the parents they need), their sizes and steps."""

from __future__ import annotations

import math
from dataclasses import dataclass

from runner.config import RunnerConfig, SymbolSpec
from runner.instruments import UnknownInstrumentError, instrument_steps
from runner.registry import feed_entry


class RunnerError(Exception):
    """The runner cannot start as configured (the CLI turns this into exit 2)."""


def round_to_tick(price: float, tick: float, mode: str) -> float:
    ticks = price / tick
    n = math.ceil(ticks - 1e-9) if mode == "up" else math.floor(ticks + 1e-9) if mode == "down" else round(ticks)
    return round(n * tick, 12)


def floor_to_lot(qty: float, lot: float) -> float:
    return round(math.floor(qty / lot + 1e-9) * lot, 12)


@dataclass(frozen=True)
class SymbolPlan:
    symbol: str
    qty: float | None  # None: sized by notional_usd at the order's price
    parent: str | None
    tick: float
    lot: float
    tradable: bool
    notional_usd: float | None = None

    def entry_qty(self, price: float) -> float:
        """The order size at ``price``: ``qty``, or ``notional_usd / price`` down to the lot step."""
        if self.qty is not None:
            return self.qty
        assert self.notional_usd is not None
        return floor_to_lot(self.notional_usd / price, self.lot) if price > 0 else 0.0


def group_of(spec: SymbolSpec) -> str:
    return spec.group or "default"


def plan_symbols(cfg: RunnerConfig, group: str | None) -> list[SymbolPlan]:
    """The group's tradable symbols plus the parents they need (watched, not traded)."""
    chosen = [s for s in cfg.symbols if group is None or group_of(s) == group]
    if not chosen:
        groups = sorted({group_of(s) for s in cfg.symbols})
        raise RunnerError(f"no symbol belongs to group {group!r} (groups in this config: {', '.join(groups)})")
    by_name = {s.symbol: s for s in cfg.symbols}
    feed, _ = feed_entry(cfg.feed.source)
    plans: dict[str, SymbolPlan] = {}
    for spec in chosen + [by_name[s.parent] for s in chosen if s.parent]:
        if spec.symbol in plans:
            continue
        tick, lot = spec.tick, spec.lot
        if tick is None or lot is None:
            # a feed that is its own exchange (the synthetic market) knows its steps; else the registry
            known = feed.own_steps(spec.symbol)
            if known is None:
                try:
                    known = instrument_steps(spec.symbol)
                except UnknownInstrumentError as exc:
                    raise RunnerError(str(exc)) from None
            tick, lot = tick or known[0], lot or known[1]
        plans[spec.symbol] = SymbolPlan(spec.symbol, spec.qty, spec.parent, tick, lot, spec in chosen,
                                        spec.notional_usd)
    return list(plans.values())
