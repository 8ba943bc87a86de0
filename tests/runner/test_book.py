"""The L2 book: its depth sums stay equal to a fresh count of the levels, whatever the update order."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from runner.book import L2Book

prices = st.integers(min_value=1, max_value=40).map(lambda i: f"{100 + i / 10:.1f}")
qtys = st.sampled_from(["0", "0.5", "1", "2.25", "7"])
levels = st.lists(st.tuples(prices, qtys), max_size=6)
ops = st.lists(
    st.one_of(
        st.tuples(st.just("bids"), levels),
        st.tuples(st.just("asks"), levels),
        st.tuples(st.just("snapshot"), st.tuples(levels, levels)),
        st.tuples(st.just("sums"), st.integers(min_value=1, max_value=8)),
    ),
    max_size=40,
)


def fresh_sums(book: L2Book, n: int) -> tuple[float, float]:
    bids = sorted(book.bids.items(), reverse=True)[:n]
    asks = sorted(book.asks.items())[:n]
    return sum(q for _, q in bids), sum(q for _, q in asks)


@settings(max_examples=300, deadline=None)
@given(ops)
def test_depth_sums_follow_every_change(script: list) -> None:
    book = L2Book("X")
    for op, arg in script:
        if op == "bids":
            book.apply_bids(arg)
        elif op == "asks":
            book.apply_asks(arg)
        elif op == "snapshot":
            book.load_snapshot(arg[0], arg[1], 1)
        else:
            assert book.depth_sums(arg) == fresh_sums(book, arg)
    for n in (1, 3, 5):
        assert book.depth_sums(n) == fresh_sums(book, n)
        assert book.depth_sums(n) == fresh_sums(book, n)  # a second read (from the cache) too


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.booleans(), levels), max_size=30), st.integers(min_value=1, max_value=4))
def test_the_observer_sees_exactly_the_changes_inside_the_tracked_levels(script: list, track: int) -> None:
    seen: list[tuple[bool, int, float, float]] = []
    book = L2Book("X", track_levels=track, observer=lambda *change: seen.append(change))
    shadow: dict[bool, dict[float, float]] = {True: {}, False: {}}
    expected: list[tuple[bool, int, float, float]] = []
    for is_bid, lv in script:
        side = shadow[is_bid]
        for p, q in lv:
            price, qty = float(p), float(q)
            rank = sum(1 for x in side if (x > price if is_bid else x < price))  # strictly better levels
            delta = qty - side.get(price, 0.0)
            if rank < track and delta:
                expected.append((is_bid, rank, delta, price))
            if qty == 0.0:
                side.pop(price, None)
            else:
                side[price] = qty
        (book.apply_bids if is_bid else book.apply_asks)(lv)
    assert seen == expected
    assert book.bids == shadow[True] and book.asks == shadow[False]
