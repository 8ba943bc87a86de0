"""The local L2 order book of one symbol.

Each side is a ``price -> quantity`` dict plus an ascending list of its prices (``bisect`` keeps it
sorted), so the touch is O(1), an update is O(log n) search plus a small memmove, and the rank of a
level from the touch (for the TRAP add/cancel volumes) is one bisect. Hand-written rather than a
sorted-container dependency because this runs for every level of every diff on the hot path.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Iterable, Sequence

#: ``on_change(is_bid, rank_from_touch, delta_qty, price)`` — observes every level change inside ``track_levels``.
ChangeObserver = Callable[[bool, int, float, float], None]

NAN = float("nan")
INF = float("inf")


class L2Book:
    __slots__ = ("symbol", "bids", "asks", "bid_px", "ask_px", "last_update_id", "track_levels", "observer",
                 "_sums", "version")

    def __init__(self, symbol: str, *, track_levels: int = 0, observer: ChangeObserver | None = None) -> None:
        self.symbol = symbol
        self.bids: dict[float, float] = {}
        self.asks: dict[float, float] = {}
        self.bid_px: list[float] = []  # ascending; best bid is the last
        self.ask_px: list[float] = []  # ascending; best ask is the first
        self.last_update_id = 0
        self.track_levels = track_levels
        self.observer = observer
        # (levels, bid_sum, ask_sum) of the last depth_sums() since the book last changed: features ask
        # for it on every ticker and trade, the book changes only on a diff (~1 message in 14 on BTC)
        self._sums: tuple[int, float, float] | None = None
        #: counts the book's changes, so that a figure derived from it can be cached until the next one
        self.version = 0

    # -- loading and updating ---------------------------------------------------------------------
    def clear(self) -> None:
        self._sums = None
        self.version += 1
        self.bids.clear()
        self.asks.clear()
        self.bid_px.clear()
        self.ask_px.clear()
        self.last_update_id = 0

    def load_snapshot(self, bids: Iterable[Sequence[str]], asks: Iterable[Sequence[str]], last_update_id: int) -> None:
        """Replace the book with a REST snapshot (levels as ``[price, qty]`` strings)."""
        self.clear()
        for p, q in bids:
            qty = float(q)
            if qty > 0:
                self.bids[float(p)] = qty
        for p, q in asks:
            qty = float(q)
            if qty > 0:
                self.asks[float(p)] = qty
        self.bid_px = sorted(self.bids)
        self.ask_px = sorted(self.asks)
        self.last_update_id = last_update_id
        self._sums = None
        self.version += 1

    def apply_bids(self, levels: Iterable[Sequence[str]]) -> None:
        bids, px = self.bids, self.bid_px
        get = bids.get
        observer = self.observer
        track = self.track_levels if observer is not None else 0
        self._sums = None
        self.version += 1
        # ``edge``: the track-th best bid. A level below it has at least ``track`` better ones, so only a
        # level at or above it needs the rank bisect; it moves only when a level at or above it comes or goes.
        short = len(px) < track
        edge = INF if not track else px[-track] if not short else -INF
        for p, q in levels:
            price, qty = float(p), float(q)
            if short or price >= edge:
                old = get(price)
                rank = len(px) - bisect_right(px, price)  # bid prices strictly better than this one
                if rank < track:
                    delta = qty - (old or 0.0)
                    if delta:
                        observer(True, rank, delta, price)  # type: ignore[misc]
                if qty == 0.0:
                    if old is not None:
                        del bids[price]
                        del px[bisect_left(px, price)]
                        short = len(px) < track
                        edge = px[-track] if not short else -INF
                else:
                    if old is None:
                        insort(px, price)
                        short = len(px) < track
                        edge = px[-track] if not short else -INF
                    bids[price] = qty
            elif qty == 0.0:
                if price in bids:
                    del bids[price]
                    del px[bisect_left(px, price)]
            else:
                if price not in bids:
                    insort(px, price)
                bids[price] = qty

    def apply_asks(self, levels: Iterable[Sequence[str]]) -> None:
        asks, px = self.asks, self.ask_px
        get = asks.get
        observer = self.observer
        track = self.track_levels if observer is not None else 0
        self._sums = None
        self.version += 1
        # ``edge``: the track-th best ask (see apply_bids)
        short = len(px) < track
        edge = -INF if not track else px[track - 1] if not short else INF
        for p, q in levels:
            price, qty = float(p), float(q)
            if short or price <= edge:
                old = get(price)
                rank = bisect_left(px, price)  # ask prices strictly better than this one
                if rank < track:
                    delta = qty - (old or 0.0)
                    if delta:
                        observer(False, rank, delta, price)  # type: ignore[misc]
                if qty == 0.0:
                    if old is not None:
                        del asks[price]
                        del px[rank]
                        short = len(px) < track
                        edge = px[track - 1] if not short else INF
                else:
                    if old is None:
                        px.insert(rank, price)
                        short = len(px) < track
                        edge = px[track - 1] if not short else INF
                    asks[price] = qty
            elif qty == 0.0:
                if price in asks:
                    del asks[price]
                    del px[bisect_left(px, price)]
            else:
                if price not in asks:
                    insort(px, price)
                asks[price] = qty

    # -- queries ----------------------------------------------------------------------------------
    @property
    def best_bid(self) -> float:
        return self.bid_px[-1] if self.bid_px else NAN

    @property
    def best_ask(self) -> float:
        return self.ask_px[0] if self.ask_px else NAN

    def top(self) -> tuple[float, float, float, float]:
        """``(best_bid, bid_qty, best_ask, ask_qty)``; NaN on an empty side."""
        bb = self.bid_px[-1] if self.bid_px else NAN
        ba = self.ask_px[0] if self.ask_px else NAN
        return bb, self.bids.get(bb, 0.0), ba, self.asks.get(ba, 0.0)

    def depth_sums(self, levels: int) -> tuple[float, float]:
        """Total quantity on the best ``levels`` bid and ask levels."""
        cached = self._sums
        if cached is not None and cached[0] == levels:
            return cached[1], cached[2]
        bids, asks = self.bids, self.asks
        bid_sum = sum([bids[p] for p in self.bid_px[-levels:]])
        ask_sum = sum([asks[p] for p in self.ask_px[:levels]])
        self._sums = (levels, bid_sum, ask_sum)
        return bid_sum, ask_sum

    def bid_levels(self, n: int) -> list[tuple[float, float]]:
        return [(p, self.bids[p]) for p in reversed(self.bid_px[-n:])]

    def ask_levels(self, n: int) -> list[tuple[float, float]]:
        return [(p, self.asks[p]) for p in self.ask_px[:n]]

    def qty_at(self, is_bid: bool, price: float) -> float:
        return (self.bids if is_bid else self.asks).get(price, 0.0)

    @property
    def crossed(self) -> bool:
        return bool(self.bid_px and self.ask_px and self.bid_px[-1] >= self.ask_px[0])

    def __len__(self) -> int:
        return len(self.bids) + len(self.asks)
