"""The venue interface and the one shape of an ``ORDER.*`` lifecycle event.

Every venue (shadow, paper, testnet/live through ccxt) reports the same lifecycle events, built by
:func:`lifecycle_event` in the ``/posttrade/log`` body shape: ``event_code, ts_ns, cid, oid, symbol,
side, qty, details``. What a venue was sent is observable through those events (``ORDER.SUBMIT`` carries
the order); the venue itself only counts them.

Cancels name their reason (``details.reason`` of ``ORDER.CANCEL.REQUEST``/``CANCEL.ACK``): ``runner`` for the
runner's own housekeeping (TTL, untrusted book, exits), a :class:`aurora.events.codes.KillReason` when the
gate's trading state made it. :meth:`Venue.cancel_all` is the kill functionality's one request per symbol set.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from aurora.events.codes import EventCode

LifecycleSink = Callable[[dict[str, Any]], None]
#: ``details.reason`` of a cancel the runner makes for its own reasons (TTL, untrusted book, exits, stop)
CANCEL_BY_RUNNER = "runner"


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
        self.orders_sent = 0

    def record_sent(self, req: OrderRequest) -> None:
        self.orders_sent += 1

    @abc.abstractmethod
    async def submit(self, req: OrderRequest, now_ns: int) -> None:
        """Send an order; ``ORDER.SUBMIT`` is emitted at once, the rest as the venue answers."""

    @abc.abstractmethod
    async def cancel(self, cid: str, now_ns: int, reason: str = CANCEL_BY_RUNNER) -> None:
        """Request a cancel; ``ORDER.CANCEL.REQUEST`` at once, ``ORDER.CANCEL.ACK`` when confirmed; one
        request per order (a second call for the same order does nothing)."""

    async def cancel_many(self, cids: list[str], now_ns: int, reason: str) -> None:
        """Cancel these orders at once (as :meth:`cancel` each). A simulated venue answers in turn; a remote
        one sends the requests concurrently."""
        for cid in cids:
            await self.cancel(cid, now_ns, reason)

    @abc.abstractmethod
    async def cancel_all(self, symbols: Iterable[str], now_ns: int, reason: str) -> list[str]:
        """Cancel every open order of ``symbols`` at once (kill functionality): ``ORDER.CANCEL.REQUEST`` for
        each order of this venue not already being cancelled, the ``CANCEL.ACK``s as the venue confirms.
        Returns the client ids it requested a cancel for."""

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
        return {"sent": self.orders_sent}
