"""Binance USD-M demo/testnet and live trading through ccxt's ``binanceusdm`` (async).

* **Endpoints from config.** ``venue.exchange.testnet_url`` (the demo/testnet REST base) or
  ``live_url``; every ``fapi*`` URL of ccxt is pointed at that base, so nothing else is contacted.
* **Keys from the environment only**: ``AURORA_TESTNET_API_KEY``/``_SECRET`` or
  ``AURORA_LIVE_API_KEY``/``_SECRET``. They are never logged: error texts from the exchange are
  scrubbed of the key, the secret and URL query strings (where signatures live).
* **Lifecycle.** ``SUBMIT`` when the order is sent; ``ACK`` (with the exchange's order id) or
  ``REJECT`` from the answer; fills are learned by polling the order (every ``poll_interval_s``) and
  reported as ``PARTIAL``/``FILL`` by the increase of the executed quantity; ``CANCEL.REQUEST`` /
  ``CANCEL.ACK`` around a cancel; ``cancel_all`` is Binance's cancel-all-open-orders request per symbol
  (orders this run does not know of are cancelled too), each known order then queried for its
  ``CANCEL.ACK`` (or the fill that beat it); an order the exchange expired or rejected later becomes
  ``EXPIRE``/``REJECT``. A network error on submit leaves the order ``SUBMITTED`` and the poller asks
  for it by client order id (the gate's AckTracker expires it if the exchange never heard of it).
* **Live** is refused by the runner unless ``venue.live_armed`` is set, ``--i-understand-live`` is given
  and the gate reports itself armed (:meth:`runner.app.Runner._ensure_live_allowed`).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import ccxt.async_support as ccxt_async
from ccxt.base import errors as ccxt_errors

from aurora.events.codes import EventCode
from runner.config import VenueSection
from runner.venues.base import (
    CANCEL_BY_RUNNER,
    LifecycleSink,
    OrderRequest,
    Venue,
    VenueConfigError,
    lifecycle_event,
)

if TYPE_CHECKING:
    from runner.registry import VenueRequest


KEY_VARS = {
    "testnet": ("AURORA_TESTNET_API_KEY", "AURORA_TESTNET_API_SECRET"),
    "live": ("AURORA_LIVE_API_KEY", "AURORA_LIVE_API_SECRET"),
}
_FAPI_PATHS = {
    "fapiPublic": "/fapi/v1",
    "fapiPublicV2": "/fapi/v2",
    "fapiPublicV3": "/fapi/v3",
    "fapiPrivate": "/fapi/v1",
    "fapiPrivateV2": "/fapi/v2",
    "fapiPrivateV3": "/fapi/v3",
    "fapiData": "/futures/data",
}
_QUERY = re.compile(r"\?\S*")


@dataclass
class _Live:
    req: OrderRequest
    sent_ns: int
    oid: str | None = None
    cum: float = 0.0
    acked: bool = False
    done: bool = False
    cancel_requested: bool = False


def exchange_keys(mode: str, environ: Mapping[str, str]) -> tuple[str, str]:
    key_var, secret_var = KEY_VARS[mode]
    key, secret = environ.get(key_var, "").strip(), environ.get(secret_var, "").strip()
    missing = [v for v, x in ((key_var, key), (secret_var, secret)) if not x]
    if missing:
        raise VenueConfigError(f"the {mode} venue needs {' and '.join(missing)} in the environment")
    return key, secret


class CcxtVenue(Venue):
    native_expiry = False  # the runner cancels entries past their TTL itself

    def __init__(
        self,
        sink: LifecycleSink,
        cfg: VenueSection,
        *,
        mode: str,
        environ: Mapping[str, str],
        symbols: list[str],
        exchange_factory: Callable[[dict[str, Any]], Any] | None = None,
    ) -> None:
        super().__init__(sink)
        if mode not in KEY_VARS:
            raise VenueConfigError(f"ccxt venue: unknown mode {mode!r} (testnet or live)")
        self.name = mode
        self.cfg = cfg
        key, secret = exchange_keys(mode, environ)
        self._secrets = (key, secret)
        base = (cfg.exchange.testnet_url if mode == "testnet" else cfg.exchange.live_url).rstrip("/")
        if not base.startswith(("http://", "https://")):
            raise VenueConfigError(f"venue.exchange.{mode}_url: {base!r} is not an http(s) URL")
        self.base_url = base
        params = {
            "apiKey": key,
            "secret": secret,
            "enableRateLimit": True,
            "timeout": int(cfg.exchange.timeout_ms),
            "options": {
                "defaultType": "swap",
                "fetchCurrencies": False,  # a private spot call; not needed for USD-M orders
                "recvWindow": cfg.exchange.recv_window_ms,
                "adjustForTimeDifference": False,
                "fetchMarkets": {"types": ["linear"]},
            },
        }
        self.exchange = (exchange_factory or ccxt_async.binanceusdm)(params)
        for name, path in _FAPI_PATHS.items():
            self.exchange.urls["api"][name] = base + path
        self.symbols = symbols
        self._market_symbol: dict[str, str] = {}
        self._orders: dict[str, _Live] = {}
        self._poller: asyncio.Task[None] | None = None
        self._markets_lock = asyncio.Lock()
        self.counters = {"submitted": 0, "acked": 0, "rejected": 0, "fills": 0, "cancels": 0, "cancel_all": 0,
                         "polls": 0, "errors": 0}

    # -- helpers ----------------------------------------------------------------------------------
    def scrub(self, text: str) -> str:
        """An exchange error text, safe to log: no key, no secret, no query string."""
        text = _QUERY.sub("?…", text)
        for s in self._secrets:
            if s:
                text = text.replace(s, "***")
        return text[:300]

    def _emit(self, code: EventCode, live: _Live, **details: Any) -> None:
        self.sink(lifecycle_event(code, time.time_ns(), live.req, live.oid, **details))

    async def _market(self, symbol: str) -> str:
        if not self._market_symbol:
            async with self._markets_lock:
                if not self._market_symbol:
                    await self.exchange.load_markets()
                    for s in {*self.symbols, symbol}:
                        m = self.exchange.markets_by_id.get(s)
                        if m:
                            self._market_symbol[s] = (m[0] if isinstance(m, list) else m)["symbol"]
        if symbol not in self._market_symbol:
            raise VenueConfigError(f"{symbol} is not listed on {self.base_url}")
        return self._market_symbol[symbol]

    def _ensure_poller(self) -> None:
        if self._poller is None or self._poller.done():
            self._poller = asyncio.get_running_loop().create_task(self._poll_loop(), name="ccxt-poll")

    async def _poll_loop(self) -> None:
        while True:
            await asyncio.sleep(self.cfg.exchange.poll_interval_s)
            await self.poll(time.time_ns())

    # -- orders -----------------------------------------------------------------------------------
    async def submit(self, req: OrderRequest, now_ns: int) -> None:
        self.record_sent(req)
        live = _Live(req, time.time_ns())
        self._orders[req.cid] = live
        self.counters["submitted"] += 1
        self.sink(lifecycle_event(EventCode.ORDER_SUBMIT, live.sent_ns, req, None, price=req.price,
                                  order_type=req.order_type, reduce_only=req.reduce_only))
        params: dict[str, Any] = {"newClientOrderId": req.cid}
        if req.reduce_only:
            params["reduceOnly"] = True
        if req.order_type == "limit":
            params["timeInForce"] = "GTC"
        try:
            symbol = await self._market(req.symbol)
            order = await self.exchange.create_order(symbol, req.order_type, req.side, req.qty, req.price, params)
        except (ccxt_errors.NetworkError, ccxt_errors.RequestTimeout) as exc:
            # Unknown outcome: keep it SUBMITTED and find it by client order id on the next poll.
            self.counters["errors"] += 1
            self._note_error("submit", req, exc)
        except (ccxt_errors.ExchangeError, VenueConfigError) as exc:
            live.done = True
            self.counters["rejected"] += 1
            self._emit(EventCode.ORDER_REJECT, live, reason=f"VENUE_REJECT: {self.scrub(str(exc))}")
        else:
            self._apply(live, order)
        self._ensure_poller()

    def _note_error(self, what: str, req: OrderRequest, exc: Exception) -> None:
        self.sink({"event_code": EventCode.RUNNER_VENUE_ERROR.value, "runner_only": True, "cid": req.cid,
                   "details": {"during": what, "error": type(exc).__name__, "message": self.scrub(str(exc))}})

    def _apply(self, live: _Live, order: dict[str, Any]) -> None:
        """Turn an exchange view of the order into the lifecycle events not yet reported."""
        if live.done:
            return
        if not live.acked and order.get("id"):
            live.oid = str(order["id"])
            live.acked = True
            self.counters["acked"] += 1
            self._emit(EventCode.ORDER_ACK, live, price=live.req.price,
                       latency_ms=round((time.time_ns() - live.sent_ns) / 1e6, 3))
        filled = float(order.get("filled") or 0.0)
        if filled > live.cum + 1e-12:
            delta = filled - live.cum
            live.cum = filled
            final = filled >= live.req.qty - 1e-12
            self.counters["fills"] += 1
            code = EventCode.ORDER_FILL if final else EventCode.ORDER_PARTIAL
            avg = order.get("average") or order.get("price") or live.req.price
            trades = order.get("trades") or []
            trade_id = str(trades[-1].get("id")) if trades and trades[-1].get("id") else f"{live.oid}-{filled:g}"
            self._emit(code, live, fill_qty=delta, fill_price=float(avg) if avg else None, cum_qty=filled,
                       price=live.req.price, trade_id=trade_id)
            if final:
                live.done = True
                return
        status = order.get("status")
        if status == "canceled":
            info = (order.get("info") or {}).get("status", "")
            live.done = True
            if info == "EXPIRED":
                self._emit(EventCode.ORDER_EXPIRE, live, reason="EXCHANGE_EXPIRED", cum_qty=live.cum)
            else:
                if not live.cancel_requested:  # cancelled on the exchange, not by us
                    self._emit(EventCode.ORDER_CANCEL_REQUEST, live, reason="exchange")
                self._emit(EventCode.ORDER_CANCEL_ACK, live, reason="canceled", cum_qty=live.cum)
        elif status == "expired":
            live.done = True
            self._emit(EventCode.ORDER_EXPIRE, live, reason="EXCHANGE_EXPIRED", cum_qty=live.cum)
        elif status == "rejected":
            live.done = True
            self._emit(EventCode.ORDER_REJECT, live, reason="VENUE_REJECT: rejected")

    async def cancel(self, cid: str, now_ns: int, reason: str = CANCEL_BY_RUNNER) -> None:
        live = self._orders.get(cid)
        if live is None or live.done or live.cancel_requested:
            return
        live.cancel_requested = True
        self.counters["cancels"] += 1
        self._emit(EventCode.ORDER_CANCEL_REQUEST, live, reason=reason)
        try:
            symbol = await self._market(live.req.symbol)
            order = await self.exchange.cancel_order(live.oid, symbol) if live.oid else \
                await self.exchange.cancel_order(None, symbol, {"origClientOrderId": cid})
        except ccxt_errors.OrderNotFound:
            await self._refresh(live)  # filled (or gone) before the cancel arrived: the poll tells
        except ccxt_errors.BaseError as exc:
            self.counters["errors"] += 1
            self._note_error("cancel", live.req, exc)
        else:
            self._apply(live, order)

    async def cancel_many(self, cids: list[str], now_ns: int, reason: str) -> None:
        # one request per order, all in flight at once (ccxt's rate limiter spaces them if it must)
        await asyncio.gather(*(self.cancel(cid, now_ns, reason) for cid in cids))

    async def cancel_all(self, symbols: Iterable[str], now_ns: int, reason: str) -> list[str]:
        wanted = sorted(set(symbols))
        mine = [o for o in self._orders.values()
                if o.req.symbol in wanted and not o.done and not o.cancel_requested and o.acked]
        for live in mine:
            live.cancel_requested = True
            self._emit(EventCode.ORDER_CANCEL_REQUEST, live, reason=reason)

        async def one(symbol: str) -> None:
            self.counters["cancel_all"] += 1
            try:
                await self.exchange.cancel_all_orders(await self._market(symbol))
            except (ccxt_errors.BaseError, VenueConfigError) as exc:
                self.counters["errors"] += 1
                self.sink({"event_code": EventCode.RUNNER_VENUE_ERROR.value, "runner_only": True,
                           "details": {"during": "cancel_all", "symbol": symbol, "error": type(exc).__name__,
                                       "message": self.scrub(str(exc))}})  # fmt: skip

        # one request per symbol, at once; then each known order's outcome (CANCEL.ACK, or the fill first)
        await asyncio.gather(*(one(s) for s in wanted))
        await asyncio.gather(*(self._refresh_quietly(o) for o in mine))
        return [o.req.cid for o in mine]

    async def _refresh_quietly(self, live: _Live) -> None:
        try:
            await self._refresh(live)
        except ccxt_errors.BaseError as exc:
            self.counters["errors"] += 1
            self._note_error("cancel_all", live.req, exc)  # the poller asks again

    async def _refresh(self, live: _Live) -> None:
        try:
            symbol = await self._market(live.req.symbol)
            if live.oid:
                order = await self.exchange.fetch_order(live.oid, symbol)
            else:
                order = await self.exchange.fetch_order(None, symbol, {"origClientOrderId": live.req.cid})
        except ccxt_errors.OrderNotFound:
            if not live.acked:
                return  # never reached the exchange; the gate's AckTracker will expire it
            raise
        self._apply(live, order)

    async def poll(self, now_ns: int) -> None:
        self.counters["polls"] += 1
        for live in [o for o in self._orders.values() if not o.done]:
            try:
                await self._refresh(live)
            except ccxt_errors.BaseError as exc:
                self.counters["errors"] += 1
                self._note_error("poll", live.req, exc)

    async def aclose(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._poller
        await self.exchange.close()

    def stats(self) -> dict[str, Any]:
        return {"sent": self.orders_sent, **self.counters}


def open_binance_usdm(req: VenueRequest) -> CcxtVenue:
    """Exchange ``binance_usdm`` for the kinds testnet and live (registered in :mod:`runner.registry`)."""
    return CcxtVenue(req.sink, req.cfg, mode=req.kind, environ=req.environ, symbols=sorted(req.symbols))
