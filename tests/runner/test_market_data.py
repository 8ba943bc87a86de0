"""The decoder: which streams feed what, which are ignored (counted by name), and the raw snapshot shape."""

from __future__ import annotations

import orjson

from runner.feeds.wire import Kind
from runner.market import MarketData


def msg(stream: str, **data) -> bytes:  # noqa: ANN003
    return orjson.dumps({"stream": stream, "data": data})


def trade(stream: str, p: str, q: str, m: bool, t: int) -> bytes:
    return msg(stream, e="trade", E=t, T=t, s="BTCUSDT", p=p, q=q, m=m)


def test_trade_and_agg_trade_both_feed_trades_but_one_symbol_never_counts_a_trade_twice() -> None:
    md = MarketData(["BTCUSDT", "ETHUSDT"])
    assert md.on_raw(trade("btcusdt@trade", "100", "2", False, 1)) == ("BTCUSDT", Kind.TRADE)
    assert md.on_raw(trade("ethusdt@aggTrade", "10", "1", True, 2)) == ("ETHUSDT", Kind.TRADE)
    # The same prints on the other stream of a symbol: ignored (counted by name), not double counted.
    assert md.on_raw(trade("btcusdt@aggTrade", "100", "2", False, 3)) is None
    assert md.features["BTCUSDT"].buy_vol == 2.0 and md.features["ETHUSDT"].sell_vol == 1.0
    assert md.ignored == {"aggTrade (duplicate of trade)": 1}
    assert md.by_kind[Kind.TRADE] == 1 and md.by_kind[Kind.AGG_TRADE] == 1


def test_known_streams_are_ignored_by_name_and_unknown_ones_counted_apart() -> None:
    md = MarketData(["BTCUSDT"])
    for raw in (msg("btcusdt@markPrice@1s", E=1, p="1"), msg("btcusdt@markPrice@1s", E=2, p="1"),
                msg("btcusdt@kline_1m", E=3), msg("btcusdt@depth5@100ms", E=4), msg("btcusdt@whatever", E=5),
                msg("ethusdt@bookTicker", E=6)):
        assert md.on_raw(raw) is None
    stats = md.stats()
    assert stats["ignored_streams"] == {"markPrice": 2, "kline": 1, "depth5": 1, "ETHUSDT@bookTicker": 1}
    assert stats["unknown_streams"] == {"whatever": 1} and stats["unknown"] == 1 and stats["malformed"] == 0


def test_the_raw_rest_snapshot_body_is_a_snapshot_of_the_recordings_one_symbol() -> None:
    md = MarketData(["BTCUSDT"])
    diff = msg("btcusdt@depth@100ms", e="depthUpdate", E=10, U=95, u=105, pu=90, b=[["99.0", "1"]], a=[])
    md.on_raw(diff)
    bare = orjson.dumps({"recv_ts_ns": 5, "lastUpdateId": 100, "E": 9, "T": 9, "bids": [["99.5", "2"]],
                         "asks": [["100.5", "3"]]})
    assert md.on_raw(bare) == ("BTCUSDT", Kind.SNAPSHOT)
    assert md.syncs["BTCUSDT"].synced and md.books["BTCUSDT"].bids == {99.5: 2.0, 99.0: 1.0}
    two = MarketData(["BTCUSDT", "ETHUSDT"])  # several symbols: a bare body cannot be attributed
    assert two.on_raw(bare) is None and two.unknown_streams == {"depthSnapshot (no symbol)": 1}
    assert two.on_raw(orjson.dumps({"symbol": "ETHUSDT", "lastUpdateId": 1, "bids": [], "asks": []})) is not None
    assert two.on_raw(b'{"hello": 1}') is None and two.counters["malformed"] == 1
