"""Test helpers for the kill functionality: a feed that can go quiet, a reject storm, resting orders.

* :data:`RESTING`: a runner config whose entries join the touch and rest, with a take-profit within the
  gate's price collar that rests too (two symbols, so an entry and an exit can rest at the same time).

* :class:`PausableFeed` wraps a live feed; ``pause()`` holds the next message back (no market data at
  all: no fills, no checks, no venue time from the market), ``resume()`` lets it go on.
* :func:`reject_storm` (:func:`storm_checks`, then :func:`reject`): orders of an account that the gate
  allows and the exchange refuses, asked for and reported as a client does (the checks can be asked
  ahead, so that the storm itself is only the rejects). It stands for another client of the same account (on another symbol)
  whose orders the exchange refuses: the kill-switch counts the account's venue outcomes, whoever sent
  them, and puts the whole account in REDUCING.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson

from aurora.orders.fsm import OrderState
from runner.feeds.base import Feed
from runner.orders import OrderTracker, TrackedOrder

SYMBOLS = [{"symbol": "SOLUSDT", "qty": 1.0}, {"symbol": "SOONUSDT", "qty": 20.0}]
#: Entries join the touch and rest; a take-profit far away rests too; nothing times out during a test.
RESTING = {
    "runner": {"mode": "paper", "wind_down_s": 2.0, "gate_state_poll_ms": 500},
    "symbols": SYMBOLS,
    "feed": {"source": "synthetic", "seed": 3, "realtime": True},
    "strategy": {"score_threshold": 0.1, "enr_threshold_bps": -100.0, "cooldown_ms": 100, "warmup_s": 0.3,
                 "entry": "join", "order_ttl_s": 60.0, "tp_bps": 40.0, "sl_bps": 40.0, "max_hold_s": 60.0,
                 "max_open_orders": 4},
    "parent_gate": {"enabled": False},
    "gate": {"timeout_ms": 500},
}  # fmt: skip


def runner_events(runner, code: str) -> list[dict]:  # noqa: ANN001
    """The runner's own records of one code (``runner_events.jsonl``)."""
    path = runner.session_dir / "runner_events.jsonl"
    return [e for e in map(orjson.loads, path.read_bytes().splitlines()) if e["event_code"] == code]


class PausableFeed(Feed):
    name = "pausable"

    def __init__(self, inner: Feed) -> None:
        super().__init__(inner.symbols)
        self.inner = inner
        self.clock_offset_ns = inner.clock_offset_ns
        self.stats = inner.stats
        self._running = asyncio.Event()
        self._running.set()
        self.paused_at_ns: int | None = None

    @property
    def on_event(self):  # noqa: ANN201 - the base class's attribute, forwarded
        return self.inner.on_event

    @on_event.setter
    def on_event(self, sink) -> None:  # noqa: ANN001
        if hasattr(self, "inner"):
            self.inner.on_event = sink

    def request_snapshot(self, symbol: str) -> None:
        self.inner.request_snapshot(symbol)

    def pause(self) -> None:
        self._running.clear()
        self.paused_at_ns = time.time_ns()

    def resume(self) -> None:
        self._running.set()

    async def __aiter__(self) -> AsyncIterator[tuple[int, bytes]]:
        async for recv_ns, raw in self.inner:
            if not self._running.is_set():
                await self._running.wait()
                recv_ns = time.time_ns()
            yield recv_ns, raw

    async def aclose(self) -> None:
        await self.inner.aclose()
        self._running.set()


def storm_checks(url: str, api_token: str, *, account: str, n: int, symbol: str = "ETHUSDT",
                 prefix: str = "storm") -> list[dict[str, Any]]:  # fmt: skip
    """Ask the gate about ``n`` orders of ``account`` (prices and sizes differ: no duplicate; the plan's edge
    is wide, so its expected-return guard passes them); the orders it allowed, ready to be rejected."""
    allowed = []
    with httpx.Client(base_url=url, headers={"X-API-TOKEN": api_token}, timeout=5) as client:
        for i in range(n):
            cid = f"{prefix}-{i}-{time.monotonic_ns()}"
            bid, ask = 3000.0 + i, 3000.5 + i
            order = {"cid": cid, "symbol": symbol, "side": "buy", "qty": round(0.05 + 0.001 * i, 3),
                     "price": round(ask, 2), "order_type": "limit", "reduce_only": False}  # fmt: skip
            market = {"best_bid": bid, "best_ask": ask, "bid_size": 50.0, "ask_size": 50.0,
                      "spread_bps": (ask - bid) / ((ask + bid) / 2) * 1e4, "latency_ms": 1.0, "vol_std_bps": 5.0,
                      "score": 3.0, "tp_bps": 100.0, "sl_bps": 10.0, "l2_add_volumes": [5.0] * 5,
                      "l2_cancel_volumes": [1.0] * 5, "ts_ns": time.time_ns()}  # fmt: skip
            r = client.post("/pretrade/check", json={"account": {"id": account}, "order": order, "market": market})
            r.raise_for_status()
            if r.json()["allow"]:
                allowed.append(order)
    return allowed


def reject(url: str, api_token: str, *, account: str, orders: list[dict[str, Any]]) -> None:
    """The venue refused these (allowed) orders: SUBMIT then REJECT each, as the client reports them."""
    with httpx.Client(base_url=url, headers={"X-API-TOKEN": api_token}, timeout=5) as client:
        for o in orders:
            for code, details in (("ORDER.SUBMIT", {"price": o["price"], "order_type": "limit", "reduce_only": False}),
                                  ("ORDER.REJECT", {"reason": "VENUE_REJECT: -2019 Margin is insufficient"})):
                body = {"event_code": code, "ts_ns": time.time_ns(), "cid": o["cid"], "account": account,
                        "symbol": o["symbol"], "side": o["side"], "qty": o["qty"], "details": details}  # fmt: skip
                client.post("/posttrade/log", json=body).raise_for_status()


def reject_storm(url: str, api_token: str, *, account: str, n: int) -> int:
    """``n`` orders of ``account`` asked for, allowed, then rejected by the venue; how many were rejected."""
    orders = storm_checks(url, api_token, account=account, n=n)
    reject(url, api_token, account=account, orders=orders)
    return len(orders)


def resting(tracker: OrderTracker, *, reduce_only: bool) -> list[TrackedOrder]:
    """Orders resting on the venue (acknowledged, not done, no cancel sent) of one kind."""
    return [o for o in tracker.orders.values()
            if o.state in (OrderState.ACKED, OrderState.PARTIALLY_FILLED) and not o.cancel_sent
            and o.reduce_only is reduce_only]  # fmt: skip


async def wait_until(pred, timeout_s: float, step_s: float = 0.005) -> bool:  # noqa: ANN001
    """Poll ``pred`` on the running loop (the runner's): True as soon as it holds, False at the timeout."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if pred():
            return True
        await asyncio.sleep(step_s)
    return bool(pred())
