"""The position and exit manager: what to do about each symbol's position and resting orders.

For an open position: a reduce-only take-profit limit ``tp_bps`` beyond the entry price; when the mid
moves ``sl_bps`` against it (stop-loss) or ``max_hold_s`` passes (time stop), the take-profit is
cancelled and the position closed at market (reduce-only). The exit reason is sticky until flat: a
price bouncing back over the stop must not re-arm the take-profit. A resting entry is cancelled past its
TTL (unless the venue expires it itself) or when its book can no longer be trusted; on an untrusted book
no new take-profit is placed, while the stop-loss and time stop still exit.

It decides only (returns an :class:`~runner.actions.Action`, never does I/O) and learns from each
outcome: after a denial or an unreachable gate a symbol is held for a while; a remainder the gate keeps
scaling below one lot (*dust*) is recorded once and traded around until the position changes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aurora.events.codes import EventCode
from aurora.orders.fsm import OrderState
from runner.actions import (
    Action,
    BelowLot,
    Cancel,
    Close,
    Denied,
    NoGate,
    Outcome,
    Purpose,
    TakeProfit,
)
from runner.config import StrategySection
from runner.features import SymbolFeatures
from runner.orders import OrderTracker
from runner.plans import SymbolPlan
from runner.positions import PositionBook

MS = 1_000_000
CANCELABLE = (OrderState.ACKED, OrderState.PARTIALLY_FILLED)


class PositionManager:
    def __init__(
        self,
        cfg: StrategySection,
        *,
        plans: dict[str, SymbolPlan],
        tracker: OrderTracker,
        positions: PositionBook,
        book_ok: Callable[[str], bool],
        venue_expires: Callable[[], bool],
        emit: Callable[..., None],
    ) -> None:
        self.cfg = cfg
        #: symbol -> the strategy section its position's exits use instead (live tuning's explore arm)
        self.by_symbol: dict[str, StrategySection] = {}
        self.plans = plans
        self.tracker = tracker
        self.positions = positions
        self.book_ok = book_ok
        self.venue_expires = venue_expires  # the venue expires resting orders itself (good-till-date)
        self.emit = emit
        self.hold_until_ns: dict[str, int] = {}  # symbol -> no new order before this (after a refusal)
        self.exit_reason: dict[str, Purpose] = {}  # symbol -> stop reason, sticky until flat
        # symbol -> position qty that cannot be closed: a reduce-only order for it is allowed but scaled
        # below one lot. Traded around (not re-tried) until the position changes.
        self.dust: dict[str, float] = {}

    # -- questions --------------------------------------------------------------------------------
    def flat(self, symbol: str) -> bool:
        """Flat, or holding only dust (nothing more can be done about it)."""
        pos = self.positions.get(symbol)
        return pos.flat or self.dust.get(symbol) == pos.qty

    def held(self, symbol: str, now_ns: int) -> bool:
        return now_ns < self.hold_until_ns.get(symbol, 0)

    def may_open(self, symbol: str, now_ns: int) -> bool:
        """A new entry is possible: trusted book, not held, flat, within the open-order limit."""
        if not self.book_ok(symbol) or self.held(symbol, now_ns) or not self.flat(symbol):
            return False
        working = self.tracker.working()
        if len(working) >= self.cfg.max_open_orders:
            return False
        return not any(o.symbol == symbol for o in working)

    # -- decisions --------------------------------------------------------------------------------
    def manage(self, symbol: str, feats: SymbolFeatures, now_ns: int) -> Action | None:
        """Take-profit, stop-loss and time stop for an open position; tidy stray orders when flat."""
        pos = self.positions.get(symbol)
        working = self.tracker.working(symbol)
        sc = self.by_symbol.get(symbol, self.cfg)
        book_ok = self.book_ok(symbol)
        venue_expires = self.venue_expires()
        for o in working:
            # A resting entry is cancelled when it outlives its TTL, or when the book it was priced on
            # can no longer be trusted.
            if (not o.reduce_only and o.state in CANCELABLE and not o.cancel_sent
                    and (not book_ok or (not venue_expires and now_ns - o.created_ns > sc.order_ttl_s * 1e9))):
                return Cancel(symbol, o.cid)
        if self.dust.get(symbol, pos.qty) != pos.qty:
            del self.dust[symbol]  # the position changed: it may be closable again
        if self.flat(symbol):
            self.exit_reason.pop(symbol, None)
            for o in working:
                if o.reduce_only and o.state in CANCELABLE and not o.cancel_sent:
                    return Cancel(symbol, o.cid)
            return None
        if not feats.ready:
            return None
        entries = [o for o in working if not o.reduce_only]
        closing = [o for o in working if o.reduce_only]
        adverse_bps = (pos.avg_price - feats.mid) / pos.avg_price * 1e4 * (1 if pos.qty > 0 else -1)
        reason = self.exit_reason.get(symbol)
        if reason is None:
            if adverse_bps >= sc.sl_bps:
                reason = Purpose.STOP_LOSS
            elif now_ns - pos.opened_ns > sc.max_hold_s * 1e9:
                reason = Purpose.TIME_STOP
            if reason is not None:
                # Sticky: a price bouncing back over the stop level must not re-arm the take-profit.
                self.exit_reason[symbol] = reason
        if reason is not None:
            takers = [o for o in closing if o.purpose == Purpose.TAKE_PROFIT]
            for o in takers:
                if o.state in CANCELABLE and not o.cancel_sent:
                    return Cancel(symbol, o.cid)
            if takers or entries or closing or self.held(symbol, now_ns):
                return None  # wait for the take-profit cancel / the entry to finish
            return Close(symbol, reason)
        if not entries and not closing and book_ok and not self.held(symbol, now_ns):
            # No new resting take-profit on an untrusted book: the stop-loss and time stop still exit.
            return TakeProfit(symbol)
        return None

    def manage_stop(self, symbol: str, now_ns: int) -> Action | None:
        """Stopping: cancel what rests, then close the position at market (through the gate)."""
        working = self.tracker.working(symbol)
        for o in working:
            if o.state in CANCELABLE and not o.cancel_sent:
                return Cancel(symbol, o.cid)
        if not working and not self.flat(symbol) and not self.held(symbol, now_ns):
            return Close(symbol, Purpose.FLATTEN)
        return None

    # -- learning from outcomes -------------------------------------------------------------------
    def on_outcome(self, action: Action, outcome: Outcome, now_ns: int) -> None:
        symbol = action.symbol
        cooldown_ms = self.by_symbol.get(symbol, self.cfg).cooldown_ms
        if isinstance(outcome, NoGate):
            self.hold_until_ns[symbol] = now_ns + int(cooldown_ms * MS)
        elif isinstance(outcome, Denied):
            # Back off for two cooldowns: retrying the same order at once would only repeat the deny
            # (or trip the gate's duplicate-order window).
            self.hold_until_ns[symbol] = now_ns + int(max(outcome.cooldown_ms, 2 * cooldown_ms) * MS)
        elif isinstance(outcome, BelowLot):
            # Allowed, but scaled below one lot: nothing can be sent, and retrying soon would get the same.
            pos = self.positions.get(symbol)
            if not outcome.reduce_only:
                self.hold_until_ns[symbol] = now_ns + int(2 * cooldown_ms * MS)
            elif not pos.flat and self.dust.get(symbol) != pos.qty:
                self.dust[symbol] = pos.qty
                details: dict[str, Any] = {
                    "position_qty": pos.qty, "requested_qty": outcome.requested_qty,
                    "allowed_max_qty": outcome.allowed_max_qty, "lot": self.plans[symbol].lot,
                    "risk_scale": outcome.risk_scale, "reason": "the gate scales this closing order below one lot",
                }
                self.emit(EventCode.RUNNER_POSITION_DUST.value, details, symbol=symbol, cid=outcome.cid)

    def forget_holds(self) -> None:
        self.hold_until_ns.clear()
