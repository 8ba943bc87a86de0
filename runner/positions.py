"""Net position per symbol from fills, and the realised P&L of the fills that close it.

A fill on the opposite side of the position closes (part of) it: ``realized_pnl_bps`` is the price
move in the position's favour minus the round-trip fees, ``realized_pnl_usd`` that many bps of the
closed notional at entry. ``entry_p_win`` (the calibrated win probability) and ``entry_score`` (the side-aligned score)
are those recorded when the position was opened: ECE and offline re-calibration
(``auroractl calibrate``) read them from the closing fills.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

EPS = 1e-12


@dataclass
class Position:
    symbol: str
    qty: float = 0.0  # signed: > 0 long, < 0 short
    avg_price: float = 0.0
    entry_p_win: float | None = None
    entry_score: float | None = None
    opened_ns: int = 0
    realized_usd: float = 0.0
    closes: int = 0

    @property
    def flat(self) -> bool:
        return abs(self.qty) < EPS

    @property
    def side(self) -> str | None:
        if self.flat:
            return None
        return "buy" if self.qty > 0 else "sell"


@dataclass
class PositionBook:
    fees_bps: float = 4.0
    positions: dict[str, Position] = field(default_factory=dict)

    def get(self, symbol: str) -> Position:
        pos = self.positions.get(symbol)
        if pos is None:
            pos = self.positions[symbol] = Position(symbol)
        return pos

    def on_fill(
        self,
        symbol: str,
        side: str,
        qty: float,
        price: float,
        ts_ns: int,
        *,
        p_win: float | None = None,
        score: float | None = None,
    ) -> dict[str, Any] | None:
        """Apply a fill; returns the realised-P&L fields when it closed part of the position."""
        pos = self.get(symbol)
        signed = qty if side == "buy" else -qty
        out: dict[str, Any] | None = None
        if not pos.flat and (pos.qty > 0) != (signed > 0):
            closing = min(abs(signed), abs(pos.qty))
            direction = 1.0 if pos.qty > 0 else -1.0
            gross_bps = (price / pos.avg_price - 1.0) * 1e4 * direction
            pnl_bps = gross_bps - self.fees_bps
            pnl_usd = closing * pos.avg_price * pnl_bps / 1e4
            pos.realized_usd += pnl_usd
            pos.closes += 1
            out = {
                "realized_pnl_usd": round(pnl_usd, 8),
                "realized_pnl_bps": round(pnl_bps, 4),
                "entry_p_win": None if pos.entry_p_win is None else round(pos.entry_p_win, 6),
                "entry_score": None if pos.entry_score is None else round(pos.entry_score, 6),
                "entry_price": pos.avg_price,
                "closed_qty": closing,
            }
            pos.qty += closing * (-direction)
            remainder = abs(signed) - closing
            if pos.flat:
                pos.qty = 0.0
                pos.avg_price = 0.0
                pos.entry_p_win = pos.entry_score = None
            if remainder > EPS:  # flipped through zero: the rest opens a new position
                pos.qty = remainder if signed > 0 else -remainder
                pos.avg_price = price
                pos.entry_p_win, pos.entry_score, pos.opened_ns = p_win, score, ts_ns
            return out
        # Opening or adding: volume-weighted average entry.
        new_qty = pos.qty + signed
        if pos.flat:
            pos.avg_price = price
            pos.opened_ns = ts_ns
            pos.entry_p_win, pos.entry_score = p_win, score
        else:
            pos.avg_price = (pos.avg_price * abs(pos.qty) + price * abs(signed)) / abs(new_qty)
        pos.qty = new_qty
        return out

    def snapshot(self) -> dict[str, dict[str, Any]]:
        return {
            s: {"qty": p.qty, "avg_price": p.avg_price, "realized_usd": round(p.realized_usd, 6), "closes": p.closes}
            for s, p in self.positions.items()
        }
