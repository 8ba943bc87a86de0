"""The gate's own book of risk: positions, open orders and reservations, the day's PnL — per account.

Everything here is durable (see :mod:`aurora.gate.state_store`): it changes only through
:meth:`RiskBook.reserve` (an allowed decision) and :meth:`RiskBook.apply_order_event` (a lifecycle
event), which the gate calls from one place (:meth:`aurora.gate.gate_state.GateState.apply`) both live
and when it replays its journal after a restart, so the restored book is the book it had.

Open orders (``OpenOrder``) are the gate's view of capacity in use: an allow reserves it until the
order's ``ORDER.SUBMIT`` arrives (or ``risk.reservation_ttl_ms`` passes — the runner gave up), a
submitted order holds it until a terminal event. They count towards concurrency and, for exits,
towards the position they may close, so back-to-back checks cannot overshoot a limit.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

EPS = 1e-12
_EMPTY: frozenset[str] = frozenset()
DAY_NS = 86_400 * 1_000_000_000
#: Venue answers that end the wait for an order's first response (the AckTracker's TTL).
FIRST_RESPONSES = frozenset({"ACK", "REJECT", "PARTIAL", "FILL", "CANCEL.ACK", "EXPIRE"})
TERMINAL = frozenset({"FILL", "REJECT", "CANCEL.ACK", "EXPIRE"})
DEFAULT_ACCOUNT = "default"


class BoundedSet:
    """The last ``size`` keys seen, oldest forgotten first: a set for membership, a deque for order.

    Not an ``OrderedDict``: a snapshot copies it on the gate's loop, and listing a 200k-key
    ``OrderedDict`` (a linked list) costs ~10x listing a deque.
    """

    __slots__ = ("keys", "order", "size")

    def __init__(self, size: int, items: list[str] | None = None) -> None:
        self.size = size
        self.order: deque[str] = deque()
        self.keys: set[str] = set()
        for k in items or ():
            self.add(k)

    def add(self, key: str) -> None:
        if key in self.keys:
            return
        self.keys.add(key)
        self.order.append(key)
        if len(self.order) > self.size:
            self.keys.discard(self.order.popleft())

    def __contains__(self, key: object) -> bool:
        return key in self.keys

    def __len__(self) -> int:
        return len(self.order)

    def __iter__(self):  # noqa: ANN204
        return iter(self.order)

    def to_list(self) -> list[str]:
        return list(self.order)


@dataclass(slots=True)
class OpenOrder:
    cid: str
    account: str
    symbol: str
    side: str  # buy | sell
    qty: float  # still open (order qty minus fills)
    price: float | None
    reducing: bool  # allowed as a position-reducing order
    expires_ns: int | None  # a reservation (no SUBMIT yet) lapses then
    submitted_ns: int | None = None  # SUBMIT seen at this gate time ...
    acked: bool = False  # ... and the venue's first response not yet (the AckTracker's list)

    def to_list(self) -> list[Any]:
        return [self.cid, self.account, self.symbol, self.side, self.qty, self.price, self.reducing,
                self.expires_ns, self.submitted_ns, self.acked]  # fmt: skip


@dataclass(slots=True)
class AccountDay:
    day: int
    pnl_usd: float = 0.0
    peak_usd: float = 0.0
    returns_pct: list[float] = field(default_factory=list)  # closed-trade returns, % of equity (CVaR sample)


class RiskBook:
    def __init__(self, *, day_offset_ns: int = 0, max_cids: int = 100_000, max_posts: int = 200_000) -> None:
        self.day_offset_ns = day_offset_ns
        self.max_cids = max_cids
        self.max_posts = max_posts
        self.positions: dict[str, dict[str, float]] = {}  # account -> symbol -> signed qty
        self.orders: dict[str, OpenOrder] = {}  # cid -> open order or reservation
        self.by_account: dict[str, dict[str, dict[str, OpenOrder]]] = {}  # account -> symbol -> cid -> order
        self._expiry: deque[tuple[int, str]] = deque()  # (expires_ns, cid) of reservations, in order
        self.days: dict[str, AccountDay] = {}
        self.seen_cids = BoundedSet(max_cids)
        self.seen_posts = BoundedSet(max_posts)
        self.reported_equity: dict[str, float] = {}
        self._entries: dict[str, dict[str, int]] = {}  # account -> symbol -> open risk-increasing orders
        self._open: dict[str, set[str]] = {}  # account -> symbols with a position or such an order

    # -- reading ----------------------------------------------------------------------------------
    def day_of(self, ts_ns: int) -> int:
        return (ts_ns - self.day_offset_ns) // DAY_NS

    def position(self, account: str, symbol: str) -> float:
        p = self.positions.get(account)
        return p.get(symbol, 0.0) if p else 0.0

    def pending_reducing(self, account: str, symbol: str, side: str) -> float:
        """Open quantity of already-allowed exits on ``side``: capacity a new exit cannot use again."""
        syms = self.by_account.get(account)
        orders = syms.get(symbol) if syms else None
        if not orders:
            return 0.0
        return sum(o.qty for o in orders.values() if o.reducing and o.side == side)

    def pending_increasing(self, account: str, symbol: str) -> float:
        """Signed open quantity of the account's allowed, not yet filled risk-increasing orders in ``symbol``."""
        syms = self.by_account.get(account)
        orders = syms.get(symbol) if syms else None
        if not orders:
            return 0.0
        return sum((o.qty if o.side == "buy" else -o.qty) for o in orders.values() if not o.reducing)

    def open_symbols(self, account: str) -> AbstractSet[str]:
        """Symbols with a position or an open risk-increasing order (reservations included). Kept up to
        date on every change (read on every decision); do not modify the returned set."""
        return self._open.get(account) or _EMPTY

    def _touch(self, account: str, symbol: str) -> None:
        is_open = self._entries.get(account, {}).get(symbol, 0) > 0 or abs(self.position(account, symbol)) > EPS
        syms = self._open.get(account)
        if is_open:
            if syms is None:
                syms = self._open[account] = set()
            syms.add(symbol)
        elif syms is not None:
            syms.discard(symbol)
            if not syms:
                del self._open[account]

    def account_day(self, account: str, now_ns: int) -> AccountDay:
        day = self.day_of(now_ns)
        d = self.days.get(account)
        if d is None or d.day != day:
            if d is not None and d.day > day:
                return d  # a clock that went back never reopens a closed day
            d = self.days[account] = AccountDay(day)
        return d

    def unacked(self) -> list[OpenOrder]:
        return [o for o in self.orders.values() if o.submitted_ns is not None and not o.acked]

    # -- changing (called only from GateState.apply) -----------------------------------------------
    def purge_reservations(self, now_ns: int) -> None:
        q = self._expiry
        while q and q[0][0] <= now_ns:
            expires, cid = q.popleft()
            o = self.orders.get(cid)
            if o is not None and o.expires_ns == expires and o.submitted_ns is None:
                self._remove(o)

    def reserve(self, order: OpenOrder) -> None:
        cid = order.cid
        old = self.orders.get(cid)
        if old is not None:
            self._remove(old)
        self._add(order)
        if order.expires_ns is not None:
            self._expiry.append((order.expires_ns, cid))
        self.seen_cids.add(cid)

    def remember_cid(self, cid: str) -> None:
        self.seen_cids.add(cid)

    def remember_post(self, key: str) -> None:
        self.seen_posts.add(key)

    def _add(self, o: OpenOrder) -> None:
        cid, account, symbol = o.cid, o.account, o.symbol
        self.orders[cid] = o
        syms = self.by_account.get(account)
        if syms is None:
            syms = self.by_account[account] = {}
        orders = syms.get(symbol)
        if orders is None:
            syms[symbol] = {cid: o}
        else:
            orders[cid] = o
        if not o.reducing:
            counts = self._entries.get(account)
            if counts is None:
                counts = self._entries[account] = {}
            counts[symbol] = counts.get(symbol, 0) + 1
            # an open risk-increasing order makes its symbol open (what _touch would conclude)
            open_syms = self._open.get(account)
            if open_syms is None:
                self._open[account] = {symbol}
            else:
                open_syms.add(symbol)

    def _remove(self, o: OpenOrder) -> None:
        cid, account, symbol = o.cid, o.account, o.symbol
        if self.orders.pop(cid, None) is not None and not o.reducing:
            counts = self._entries[account]
            left = counts[symbol] - 1
            if left:
                counts[symbol] = left  # other entries keep the symbol open: nothing for _touch to change
            else:
                del counts[symbol]
                self._touch(account, symbol)
        syms = self.by_account.get(account)
        if syms is not None:
            orders = syms.get(symbol)
            if orders is not None:
                orders.pop(cid, None)
                if not orders:
                    del syms[symbol]
            if not syms:
                del self.by_account[account]

    def apply_order_event(self, ev: dict[str, Any], now_ns: int) -> dict[str, Any]:
        """One lifecycle event (``short`` code, cid, fields, details subset). Returns what changed:
        ``account``, ``first_response`` (the venue answered a submitted order: its SUBMIT time),
        ``realized`` (a RISK.UPDATE payload when PnL moved)."""
        short = ev["short"]
        cid = ev["cid"]
        o = self.orders.get(cid)
        out: dict[str, Any] = {"account": o.account if o else ev.get("account") or DEFAULT_ACCOUNT}
        if short == "SUBMIT":
            if o is None:
                symbol, side, qty = ev.get("symbol"), ev.get("side"), ev.get("qty")
                if not (symbol and side and qty):
                    return out
                # submitted without a reservation here (e.g. allowed before a fresh start): not known
                # to reduce anything, so it counts as new risk
                o = OpenOrder(cid, out["account"], symbol, side, float(qty), ev.get("price"), False, None)
                self._add(o)
                self.remember_cid(cid)
            else:
                if ev.get("qty"):
                    o.qty = float(ev["qty"])
            o.expires_ns = None
            o.submitted_ns = now_ns
            o.acked = False
            return out
        if o is not None and short in FIRST_RESPONSES and o.submitted_ns is not None and not o.acked:
            o.acked = True
            out["first_response"] = o.submitted_ns
        if short in ("PARTIAL", "FILL"):
            account = out["account"]
            symbol = ev.get("symbol") or (o.symbol if o else None)
            side = ev.get("side") or (o.side if o else None)
            fill = ev.get("fill_qty")
            if symbol and side in ("buy", "sell") and fill:
                signed = fill if side == "buy" else -fill
                pos = self.positions.setdefault(account, {})
                q = pos.get(symbol, 0.0) + signed
                if abs(q) <= EPS:
                    pos.pop(symbol, None)
                    if not pos:
                        del self.positions[account]
                else:
                    pos[symbol] = q
                self._touch(account, symbol)
                if o is not None:
                    o.qty = max(0.0, o.qty - fill)
            pnl = ev.get("realized_pnl_usd")
            if pnl is not None:
                day = self.account_day(account, now_ns)
                day.pnl_usd += pnl
                if day.pnl_usd > day.peak_usd:
                    day.peak_usd = day.pnl_usd
                out["realized"] = pnl
        if short in TERMINAL and o is not None:
            self._remove(o)
        return out

    def record_return(self, account: str, now_ns: int, return_pct: float) -> AccountDay:
        day = self.account_day(account, now_ns)
        day.returns_pct.append(return_pct)
        return day

    # -- snapshot ---------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """A copy (the journal's compaction thread serializes it while the book goes on changing)."""
        return {
            "positions": {a: dict(p) for a, p in self.positions.items()},
            "orders": [o.to_list() for o in self.orders.values()],
            "days": {a: [d.day, d.pnl_usd, d.peak_usd, list(d.returns_pct)] for a, d in self.days.items()},
            "seen_cids": self.seen_cids.to_list(),
            "seen_posts": self.seen_posts.to_list(),
            "reported_equity": dict(self.reported_equity),
        }

    def restore(self, snap: dict[str, Any]) -> None:
        self.positions = {a: {s: float(q) for s, q in p.items()} for a, p in snap.get("positions", {}).items()}
        for a, p in self.positions.items():
            for sym in p:
                self._touch(a, sym)
        for row in snap.get("orders", []):
            o = OpenOrder(*row)
            self._add(o)
            if o.expires_ns is not None and o.submitted_ns is None:
                self._expiry.append((o.expires_ns, o.cid))
        self._expiry = deque(sorted(self._expiry))
        self.days = {a: AccountDay(int(v[0]), float(v[1]), float(v[2]), [float(x) for x in v[3]])
                     for a, v in snap.get("days", {}).items()}  # fmt: skip
        self.seen_cids = BoundedSet(self.max_cids, snap.get("seen_cids", []))
        self.seen_posts = BoundedSet(self.max_posts, snap.get("seen_posts", []))
        self.reported_equity = {a: float(v) for a, v in snap.get("reported_equity", {}).items()}

    def summary(self, now_ns: int) -> dict[str, Any]:
        """What ``/ops/status`` and ``AURORA.STATE_RESTORED`` show."""
        today = self.day_of(now_ns)
        return {
            "positions": {a: dict(p) for a, p in self.positions.items()},
            "open_orders": sum(1 for o in self.orders.values() if o.submitted_ns is not None),
            "reservations": sum(1 for o in self.orders.values() if o.submitted_ns is None),
            "pending_acks": len(self.unacked()),
            "seen_cids": len(self.seen_cids),
            "pnl_today": {a: {"pnl_usd": d.pnl_usd, "peak_usd": d.peak_usd, "trades": len(d.returns_pct)}
                          for a, d in self.days.items() if d.day == today},  # fmt: skip
            "reported_equity": dict(self.reported_equity),
        }


def finite_or_raise(name: str, value: float) -> float:
    if not math.isfinite(value):
        raise ValueError(f"risk state {name} is not finite ({value})")
    return value
