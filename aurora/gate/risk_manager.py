"""Stage 6: RiskManager — account-level limits over the gate's own :class:`RiskBook`.

``classify`` first decides what an order is, from the gate's own positions (a client's
``reduce_only`` is a claim, verified here): an *exit* reduces a known position, counting exits already
allowed and not yet filled, and is capped at what is left; a ``reduce_only`` order that would open or
grow a position, or with no known position, is ``RISK_REDUCE_ONLY_INVALID``; anything else is *new risk*.

New risk is checked in order: size (``size_scale`` × volatility scaling → ``RISK_SIZE_ZERO``), daily
drawdown (``RISK_DAILY_DD``), CVaR of today's closed trades (``RISK_CVAR``), concurrent positions
including reservations (``RISK_MAX_CONCURRENT``), max notional of the order (``RISK_MAX_NOTIONAL``:
``risk.symbols.<SYMBOL>.max_order_notional``, else ``risk.max_notional_usd``), the position it would make
in its symbol with the account's open orders (``RISK_MAX_POSITION``: ``max_position_notional``), price
collar (``RISK_PRICE_COLLAR``), the throttles (``RISK_RATE_LIMIT``: orders per second per account and
per account and symbol, and cancels per second per account from posted ``ORDER.CANCEL.REQUEST`` events) and
duplicates (same ``cid``, or same account/symbol/side/price/qty within ``duplicate_window_ms`` →
``RISK_DUPLICATE``). An exit is judged on safety only: the duplicate ``cid`` and the price collar.

Notionals are in the instrument's quote currency. The throttle windows are in memory: they are
one second long, shorter than any restart, and are rebuilt from the journal on restore anyway (the
records that feed them are the allowed decisions and the posted cancels).

Equity, the base of the drawdown and CVaR percentages, comes from config (``risk.accounts.<id>`` or
``risk.equity_usd``), lowered — never raised — by a balance the runner reports; the request's
``equity_usd`` is only logged. The risk day rolls at ``risk.day_roll_utc``.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

from aurora.config.models import AuroraConfig
from aurora.gate.guard import CheckRequest, DecisionState, Reason
from aurora.gate.risk_book import EPS, RiskBook
from aurora.stats import cvar_loss

NS = 1_000_000_000
_COLLAR = "risk.price_collar_bps"


def day_offset_ns(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return (int(h) * 3600 + int(m) * 60) * NS


class RiskManager:
    name = "risk"

    def __init__(self, cfg: AuroraConfig, *, cvar_min_trades: int = 10) -> None:
        self.cvar_min_trades = cvar_min_trades
        self.book = RiskBook()
        self.rate: dict[str, deque[int]] = {}  # account -> allowed orders in the last second
        self.symbol_rate: dict[tuple[str, str], deque[int]] = {}  # (account, symbol) -> allowed orders
        self.cancel_rate: dict[str, deque[int]] = {}  # account -> posted cancel requests
        self.recent: dict[tuple, int] = {}
        self.recent_q: deque[tuple[int, tuple]] = deque()
        self._cvar: dict[str, tuple[int, float | None]] = {}  # account -> (sample size, CVaR) cache
        self.configure(cfg)

    def configure(self, cfg: AuroraConfig) -> None:
        rk = cfg.risk
        self.size_scale = rk.size_scale
        self.vol_limit = cfg.guards.vol_guard_std_bps
        self.dd_limit_pct = min(cfg.gates.dd_day_pct_max, rk.daily_dd_limit_pct)
        # the key a drawdown denial names: whichever of the two limits binds
        self.dd_key = "gates.dd_day_pct_max" if cfg.gates.dd_day_pct_max < rk.daily_dd_limit_pct else "risk.daily_dd_limit_pct"
        self.cvar_alpha = rk.cvar_alpha
        self.cvar_limit_pct = cfg.gates.cvar_day_pct_max
        self.max_concurrent = rk.max_concurrent
        self.equity_default = rk.equity_usd
        self.equity_accounts = {a: v.equity_usd for a, v in rk.accounts.items()}
        self.max_notional = rk.max_notional_usd
        self.max_rate = rk.max_orders_per_sec
        self.max_symbol_rate = rk.max_orders_per_sec_per_symbol
        self.max_cancel_rate = rk.max_cancels_per_sec
        self.order_notional = {s: v.max_order_notional for s, v in rk.symbols.items() if v.max_order_notional}
        self.max_position = rk.max_position_notional
        self.position_notional = {s: v.max_position_notional for s, v in rk.symbols.items()
                                  if v.max_position_notional}  # fmt: skip
        self.dup_ns = int(rk.duplicate_window_ms * 1e6)
        self.collar_bps = rk.price_collar_bps
        self.reservation_ns = int(rk.reservation_ttl_ms * 1e6)
        self.book.day_offset_ns = day_offset_ns(rk.day_roll_utc)
        self._cvar.clear()
        #: the config key of every threshold of the passing record (one dict per config, not per request)
        self.keys = {"dd_limit_pct": self.dd_key, "cvar_limit_pct": "gates.cvar_day_pct_max",
                     "max_concurrent": "risk.max_concurrent", "max_notional_usd": "risk.max_notional_usd",
                     "collar_bps": _COLLAR}  # fmt: skip
        self._symbol_keys: dict[str, dict[str, str]] = {
            s: {**self.keys, "max_notional_usd": f"risk.symbols.{s}.max_order_notional"} for s in self.order_notional
        }

    def threshold_keys(self) -> dict[str, Any]:
        """The config key of every threshold of the passing record (``obs["keys"]``): the default map and the
        symbols with one of their own."""
        return {"default": dict(self.keys), "symbols": {s: dict(k) for s, k in self._symbol_keys.items()}}

    # -- inputs -----------------------------------------------------------------------------------
    def equity(self, account: str) -> tuple[float, str]:
        """The equity a limit is judged on, and where it came from (config, lowered by a reported balance)."""
        configured = self.equity_accounts.get(account)
        source = f"risk.accounts.{account}.equity_usd" if configured is not None else "risk.equity_usd"
        eq = configured if configured is not None else self.equity_default
        reported = self.book.reported_equity.get(account)
        if reported is not None and reported < eq:
            return reported, "reported balance"
        return eq, source

    def cvar_pct(self, account: str, returns: list[float]) -> float | None:
        """Today's CVaR of ``account`` (aurora.stats' one definition); cached until the next closed trade."""
        cached = self._cvar.get(account)
        if cached is not None and cached[0] == len(returns):
            return cached[1]
        v = cvar_loss(returns, self.cvar_alpha)
        self._cvar[account] = (len(returns), v)
        return v

    def classify(self, r: CheckRequest) -> tuple[bool, float]:
        """``(risk_reducing, qty it may have)``; a qty of 0 for a reduce-only order means invalid."""
        book = self.book
        pos = book.position(r.account_id, r.symbol)
        held = (pos if pos > 0 else 0.0) if r.side == "sell" else (-pos if pos < 0 else 0.0)
        avail = held - book.pending_reducing(r.account_id, r.symbol, r.side) if held > EPS else 0.0
        if r.reduce_only:
            if avail <= EPS:
                return False, 0.0
            return True, r.qty if r.qty <= avail else avail
        if avail > EPS and r.qty <= avail + EPS:
            return True, r.qty
        return False, r.qty

    def position_obs(self, r: CheckRequest) -> dict[str, Any]:
        return {"position": self.book.position(r.account_id, r.symbol),
                "pending_exits": self.book.pending_reducing(r.account_id, r.symbol, r.side),
                "reduce_only": r.reduce_only}  # fmt: skip

    # -- the guard --------------------------------------------------------------------------------
    def check(self, r: CheckRequest, d: DecisionState, now_ns: int) -> str | None:
        book = self.book
        book.purge_reservations(now_ns)
        account = r.account_id
        price = r.price
        mid = (r.best_bid + r.best_ask) * 0.5
        if d.risk_reducing:
            # An exit is never scaled, throttled or judged on drawdown: shrinking or refusing it leaves
            # risk open. classify() already capped it at the position it closes.
            dev = self._collar_dev(r, mid)
            if dev is not None and dev > self.collar_bps:
                return self._deny(d, Reason.RISK_PRICE_COLLAR, risk_reducing=True, price=price, mid=mid,
                                  collar_dev_bps=dev, collar_bps=self.collar_bps, key=_COLLAR)  # fmt: skip
            if r.cid is not None and r.cid in book.seen_cids:
                return self._deny(d, Reason.RISK_DUPLICATE, risk_reducing=True, duplicate="cid", cid=r.cid)
            d.obs["risk"] = {"risk_reducing": True, "risk_scale": 1.0, "position": book.position(account, r.symbol),
                             "collar_dev_bps": dev, "collar_bps": self.collar_bps, "max_qty": d.max_qty,
                             "key": _COLLAR, "pass": True}  # fmt: skip
            return None
        scale = self.size_scale
        vol = r.vol_std_bps
        if vol > self.vol_limit:
            scale *= self.vol_limit / vol
        q = r.qty * scale
        d.risk_scale = scale
        if q < d.max_qty:
            d.max_qty = q
        if d.max_qty <= 0:
            return self._deny(d, Reason.RISK_SIZE_ZERO, risk_reducing=False, risk_scale=scale, key="risk.size_scale")
        equity, equity_source = self.equity(account)
        day = book.account_day(account, now_ns)
        pnl, peak = day.pnl_usd, day.peak_usd
        dd = (peak - pnl) / equity * 100.0
        if not math.isfinite(dd):
            raise ValueError(f"risk state is not finite for account {account!r}: pnl {pnl}, peak {peak}")
        if dd >= self.dd_limit_pct:
            return self._deny(d, Reason.RISK_DAILY_DD, risk_reducing=False, risk_scale=scale,
                              **self._inputs(r, equity, equity_source, pnl, peak, dd), key=self.dd_key)  # fmt: skip
        returns = day.returns_pct
        cvar = self.cvar_pct(account, returns) if len(returns) >= self.cvar_min_trades else None
        if cvar is not None and cvar > self.cvar_limit_pct:
            return self._deny(d, Reason.RISK_CVAR, risk_reducing=False, risk_scale=scale, cvar_pct=cvar,
                              cvar_limit_pct=self.cvar_limit_pct, **self._inputs(r, equity, equity_source, pnl, peak, dd),
                              key="gates.cvar_day_pct_max")  # fmt: skip
        open_syms = book.open_symbols(account)
        open_n = len(open_syms)
        if open_n >= self.max_concurrent and r.symbol not in open_syms:
            return self._deny(d, Reason.RISK_MAX_CONCURRENT, risk_reducing=False, risk_scale=scale,
                              open_positions=open_n, open_symbols=sorted(open_syms),
                              max_concurrent=self.max_concurrent, key="risk.max_concurrent")  # fmt: skip
        px = price if price is not None else mid
        notional = r.qty * px
        symbol = r.symbol
        max_notional = self.order_notional.get(symbol, self.max_notional) if self.order_notional else self.max_notional
        if notional > max_notional:
            return self._deny(d, Reason.RISK_MAX_NOTIONAL, risk_reducing=False, notional_usd=notional,
                              max_notional_usd=max_notional, max_qty_cap=max_notional / px,
                              key=f"risk.symbols.{symbol}.max_order_notional" if symbol in self.order_notional
                              else "risk.max_notional_usd")  # fmt: skip
        max_pos = self.position_notional.get(symbol, self.max_position) if self.position_notional else self.max_position
        if max_pos is not None:
            signed = r.qty if r.side == "buy" else -r.qty
            held = book.position(account, symbol) + book.pending_increasing(account, symbol)
            after = abs(held + signed) * px
            if after > max_pos and after > abs(held) * px:
                return self._deny(d, Reason.RISK_MAX_POSITION, risk_reducing=False, position_with_orders=held,
                                  position_notional_after=after, max_position_notional=max_pos,
                                  max_qty_cap=max(0.0, max_pos / px - abs(held)) if held * signed >= 0 else None,
                                  key=f"risk.symbols.{symbol}.max_position_notional" if symbol in self.position_notional
                                  else "risk.max_position_notional")  # fmt: skip
        dev = self._collar_dev(r, mid)
        if dev is not None and dev > self.collar_bps:
            return self._deny(d, Reason.RISK_PRICE_COLLAR, risk_reducing=False, price=price, mid=mid,
                              collar_dev_bps=dev, collar_bps=self.collar_bps, key=_COLLAR)  # fmt: skip
        dq = self.rate.get(account)
        recent_orders = 0
        if dq is not None:
            cutoff = now_ns - NS
            while dq and dq[0] <= cutoff:
                dq.popleft()
            recent_orders = len(dq)
            if recent_orders >= self.max_rate:
                d.cooldown_ms = (dq[0] + NS - now_ns) / 1e6
                return self._deny(d, Reason.RISK_RATE_LIMIT, risk_reducing=False, throttle="account",
                                  orders_last_s=recent_orders, max_orders_per_sec=self.max_rate,
                                  key="risk.max_orders_per_sec")  # fmt: skip
        w = self.symbol_rate.get((account, symbol))
        if w is not None:
            cutoff = now_ns - NS
            while w and w[0] <= cutoff:
                w.popleft()
            if len(w) >= self.max_symbol_rate:
                return self._throttled(d, w, now_ns, "symbol", self.max_symbol_rate, "risk.max_orders_per_sec_per_symbol")
        w = self.cancel_rate.get(account)
        if w is not None:
            cutoff = now_ns - NS
            while w and w[0] <= cutoff:
                w.popleft()
            if len(w) >= self.max_cancel_rate:
                return self._throttled(d, w, now_ns, "cancels", self.max_cancel_rate, "risk.max_cancels_per_sec")
        if r.cid is not None and r.cid in book.seen_cids.keys:  # the set itself: no __contains__ call
            return self._deny(d, Reason.RISK_DUPLICATE, risk_reducing=False, duplicate="cid", cid=r.cid)
        rq = self.recent_q
        cutoff = now_ns - self.dup_ns
        while rq and rq[0][0] < cutoff:
            ts, key = rq.popleft()
            if self.recent.get(key) == ts:
                del self.recent[key]
        if (account, r.symbol, r.side, price, r.qty) in self.recent:
            return self._deny(d, Reason.RISK_DUPLICATE, risk_reducing=False, duplicate="same side/price/qty",
                              window_ms=self.dup_ns / 1e6, key="risk.duplicate_window_ms")  # fmt: skip
        # the pass path: one dict literal (cheaper than filling the dict key by key)
        d.obs["risk"] = {
            "risk_reducing": False, "risk_scale": scale, "equity_usd": equity, "equity_source": equity_source,
            "pnl_usd_today": pnl, "peak_usd_today": peak, "dd_pct": dd, "dd_limit_pct": self.dd_limit_pct,
            "client_equity_usd": r.equity_usd, "cvar_pct": cvar,
            "cvar_limit_pct": self.cvar_limit_pct, "open_positions": open_n, "max_concurrent": self.max_concurrent,
            "notional_usd": notional, "max_notional_usd": max_notional, "collar_dev_bps": dev,
            "collar_bps": self.collar_bps, "orders_last_s": recent_orders, "max_qty": d.max_qty,
            "keys": self._symbol_keys.get(symbol, self.keys) if self._symbol_keys else self.keys, "pass": True,
        }  # fmt: skip
        return None

    def _inputs(self, r: CheckRequest, equity: float, source: str, pnl: float, peak: float, dd: float) -> dict[str, Any]:
        """The drawdown inputs of a denial's record (the pass path writes the same fields in its one literal)."""
        return {"equity_usd": equity, "equity_source": source, "pnl_usd_today": pnl, "peak_usd_today": peak,
                "dd_pct": dd, "dd_limit_pct": self.dd_limit_pct, "client_equity_usd": r.equity_usd}  # fmt: skip

    def _throttled(self, d: DecisionState, w: deque[int], now_ns: int, throttle: str, limit: float, key: str) -> str:
        d.cooldown_ms = (w[0] + NS - now_ns) / 1e6
        return self._deny(d, Reason.RISK_RATE_LIMIT, risk_reducing=False, throttle=throttle, last_s=len(w),
                          max_per_sec=limit, key=key)  # fmt: skip

    @staticmethod
    def _collar_dev(r: CheckRequest, mid: float) -> float | None:
        """Distance of a limit price from mid (bps); market orders have none."""
        price = r.price
        return abs(price - mid) / mid * 1e4 if price is not None and r.order_type == "limit" else None

    @staticmethod
    def _deny(d: DecisionState, reason: str, **obs: Any) -> str:
        obs["pass"] = False
        d.obs["risk"] = obs
        return reason

    def on_allow(self, account: str, symbol: str, side: str, price: float | None, qty: float, now_ns: int) -> None:
        """An allowed order counts towards the throttle and the duplicate-price window (in memory only:
        both windows are shorter than a restart)."""
        dq = self.rate.get(account)
        if dq is None:
            dq = self.rate[account] = deque()
        dq.append(now_ns)
        sq = self.symbol_rate.get((account, symbol))
        if sq is None:
            sq = self.symbol_rate[account, symbol] = deque()
        sq.append(now_ns)
        key = (account, symbol, side, price, qty)
        self.recent[key] = now_ns
        self.recent_q.append((now_ns, key))

    def on_cancel(self, account: str, now_ns: int) -> None:
        """A posted ``ORDER.CANCEL.REQUEST``: counts towards the account's cancel/modify throttle."""
        q = self.cancel_rate.get(account)
        if q is None:
            q = self.cancel_rate[account] = deque()
        q.append(now_ns)
        cutoff = now_ns - NS
        while q and q[0] <= cutoff:  # bounded even for an account that never trades again
            q.popleft()

    def reset(self) -> None:
        """Ops reset: forget throttle/duplicate windows (positions and today's PnL are facts, kept)."""
        self.rate.clear()
        self.symbol_rate.clear()
        self.cancel_rate.clear()
        self.recent.clear()
        self.recent_q.clear()

    def snapshot(self, now_ns: int) -> dict[str, Any]:
        out = self.book.summary(now_ns)
        today = self.book.day_of(now_ns)
        for account, day in self.book.days.items():
            if day.day == today and account in out["pnl_today"]:
                equity, source = self.equity(account)
                out["pnl_today"][account].update(
                    dd_pct=(day.peak_usd - day.pnl_usd) / equity * 100.0, equity_usd=equity, equity_source=source,
                    cvar_pct=self.cvar_pct(account, day.returns_pct),
                )
        return out
