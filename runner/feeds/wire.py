"""Binance USD-M combined-stream wire format: stream names, message kinds, and the REST snapshot.

Every feed (synthetic, replay, live) hands the runner the raw bytes of one combined-stream message,
``{"stream": "solusdt@bookTicker", "data": {...}}``, with the real field names:

* ``<sym>@bookTicker``: ``e, u, E, T, s, b, B, a, A``
* ``<sym>@depth@100ms`` (diff) and ``<sym>@depth5@100ms`` (partial): ``e, E, T, s, U, u, pu, b, a``
* ``<sym>@aggTrade``: ``e, E, s, a, p, q, f, l, T, m``
* ``<sym>@markPrice@1s``: ``e, E, s, p, i, P, r, T``

The REST depth snapshot (``GET /fapi/v1/depth``: ``lastUpdateId, E, T, bids, asks``) travels in-band
under the pseudo-stream ``<sym>@depthSnapshot`` so that a recording replays its resyncs exactly.
"""

from __future__ import annotations

from enum import IntEnum

SNAPSHOT_SUFFIX = "@depthSnapshot"


class Kind(IntEnum):
    """Message kinds, as small ints for a fast dispatch on the hot path."""

    UNKNOWN = 0
    BOOK_TICKER = 1
    DEPTH_DIFF = 2
    DEPTH_PARTIAL = 3
    AGG_TRADE = 4
    MARK_PRICE = 5
    SNAPSHOT = 6


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


_SUFFIX_KIND: tuple[tuple[str, Kind], ...] = (
    ("@bookTicker", Kind.BOOK_TICKER),
    ("@aggTrade", Kind.AGG_TRADE),
    (SNAPSHOT_SUFFIX, Kind.SNAPSHOT),
    ("@depth5", Kind.DEPTH_PARTIAL),
    ("@depth10", Kind.DEPTH_PARTIAL),
    ("@depth20", Kind.DEPTH_PARTIAL),
    ("@depth", Kind.DEPTH_DIFF),
    ("@markPrice", Kind.MARK_PRICE),
)


class StreamTable:
    """``stream name -> (SYMBOL, Kind)``, memoised: a handful of names, looked up once per message."""

    __slots__ = ("_cache",)

    def __init__(self) -> None:
        self._cache: dict[str, tuple[str, Kind]] = {}

    def lookup(self, stream: str) -> tuple[str, Kind]:
        hit = self._cache.get(stream)
        if hit is None:
            hit = classify(stream)
            self._cache[stream] = hit
        return hit


def classify(stream: str) -> tuple[str, Kind]:
    at = stream.find("@")
    if at <= 0:
        return stream.upper(), Kind.UNKNOWN
    symbol, rest = stream[:at].upper(), stream[at:]
    for suffix, kind in _SUFFIX_KIND:
        if rest.startswith(suffix):
            return symbol, kind
    return symbol, Kind.UNKNOWN


def with_recv_ts(recv_ts_ns: int, raw: bytes) -> bytes:
    """The replay record ``{"recv_ts_ns": N, "stream": ..., "data": ...}`` built from a raw message.

    Splices bytes instead of re-serialising, so a torn message stays torn in the recording.
    """
    body = raw[1:] if raw[:1] == b"{" else raw
    return b'{"recv_ts_ns":%d,' % recv_ts_ns + body
