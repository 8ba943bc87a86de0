"""The shadow venue: no order leaves the runner; intended orders are marked against the live book."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from runner.book import L2Book
from runner.config import PaperVenueSection
from runner.venues.base import LifecycleSink
from runner.venues.paper_venue import PaperVenue

if TYPE_CHECKING:
    from runner.registry import VenueRequest


class ShadowVenue(PaperVenue):
    """No order leaves: intended orders are marked against the book with zero latency and no queue.

    Optimistic on purpose (a resting order fills as soon as a trade prints at its price): shadow answers
    "what would the strategy have done", the paper venue "what would it plausibly have got".
    """

    name = "shadow"
    shadow = True

    def __init__(self, sink: LifecycleSink, *, books: Mapping[str, L2Book] | None = None) -> None:
        super().__init__(sink, PaperVenueSection(latency_ms=0.0, jitter_ms=0.0, slippage_bps=0.0), books=books)

    def _displayed(self, symbol: str, is_bid: bool, price: float) -> float:
        return 0.0

    def _queue_fill(self, order, traded: float) -> float:  # noqa: ANN001
        return order.remaining  # touched is filled


def open_shadow(req: VenueRequest) -> ShadowVenue:
    """Venue kind ``shadow`` (registered in :mod:`runner.registry`)."""
    return ShadowVenue(req.sink, books=req.books)
