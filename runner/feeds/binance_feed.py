"""The live Binance USD-M feed: two combined-stream websockets, REST depth snapshots, reconnects.

Binance split its USD-M market-data endpoints (2026): ``/public/stream`` carries order-book data
(diff depth, partial depth, bookTicker) and ``/market/stream`` carries trades and mark price. One
connection per endpoint, ``?streams=a/b/c`` for every symbol; messages are combined-stream
``{"stream", "data"}`` text frames, handed on as bytes with their local receipt time.

* **Ping/pong.** The websockets library answers the server's pings and sends its own every
  ``ping_interval_s``; a missing pong closes the connection, which counts as a drop.
* **Reconnect.** A dropped or refused connection is retried with exponential backoff (with jitter)
  from ``reconnect_initial_s`` to ``reconnect_max_s``; each one emits ``RUNNER.FEED_RECONNECT``. The book
  needs no special handling: diffs missed while disconnected break the ``pu`` chain and the book sync
  resyncs from a snapshot.
* **Rollover.** Binance closes connections after 24 h; a connection older than ``max_connection_h``
  is closed and reopened at once (``reason: rollover``).
* **Snapshots.** ``request_snapshot`` fetches ``GET {rest_url}/fapi/v1/depth?symbol=&limit=`` with httpx
  and puts the body in-band as ``<sym>@depthSnapshot``, retrying with backoff on failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from aurora.events.codes import EventCode
from runner.config import BinanceFeedSection
from runner.feeds import wire
from runner.feeds.base import EventSink, Feed, FeedError

if TYPE_CHECKING:
    from runner.registry import FeedRequest


_QUEUE_MAX = 100_000


class BinanceFeed(Feed):
    name = "binance"

    def __init__(self, symbols: list[str], cfg: BinanceFeedSection | None = None,
                 *, on_event: EventSink | None = None) -> None:
        super().__init__(symbols)
        self.cfg = cfg or BinanceFeedSection()
        self.on_event = on_event
        self.clock_offset_ns = 0  # exchange time is (close to) wall time
        self.urls = {
            "public": f"{self.cfg.public_url}?streams={'/'.join(wire.public_streams(self.symbols))}",
            "market": f"{self.cfg.market_url}?streams={'/'.join(wire.market_streams(self.symbols))}",
        }
        for url in self.urls.values():
            if not url.startswith(("ws://", "wss://")):
                raise FeedError(f"feed.binance: {url.split('?')[0]!r} is not a ws:// or wss:// URL")
        self._queue: asyncio.Queue[tuple[int, bytes] | None] = asyncio.Queue(_QUEUE_MAX)
        self._tasks: list[asyncio.Task[None]] = []
        self._snapshot_tasks: dict[str, asyncio.Task[None]] = {}
        self._http: httpx.AsyncClient | None = None
        self._closed = False
        self._rng = random.Random()
        self.stats.update({"connects": {"public": 0, "market": 0}, "reconnects": 0, "rollovers": 0,
                           "snapshots": 0, "snapshot_errors": 0, "dropped_full_queue": 0})

    # -- events -----------------------------------------------------------------------------------
    def _event(self, code: str, details: dict[str, Any]) -> None:
        if self.on_event is not None:
            self.on_event(code, details)

    # -- websockets -------------------------------------------------------------------------------
    async def _connection(self, endpoint: str) -> None:
        cfg = self.cfg
        url = self.urls[endpoint]
        backoff = cfg.reconnect_initial_s
        max_age_s = cfg.max_connection_h * 3600.0
        first = True
        while not self._closed:
            reason = "closed by server"
            try:
                async with connect(url, ping_interval=cfg.ping_interval_s, ping_timeout=cfg.ping_interval_s,
                                   open_timeout=cfg.open_timeout_s, close_timeout=2.0, max_size=2**24,
                                   max_queue=1024, compression=None) as ws:
                    self.stats["connects"][endpoint] += 1
                    if not first:
                        self._event(EventCode.RUNNER_FEED_RECONNECT.value,
                                    {"endpoint": endpoint, "phase": "connected", "url": url.split("?")[0]})
                    first = False
                    backoff = cfg.reconnect_initial_s
                    try:
                        async with asyncio.timeout(max_age_s):
                            while not self._closed:
                                self._put(time.time_ns(), await ws.recv(decode=False))
                    except TimeoutError:
                        reason = "rollover"
            except ConnectionClosed as exc:
                reason = f"connection closed ({exc.rcvd.code if exc.rcvd else 'no close frame'})"
            except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as exc:
                reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            if self._closed:
                return
            if reason == "rollover":
                self.stats["rollovers"] += 1
                delay = 0.0
            else:
                delay = backoff * (0.8 + 0.4 * self._rng.random())
                backoff = min(cfg.reconnect_max_s, backoff * 2)
            self.stats["reconnects"] += 1
            self._event(EventCode.RUNNER_FEED_RECONNECT.value,
                        {"endpoint": endpoint, "phase": "reconnecting", "reason": reason,
                         "delay_s": round(delay, 3)})
            await asyncio.sleep(delay)

    def _put(self, recv_ns: int, raw: bytes) -> None:
        try:
            self._queue.put_nowait((recv_ns, raw))
        except asyncio.QueueFull:
            # The consumer is hopelessly behind: dropping is better than unbounded memory; the book
            # sync notices the hole in the diff chain and resyncs.
            self.stats["dropped_full_queue"] += 1

    # -- snapshots --------------------------------------------------------------------------------
    def request_snapshot(self, symbol: str) -> None:
        symbol = symbol.upper()
        task = self._snapshot_tasks.get(symbol)
        if task is not None and not task.done():
            return
        try:
            self._snapshot_tasks[symbol] = asyncio.get_running_loop().create_task(self._fetch_snapshot(symbol))
        except RuntimeError:  # no loop yet: the first diff will ask again
            pass

    async def _fetch_snapshot(self, symbol: str) -> None:
        if self._http is None:
            self._http = httpx.AsyncClient(base_url=self.cfg.rest_url, timeout=self.cfg.open_timeout_s)
        backoff = self.cfg.reconnect_initial_s
        params = {"symbol": symbol, "limit": self.cfg.depth_snapshot_limit}
        stream = wire.snapshot_stream(symbol).encode()
        while not self._closed:
            try:
                resp = await self._http.get("/fapi/v1/depth", params=params)
                if resp.status_code == 200 and resp.content.lstrip().startswith(b"{"):
                    self.stats["snapshots"] += 1
                    self._put(time.time_ns(), b'{"stream":"' + stream + b'","data":' + resp.content + b"}")
                    return
                why = f"HTTP {resp.status_code}"
            except httpx.HTTPError as exc:
                why = f"{type(exc).__name__}: {exc}"
            self.stats["snapshot_errors"] += 1
            self._event(EventCode.RUNNER_FEED_RESYNC.value,
                        {"symbol": symbol, "phase": "snapshot_failed", "reason": why, "retry_s": round(backoff, 3)})
            await asyncio.sleep(backoff)
            backoff = min(self.cfg.reconnect_max_s, backoff * 2)

    # -- the feed ---------------------------------------------------------------------------------
    async def __aiter__(self) -> AsyncIterator[tuple[int, bytes]]:
        if not self._tasks:
            self._tasks = [asyncio.create_task(self._connection(e), name=f"binance-{e}") for e in self.urls]
        n = 0
        while True:
            item = await self._queue.get()
            if item is None:
                return
            n += 1
            self.stats["messages"] = n
            yield item

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        for task in [*self._tasks, *self._snapshot_tasks.values()]:
            task.cancel()
        for task in [*self._tasks, *self._snapshot_tasks.values()]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._http is not None:
            await self._http.aclose()
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(None)



def open_binance(req: FeedRequest) -> BinanceFeed:
    """``feed.source: binance`` (registered in :mod:`runner.registry`)."""
    return BinanceFeed(req.symbols, req.cfg.binance)
