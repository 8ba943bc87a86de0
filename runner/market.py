"""The market-data hot path: decode a raw combined-stream message and route it to the book sync and features.

One :class:`MarketData` holds, per symbol, the L2 book, its :class:`BookSync` and its
:class:`SymbolFeatures`. Decoding uses orjson; a message that does not parse is a *torn* line (counted,
never fatal); a message that parses but lacks the expected fields is *malformed* (counted). Known
streams the runner does not use are counted by name in ``ignored``, streams it does not know in
``unknown_streams``.
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
# the kinds as module constants: an enum member looked up on its class costs ~0.1 us, paid per message
_TRADE, _AGG, _TICKER, _DIFF = Kind.TRADE, Kind.AGG_TRADE, Kind.BOOK_TICKER, Kind.DEPTH_DIFF
_UNKNOWN, _IGNORED = Kind.UNKNOWN, Kind.IGNORED


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
        self._only = next(iter(self.books)) if len(self.books) == 1 else None
        self._table = StreamTable()
        # stream name -> (SYMBOL, Kind, type, the symbol's features or None, what on_raw returns for it):
        # one lookup per message, no tuple built per message
        self._routes: dict[str, tuple[str, Kind, str, SymbolFeatures | None, tuple[str, Kind]]] = {}
        self.counters = {"messages": 0, "torn": 0, "malformed": 0, "unknown": 0, "ignored": 0}
        self.by_kind = dict.fromkeys(Kind, 0)
        self.ignored: dict[str, int] = {}
        self.unknown_streams: dict[str, int] = {}
        # symbol -> the trade stream used (@trade or @aggTrade): the first one seen, so that a recording
        # carrying both never counts a trade twice.
        self.trade_source: dict[str, Kind] = {}
        self.last_event_ms = 0
        self.last_trade: tuple[str, float, float, bool, int] | None = None

    def on_raw(self, raw: bytes | str) -> tuple[str, Kind] | None:
        """Process one message; ``(symbol, kind)`` when it was used (either trade stream is reported as
        ``Kind.TRADE``), ``None`` when it was unusable or ignored."""
        self.counters["messages"] += 1
        try:
            msg = _loads(raw)
        except _JSONDecodeError:
            self.counters["torn"] += 1
            return None
        try:
            stream = msg.get("stream")
            if stream is None:
                return self._bare(msg)
            route = self._routes.get(stream)
            if route is None:
                route = self._route(stream)
            symbol, kind, name, feats, used = route
            data = msg["data"]
            if feats is None:  # another symbol's stream (a recording of more symbols than traded)
                return self._skip(_UNKNOWN if kind is _UNKNOWN else _IGNORED, f"{symbol}@{name}")
            if kind is _TICKER:  # the most frequent first
                e_ms = data["E"]
                feats.on_ticker(float(data["b"]), float(data["B"]), float(data["a"]), float(data["A"]), data["u"], e_ms)
            elif kind is _TRADE or kind is _AGG:
                source = self.trade_source.get(symbol)
                if source is not kind:
                    if source is not None:
                        return self._skip(_IGNORED, f"{name} (duplicate of {source.name.lower()})")
                    self.trade_source[symbol] = kind
                e_ms = data["E"]
                price, qty, maker = float(data["p"]), float(data["q"]), data["m"]
                feats.on_trade(price, qty, maker, data["T"])
                self.last_trade = (symbol, price, qty, maker, data["T"])
                self.by_kind[kind] += 1
                if e_ms > self.last_event_ms:
                    self.last_event_ms = e_ms
                return used
            elif kind is _DIFF:
                e_ms = data["E"]
                if self.syncs[symbol].on_diff(data):
                    feats.end_diff(e_ms)
            elif kind is _UNKNOWN or kind is _IGNORED:
                return self._skip(kind, name)
            else:  # snapshot
                e_ms = data.get("E") or self.last_event_ms
                if self.syncs[symbol].on_snapshot(data, e_ms):
                    feats.reset_book_state()
        except (KeyError, TypeError, ValueError, IndexError, AttributeError):
            self.counters["malformed"] += 1
            return None
        self.by_kind[kind] += 1
        if e_ms > self.last_event_ms:
            self.last_event_ms = e_ms
        return used

    def _route(self, stream: str) -> tuple[str, Kind, str, SymbolFeatures | None, tuple[str, Kind]]:
        symbol, kind, name = self._table.lookup(stream)
        used = (symbol, _TRADE if kind is _AGG else kind)  # either trade stream is reported as TRADE
        route = self._routes[stream] = (symbol, kind, name, self.features.get(symbol), used)
        return route

    def _skip(self, kind: Kind, name: str) -> None:
        if kind is Kind.IGNORED:
            self.counters["ignored"] += 1
            self.ignored[name] = self.ignored.get(name, 0) + 1
        else:
            self.counters["unknown"] += 1
            self.unknown_streams[name] = self.unknown_streams.get(name, 0) + 1
        return None

    def _bare(self, msg: dict[str, Any]) -> tuple[str, Kind] | None:
        """A message without ``stream``: the raw REST snapshot body, for the recording's one symbol (or
        the one its ``symbol`` field names); anything else is malformed."""
        if "lastUpdateId" not in msg:
            raise KeyError("stream")
        symbol = str(msg.get("symbol") or self._only or "").upper()
        sync = self.syncs.get(symbol)
        if sync is None:
            return self._skip(Kind.UNKNOWN, "depthSnapshot (no symbol)" if not symbol else f"depthSnapshot ({symbol})")
        e_ms = msg.get("E") or self.last_event_ms
        if sync.on_snapshot(msg, e_ms):
            self.features[symbol].reset_book_state()
        self.by_kind[Kind.SNAPSHOT] += 1
        if e_ms > self.last_event_ms:
            self.last_event_ms = e_ms
        return symbol, Kind.SNAPSHOT

    def sync_counters(self) -> dict[str, dict[str, int]]:
        return {s: dict(sync.counters, synced=int(sync.synced)) for s, sync in self.syncs.items()}

    def stats(self) -> dict[str, Any]:
        return {
            **self.counters,
            "by_kind": {k.name.lower(): v for k, v in self.by_kind.items() if v},
            "ignored_streams": dict(self.ignored),
            "unknown_streams": dict(self.unknown_streams),
            "sync": self.sync_counters(),
        }
