"""The live Binance client against a local websockets server speaking the same wire format.

The fake exchange serves ``/public/stream`` (depth + bookTicker) and ``/market/stream`` (aggTrade +
markPrice) from one synthetic market, answers ``GET /fapi/v1/depth`` on the same port, can lose one
diff (a gap the client must resync from) and can drop the public connection (the client must reconnect).
"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import parse_qs, urlsplit

import orjson
from websockets.asyncio.server import ServerConnection, serve

from runner.config import BinanceFeedSection
from runner.feeds import wire
from runner.feeds.binance_feed import BinanceFeed
from runner.feeds.synthetic_feed import SyntheticMarket
from runner.feeds.wire import Kind
from runner.market import MarketData

SYMS = ["SOLUSDT"]


class FakeBinance:
    def __init__(self, *, gap_after_diffs: int = 0, drop_public_after: int = 0) -> None:
        self.market = SyntheticMarket(SYMS, seed=4, start_ms=time.time_ns() // 1_000_000)
        self.clients: dict[str, set[ServerConnection]] = {"public": set(), "market": set()}
        self.subscriptions: list[tuple[str, list[str]]] = []
        self.snapshot_requests: list[str] = []
        self.gap_after_diffs = gap_after_diffs
        self.drop_public_after = drop_public_after
        self.public_sent = 0
        self.diffs = 0
        self.dropped = 0

    def process_request(self, connection: ServerConnection, request):  # noqa: ANN001, ANN201
        url = urlsplit(request.path)
        if url.path == "/fapi/v1/depth":
            q = parse_qs(url.query)
            symbol = q["symbol"][0]
            self.snapshot_requests.append(symbol)
            body = self.market.snapshot(symbol, int(q.get("limit", ["1000"])[0]))
            return connection.respond(200, orjson.dumps(body).decode())
        if url.path not in ("/public/stream", "/market/stream"):
            return connection.respond(404, "not found")
        return None

    async def handler(self, ws: ServerConnection) -> None:
        url = urlsplit(ws.request.path)
        endpoint = url.path.split("/")[1]
        self.subscriptions.append((endpoint, parse_qs(url.query)["streams"][0].split("/")))
        self.clients[endpoint].add(ws)
        try:
            await ws.wait_closed()
        finally:
            self.clients[endpoint].discard(ws)

    async def produce(self) -> None:
        for i, (_, raw) in enumerate(self.market.messages()):
            stream = orjson.loads(raw)["stream"]
            _, kind, name = wire.classify(stream)
            endpoint = "market" if kind in wire.TRADE_KINDS or name == "markPrice" else "public"
            if kind is Kind.DEPTH_DIFF:
                self.diffs += 1
                if self.diffs == self.gap_after_diffs:
                    continue  # lost on the wire: the client sees a pu that does not chain
            for ws in list(self.clients[endpoint]):
                try:
                    await ws.send(raw.decode())
                except Exception:  # noqa: BLE001 - a client that went away
                    pass
            if endpoint == "public" and self.clients["public"]:
                self.public_sent += 1
                if self.public_sent == self.drop_public_after:
                    self.dropped += 1
                    for ws in list(self.clients["public"]):
                        await ws.close(1001, "going away")
            if i % 8 == 0:
                await asyncio.sleep(0.002)


async def run_client(fake: FakeBinance, seconds: float, **cfg) -> tuple[MarketData, BinanceFeed, list]:  # noqa: ANN003
    events: list[tuple[str, dict]] = []
    async with serve(fake.handler, "127.0.0.1", 0, process_request=fake.process_request) as server:
        port = server.sockets[0].getsockname()[1]
        section = BinanceFeedSection(
            public_url=f"ws://127.0.0.1:{port}/public/stream",
            market_url=f"ws://127.0.0.1:{port}/market/stream",
            rest_url=f"http://127.0.0.1:{port}",
            reconnect_initial_s=0.05,
            reconnect_max_s=0.2,
            **cfg,
        )
        feed = BinanceFeed(SYMS, section, on_event=lambda c, d: events.append((c, d)))
        md = MarketData(SYMS, request_snapshot=feed.request_snapshot, on_event=lambda c, d: events.append((c, d)))
        producer = asyncio.create_task(fake.produce())

        async def consume() -> None:
            async for _, raw in feed:
                md.on_raw(raw)

        consumer = asyncio.create_task(consume())
        await asyncio.sleep(seconds)
        await feed.aclose()
        await asyncio.wait_for(consumer, 2)
        producer.cancel()
    return md, feed, events


def test_connects_both_endpoints_builds_the_book_resyncs_on_a_gap_and_reconnects_after_a_drop() -> None:
    fake = FakeBinance(gap_after_diffs=6, drop_public_after=300)
    md, feed, events = asyncio.run(run_client(fake, 2.2))

    # Both split endpoints, each with exactly its own streams.
    subs = {e: set(s) for e, s in fake.subscriptions}
    assert subs["public"] == {"solusdt@depth@100ms", "solusdt@depth5@100ms", "solusdt@bookTicker"}
    assert subs["market"] == {"solusdt@aggTrade", "solusdt@markPrice@1s"}
    kinds = md.stats()["by_kind"]
    assert kinds["agg_trade"] > 0 and kinds["book_ticker"] > 0 and kinds["depth_diff"] > 0
    assert kinds["snapshot"] >= 2
    stats = md.stats()  # mark price and partial depth are known streams the runner does not use
    assert stats["ignored_streams"]["markPrice"] >= 1 and stats["ignored_streams"]["depth5"] >= 1
    assert stats["unknown"] == 0

    # The injected gap was detected and the book resynced from a fresh REST snapshot.
    sync = md.syncs["SOLUSDT"].counters
    assert sync["gaps"] >= 1 and sync["resyncs"] >= 1
    assert len(fake.snapshot_requests) >= 2 and feed.stats["snapshots"] >= 2
    codes = [c for c, _ in events]
    assert "RUNNER.FEED_GAP" in codes and "RUNNER.FEED_RESYNC" in codes

    # The server dropped the public connection: the client reconnected and the data kept flowing.
    assert fake.dropped == 1
    assert feed.stats["connects"]["public"] >= 2 and feed.stats["reconnects"] >= 1
    reconnects = [d for c, d in events if c == "RUNNER.FEED_RECONNECT"]
    assert any(d["endpoint"] == "public" and d["phase"] == "reconnecting" for d in reconnects)
    assert any(d["endpoint"] == "public" and d["phase"] == "connected" for d in reconnects)
    assert fake.public_sent > 330  # messages after the drop reached the reconnected client

    # The book the client built is the exchange's book.
    assert md.syncs["SOLUSDT"].synced
    book = md.books["SOLUSDT"]
    assert book.bid_px and book.ask_px and not book.crossed
    sim = fake.market.sims["SOLUSDT"]
    assert abs(book.best_bid - max(sim.bids) * sim.spec.tick) < 0.2


def test_connections_roll_over_before_their_age_limit() -> None:
    fake = FakeBinance()
    md, feed, events = asyncio.run(run_client(fake, 1.1, max_connection_h=0.4 / 3600))
    assert feed.stats["rollovers"] >= 2
    assert feed.stats["connects"]["public"] >= 2 and feed.stats["connects"]["market"] >= 2
    assert any(d.get("reason") == "rollover" for c, d in events if c == "RUNNER.FEED_RECONNECT")
    assert md.stats()["by_kind"]["book_ticker"] > 0
