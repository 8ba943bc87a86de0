"""Market-data sanity: the quote a check was judged on must be a quote, and a fresh one.

Runs before everything else, exits included (a closing order priced off a broken book is not safe):

* ``MARKET_DATA_INVALID`` — a crossed (bid > ask) or locked (bid == ask) book, a non-positive size at the
  touch, or a ``spread_bps`` that disagrees with the bid/ask it came with by more than
  ``guards.spread_bps_tolerance`` bps plus 1% (a client's summary of the book that is not the book);
* ``STALE_MARKET_DATA`` — the quote is older than ``guards.max_quote_age_ms``: the gate clock minus
  ``market.ts_ns`` (when the runner asked), plus ``market.book_age_ms`` when the runner sends how old its
  book already was; with ``guards.require_quote_ts`` a check without ``ts_ns`` is stale too.

Every later guard uses the spread computed here from the book (``DecisionState.spread_bps``).
"""

from __future__ import annotations

from aurora.config.models import AuroraConfig
from aurora.gate.guard import CheckRequest, DecisionState, Reason

_REL_TOLERANCE = 0.01  # of the book's spread: rounding by the client, never a different book


_AGE_KEY = "guards.max_quote_age_ms"


class MarketGuard:
    name = "market"

    def __init__(self, cfg: AuroraConfig) -> None:
        self.configure(cfg)

    def configure(self, cfg: AuroraConfig) -> None:
        g = cfg.guards
        self.max_age_ms = g.max_quote_age_ms
        self.require_ts = g.require_quote_ts
        self.tolerance_bps = g.spread_bps_tolerance

    def check(self, r: CheckRequest, d: DecisionState, now_ns: int) -> str | None:
        bid, ask = r.best_bid, r.best_ask
        if bid >= ask:
            return self._invalid(d, r, "crossed book (bid > ask)" if bid > ask else "locked book (bid == ask)")
        if r.bid_size <= 0.0 or r.ask_size <= 0.0:
            return self._invalid(d, r, "non-positive size at the touch")
        spread = (ask - bid) / ((ask + bid) * 0.5) * 1e4
        claimed = r.spread_bps
        tol = self.tolerance_bps + _REL_TOLERANCE * spread
        if claimed - spread > tol or spread - claimed > tol:
            return self._invalid(d, r, "spread_bps contradicts best_bid/best_ask", spread_bps_book=spread,
                                 off_bps=abs(claimed - spread), tolerance_bps=tol,
                                 key="guards.spread_bps_tolerance")  # fmt: skip
        d.spread_bps = spread
        ts = r.ts_ns
        if ts is None:
            if self.require_ts:
                d.obs["market"] = {"why": "no market.ts_ns: the quote's age is unknown", "key": "guards.require_quote_ts",
                                   "pass": False}  # fmt: skip
                return Reason.STALE_MARKET_DATA
            age_ms = None
        else:
            age_ms = (now_ns - ts) / 1e6
            if r.book_age_ms is not None:
                age_ms += r.book_age_ms
            if age_ms > self.max_age_ms:
                d.obs["market"] = {"quote_age_ms": age_ms, "max_quote_age_ms": self.max_age_ms,
                                   "book_age_ms": r.book_age_ms, "key": _AGE_KEY, "pass": False}  # fmt: skip
                return Reason.STALE_MARKET_DATA
        d.obs["market"] = {"spread_bps_book": spread, "quote_age_ms": age_ms, "pass": True}
        return None

    @staticmethod
    def _invalid(d: DecisionState, r: CheckRequest, why: str, **extra: float | str) -> str:
        d.obs["market"] = {"why": why, "best_bid": r.best_bid, "best_ask": r.best_ask, "bid_size": r.bid_size,
                           "ask_size": r.ask_size, "spread_bps": r.spread_bps, **extra, "pass": False}  # fmt: skip
        return Reason.MARKET_DATA_INVALID
