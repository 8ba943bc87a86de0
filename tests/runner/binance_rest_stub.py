"""A local stand-in for the handful of Binance USD-M REST endpoints ccxt's ``binanceusdm`` calls.

``exchangeInfo`` and ``time`` for start-up; ``POST/GET/DELETE /fapi/v1/order`` for orders and
``DELETE /fapi/v1/allOpenOrders`` (cancel every open order of a symbol). Signed
requests are checked like Binance does: ``X-MBX-APIKEY`` must be the key and ``signature`` the
HMAC-SHA256 of the other parameters with the secret. Orders rest until the test fills them
(``fill``); a quantity above ``reject_above`` is refused with Binance's margin error.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

SYMBOL_INFO = {
    "symbol": "SOLUSDT", "pair": "SOLUSDT", "contractType": "PERPETUAL", "deliveryDate": 4133404800000,
    "onboardDate": 1569398400000, "status": "TRADING", "maintMarginPercent": "2.5000",
    "requiredMarginPercent": "5.0000", "baseAsset": "SOL", "quoteAsset": "USDT", "marginAsset": "USDT",
    "pricePrecision": 2, "quantityPrecision": 2, "baseAssetPrecision": 8, "quotePrecision": 8,
    "underlyingType": "COIN", "underlyingSubType": ["Layer-1"], "settlePlan": 0, "triggerProtect": "0.0500",
    "liquidationFee": "0.012500", "marketTakeBound": "0.05", "maxMoveOrderLimit": 10000,
    "filters": [
        {"filterType": "PRICE_FILTER", "minPrice": "0.01", "maxPrice": "100000", "tickSize": "0.01"},
        {"filterType": "LOT_SIZE", "minQty": "0.01", "maxQty": "100000", "stepSize": "0.01"},
        {"filterType": "MARKET_LOT_SIZE", "minQty": "0.01", "maxQty": "10000", "stepSize": "0.01"},
        {"filterType": "MAX_NUM_ORDERS", "limit": 200},
        {"filterType": "MIN_NOTIONAL", "notional": "5"},
        {"filterType": "PERCENT_PRICE", "multiplierUp": "1.05", "multiplierDown": "0.95", "multiplierDecimal": "4"},
    ],
    "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET"],
    "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
}  # fmt: skip


class BinanceRestStub:
    def __init__(self, key: str, secret: str) -> None:
        self.key, self.secret = key, secret
        self.orders: dict[int, dict[str, Any]] = {}
        self.calls: list[tuple[str, str]] = []
        self.auth_failures = 0
        self.reject_above = 1e9
        self.market_price = "150.00"
        self._next_id = 7_000_000_000
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- test controls ----------------------------------------------------------------------------
    def fill(self, order_id: int, qty: float, price: str) -> None:
        with self._lock:
            o = self.orders[order_id]
            executed = float(o["executedQty"]) + qty
            o["executedQty"] = f"{executed:.2f}"
            o["avgPrice"] = price
            o["cumQuote"] = f"{executed * float(price):.4f}"
            o["status"] = "FILLED" if executed >= float(o["origQty"]) - 1e-9 else "PARTIALLY_FILLED"
            o["updateTime"] = int(time.time() * 1000)

    def by_client_id(self, cid: str) -> dict[str, Any]:
        return next(o for o in self.orders.values() if o["clientOrderId"] == cid)

    # -- server -----------------------------------------------------------------------------------
    def start(self) -> BinanceRestStub:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall

            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, code: int, body: Any) -> None:
                raw = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _params(self) -> tuple[dict[str, str], str]:
                url = urlsplit(self.path)
                body = self.rfile.read(int(self.headers.get("content-length") or 0)).decode()
                return dict(parse_qsl(url.query) + parse_qsl(body)), url.query + body

            def _signed(self, params: dict[str, str], total: str) -> bool:
                sig = params.get("signature", "")
                payload = total.replace(f"&signature={sig}", "").replace(f"signature={sig}", "")
                want = hmac.new(stub.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
                ok = self.headers.get("X-MBX-APIKEY") == stub.key and hmac.compare_digest(sig, want)
                if not ok:
                    stub.auth_failures += 1
                    self._send(401, {"code": -1022, "msg": "Signature for this request is not valid."})
                return ok

            def _handle(self, method: str) -> None:
                path = urlsplit(self.path).path
                params, total = self._params()
                stub.calls.append((method, path))
                if path == "/fapi/v1/exchangeInfo":
                    self._send(200, {"timezone": "UTC", "serverTime": int(time.time() * 1000), "rateLimits": [],
                                     "exchangeFilters": [], "assets": [], "symbols": [SYMBOL_INFO]})
                elif path == "/fapi/v1/time":
                    self._send(200, {"serverTime": int(time.time() * 1000)})
                elif path == "/fapi/v1/allOpenOrders" and method == "DELETE":
                    if not self._signed(params, total):
                        return
                    with stub._lock:
                        for o in stub.orders.values():
                            if o["symbol"] == params.get("symbol") and o["status"] in ("NEW", "PARTIALLY_FILLED"):
                                o["status"] = "CANCELED"
                    self._send(200, {"code": 200, "msg": "The operation of cancel all open order is done."})
                elif path == "/fapi/v1/order":
                    if not self._signed(params, total):
                        return
                    if method == "POST":
                        self._new_order(params)
                    else:
                        self._existing_order(method, params)
                else:
                    self._send(404, {"code": -5000, "msg": f"stub: no {method} {path}"})

            def _new_order(self, p: dict[str, str]) -> None:
                if float(p["quantity"]) > stub.reject_above:
                    self._send(400, {"code": -2019, "msg": "Margin is insufficient."})
                    return
                with stub._lock:
                    stub._next_id += 1
                    market = p["type"] == "MARKET"
                    o = {
                        "orderId": stub._next_id, "symbol": p["symbol"], "clientOrderId": p.get("newClientOrderId"),
                        "price": p.get("price", "0"), "avgPrice": stub.market_price if market else "0.00",
                        "origQty": p["quantity"], "executedQty": p["quantity"] if market else "0",
                        "cumQuote": "0", "timeInForce": p.get("timeInForce", "GTC"), "type": p["type"],
                        "reduceOnly": p.get("reduceOnly") == "true", "closePosition": False, "side": p["side"],
                        "positionSide": "BOTH", "stopPrice": "0", "workingType": "CONTRACT_PRICE",
                        "priceProtect": False, "origType": p["type"], "status": "FILLED" if market else "NEW",
                        "updateTime": int(time.time() * 1000),
                    }  # fmt: skip
                    stub.orders[o["orderId"]] = o
                self._send(200, o)

            def _existing_order(self, method: str, p: dict[str, str]) -> None:
                with stub._lock:
                    if "orderId" in p:
                        o = stub.orders.get(int(p["orderId"]))
                    else:
                        o = next((x for x in stub.orders.values() if x["clientOrderId"] == p.get("origClientOrderId")), None)
                    if o is None or (method == "DELETE" and o["status"] in ("FILLED", "CANCELED", "EXPIRED")):
                        self._send(400, {"code": -2011, "msg": "Unknown order sent."})
                        return
                    if method == "DELETE":
                        o["status"] = "CANCELED"
                    self._send(200, dict(o))

            def do_GET(self) -> None:  # noqa: N802
                self._handle("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._handle("POST")

            def do_DELETE(self) -> None:  # noqa: N802
                self._handle("DELETE")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
