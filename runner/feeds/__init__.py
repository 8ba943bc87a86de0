"""Market-data feeds behind one interface (:class:`Feed`), found by name in :mod:`runner.registry`
(``synthetic``, ``replay:PATH``, ``binance``)."""

from __future__ import annotations

from runner.config import FeedSection
from runner.feeds.base import Feed, FeedError

__all__ = ["Feed", "FeedError", "open_feed", "runs_on_market_clock"]


def open_feed(cfg: FeedSection, symbols: list[str], *, parents: dict[str, str] | None = None,
              realtime: bool | None = None) -> Feed:
    """Build the feed named by ``feed.source`` for ``symbols``. Raises :class:`FeedError` for a bad source."""
    from runner import registry

    try:
        return registry.open_feed(cfg, symbols, parents=parents, realtime=realtime)
    except registry.RegistryError as exc:
        raise FeedError(str(exc)) from None


def runs_on_market_clock(cfg: FeedSection) -> bool:
    """True when the runner's time is the data's own (a replay, a synthetic market not at 1x real time):
    its gate must then run on the requests' clock (``start-api --clock request``)."""
    from runner import registry

    return registry.runs_on_market_clock(cfg)
