"""Trading states (as NautilusTrader's RiskEngine has them): ACTIVE, REDUCING, HALTED.

* ACTIVE — every order is judged by the whole pipeline.
* REDUCING — only orders that reduce a position the gate knows pass (capped at it); new risk is
  denied with the reason of the trigger that put the gate here.
* HALTED — nothing passes (``HALTED``).

Triggers and the state each one selects (``trading_state.*`` in config, REDUCING by default):
the kill-switch (per account or global), the health guard's COOL_OFF and HALT, and disarm; ``ops halt``
always means HALTED. The state in force is the most severe of the active triggers.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from aurora.events.codes import Reason


class TradingState(StrEnum):
    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"


#: Gauge values of ``aurora_trading_state``.
TRADING_STATE_LEVEL: dict[TradingState, int] = {TradingState.ACTIVE: 0, TradingState.REDUCING: 1, TradingState.HALTED: 2}


@dataclass(frozen=True, slots=True)
class Trigger:
    name: str  # ops_halt | health_halt | kill_switch | disarmed | health_cool_off
    state: TradingState
    reason: Reason


def resolve(triggers: list[Trigger]) -> tuple[TradingState, Trigger | None]:
    """The state in force and the trigger that decides it (the first of the most severe)."""
    deciding: Trigger | None = None
    for t in triggers:
        if t.state is TradingState.HALTED:
            return TradingState.HALTED, t
        if deciding is None:
            deciding = t
    return (TradingState.REDUCING, deciding) if deciding is not None else (TradingState.ACTIVE, None)
