"""The synthetic market: exact wire format, determinism by seed, a valid U/u/pu chain, detected faults."""

from __future__ import annotations

import asyncio
import hashlib

import orjson
import pytest

from runner.feeds.synthetic_feed import FaultPlan, SyntheticFeed, SyntheticMarket
from runner.market import MarketData

SYMS = ["SOLUSDT", "SOONUSDT"]
PARENTS = {"SOONUSDT": "SOLUSDT"}

FIELDS = {
    "bookTicker": ["e", "u", "E", "T", "s", "b", "B", "a", "A"],
    "depth@100ms": ["e", "E", "T", "s", "U", "u", "pu", "b", "a"],
    "depth5@100ms": ["e", "E", "T", "s", "U", "u", "pu", "b", "a"],
    "aggTrade": ["e", "E", "s", "a", "p", "q", "f", "l", "T", "m"],
    "markPrice@1s": ["e", "E", "s", "p", "i", "P", "r", "T"],
}


def stream_bytes(seed: int, steps: int = 1500, faults: FaultPlan | None = None) -> list[bytes]:
    market = SyntheticMarket(SYMS, seed=seed, parents=PARENTS, faults=faults)
    return [raw for _, raw in market.messages(steps)]


def test_same_seed_gives_the_same_bytes_and_another_seed_does_not() -> None:
    a, b, c = stream_bytes(7), stream_bytes(7), stream_bytes(8)
    digest = lambda msgs: hashlib.sha256(b"\n".join(msgs)).hexdigest()  # noqa: E731
    assert digest(a) == digest(b)
    assert digest(a) != digest(c)
    # Fault injection is seeded too.
    f = FaultPlan(gap_every=5, duplicate_every=7, out_of_order_every=11, torn_line_every=13)
    assert stream_bytes(3, 800, f) == stream_bytes(3, 800, f)


def test_messages_are_exact_binance_combined_stream_messages() -> None:
    seen = set()
    for raw in stream_bytes(7, 1000):
        msg = orjson.loads(raw)
        assert list(msg) == ["stream", "data"]
        symbol, _, kind = msg["stream"].partition("@")
        data = msg["data"]
        assert list(data) == FIELDS[kind], kind
        assert data["s"] == symbol.upper()
        seen.add(kind)
        if kind == "aggTrade":
            assert isinstance(data["m"], bool) and data["f"] <= data["l"]
            assert float(data["q"]) > 0
        if kind == "bookTicker":
            assert float(data["b"]) < float(data["a"])
            assert data["e"] == "bookTicker"
        if kind.startswith("depth"):
            assert data["e"] == "depthUpdate"
            assert all(isinstance(p, str) and isinstance(q, str) for p, q in data["b"] + data["a"])
    assert seen == set(FIELDS)


def test_diff_depth_chain_is_consistent() -> None:
    last: dict[str, int] = {}
    n = 0
    for raw in stream_bytes(11, 3000):
        msg = orjson.loads(raw)
        if not msg["stream"].endswith("@depth@100ms"):
            continue
        d = msg["data"]
        assert d["U"] <= d["u"]
        if d["s"] in last:
            assert d["pu"] == last[d["s"]]
            assert d["U"] == last[d["s"]] + 1
        last[d["s"]] = d["u"]
        n += 1
    assert n >= 50


def test_book_rebuilt_from_snapshot_and_diffs_matches_the_generator() -> None:
    market = SyntheticMarket(SYMS, seed=5, parents=PARENTS)
    md = MarketData(SYMS, request_snapshot=market.request_snapshot)
    for _, raw in market.messages(2000):
        md.on_raw(raw)
    for symbol, sim in market.sims.items():
        # Flush the generator's pending diff window so both sides describe the same update id.
        md.on_raw(sim.diff_message(0, 0))
        book = md.books[symbol]
        tick, lot = sim.spec.tick, sim.spec.lot
        assert md.syncs[symbol].synced
        assert book.last_update_id == sim.update_id
        assert {round(p / tick): round(q / lot) for p, q in book.bids.items()} == sim.bids
        assert {round(p / tick): round(q / lot) for p, q in book.asks.items()} == sim.asks


@pytest.mark.parametrize(
    ("plan", "kind"),
    [
        (FaultPlan(gap_every=9), "gap"),
        (FaultPlan(duplicate_every=9), "duplicate"),
        (FaultPlan(out_of_order_every=9), "out_of_order"),
        (FaultPlan(torn_line_every=9), "torn"),
    ],
)
def test_each_fault_kind_is_detected_and_counted(plan: FaultPlan, kind: str) -> None:
    market = SyntheticMarket(SYMS, seed=9, parents=PARENTS, faults=plan)
    events: list[tuple[str, dict]] = []
    md = MarketData(SYMS, request_snapshot=market.request_snapshot, on_event=lambda c, d: events.append((c, d)))
    for _, raw in market.messages(3000):
        md.on_raw(raw)
    injected = market.injected[kind]
    assert injected >= 20
    sync = md.sync_counters()
    total = {k: sum(c[k] for c in sync.values()) for k in ("gaps", "resyncs", "duplicates", "out_of_order")}
    gaps = [d for c, d in events if c == "RUNNER.FEED_GAP"]
    if kind == "gap":
        # The last injected gap may still be waiting for the next diff to confirm it.
        assert injected - 1 <= total["gaps"] <= injected
        assert total["resyncs"] >= total["gaps"] - 1
        assert len(gaps) == total["gaps"]
        assert total["duplicates"] == total["out_of_order"] == 0
    elif kind == "duplicate":
        assert total["duplicates"] == injected
        assert total["gaps"] == total["out_of_order"] == 0
    elif kind == "out_of_order":
        assert total["out_of_order"] == injected
        assert total["gaps"] == 0  # a one-message swap is repaired without a resync
    else:
        assert md.counters["torn"] == injected
        assert injected - 1 <= total["gaps"] <= injected  # a torn diff is a lost diff
    assert all(s.synced for s in md.syncs.values()) or kind in ("gap", "torn")
    assert {c for c, _ in events} <= {"RUNNER.FEED_GAP", "RUNNER.FEED_RESYNC"}


def test_realtime_feed_paces_with_the_wall_clock_and_anchors_now() -> None:
    async def take(n: int) -> tuple[float, list[tuple[int, bytes]]]:
        feed = SyntheticFeed(["SOLUSDT"], seed=1, realtime=True, max_messages=n)
        out = []
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        async for item in feed:
            out.append(item)
        return loop.time() - t0, out

    elapsed, msgs = asyncio.run(take(80))
    first_e = orjson.loads(msgs[0][1])["data"]["E"]
    last_e = orjson.loads(msgs[-1][1])["data"]["E"]
    span_s = (last_e - first_e) / 1000
    assert span_s > 0.15
    assert elapsed >= span_s * 0.9
    # Event times are "now": the receipt stamp trails E by at most the pacing lag.
    lag_ms = (msgs[-1][0] / 1e6) - last_e
    assert -5 < lag_ms < 200
