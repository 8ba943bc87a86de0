"""Market-data feeds: ``synthetic``, ``replay:PATH`` and ``binance``, behind one interface (:class:`Feed`)."""

from __future__ import annotations

from runner.config import FeedSection
from runner.feeds.base import Feed, FeedError
from runner.feeds.synthetic_feed import FaultPlan

__all__ = ["Feed", "FeedError", "open_feed", "fault_plan", "runs_on_market_clock"]


def fault_plan(cfg: FeedSection) -> FaultPlan:
    f = cfg.faults
    return FaultPlan(f.gap_every, f.duplicate_every, f.out_of_order_every, f.torn_line_every)


def runs_on_market_clock(cfg: FeedSection) -> bool:
    """True when the runner's time is the data's own (a replay, a synthetic market not at 1x real time):
    its gate must then run on the requests' clock (``start-api --clock request``)."""
    if cfg.source == "binance":
        return False
    if cfg.source == "synthetic":
        return not (cfg.realtime and cfg.speed == 1.0)
    return True


def open_feed(cfg: FeedSection, symbols: list[str], *, parents: dict[str, str] | None = None,
              realtime: bool | None = None) -> Feed:
    """Build the feed named by ``feed.source`` for ``symbols``. Raises :class:`FeedError` for a bad source."""
    realtime = cfg.realtime if realtime is None else realtime
    source = cfg.source
    if source == "synthetic":
        from runner.feeds.synthetic_feed import SyntheticFeed

        return SyntheticFeed(symbols, seed=cfg.seed, realtime=realtime, speed=cfg.speed, parents=parents,
                             faults=fault_plan(cfg))
    if source.startswith("replay:"):
        from runner.feeds.replay_feed import ReplayFeed

        return ReplayFeed(source[len("replay:"):], symbols, realtime=realtime, speed=cfg.speed)
    if source == "binance":
        from runner.feeds.binance_feed import BinanceFeed

        return BinanceFeed(symbols, cfg.binance)
    raise FeedError(f"unknown feed source {source!r} (expected synthetic, binance or replay:PATH)")
