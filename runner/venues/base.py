"""The venue interface and the one shape of an ``ORDER.*`` lifecycle event.

Every venue (shadow, paper, testnet/live through ccxt) reports the same lifecycle events, built by
:func:`lifecycle_event` in the ``/posttrade/log`` body shape: ``event_code, ts_ns, cid, oid, symbol,
side, qty, details``. ``sent`` records every order handed to the venue as ``(wall_ts_ns, request)``, so a
test can assert what was — and was not — sent, and when.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aurora.events.codes import EventCode

LifecycleSink = Callable[[dict[str, Any]], None]


class VenueConfigError(Exception):
    """The venue cannot be used as configured (missing keys, bad URL); the message names what."""


@dataclass(slots=True)
class OrderRequest:
    cid: str
    symbol: str
    side: str  # buy | sell
    qty: float
    price: float | None  # None for market orders
    order_type: str = "limit"  # limit | market
    reduce_only: bool = False
    ttl_ms: float | None = None  # good-till-date: the venue expires the order after this long


def lifecycle_event(
    code: EventCode | str,
    ts_ns: int,
    req: OrderRequest,
    oid: str | None = None,
    **details: Any,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_code": str(code),
        "ts_ns": int(ts_ns),
        "cid": req.cid,
        "symbol": req.symbol,
        "side": req.side,
        "qty": req.qty,
        "details": {k: v for k, v in details.items() if v is not None},
    }
    if oid is not None:
        event["oid"] = oid
    return event


class Venue(abc.ABC):
    name = "venue"

    def __init__(self, sink: LifecycleSink) -> None:
        self.sink = sink
        self.sent: list[tuple[int, OrderRequest]] = []

    def record_sent(self, req: OrderRequest) -> None:
        self.sent.append((time.time_ns(), req))

    @abc.abstractmethod
    async def submit(self, req: OrderRequest, now_ns: int) -> None:
        """Send an order; ``ORDER.SUBMIT`` is emitted at once, the rest as the venue answers."""

    @abc.abstractmethod
    async def cancel(self, cid: str, now_ns: int) -> None:
        """Request a cancel; ``ORDER.CANCEL.REQUEST`` at once, ``ORDER.CANCEL.ACK`` when confirmed."""

    def on_ticker(self, symbol: str, bid: float, bid_qty: float, ask: float, ask_qty: float, now_ns: int) -> None:  # noqa: B027
        """Top of book moved (simulated venues match against it)."""

    def on_trade(self, symbol: str, price: float, qty: float, buyer_is_maker: bool, now_ns: int) -> None:  # noqa: B027
        """A market trade printed (simulated venues advance queues and fill on it)."""

    def advance(self, now_ns: int) -> None:  # noqa: B027
        """Deliver everything the venue has to say up to ``now_ns`` (simulated time)."""

    async def poll(self, now_ns: int) -> None:  # noqa: B027
        """Ask a remote venue for order updates (no-op for simulated venues)."""

    async def aclose(self) -> None:  # noqa: B027
        """Release connections."""

    def stats(self) -> dict[str, Any]:
        return {"sent": len(self.sent)}
