"""Book sync rules: snapshot + first-event rule, the pu chain, duplicates, reorders and gaps."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runner.book import L2Book
from runner.feeds.book_sync import BookSync


def diff(U: int, u: int, pu: int, bids=(), asks=()) -> dict:  # noqa: N803 - Binance's field names
    return {"E": u, "U": U, "u": u, "pu": pu, "b": [list(x) for x in bids], "a": [list(x) for x in asks]}


def snapshot(last: int, bids=(), asks=()) -> dict:
    return {"lastUpdateId": last, "bids": [list(x) for x in bids], "asks": [list(x) for x in asks]}


class Harness:
    def __init__(self) -> None:
        self.requests: list[str] = []
        self.events: list[tuple[str, dict]] = []
        self.book = L2Book("SOLUSDT")
        self.sync = BookSync("SOLUSDT", self.book, self.requests.append, lambda c, d: self.events.append((c, d)))


def test_first_diff_requests_a_snapshot_and_buffered_diffs_apply_after_it() -> None:
    h = Harness()
    assert not h.sync.on_diff(diff(95, 99, 90, bids=[("10.0", "1")]))
    assert not h.sync.on_diff(diff(100, 104, 99, bids=[("10.1", "2")]))
    assert h.requests == ["SOLUSDT"]  # asked once, not per diff
    assert not h.sync.on_diff(diff(105, 107, 104, asks=[("10.3", "5")]))
    h.sync.on_snapshot(snapshot(102, bids=[("10.0", "1"), ("9.9", "4")], asks=[("10.2", "3")]))
    # u=99 (<= 102) was dropped; 100..104 straddles the snapshot (U <= 102 <= u) and applies; 107 chains.
    assert h.sync.synced and h.sync.last_u == 107
    assert h.book.bids == {10.0: 1.0, 9.9: 4.0, 10.1: 2.0}
    assert h.book.asks == {10.2: 3.0, 10.3: 5.0}
    assert h.sync.counters["applied"] == 2
    assert h.events == []  # an initial sync is not a resync


def test_a_snapshot_older_than_the_first_diff_is_refused_and_another_requested() -> None:
    h = Harness()
    h.sync.on_diff(diff(110, 112, 109))
    h.sync.on_diff(diff(113, 114, 112))
    h.sync.on_snapshot(snapshot(100))  # 101..109 are missing
    assert not h.sync.synced
    assert h.requests == ["SOLUSDT", "SOLUSDT"]
    h.sync.on_snapshot(snapshot(111))
    assert h.sync.synced and h.sync.last_u == 114
    assert h.sync.counters["gaps"] == 0  # an old snapshot is not a feed gap


def test_an_event_chained_to_the_snapshot_id_is_accepted() -> None:
    # pu == lastUpdateId: the event right after one that ended at the snapshot; nothing is missing.
    h = Harness()
    h.sync.on_diff(diff(101, 103, 100, bids=[("1.0", "1")]))
    h.sync.on_snapshot(snapshot(100))
    assert h.sync.synced and h.book.bids == {1.0: 1.0}


def test_the_five_line_chain_from_the_issue_syncs() -> None:
    # Snapshot 100; (90, 100) ends exactly at it; then non-contiguous ids (U is not pu + 1).
    h = Harness()
    h.sync.on_snapshot(snapshot(100, bids=[("5.0", "1")], asks=[("5.2", "1")]))
    assert h.sync.on_diff(diff(90, 100, 85, bids=[("5.0", "1")]))
    assert h.sync.on_diff(diff(105, 110, 100, bids=[("5.1", "2")]))
    assert h.sync.on_diff(diff(118, 121, 110, asks=[("5.2", "0")]))
    assert h.sync.on_diff(diff(130, 140, 121, asks=[("5.3", "4")]))
    assert h.sync.synced and h.sync.counters["applied"] == 4 and h.sync.counters["gaps"] == 0
    assert h.book.bids == {5.0: 1.0, 5.1: 2.0} and h.book.asks == {5.3: 4.0}


def test_u_equal_to_the_snapshot_id_is_the_first_event_not_a_duplicate() -> None:
    h = Harness()
    h.sync.on_diff(diff(95, 99, 90))  # older than the snapshot: dropped
    h.sync.on_diff(diff(100, 102, 99, bids=[("7.0", "3")]))  # u == lastUpdateId
    h.sync.on_diff(diff(107, 109, 102, bids=[("7.1", "1")]))
    h.sync.on_snapshot(snapshot(102, bids=[("7.0", "3")], asks=[("7.5", "1")]))
    assert h.sync.synced and h.sync.last_u == 109
    assert h.sync.counters["dropped"] == 1 and h.sync.counters["applied"] == 2
    assert h.book.bids == {7.0: 3.0, 7.1: 1.0}


def test_a_gap_with_no_snapshot_to_come_leaves_the_symbol_unsynced_with_no_book() -> None:
    # A replay has no REST side: the request goes nowhere and the book stays empty (nothing to trade on).
    h = synced()
    h.sync.on_diff(diff(20, 25, 18))  # 11..18 lost
    h.sync.on_diff(diff(26, 30, 25))
    for k in range(10):
        h.sync.on_diff(diff(31 + 10 * k, 40 + 10 * k, 30 + 10 * k))
    assert not h.sync.synced and h.sync.counters["gaps"] == 1
    assert len(h.book) == 0 and not h.book.bid_px
    assert h.sync.counters["buffered"] >= 10


def synced() -> Harness:
    h = Harness()
    h.sync.on_diff(diff(1, 10, 0))
    h.sync.on_snapshot(snapshot(9, bids=[("5.0", "1")], asks=[("5.1", "1")]))  # the diff straddles it
    assert h.sync.last_u == 10
    return h


def test_duplicates_are_ignored_and_counted() -> None:
    h = synced()
    d = diff(11, 12, 10, bids=[("5.0", "2")])
    assert h.sync.on_diff(d)
    assert not h.sync.on_diff(d)
    assert h.sync.counters["duplicates"] == 1
    assert h.book.bids[5.0] == 2.0


def test_a_one_message_swap_is_repaired_without_a_resync() -> None:
    h = synced()
    a = diff(11, 12, 10, bids=[("5.0", "2")])
    b = diff(13, 15, 12, bids=[("5.0", "3")])
    assert not h.sync.on_diff(b)  # held: maybe a is just late
    assert h.sync.on_diff(a)
    assert h.book.bids[5.0] == 3.0 and h.sync.last_u == 15
    assert h.sync.counters["out_of_order"] == 1 and h.sync.counters["gaps"] == 0
    assert h.requests == ["SOLUSDT"]


def test_a_gap_marks_the_book_unsynced_emits_events_and_resyncs() -> None:
    h = synced()
    h.sync.on_diff(diff(13, 15, 12))  # 11..12 lost
    h.sync.on_diff(diff(16, 18, 15))  # still no 11..12: a gap for good
    assert not h.sync.synced
    assert h.sync.counters["gaps"] == 1
    assert [c for c, _ in h.events] == ["RUNNER.FEED_GAP"]
    assert h.events[0][1]["expected_pu"] == 10 and h.events[0][1]["got_pu"] in (12, 15)
    assert h.requests == ["SOLUSDT", "SOLUSDT"]
    h.sync.on_diff(diff(19, 20, 18, asks=[("5.2", "7")]))
    h.sync.on_snapshot(snapshot(18, bids=[("5.0", "9")], asks=[("5.1", "1")]))
    assert h.sync.synced and h.sync.last_u == 20
    assert h.book.asks == {5.1: 1.0, 5.2: 7.0} and h.book.bids == {5.0: 9.0}
    assert [c for c, _ in h.events] == ["RUNNER.FEED_GAP", "RUNNER.FEED_RESYNC"]
    assert h.sync.counters["resyncs"] == 1


def test_an_unrequested_snapshot_while_synced_is_ignored() -> None:
    h = synced()
    h.sync.on_snapshot(snapshot(999))
    assert h.sync.last_u == 10 and h.sync.counters["stale_snapshots"] == 1


# -- property: whatever the faults, once synced the book equals the truth -------------------------

def test_the_chain_is_checked_by_pu_not_by_contiguous_ids() -> None:
    h = synced()
    assert h.sync.on_diff(diff(17, 30, 10))  # U far beyond last u + 1, pu chains: fine
    assert not h.sync.on_diff(diff(31, 35, 29))  # U == last u + 1 but pu does not chain: held
    assert not h.sync.on_diff(diff(36, 40, 35))
    assert not h.sync.synced and h.sync.counters["gaps"] == 1


updates = st.lists(
    st.tuples(st.booleans(), st.integers(0, 12), st.integers(0, 5)), min_size=1, max_size=6
)  # (is_bid, price index, qty; 0 removes)
faults = st.sampled_from(["ok", "ok", "ok", "drop", "dup", "swap"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(updates, faults, st.integers(0, 1000)), min_size=5, max_size=40))
def test_property_book_matches_the_reference_whatever_the_faults(script) -> None:  # noqa: ANN001
    """Random updates with random faults and non-contiguous ids (real USD-M ids jump between events)."""
    truth = {"b": {}, "a": {}}
    uid = 100
    last_u = uid
    h = Harness()

    def serve_snapshot() -> None:
        bids = [(f"{10 - i * 0.1:.1f}", str(q)) for i, q in truth["b"].items()]
        asks = [(f"{11 + i * 0.1:.1f}", str(q)) for i, q in truth["a"].items()]
        h.sync.on_snapshot(snapshot(uid, bids, asks))

    pending: list[dict] = []
    for ups, fault, skip in script:
        uid += skip
        first = uid + 1
        bids, asks = [], []
        for is_bid, idx, qty in ups:
            uid += 1
            side = truth["b" if is_bid else "a"]
            if qty:
                side[idx] = qty
            else:
                side.pop(idx, None)
            (bids if is_bid else asks).append(
                (f"{(10 - idx * 0.1) if is_bid else (11 + idx * 0.1):.1f}", str(qty))
            )
        msg = diff(first, uid, last_u, bids, asks)
        last_u = uid
        if fault == "drop":
            continue
        if fault == "swap" and not pending:
            pending.append(msg)
            continue
        out = [msg, msg] if fault == "dup" else [msg]
        out += pending
        pending.clear()
        for m in out:
            h.sync.on_diff(m)
            while h.requests:
                h.requests.pop()
                serve_snapshot()
    if pending:
        h.sync.on_diff(pending.pop())
    # Two final, fault-free diffs confirm or repair the chain (a gap is confirmed by the next diff).
    for _ in range(2):
        uid += 1
        h.sync.on_diff(diff(uid, uid, last_u))
        last_u = uid
        while h.requests:
            h.requests.pop()
            serve_snapshot()
    if h.sync.synced:
        want_b = {round(10 - i * 0.1, 1): float(q) for i, q in truth["b"].items()}
        want_a = {round(11 + i * 0.1, 1): float(q) for i, q in truth["a"].items()}
        assert h.book.bids == want_b
        assert h.book.asks == want_a
        assert h.book.bid_px == sorted(want_b) and h.book.ask_px == sorted(want_a)
    else:
        assert h.sync.counters["gaps"] >= 1  # unsynced only after a real gap, and waiting for a snapshot
