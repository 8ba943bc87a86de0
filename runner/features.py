"""Per-symbol microstructure features, updated incrementally from the feed.

* top of book from ``bookTicker`` (fresher than the 100 ms diffs): spread in bps, microprice;
* order-book imbalance (OBI) over the top ``obi_levels`` of the synced L2 book;
* trade-flow imbalance (TFI) over ``tfi_window``: (taker buy − taker sell) / total volume;
* short-horizon volatility: std of mid log-returns sampled every 100 ms over ``vol_window``,
  scaled to a 1-second horizon, in bps;
* per-level add and cancel volumes over ``trap_window`` for the gate's TRAP guard. A decrease at a
  price counts as a cancel only beyond what traded there since the previous diff (a trade is not a
  cancel).

Rolling windows keep running sums and expire old entries from a deque: O(1) amortised per update.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any

from runner.book import L2Book

NAN = float("nan")


@dataclass(frozen=True)
class FeatureParams:
    obi_levels: int = 5
    tfi_window_ms: float = 2_000.0
    vol_window_ms: float = 5_000.0
    vol_sample_ms: float = 100.0
    trap_levels: int = 5
    trap_window_ms: float = 1_000.0


class SymbolFeatures:
    __slots__ = (
        "symbol",
        "book",
        "p",
        "bid",
        "bid_qty",
        "ask",
        "ask_qty",
        "top_u",
        "last_ms",
        "_trades",
        "buy_vol",
        "sell_vol",
        "_rets",
        "_ret_sum",
        "_ret_sq",
        "_last_mid",
        "_last_sample_ms",
        "_bucket_add",
        "_bucket_cancel",
        "_buckets",
        "add_sum",
        "cancel_sum",
        "_traded",
        "last_trade_px",
        "mark_price",
        "microprice",
        "micro_tilt",
        "ready",
        "_obi",
        "_obi_at",
    )

    def __init__(self, symbol: str, book: L2Book, params: FeatureParams | None = None) -> None:
        self.symbol = symbol
        self.book = book
        self.p = p = params or FeatureParams()
        self.bid = self.ask = NAN
        self.bid_qty = self.ask_qty = 0.0
        self.top_u = 0
        self.last_ms = 0
        # derived from the top of book, set with it (on_ticker): read on every tick, changed only by a ticker
        self.microprice = self.micro_tilt = NAN
        self.ready = False
        self._obi = 0.0
        self._obi_at = -1  # the book version the cached OBI was computed at (-1: none)
        self._trades: deque[tuple[int, float]] = deque()  # (ts_ms, signed qty)
        self.buy_vol = self.sell_vol = 0.0
        self._rets: deque[tuple[int, float]] = deque()
        self._ret_sum = self._ret_sq = 0.0
        self._last_mid = NAN
        self._last_sample_ms = 0
        n = p.trap_levels
        self._bucket_add = [0.0] * n
        self._bucket_cancel = [0.0] * n
        self._buckets: deque[tuple[int, list[float], list[float]]] = deque()
        self.add_sum = [0.0] * n
        self.cancel_sum = [0.0] * n
        self._traded: dict[float, float] = {}
        self.last_trade_px = NAN
        self.mark_price = NAN
        book.track_levels = n
        book.observer = self.on_level_change

    # -- updates from the feed --------------------------------------------------------------------
    def on_ticker(self, bid: float, bid_qty: float, ask: float, ask_qty: float, u: int, ts_ms: int) -> None:
        self.bid, self.bid_qty, self.ask, self.ask_qty, self.top_u = bid, bid_qty, ask, ask_qty, u
        self.last_ms = ts_ms
        # ready: a two-sided, uncrossed, positive top (NaN fails every comparison)
        self.ready = bid == bid and ask == ask and ask > bid > 0
        mid = 0.5 * (bid + ask)
        total = bid_qty + ask_qty
        self.microprice = mp = mid if total <= 0 else (bid * ask_qty + ask * bid_qty) / total
        # micro_tilt: the microprice's position inside the spread, in [-1, 1] (+1: at the ask, buying pressure)
        half = 0.5 * (ask - bid)
        self.micro_tilt = 0.0 if half <= 0 else (mp - mid) / half
        if ts_ms - self._last_sample_ms >= self.p.vol_sample_ms:
            mid = 0.5 * (bid + ask)
            last = self._last_mid
            self._last_mid = mid
            self._last_sample_ms = ts_ms
            if last == last and last > 0:  # not NaN
                r = math.log(mid / last)
                self._rets.append((ts_ms, r))
                self._ret_sum += r
                self._ret_sq += r * r
            self._expire_rets(ts_ms)

    def on_trade(self, price: float, qty: float, buyer_is_maker: bool, ts_ms: int) -> None:
        signed = -qty if buyer_is_maker else qty  # buyer is maker: the taker sold
        self._trades.append((ts_ms, signed))
        if signed > 0:
            self.buy_vol += qty
        else:
            self.sell_vol += qty
        self._traded[price] = self._traded.get(price, 0.0) + qty
        self.last_trade_px = price
        self.last_ms = ts_ms
        q = self._trades
        if q[0][0] < ts_ms - self.p.tfi_window_ms:
            self._expire_trades(ts_ms)

    def on_level_change(self, is_bid: bool, rank: int, delta: float, price: float) -> None:
        if delta > 0:
            self._bucket_add[rank] += delta
        else:
            cancel = -delta - self._traded.pop(price, 0.0)
            if cancel > 0:
                self._bucket_cancel[rank] += cancel

    def end_diff(self, ts_ms: int) -> None:
        """Close the add/cancel bucket of one applied diff and slide the TRAP window."""
        adds, cancels = self._bucket_add, self._bucket_cancel
        add_sum, cancel_sum = self.add_sum, self.cancel_sum
        for i in range(len(adds)):
            add_sum[i] += adds[i]
            cancel_sum[i] += cancels[i]
        self._buckets.append((ts_ms, adds, cancels))
        n = len(adds)
        self._bucket_add = [0.0] * n
        self._bucket_cancel = [0.0] * n
        self._traded.clear()
        self._expire_buckets(ts_ms)

    def reset_book_state(self) -> None:
        """After a resync the add/cancel history of the old book is meaningless."""
        self._buckets.clear()
        n = self.p.trap_levels
        self.add_sum = [0.0] * n
        self.cancel_sum = [0.0] * n
        self._bucket_add = [0.0] * n
        self._bucket_cancel = [0.0] * n
        self._traded.clear()

    # -- window maintenance -----------------------------------------------------------------------
    def _expire_trades(self, now_ms: int) -> None:
        horizon = now_ms - self.p.tfi_window_ms
        q = self._trades
        while q and q[0][0] < horizon:
            _, signed = q.popleft()
            if signed > 0:
                self.buy_vol -= signed
            else:
                self.sell_vol += signed
        if not q:
            self.buy_vol = self.sell_vol = 0.0  # no drift from float round-off

    def _expire_rets(self, now_ms: int) -> None:
        horizon = now_ms - self.p.vol_window_ms
        q = self._rets
        while q and q[0][0] < horizon:
            _, r = q.popleft()
            self._ret_sum -= r
            self._ret_sq -= r * r

    def _expire_buckets(self, now_ms: int) -> None:
        horizon = now_ms - self.p.trap_window_ms
        q = self._buckets
        add_sum, cancel_sum = self.add_sum, self.cancel_sum
        while q and q[0][0] < horizon:
            _, adds, cancels = q.popleft()
            for i in range(len(adds)):
                add_sum[i] -= adds[i]
                cancel_sum[i] -= cancels[i]
        if not q:
            for i in range(len(add_sum)):
                add_sum[i] = cancel_sum[i] = 0.0

    # -- derived features -------------------------------------------------------------------------
    @property
    def mid(self) -> float:
        return 0.5 * (self.bid + self.ask)

    @property
    def spread_bps(self) -> float:
        mid = 0.5 * (self.bid + self.ask)
        return (self.ask - self.bid) / mid * 1e4

    def obi(self) -> float:
        """Order-book imbalance over the top levels, in [-1, 1]; top of book only while unsynced."""
        book = self.book
        if book.version == self._obi_at:  # the book has not changed since: asked on every tick
            return self._obi
        if book.bid_px and book.ask_px:
            b, a = book.depth_sums(self.p.obi_levels)
            at = book.version
        else:
            b, a = self.bid_qty, self.ask_qty
            at = -1  # from the top of book: not cached
        total = b + a
        self._obi = obi = (b - a) / total if total > 0 else 0.0
        self._obi_at = at
        return obi

    def tfi(self, now_ms: int | None = None) -> float:
        if now_ms is not None:
            q = self._trades
            # nothing to expire (the usual case): _expire_trades would change nothing (an empty window's
            # sums are already zero)
            if q and q[0][0] < now_ms - self.p.tfi_window_ms:
                self._expire_trades(now_ms)
        total = self.buy_vol + self.sell_vol
        return (self.buy_vol - self.sell_vol) / total if total > 1e-12 else 0.0

    def vol_std_bps(self) -> float:
        n = len(self._rets)
        if n < 2:
            return 0.0
        mean = self._ret_sum / n
        var = max(0.0, self._ret_sq / n - mean * mean)
        return math.sqrt(var) * 1e4 * math.sqrt(1000.0 / self.p.vol_sample_ms)

    def trap_volumes(self, now_ms: int | None = None) -> tuple[list[float], list[float]]:
        if now_ms is not None:
            self._expire_buckets(now_ms)
        # Clamp the float drift of the running sums (a tiny negative is not a valid volume).
        return [v if v > 1e-9 else 0.0 for v in self.add_sum], [v if v > 1e-9 else 0.0 for v in self.cancel_sum]

    def as_dict(self, now_ms: int | None = None) -> dict[str, Any]:
        """Every feature, for XAI events and the gate request (computed once per decision)."""
        adds, cancels = self.trap_volumes(now_ms)
        return {
            "bid": self.bid,
            "ask": self.ask,
            "bid_qty": self.bid_qty,
            "ask_qty": self.ask_qty,
            "mid": self.mid,
            "spread_bps": self.spread_bps,
            "microprice": self.microprice,
            "micro_tilt": self.micro_tilt,
            "obi": self.obi(),
            "tfi": self.tfi(now_ms),
            "vol_std_bps": self.vol_std_bps(),
            "l2_add_volumes": adds,
            "l2_cancel_volumes": cancels,
        }
