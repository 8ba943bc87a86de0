"""Feeds and venues, found by name: a new one is one module plus one registration line at the bottom.

**Feeds.** ``feed.source`` is ``NAME`` or ``NAME:ARG`` (``replay:PATH``). Each entry names the module
function that opens it (imported only when used: the config validator and ``--help`` never load a
websocket or exchange library) and says whether the runner then runs on the data's own clock.

**Venues.** The venue *kind* (``runner.mode``) says what happens to an order, the *exchange*
(``venue.exchange.name``) which one it goes to:

* ``shadow`` and ``paper`` are simulators (nothing leaves; a simulator answers), found by kind;
* ``testnet`` and ``live`` go to an exchange's test or real environment through its adapter, found by
  exchange name; the adapter gets the kind and picks the endpoints and keys for it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runner.book import L2Book
    from runner.config import FeedSection, VenueSection
    from runner.feeds.base import Feed
    from runner.venues.base import LifecycleSink, Venue

SIMULATED_KINDS = ("shadow", "paper")
EXCHANGE_KINDS = ("testnet", "live")


class RegistryError(LookupError):
    """No feed or venue is registered under that name; the message lists the known ones."""


@dataclass(frozen=True, slots=True)
class FeedRequest:
    """What a feed is opened with."""

    cfg: FeedSection
    arg: str | None  # the part after ``NAME:`` in ``feed.source``
    symbols: list[str]
    parents: dict[str, str]
    realtime: bool


@dataclass(frozen=True, slots=True)
class VenueRequest:
    """What a venue is opened with. ``sink`` receives every ``ORDER.*`` event it reports."""

    kind: str
    cfg: VenueSection
    sink: LifecycleSink
    books: Mapping[str, L2Book]
    environ: Mapping[str, str]
    symbols: list[str]


def _resolve(target: str | Callable[..., Any]) -> Callable[..., Any]:
    if callable(target):
        return target
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


@dataclass(frozen=True, slots=True)
class FeedEntry:
    name: str
    opener: str | Callable[[FeedRequest], Feed]
    #: ``"PATH"`` when the source needs ``NAME:PATH``; None when it takes no argument
    arg: str | None = None
    #: True when the runner's time is the data's own (not wall time) for this feed config
    market_clock: Callable[[FeedSection], bool] = field(default=lambda cfg: False)
    #: the data's own instrument steps (a synthetic market is its own exchange), else None
    instruments: str | Callable[[str], tuple[float, float]] | None = None

    def open(self, request: FeedRequest) -> Feed:
        return _resolve(self.opener)(request)

    def own_steps(self, symbol: str) -> tuple[float, float] | None:
        return None if self.instruments is None else _resolve(self.instruments)(symbol)


_FEEDS: dict[str, FeedEntry] = {}
_SIMULATORS: dict[str, str | Callable[[VenueRequest], Venue]] = {}
_EXCHANGES: dict[str, str | Callable[[VenueRequest], Venue]] = {}


def register_feed(entry: FeedEntry) -> None:
    _FEEDS[entry.name] = entry


def register_simulator(kind: str, opener: str | Callable[[VenueRequest], Venue]) -> None:
    if kind not in SIMULATED_KINDS:
        raise ValueError(f"simulated venue kinds are {', '.join(SIMULATED_KINDS)}, not {kind!r}")
    _SIMULATORS[kind] = opener


def register_exchange(name: str, opener: str | Callable[[VenueRequest], Venue]) -> None:
    _EXCHANGES[name] = opener


def feed_names() -> list[str]:
    return [f"{e.name}:{e.arg}" if e.arg else e.name for e in _FEEDS.values()]


def exchange_names() -> list[str]:
    return sorted(_EXCHANGES)


def feed_entry(source: str) -> tuple[FeedEntry, str | None]:
    """The entry for ``feed.source`` and its argument; :class:`RegistryError` naming the known sources."""
    name, sep, arg = source.partition(":")
    entry = _FEEDS.get(name)
    if entry is None or bool(entry.arg) != bool(sep) or (sep and not arg):
        raise RegistryError(f"unknown feed source {source!r} (known: {', '.join(feed_names())})")
    return entry, arg or None


def open_feed(cfg: FeedSection, symbols: list[str], *, parents: dict[str, str] | None = None,
              realtime: bool | None = None) -> Feed:
    entry, arg = feed_entry(cfg.source)
    return entry.open(FeedRequest(cfg, arg, symbols, dict(parents or {}),
                                  cfg.realtime if realtime is None else realtime))


def runs_on_market_clock(cfg: FeedSection) -> bool:
    """True when the runner's time is the data's own (a replay, a synthetic market not at 1x real time):
    its gate must then run on the requests' clock (``start-api --clock request``)."""
    entry, _ = feed_entry(cfg.source)
    return entry.market_clock(cfg)


def open_venue(request: VenueRequest) -> Venue:
    if request.kind in SIMULATED_KINDS:
        opener = _SIMULATORS.get(request.kind)
        what = f"venue kind {request.kind!r}"
    else:
        name = request.cfg.exchange.name
        opener = _EXCHANGES.get(name)
        what = f"exchange {name!r} (venue.exchange.name; known: {', '.join(exchange_names())})"
    if opener is None:
        raise RegistryError(f"no venue is registered for {what}")
    return _resolve(opener)(request)


# -- the registrations ---------------------------------------------------------------------------------
register_feed(FeedEntry("synthetic", "runner.feeds.synthetic_feed:open_synthetic",
                        market_clock=lambda cfg: not (cfg.realtime and cfg.speed == 1.0),
                        instruments="runner.feeds.synthetic_feed:instrument_steps_of"))
register_feed(FeedEntry("replay", "runner.feeds.replay_feed:open_replay", arg="PATH",
                        market_clock=lambda cfg: True))
register_feed(FeedEntry("binance", "runner.feeds.binance_feed:open_binance"))
register_simulator("shadow", "runner.venues.shadow_venue:open_shadow")
register_simulator("paper", "runner.venues.paper_venue:open_paper")
register_exchange("binance_usdm", "runner.venues.ccxt_venue:open_binance_usdm")
