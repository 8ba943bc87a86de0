"""What a tuning trial maximises: one number from a backtest session's metrics summary, by name.

Every objective reads figures the summary already holds (:mod:`aurora.analytics.metrics_summary`, whose
statistics are :mod:`aurora.stats`'): none is recomputed here. A figure the summary leaves ``None`` (no
closed trade: no Sharpe, no drawdown) scores as documented per objective, never as NaN.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aurora.errors import InputError

#: The default objective's weight of the worst drawdown against realized PnL (both USD).
DRAWDOWN_WEIGHT = 0.5


class ObjectiveError(InputError):
    """An unknown objective name (the message lists the known ones)."""


@dataclass(frozen=True)
class Objective:
    name: str
    description: str
    score: Callable[[Mapping[str, Any]], float]  # a session's metrics summary -> higher is better


def _realized(s: Mapping[str, Any]) -> float:
    return float(s["risk"]["realized_pnl_usd"])  # net of the round-trip fees (runner/positions.py)


def _drawdown(s: Mapping[str, Any]) -> float:
    return float(s["pnl"]["max_drawdown_usd"] or 0.0)  # None: no closed trade, no drawdown


def _per_trade(figure: str) -> Callable[[Mapping[str, Any]], float]:
    def score(s: Mapping[str, Any]) -> float:
        v = s["pnl"]["per_trade"][figure]
        return float(v) if v is not None else 0.0

    return score


OBJECTIVES: dict[str, Objective] = {
    o.name: o
    for o in (
        Objective("pnl_dd", f"realized PnL net of fees (USD) minus {DRAWDOWN_WEIGHT} x the worst drawdown (USD)",
                  lambda s: _realized(s) - DRAWDOWN_WEIGHT * _drawdown(s)),
        Objective("pnl", "realized PnL net of fees (USD)", _realized),
        Objective("sharpe", "per-trade Sharpe ratio of realized PnL (0 with fewer than two distinct trades)",
                  _per_trade("sharpe")),
        Objective("sortino", "per-trade Sortino ratio of realized PnL (0 without a losing trade)",
                  _per_trade("sortino")),
        Objective("expectancy", "mean realized PnL per closed trade (USD; 0 without a trade)",
                  _per_trade("expectancy")),
    )
}  # fmt: skip
DEFAULT_OBJECTIVE = "pnl_dd"


def objective(name: str) -> Objective:
    try:
        return OBJECTIVES[name]
    except KeyError:
        raise ObjectiveError(f"--objective: unknown objective {name!r}; choose one of "
                             f"{', '.join(OBJECTIVES)} (default {DEFAULT_OBJECTIVE})") from None  # fmt: skip
