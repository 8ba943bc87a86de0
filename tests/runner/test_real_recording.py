"""The shared real Binance USD-M BTCUSDT recording through the importer, the book sync and the features."""

from __future__ import annotations

from pathlib import Path

import orjson

from runner.feeds.replay_feed import iter_recording
from runner.market import MarketData


def test_the_book_equals_book_ticker_at_every_update_id_both_carry(btc_replay: Path) -> None:
    md = MarketData(["BTCUSDT"])
    sync, book = md.syncs["BTCUSDT"], md.books["BTCUSDT"]
    after_diff: dict[int, tuple[float, float, float, float]] = {}
    tickers: list[tuple[int, tuple[float, float, float, float]]] = []
    for _, line in iter_recording(btc_replay):
        res = md.on_raw(line)
        assert res is not None, line[:120]
        msg = orjson.loads(line)
        d = msg["data"]
        if "@depth@" in msg["stream"] and sync.synced and sync.last_u == d["u"]:
            after_diff[d["u"]] = book.top()
        elif msg["stream"].endswith("@bookTicker"):
            tickers.append((d["u"], (float(d["b"]), float(d["B"]), float(d["a"]), float(d["A"]))))
    c = md.sync_counters()["BTCUSDT"]
    assert c["synced"] == 1 and c["gaps"] == 0 and c["resyncs"] == 0 and c["snapshots"] == 1
    assert c["applied"] + c["dropped"] == 6551  # every diff was used or was older than the snapshot
    shared = [(u, top) for u, top in tickers if u in after_diff]
    assert len(shared) > 500
    mismatches = [(u, top, after_diff[u]) for u, top in shared if top != after_diff[u]]
    assert mismatches == []


def test_trades_come_from_the_trade_stream(btc_replay: Path) -> None:
    md = MarketData(["BTCUSDT"])
    for _, line in iter_recording(btc_replay):
        md.on_raw(line)
    stats = md.stats()
    assert stats["by_kind"]["trade"] == 21_313 and stats["unknown"] == 0
    f = md.features["BTCUSDT"]
    assert f.buy_vol + f.sell_vol > 0 and f.last_trade_px > 60_000
