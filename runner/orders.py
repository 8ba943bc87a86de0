"""The runner's view of its orders: each client order id walked through the shared lifecycle FSM.

The FSM is :mod:`aurora.orders.fsm` (defined once, shared with the gate and the audit). An event the
FSM refuses (duplicate ack, overfill after a fill, ...) leaves the state unchanged and is recorded as
an anomaly on the order; the event is still forwarded to the gate, which is the system of record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aurora.orders.fsm import TERMINAL_STATES, OrderState, TransitionVerdict, short_name, step


@dataclass
class TrackedOrder:
    cid: str
    symbol: str
    side: str
    qty: float
    price: float | None
    order_type: str
    reduce_only: bool
    purpose: str  # a runner.actions.Purpose: entry | take_profit | stop_loss | time_stop | flatten
    p_win: float | None = None
    score: float | None = None
    state: OrderState = OrderState.PREPARED
    oid: str | None = None
    cum_qty: float = 0.0
    created_ns: int = 0
    cancel_sent: bool = False  # a cancel has been sent: never a second one
    anomalies: list[str] = field(default_factory=list)

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    @property
    def remaining(self) -> float:
        return max(0.0, self.qty - self.cum_qty)


class OrderTracker:
    def __init__(self) -> None:
        self.orders: dict[str, TrackedOrder] = {}
        self._working: dict[str, TrackedOrder] = {}  # the orders not terminal yet, in the order placed
        self.counters: dict[str, int] = {}

    def add(self, order: TrackedOrder) -> TrackedOrder:
        self.orders[order.cid] = order
        if not order.terminal:
            self._working[order.cid] = order
        return order

    def on_event(self, event: dict[str, Any]) -> TrackedOrder | None:
        order = self.orders.get(event.get("cid", ""))
        code = event["event_code"]
        self.counters[code] = self.counters.get(code, 0) + 1
        if order is None:
            return None
        name = short_name(code)
        nxt, verdict = step(order.state, name)
        if verdict is TransitionVerdict.OK:
            order.state = nxt
            if nxt in TERMINAL_STATES:
                self._working.pop(order.cid, None)
        else:
            order.anomalies.append(f"{verdict.value}:{order.state.value}+{name}")
        if event.get("oid"):
            order.oid = event["oid"]
        details = event.get("details") or {}
        if "cum_qty" in details:
            order.cum_qty = float(details["cum_qty"])
        elif name in ("PARTIAL", "FILL") and "fill_qty" in details:
            order.cum_qty += float(details["fill_qty"])
        return order

    def working(self, symbol: str | None = None) -> list[TrackedOrder]:
        """Orders not terminal (a long run's done orders are not walked: only the working ones)."""
        return [o for o in self._working.values() if symbol is None or o.symbol == symbol]

    def states(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for o in self.orders.values():
            out[o.state.value] = out.get(o.state.value, 0) + 1
        return out

    def anomalies(self) -> dict[str, list[str]]:
        return {cid: o.anomalies for cid, o in self.orders.items() if o.anomalies}
