"""Binance USD-M combined-stream wire format: stream names, message kinds, and the REST snapshot.

Every feed (synthetic, replay, live) hands the runner the raw bytes of one combined-stream message,
``{"stream": "solusdt@bookTicker", "data": {...}}``, with the real field names:

* ``<sym>@bookTicker``: ``e, u, E, T, s, b, B, a, A``
* ``<sym>@depth@100ms`` (diff) and ``<sym>@depth5@100ms`` (partial): ``e, E, T, s, U, u, pu, b, a``
* ``<sym>@aggTrade``: ``e, E, s, a, p, q, f, l, T, m``; ``<sym>@trade``: ``e, E, T, s, t, p, q, X, m`` —
  either one feeds the trade features and the paper venue's queues (when a recording has both for
  a symbol, the first one seen is used and the other counted as ignored, so no trade counts twice)
* ``<sym>@markPrice@1s``, ``<sym>@kline_*``, partial depth and the other known streams: ignored, and
  counted by name (``MarketData.ignored``)

The REST depth snapshot (``GET /fapi/v1/depth``: ``lastUpdateId, E, T, bids, asks``) travels in-band
under the pseudo-stream ``<sym>@depthSnapshot`` so that a recording replays its resyncs exactly; the
bare REST body (no ``stream``) is accepted too, for a single-symbol recording or with a ``symbol`` field.
"""

from __future__ import annotations

from enum import IntEnum

SNAPSHOT_SUFFIX = "@depthSnapshot"


class Kind(IntEnum):
    """Message kinds, as small ints for a fast dispatch on the hot path."""

    UNKNOWN = 0
    BOOK_TICKER = 1
    DEPTH_DIFF = 2
    TRADE = 3  # @trade; MarketData also reports a used @aggTrade as TRADE
    AGG_TRADE = 4
    SNAPSHOT = 5
    IGNORED = 6  # a known stream the runner does not use


#: Either trade stream: what the runner treats as "a trade printed".
TRADE_KINDS = (Kind.TRADE, Kind.AGG_TRADE)


def diff_stream(symbol: str) -> str:
    return f"{symbol.lower()}@depth@100ms"


def partial_stream(symbol: str) -> str:
    return f"{symbol.lower()}@depth5@100ms"


def ticker_stream(symbol: str) -> str:
    return f"{symbol.lower()}@bookTicker"


def trade_stream(symbol: str) -> str:
    return f"{symbol.lower()}@aggTrade"


def mark_stream(symbol: str) -> str:
    return f"{symbol.lower()}@markPrice@1s"


def snapshot_stream(symbol: str) -> str:
    return f"{symbol.lower()}{SNAPSHOT_SUFFIX}"


def public_streams(symbols: list[str]) -> list[str]:
    """Streams served by the ``/public/stream`` endpoint (order book data)."""
    out = []
    for s in symbols:
        out += [diff_stream(s), partial_stream(s), ticker_stream(s)]
    return out


def market_streams(symbols: list[str]) -> list[str]:
    """Streams served by the ``/market/stream`` endpoint (trades and mark price)."""
    out = []
    for s in symbols:
        out += [trade_stream(s), mark_stream(s)]
    return out


#: ``(stream type, kind)``: the type is the part after ``@`` up to the next ``@`` or ``_`` (``kline_1m``
#: is ``kline``); partial depth (``depth5``/``depth10``/``depth20``) is a type of its own.
_TYPE_KIND: dict[str, Kind] = {
    "bookTicker": Kind.BOOK_TICKER,
    "depth": Kind.DEPTH_DIFF,
    "trade": Kind.TRADE,
    "aggTrade": Kind.AGG_TRADE,
    SNAPSHOT_SUFFIX[1:]: Kind.SNAPSHOT,
    **dict.fromkeys(
        ("depth5", "depth10", "depth20", "markPrice", "kline", "continuousKline", "indexPriceKline",
         "markPriceKline", "forceOrder", "ticker", "miniTicker", "compositeIndex", "assetIndex",
         "contractInfo"),
        Kind.IGNORED,
    ),
}


class StreamTable:
    """``stream name -> (SYMBOL, Kind, type)``, memoised: a handful of names, looked up once per message."""

    __slots__ = ("_cache",)

    def __init__(self) -> None:
        self._cache: dict[str, tuple[str, Kind, str]] = {}

    def lookup(self, stream: str) -> tuple[str, Kind, str]:
        hit = self._cache.get(stream)
        if hit is None:
            hit = classify(stream)
            self._cache[stream] = hit
        return hit


def stream_type(stream: str) -> str:
    """``btcusdt@depth@0ms`` -> ``depth``, ``ethusdt@kline_1m`` -> ``kline``, ``x`` -> ``x``."""
    at = stream.find("@")
    rest = stream[at + 1:] if at >= 0 else stream
    for sep in ("@", "_"):
        cut = rest.find(sep)
        if cut >= 0:
            rest = rest[:cut]
    return rest


def classify(stream: str) -> tuple[str, Kind, str]:
    at = stream.find("@")
    if at <= 0:
        return stream.upper(), Kind.UNKNOWN, stream_type(stream)
    name = stream_type(stream)
    return stream[:at].upper(), _TYPE_KIND.get(name, Kind.UNKNOWN), name


def with_recv_ts(recv_ts_ns: int, raw: bytes) -> bytes:
    """The replay record ``{"recv_ts_ns": N, "stream": ..., "data": ...}`` built from a raw message.

    Splices bytes instead of re-serialising, so a torn message stays torn in the recording.
    """
    body = raw[1:] if raw[:1] == b"{" else raw
    return b'{"recv_ts_ns":%d,' % recv_ts_ns + body
