"""The L2 book and the features computed from it: OBI, microprice, TFI, volatility, TRAP volumes."""

from __future__ import annotations

import math

import pytest

from runner.book import L2Book
from runner.features import FeatureParams, SymbolFeatures


def book_with(bids: dict[float, float], asks: dict[float, float]) -> L2Book:
    b = L2Book("X")
    b.load_snapshot([(str(p), str(q)) for p, q in bids.items()], [(str(p), str(q)) for p, q in asks.items()], 1)
    return b


def test_book_updates_keep_both_sides_sorted_and_remove_zero_levels() -> None:
    b = book_with({100.0: 1, 99.0: 2}, {101.0: 3, 102.0: 4})
    b.apply_bids([("100.5", "5"), ("99", "0")])
    b.apply_asks([("101", "0"), ("101.5", "6")])
    assert b.top() == (100.5, 5.0, 101.5, 6.0)
    assert b.bid_px == [100.0, 100.5] and b.ask_px == [101.5, 102.0]
    assert b.bid_levels(5) == [(100.5, 5.0), (100.0, 1.0)]
    assert b.depth_sums(1) == (5.0, 6.0)
    b.apply_bids([("98", "0")])  # removing an absent level is a no-op
    assert len(b) == 4 and not b.crossed


def test_book_reports_level_changes_with_their_rank_from_the_touch() -> None:
    seen = []
    b = book_with({100.0: 1, 99.0: 2, 98.0: 3}, {101.0: 1, 102.0: 2})
    b.track_levels = 2
    b.observer = lambda is_bid, rank, delta, px: seen.append((is_bid, rank, delta, px))
    b.apply_bids([("99", "5"), ("98", "1"), ("100", "0")])
    b.apply_asks([("100.5", "4")])
    # 98 is rank 2 (outside the 2 tracked levels); removing 100 is a cancel of 1 at rank 0.
    assert seen == [(True, 1, 3.0, 99.0), (True, 0, -1.0, 100.0), (False, 0, 4.0, 100.5)]


def feats(**kw) -> tuple[SymbolFeatures, L2Book]:  # noqa: ANN003
    b = book_with({100.0: 4, 99.9: 4, 99.8: 2}, {100.1: 1, 100.2: 1, 100.3: 2})
    f = SymbolFeatures("X", b, FeatureParams(obi_levels=2, tfi_window_ms=1000, vol_window_ms=10_000,
                                             trap_levels=3, trap_window_ms=1000, **kw))
    return f, b


def test_spread_microprice_and_obi() -> None:
    f, _ = feats()
    f.on_ticker(100.0, 3.0, 100.1, 1.0, 5, 1_000)
    assert f.ready
    assert f.spread_bps == pytest.approx(0.1 / 100.05 * 1e4)
    # Microprice leans to the ask when the bid is heavier: (100*1 + 100.1*3) / 4.
    assert f.microprice == pytest.approx(100.075)
    assert f.micro_tilt == pytest.approx(0.5)
    assert f.obi() == pytest.approx((8 - 2) / 10)  # top 2 levels: 4+4 vs 1+1


def test_trade_flow_imbalance_over_its_window() -> None:
    f, _ = feats()
    f.on_trade(100.1, 3.0, False, 1_000)  # taker buy
    f.on_trade(100.0, 1.0, True, 1_500)  # taker sell
    assert f.tfi() == pytest.approx(0.5)
    assert f.tfi(now_ms=2_200) == pytest.approx(-1.0)  # the buy at t=1000 left the 1 s window
    assert f.tfi(now_ms=5_000) == 0.0


def test_short_horizon_volatility_from_100ms_mid_returns() -> None:
    f, _ = feats()
    mids = [100.0, 100.1, 100.0, 100.1, 100.0]
    for i, m in enumerate(mids):
        f.on_ticker(m - 0.05, 1, m + 0.05, 1, i, 1_000 + i * 100)
    rets = [math.log(mids[i + 1] / mids[i]) for i in range(4)]
    mean = sum(rets) / 4
    want = math.sqrt(sum((r - mean) ** 2 for r in rets) / 4) * 1e4 * math.sqrt(10)
    assert f.vol_std_bps() == pytest.approx(want)
    f.on_ticker(99.95, 1, 100.05, 1, 9, 1_450)  # < 100 ms after the last sample: not sampled
    assert f.vol_std_bps() == pytest.approx(want)


def test_trap_volumes_count_adds_and_cancels_per_level_but_not_trades() -> None:
    f, b = feats()
    f.on_trade(100.0, 1.5, True, 900)  # 1.5 traded at the best bid
    b.apply_bids([("100", "2"), ("99.9", "6")])  # 100: -2 (1.5 traded, 0.5 cancelled); 99.9: +2
    b.apply_asks([("100.2", "0")])  # ask rank 1 pulled: cancel 1
    f.end_diff(1_000)
    adds, cancels = f.trap_volumes(1_000)
    assert adds == [0.0, 2.0, 0.0]
    assert cancels == pytest.approx([0.5, 1.0, 0.0])
    b.apply_asks([("100.1", "3")])  # +2 at the ask touch
    f.end_diff(1_600)
    adds, cancels = f.trap_volumes(1_600)
    assert adds == [2.0, 2.0, 0.0]
    adds, cancels = f.trap_volumes(2_100)  # the first bucket (t=1000) left the 1 s window
    assert adds == [2.0, 0.0, 0.0] and cancels == [0.0, 0.0, 0.0]
    f.reset_book_state()
    assert f.trap_volumes(2_100) == ([0.0, 0.0, 0.0], [0.0, 0.0, 0.0])
