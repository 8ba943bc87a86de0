"""Build a registry from the exchange's own market list, through ccxt (``auroractl instruments fetch``).

ccxt's unified market fields carry what the registry needs (for Binance they are its filters):
``precision.price`` is the tick (PRICE_FILTER.tickSize), ``precision.amount`` the lot step
(LOT_SIZE.stepSize), ``limits.amount`` the quantity bounds of limit orders (LOT_SIZE), ``limits.market``
those of market orders (MARKET_LOT_SIZE), ``limits.cost.min`` the minimum notional (MIN_NOTIONAL),
``contractSize`` and the venue's status (``info.status``).

``base_url`` points every REST endpoint of the exchange at another server (a mirror, a recorded stub in
tests): each URL keeps its path and takes the new scheme and host.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError

from aurora.instruments.registry import (
    FORMAT,
    InstrumentRegistry,
    InstrumentSpec,
    parse_registry,
    step_decimals,
)

#: Venues ``instruments fetch`` knows how to read (ccxt exchange id -> what it is).
VENUES: dict[str, str] = {"binanceusdm": "Binance USD-M futures"}


class FetchError(Exception):
    """The market list could not be fetched or read; the message says from where and why."""


def _rebase(urls: Any, base: str) -> Any:
    if isinstance(urls, dict):
        return {k: _rebase(v, base) for k, v in urls.items()}
    if isinstance(urls, str) and urls.startswith(("http://", "https://")):
        return base + urlsplit(urls).path
    return urls


def _num(x: Any) -> float | None:
    if x is None:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if v == v else None


def market_entry(m: dict[str, Any]) -> dict[str, Any] | None:
    """A registry entry from one ccxt market, or None when it lacks a tick or a step (not tradable here)."""
    precision = m.get("precision") or {}
    limits = m.get("limits") or {}
    tick, step = _num(precision.get("price")), _num(precision.get("amount"))
    if not tick or not step or tick <= 0 or step <= 0:
        return None
    amount = limits.get("amount") or {}
    market = limits.get("market") or {}
    price = limits.get("price") or {}
    cost = limits.get("cost") or {}
    info = m.get("info") or {}
    status = info.get("status") or info.get("contractStatus") or ("TRADING" if m.get("active") else "INACTIVE")
    max_qty = _num(amount.get("max"))
    max_market = _num(market.get("max"))
    entry = {
        "tick": tick, "step": step, "min_qty": _num(amount.get("min")) or 0.0,
        "max_qty": max_qty if max_qty else None, "max_market_qty": max_market if max_market else None,
        "min_notional": _num(cost.get("min")) or 0.0, "contract_size": _num(m.get("contractSize")) or 1.0,
        "price_precision": step_decimals(tick), "qty_precision": step_decimals(step), "status": str(status),
        "base": m.get("base"), "quote": m.get("quote"), "settle": m.get("settle"), "kind": m.get("type"),
        "ccxt_symbol": m.get("symbol"), "min_price": _num(price.get("min")) or None, "max_price": _num(price.get("max")) or None,
    }  # fmt: skip
    return {k: v for k, v in entry.items() if v is not None}


@dataclass
class FetchResult:
    registry: InstrumentRegistry
    skipped: dict[str, str]  # market id -> why it is not in the registry


def fetch_registry(
    venue: str = "binanceusdm",
    *,
    base_url: str | None = None,
    timeout_ms: int = 10_000,
    exchange_factory: Callable[[dict[str, Any]], Any] | None = None,
) -> FetchResult:
    """Load the venue's markets with ccxt and return them as a registry (raises :class:`FetchError`)."""
    if venue not in VENUES:
        raise FetchError(f"unknown venue {venue!r}; known: {', '.join(VENUES)}")
    import ccxt  # ~0.5 s to import: only this command needs it

    params = {"enableRateLimit": True, "timeout": timeout_ms,
              "options": {"defaultType": "swap", "fetchCurrencies": False, "fetchMarkets": {"types": ["linear"]}}}  # fmt: skip
    exchange = (exchange_factory or getattr(ccxt, venue))(params)
    if base_url:
        base = base_url.rstrip("/")
        if not base.startswith(("http://", "https://")):
            raise FetchError(f"--url {base_url!r} is not an http(s) URL")
        exchange.urls["api"] = _rebase(exchange.urls["api"], base)
    source_url = base_url or next((u for u in _urls(exchange.urls.get("api")) if "fapi" in u), venue)
    try:
        markets = exchange.load_markets()
    except Exception as exc:  # noqa: BLE001 - ccxt's errors (network, exchange, parsing) all mean "not fetched"
        raise FetchError(f"{VENUES[venue]} market list from {source_url}: {type(exc).__name__}: {str(exc)[:300]}") from None
    finally:
        close = getattr(exchange, "close", None)
        if callable(close):
            close()
    entries: dict[str, dict[str, Any]] = {}
    skipped: dict[str, str] = {}
    for m in markets.values():
        mid = m.get("id")
        if not mid or str(mid) in entries:
            continue
        entry = market_entry(m)
        if entry is None:
            skipped[str(mid)] = "no tick or lot step"
            continue
        try:
            InstrumentSpec.model_validate(entry)
        except ValidationError as exc:  # one odd market must not cost the whole registry
            skipped[str(mid)] = exc.errors(include_url=False, include_input=False)[0]["msg"]
            continue
        entries[str(mid)] = entry
    if not entries:
        raise FetchError(f"{VENUES[venue]} market list from {source_url}: no market with a tick and a lot step")
    doc = {
        "format": FORMAT,
        "source": f"{VENUES[venue]} market list ({source_url}) through ccxt {getattr(ccxt, '__version__', '?')}",
        "fetched_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "venues": {venue: entries},
    }
    return FetchResult(parse_registry(doc, Path(f"<{venue} market list>")), skipped)


def _urls(x: Any) -> list[str]:
    if isinstance(x, dict):
        return [u for v in x.values() for u in _urls(v)]
    return [x] if isinstance(x, str) else []
