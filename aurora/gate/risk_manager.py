"""Stage 6: RiskManager — account-level limits, fed by ``/posttrade/log``.

Checks, in order: size (``size_scale`` × volatility scaling → ``RISK_SIZE_ZERO``; a risk-reducing order
is not scaled, only capped at the open position it closes), daily drawdown
(``RISK_DAILY_DD``), CVaR of today's closed trades (``RISK_CVAR``), concurrent positions
(``RISK_MAX_CONCURRENT``) — these three only for risk-increasing orders —, then for every order: max
notional (``RISK_MAX_NOTIONAL``), price collar around mid (``RISK_PRICE_COLLAR``), order-rate throttle
per account (``RISK_RATE_LIMIT``) and duplicates (same ``cid``, or same account/symbol/side/price/qty
within ``duplicate_window_ms`` → ``RISK_DUPLICATE``). Returns ``risk_scale`` and ``max_qty``.

The day is the UTC day; PnL, drawdown and CVaR restart at midnight UTC.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

from aurora.config.models import AuroraConfig
from aurora.gate.guard import CheckRequest, DecisionState, Reason

NS = 1_000_000_000
_DAY_S = 86_400
_EPS = 1e-12


def cvar_loss_pct(returns_pct: list[float], alpha: float) -> float:
    """CVaR_alpha as a positive loss: minus the mean of the worst ceil(alpha·n) returns (0 if no loss)."""
    if not returns_pct:
        return 0.0
    k = max(1, math.ceil(alpha * len(returns_pct)))
    worst = sorted(returns_pct)[:k]
    return max(0.0, -sum(worst) / k)


class RiskManager:
    name = "risk"

    def __init__(
        self,
        cfg: AuroraConfig,
        *,
        wall_clock: Callable[[], float] = time.time,
        cvar_min_trades: int = 10,
        max_remembered_cids: int = 100_000,
    ) -> None:
        self.wall_clock = wall_clock
        self.cvar_min_trades = cvar_min_trades
        self.max_cids = max_remembered_cids
        self.positions: dict[str, float] = {}
        self.live_orders: dict[str, tuple[str, str, float, bool]] = {}  # cid -> (symbol, side, qty, reduce_only)
        self.rate: dict[str, deque[int]] = {}
        self.seen_cids: OrderedDict[str, int] = OrderedDict()
        self.recent: dict[tuple, int] = {}
        self.recent_q: deque[tuple[int, tuple]] = deque()
        self._open_symbols: set[str] | None = None
        self._judged: tuple[CheckRequest | None, tuple] = (None, ())  # the last request checked, its duplicate key
        self._new_day(self._today())
        self.configure(cfg)

    def configure(self, cfg: AuroraConfig) -> None:
        rk = cfg.risk
        self.size_scale = rk.size_scale
        self.vol_limit = cfg.guards.vol_guard_std_bps
        self.dd_limit_pct = min(cfg.gates.dd_day_pct_max, rk.daily_dd_limit_pct)
        self.cvar_alpha = rk.cvar_alpha
        self.cvar_limit_pct = cfg.gates.cvar_day_pct_max
        self.max_concurrent = rk.max_concurrent
        self.equity = rk.equity_usd
        self.max_notional = rk.max_notional_usd
        self.max_rate = rk.max_orders_per_sec
        self.dup_ns = int(rk.duplicate_window_ms * 1e6)
        self.collar_bps = rk.price_collar_bps

    # -- daily state --------------------------------------------------------------------------------
    def _today(self) -> int:
        return int(self.wall_clock() // _DAY_S)

    def _new_day(self, day: int) -> None:
        self.day = day
        self._day_lo, self._day_hi = day * _DAY_S, (day + 1) * _DAY_S  # [start, end) in wall-clock seconds
        self.pnl_usd = 0.0
        self.peak_pnl_usd = 0.0
        self.returns_pct: list[float] = []
        self.cvar_pct = 0.0

    def _roll(self) -> None:
        day = self._today()
        if day != self.day:
            self._new_day(day)

    def drawdown_pct(self, equity: float | None = None) -> float:
        return (self.peak_pnl_usd - self.pnl_usd) / (equity or self.equity) * 100.0

    def open_symbols(self) -> set[str]:
        if self._open_symbols is None:
            s = {sym for sym, q in self.positions.items() if abs(q) > _EPS}
            s.update(o[0] for o in self.live_orders.values() if not o[3])
            self._open_symbols = s
        return self._open_symbols

    def is_risk_reducing(self, r: CheckRequest) -> bool:
        """Reduce-only, or opposite to the current position and no larger than it."""
        if r.reduce_only:
            return True
        pos = self.positions.get(r.symbol, 0.0)
        if pos > _EPS:
            return r.side == "sell" and r.qty <= pos + _EPS
        if pos < -_EPS:
            return r.side == "buy" and r.qty <= -pos + _EPS
        return False

    # -- the guard --------------------------------------------------------------------------------
    def check(self, r: CheckRequest, d: DecisionState, now_ns: int) -> str | None:
        if not self._day_lo <= self.wall_clock() < self._day_hi:
            self._roll()
        rr = d.risk_reducing
        if rr:
            # An exit is never scaled by size_scale or volatility: shrinking it would leave risk open.
            # It is capped at the opposite position the gate knows; with none known (fills not posted
            # yet, a restarted gate) the venue's reduce-only flag bounds it, so it is not blocked here.
            scale = 1.0
            pos = self.positions.get(r.symbol, 0.0)
            opposite = -pos if r.side == "buy" else pos
            q = r.qty if opposite <= _EPS or r.qty <= opposite else opposite
        else:
            scale = self.size_scale
            vol = r.vol_std_bps
            if vol > self.vol_limit:
                scale *= self.vol_limit / vol
            q = r.qty * scale
        d.risk_scale = scale
        if q < d.max_qty:
            d.max_qty = q
        if d.max_qty <= 0:
            return self._deny(d, Reason.RISK_SIZE_ZERO, risk_reducing=rr, risk_scale=scale)
        dd = open_n = None
        if not rr:
            dd = (self.peak_pnl_usd - self.pnl_usd) / (r.equity_usd or self.equity) * 100.0
            if dd >= self.dd_limit_pct:
                return self._deny(d, Reason.RISK_DAILY_DD, risk_reducing=rr, risk_scale=scale, dd_pct=dd,
                                  dd_limit_pct=self.dd_limit_pct)  # fmt: skip
            if len(self.returns_pct) >= self.cvar_min_trades and self.cvar_pct > self.cvar_limit_pct:
                return self._deny(d, Reason.RISK_CVAR, risk_reducing=rr, risk_scale=scale, dd_pct=dd,
                                  cvar_pct=self.cvar_pct, cvar_limit_pct=self.cvar_limit_pct)  # fmt: skip
            open_syms = self._open_symbols if self._open_symbols is not None else self.open_symbols()
            open_n = len(open_syms)
            if open_n >= self.max_concurrent and r.symbol not in open_syms:
                return self._deny(d, Reason.RISK_MAX_CONCURRENT, risk_reducing=rr, risk_scale=scale, dd_pct=dd,
                                  open_positions=open_n, max_concurrent=self.max_concurrent)  # fmt: skip
        price = r.price
        mid = (r.best_bid + r.best_ask) * 0.5
        px = price if price is not None else mid
        notional = r.qty * px
        if notional > self.max_notional:
            d.max_qty = min(d.max_qty, self.max_notional / px)
            return self._deny(d, Reason.RISK_MAX_NOTIONAL, risk_reducing=rr, notional_usd=notional,
                              max_notional_usd=self.max_notional, max_qty_cap=self.max_notional / px)  # fmt: skip
        dev = None
        if price is not None and r.order_type == "limit":
            dev = abs(price - mid) / mid * 1e4
            if dev > self.collar_bps:
                return self._deny(d, Reason.RISK_PRICE_COLLAR, risk_reducing=rr, price=price, mid=mid,
                                  collar_dev_bps=dev, collar_bps=self.collar_bps)  # fmt: skip
        dq = self.rate.get(r.account_id)
        recent_orders = 0
        if dq is not None:
            cutoff = now_ns - NS
            while dq and dq[0] <= cutoff:
                dq.popleft()
            recent_orders = len(dq)
            if recent_orders >= self.max_rate:
                d.cooldown_ms = (dq[0] + NS - now_ns) / 1e6
                return self._deny(d, Reason.RISK_RATE_LIMIT, risk_reducing=rr, orders_last_s=recent_orders,
                                  max_orders_per_sec=self.max_rate)  # fmt: skip
        if r.cid is not None and r.cid in self.seen_cids:
            return self._deny(d, Reason.RISK_DUPLICATE, risk_reducing=rr, duplicate="cid", cid=r.cid)
        rq = self.recent_q
        cutoff = now_ns - self.dup_ns
        while rq and rq[0][0] < cutoff:
            ts, key = rq.popleft()
            if self.recent.get(key) == ts:
                del self.recent[key]
        key = (r.account_id, r.symbol, r.side, price, r.qty)
        self._judged = (r, key)  # on_allow reuses the key (one tuple and hash per decision, not two)
        if key in self.recent:
            return self._deny(d, Reason.RISK_DUPLICATE, risk_reducing=rr, duplicate="same side/price/qty",
                              window_ms=self.dup_ns / 1e6)  # fmt: skip
        # the pass path: one dict literal (cheaper than filling the dict key by key)
        d.obs["risk"] = {
            "risk_reducing": rr, "risk_scale": scale, "dd_pct": dd, "dd_limit_pct": self.dd_limit_pct,
            "cvar_pct": self.cvar_pct, "cvar_limit_pct": self.cvar_limit_pct, "open_positions": open_n,
            "max_concurrent": self.max_concurrent, "notional_usd": notional, "max_notional_usd": self.max_notional,
            "collar_dev_bps": dev, "collar_bps": self.collar_bps, "orders_last_s": recent_orders, "max_qty": d.max_qty,
            "pass": True,
        }  # fmt: skip
        return None

    @staticmethod
    def _deny(d: DecisionState, reason: str, **obs: Any) -> str:
        obs["pass"] = False
        d.obs["risk"] = obs
        return reason

    def on_allow(self, r: CheckRequest, now_ns: int) -> None:
        """An allowed order counts towards the throttle and the duplicate window."""
        dq = self.rate.get(r.account_id)
        if dq is None:
            dq = self.rate[r.account_id] = deque()
        dq.append(now_ns)
        if r.cid is not None:
            self.seen_cids[r.cid] = now_ns
            if len(self.seen_cids) > self.max_cids:
                self.seen_cids.popitem(last=False)
        judged, key = self._judged
        if judged is not r:
            key = (r.account_id, r.symbol, r.side, r.price, r.qty)
        self.recent[key] = now_ns
        self.recent_q.append((now_ns, key))

    # -- post-trade feed --------------------------------------------------------------------------
    def on_order_event(self, short: str, cid: str, ev: dict[str, Any]) -> dict[str, Any] | None:
        """Apply one lifecycle event. Returns a ``RISK.UPDATE`` payload when realized PnL changed."""
        self._roll()
        details = ev.get("details") or {}
        if short == "SUBMIT":
            symbol, side, qty = ev.get("symbol"), ev.get("side"), ev.get("qty")
            if symbol and side and qty:
                self.live_orders[cid] = (symbol, side, float(qty), bool(details.get("reduce_only", False)))
                self._open_symbols = None
            return None
        order = self.live_orders.get(cid)
        update = None
        if short in ("PARTIAL", "FILL"):
            symbol = ev.get("symbol") or (order[0] if order else None)
            side = ev.get("side") or (order[1] if order else None)
            fill_qty = details.get("fill_qty")
            if symbol and side in ("buy", "sell") and isinstance(fill_qty, int | float) and fill_qty > 0:
                signed = float(fill_qty) if side == "buy" else -float(fill_qty)
                pos = self.positions.get(symbol, 0.0) + signed
                if abs(pos) <= _EPS:
                    self.positions.pop(symbol, None)
                else:
                    self.positions[symbol] = pos
                self._open_symbols = None
            pnl = details.get("realized_pnl_usd")
            if isinstance(pnl, int | float) and math.isfinite(pnl):
                update = self.record_realized(float(pnl))
        if short in ("FILL", "REJECT", "CANCEL.ACK", "EXPIRE") and cid in self.live_orders:
            del self.live_orders[cid]
            self._open_symbols = None
        return update

    def record_realized(self, pnl_usd: float) -> dict[str, Any]:
        self.pnl_usd += pnl_usd
        self.peak_pnl_usd = max(self.peak_pnl_usd, self.pnl_usd)
        self.returns_pct.append(pnl_usd / self.equity * 100.0)
        self.cvar_pct = cvar_loss_pct(self.returns_pct, self.cvar_alpha)
        return {
            "pnl_usd_today": self.pnl_usd,
            "dd_pct": self.drawdown_pct(),
            "cvar_pct": self.cvar_pct,
            "trades_today": len(self.returns_pct),
            "open_positions": len(self.open_symbols()),
        }

    def reset(self) -> None:
        """Ops reset: forget throttle/duplicate windows (positions and today's PnL are facts, kept)."""
        self.rate.clear()
        self.recent.clear()
        self.recent_q.clear()

    def snapshot(self) -> dict[str, Any]:
        return {
            "pnl_usd_today": self.pnl_usd,
            "dd_pct": self.drawdown_pct(),
            "cvar_pct": self.cvar_pct,
            "trades_today": len(self.returns_pct),
            "positions": dict(self.positions),
            "live_orders": len(self.live_orders),
        }
