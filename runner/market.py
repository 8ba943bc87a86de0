"""The market-data hot path: decode a raw combined-stream message and route it to the book sync and features.

One :class:`MarketData` holds, per symbol, the L2 book, its :class:`BookSync` and its
:class:`SymbolFeatures`. Decoding uses orjson; a message that does not parse is a *torn* line (counted,
never fatal); a message that parses but lacks the expected fields is *malformed* (counted).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from runner.book import L2Book
from runner.features import FeatureParams, SymbolFeatures
from runner.feeds.book_sync import BookSync, SyncEventSink
from runner.feeds.wire import Kind, StreamTable

_loads = orjson.loads
_JSONDecodeError = orjson.JSONDecodeError


class MarketData:
    def __init__(
        self,
        symbols: list[str],
        *,
        params: FeatureParams | None = None,
        request_snapshot: Callable[[str], None] = lambda s: None,
        on_event: SyncEventSink | None = None,
    ) -> None:
        self.params = params or FeatureParams()
        self.books: dict[str, L2Book] = {}
        self.syncs: dict[str, BookSync] = {}
        self.features: dict[str, SymbolFeatures] = {}
        for s in symbols:
            s = s.upper()
            book = L2Book(s)
            self.books[s] = book
            self.syncs[s] = BookSync(s, book, request_snapshot, on_event)
            self.features[s] = SymbolFeatures(s, book, self.params)
        self._table = StreamTable()
        self.counters = {"messages": 0, "torn": 0, "malformed": 0, "unknown": 0, "partials": 0}
        self.by_kind = dict.fromkeys(Kind, 0)
        self.last_event_ms = 0
        self.last_trade: tuple[str, float, float, bool, int] | None = None

    def on_raw(self, raw: bytes | str) -> tuple[str, Kind] | None:
        """Process one message; returns ``(symbol, kind)`` or ``None`` when it was unusable."""
        self.counters["messages"] += 1
        try:
            msg = _loads(raw)
        except _JSONDecodeError:
            self.counters["torn"] += 1
            return None
        try:
            symbol, kind = self._table.lookup(msg["stream"])
            data = msg["data"]
            feats = self.features.get(symbol)
            if feats is None or kind is Kind.UNKNOWN:
                self.counters["unknown"] += 1
                return None
            if kind is Kind.BOOK_TICKER:
                e_ms = data["E"]
                feats.on_ticker(float(data["b"]), float(data["B"]), float(data["a"]), float(data["A"]), data["u"], e_ms)
            elif kind is Kind.AGG_TRADE:
                e_ms = data["E"]
                price, qty, maker = float(data["p"]), float(data["q"]), data["m"]
                feats.on_trade(price, qty, maker, data["T"])
                self.last_trade = (symbol, price, qty, maker, data["T"])
            elif kind is Kind.DEPTH_DIFF:
                e_ms = data["E"]
                if self.syncs[symbol].on_diff(data):
                    feats.end_diff(e_ms)
            elif kind is Kind.SNAPSHOT:
                e_ms = data.get("E") or self.last_event_ms
                if self.syncs[symbol].on_snapshot(data):
                    feats.reset_book_state()
            elif kind is Kind.DEPTH_PARTIAL:
                e_ms = data["E"]
                self.counters["partials"] += 1
            else:  # mark price
                e_ms = data["E"]
                feats.mark_price = float(data["p"])
        except (KeyError, TypeError, ValueError, IndexError):
            self.counters["malformed"] += 1
            return None
        self.by_kind[kind] += 1
        if e_ms > self.last_event_ms:
            self.last_event_ms = e_ms
        return symbol, kind

    def sync_counters(self) -> dict[str, dict[str, int]]:
        return {s: dict(sync.counters, synced=int(sync.synced)) for s, sync in self.syncs.items()}

    def stats(self) -> dict[str, Any]:
        return {
            **self.counters,
            "by_kind": {k.name.lower(): v for k, v in self.by_kind.items() if v},
            "sync": self.sync_counters(),
        }
