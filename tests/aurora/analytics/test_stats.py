"""aurora.stats: the one definition of each statistic, checked on known answers and wide inputs."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aurora import stats

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


def test_percentile_is_linear_interpolation_between_ranks():
    x = [1.0, 2.0, 3.0, 4.0, 10.0]
    # rank h = (n - 1) q / 100: p50 -> h=2 -> 3; p95 -> h=3.8 -> 4 + 0.8 * 6 = 8.8; p99 -> h=3.96 -> 9.76
    assert stats.percentile(x, 50) == 3.0
    assert stats.percentile(x, 95) == pytest.approx(8.8)
    assert stats.percentiles(x, (50, 95, 99)) == pytest.approx([3.0, 8.8, 9.76])
    assert stats.percentile([], 50) is None and stats.percentile([float("nan")], 50) is None
    assert stats.describe([0.1, 0.2, 0.3, 0.4], 4) == {
        "n": 4, "p50": 0.25, "p95": 0.385, "p99": 0.397, "mean": 0.25, "max": 0.4,
    }  # fmt: skip
    assert stats.describe([]) == {"n": 0, "p50": None, "p95": None, "p99": None, "mean": None, "max": None}


@given(st.lists(finite, min_size=2, max_size=60), st.floats(min_value=0, max_value=100))
def test_percentile_matches_the_statistics_module_inclusive_method(xs, q):
    # statistics.quantiles(method="inclusive") is the same type-7 definition
    if q in (0, 100):
        expected = min(xs) if q == 0 else max(xs)
    else:
        expected = None
    got = stats.percentile(xs, q)
    if expected is not None:
        assert got == pytest.approx(expected)
    s = sorted(xs)
    h = (len(s) - 1) * q / 100
    lo = math.floor(h)
    hi = min(lo + 1, len(s) - 1)
    assert got == pytest.approx(s[lo] + (h - lo) * (s[hi] - s[lo]), rel=1e-9, abs=1e-6)
    assert min(xs) <= got <= max(xs)


def test_cvar_is_a_positive_loss_and_not_clamped():
    assert stats.cvar_loss([5, 6, 7], 0.1) == -5.0  # a profitable tail: negative CVaR, as the issue asks
    assert stats.cvar_loss([-4, -2, 1, 3], 0.5) == 3.0  # worst ceil(0.5 * 4) = 2: -(-4 - 2) / 2
    assert stats.cvar_loss([-1.0] * 3 + [2.0] * 27, 0.1) == 1.0  # ceil(0.1 * 30) is 3, not 4
    assert stats.cvar_loss([], 0.1) is None
    with pytest.raises(ValueError, match="alpha"):
        stats.cvar_loss([1.0], 0.0)


@given(st.lists(finite, min_size=1, max_size=80), st.floats(min_value=0.01, max_value=1.0))
def test_cvar_is_minus_the_mean_of_the_worst_ceil_alpha_n(xs, alpha):
    k = max(1, math.ceil(alpha * len(xs) - 1e-9))
    assert stats.cvar_loss(xs, alpha) == pytest.approx(-sum(sorted(xs)[:k]) / k, rel=1e-9, abs=1e-6)


def test_ece_known_answer_and_edges():
    p, y = [0.7, 0.6, 0.55, 0.4, 1.0], [1, 0, 1, 0, 1]
    # bins: 7 -> (0.7, 1); 6 -> (0.6, 0), (0.55, 1)... 0.55 * 10 = 5.5 -> bin 5; 4 -> (0.4, 0); 9 -> (1.0, 1)
    expected = (abs(0.7 - 1) + abs(0.6 - 0) + abs(0.55 - 1) + abs(0.4 - 0) + abs(1.0 - 1)) / 5
    assert stats.ece(p, y) == pytest.approx(expected)
    assert stats.ece([], []) is None
    with pytest.raises(ValueError, match="differ in length"):
        stats.ece([0.5], [])


def test_drawdowns_from_a_zero_start():
    pnl = [5.0, -3.0, 2.0, -1.0, -4.0, 1.0]
    # cumulative 5, 2, 4, 3, -1, 0; peak 5 throughout -> drawdown 0, 3, 1, 2, 6, 5
    assert stats.drawdown_curve(pnl).tolist() == [0.0, 3.0, 1.0, 2.0, 6.0, 5.0]
    assert stats.max_drawdown(pnl) == 6.0
    assert stats.max_drawdown([-2.0, 1.0]) == 2.0  # the starting zero is a peak
    assert stats.max_drawdown([]) is None
    day = 86_400 * 10**9
    # two days: day 1 -5 then +5 (dd 5), day 2 starts from 0 again: -1 (dd 1)
    assert stats.max_daily_drawdown([1, 2, day + 1], [-5.0, 5.0, -1.0]) == 5.0
    assert stats.max_daily_drawdown([day + 1, 1, 2], [-1.0, -5.0, 5.0]) == 5.0  # taken in time order


def test_trade_stats_known_answer():
    pnl = [5.0, -3.0, 2.0, -1.0]
    t = stats.trade_stats(pnl)
    mean = 0.75
    assert (t["trades"], t["wins"], t["losses"]) == (4, 2, 2)
    assert t["win_rate"] == 0.5 and t["expectancy"] == mean
    assert t["profit_factor"] == pytest.approx(7 / 4)
    assert t["sharpe"] == pytest.approx(mean / statistics.stdev(pnl))
    assert t["sortino"] == pytest.approx(mean / math.sqrt((9 + 1) / 4))
    assert (t["avg_win"], t["avg_loss"]) == (3.5, -2.0)
    assert stats.trade_stats([1.0, 2.0])["profit_factor"] is None  # no losing trade
    assert stats.trade_stats([])["win_rate"] is None


def test_kill_switch_rule_and_rolling_windows():
    assert stats.rate_pct(1, 4) == 25.0 and stats.rate_pct(0, 0) is None
    assert stats.rate_exceeds(8, 20, 35.0, 20) is True  # 40% > 35% with 20 >= min 20
    assert stats.rate_exceeds(7, 20, 35.0, 20) is False  # 35% is not above 35%
    assert stats.rate_exceeds(10, 19, 35.0, 20) is False  # not judged below min_n
    hits, n = stats.window_counts([1, 0, 1, 1, 0, 0], 3)
    assert hits.tolist() == [1, 1, 2, 2, 2, 1] and n.tolist() == [1, 2, 3, 3, 3, 3]


@given(st.lists(st.booleans(), max_size=60), st.integers(min_value=1, max_value=10))
def test_window_counts_equal_a_streaming_window(flags, window):
    from collections import deque

    q: deque[bool] = deque(maxlen=window)
    hits, n = stats.window_counts(np.array(flags, dtype=bool), window)
    for i, f in enumerate(flags):
        q.append(f)
        assert (hits[i], n[i]) == (sum(q), len(q))


def test_histogram_quantile_is_labelled_approximate_and_interpolates_in_buckets():
    buckets = [(0.001, 10.0), (0.01, 90.0), (0.1, 100.0), (float("inf"), 100.0)]
    # rank 50 falls in (0.001, 0.01]: 0.001 + 0.009 * (50 - 10) / 80
    assert stats.histogram_quantile_approx(buckets, 0.5) == pytest.approx(0.0055)
    assert stats.histogram_quantile_approx([(1.0, 0.0)], 0.5) is None
    assert stats.histogram_quantile_approx([(1.0, 1.0), (float("inf"), 2.0)], 0.99) == 1.0
