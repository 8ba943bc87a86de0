"""Kill functionality: what the runner does with its resting orders when the gate's trading state changes.

What the state is comes from :mod:`runner.gate_state`; what each state means for resting orders:

* **REDUCING** (kill-switch, disarm, health cool-off by default): every resting risk-increasing order
  (an entry) is cancelled; resting exits (reduce-only take-profits) stay, they reduce the position.
* **HALTED** (``ops halt``, health halt): entries and exits are cancelled — nothing may execute — unless
  ``runner.halt_cancels_exits`` is false.
* **cancel_all** (``ops halt --cancel-all``, ``ops kill``): everything, through the venue's cancel-all for
  the runner's symbols (one request per symbol set; orders this run does not know of go too).
* **Unknown** (gate down, hung, or not answered yet): no new entries, but resting ones are *not* cancelled
  unless ``runner.cancel_entries_when_gate_unknown``: the gate allowed each of them, an outage says
  nothing about the market, their TTL ends them within ``strategy.order_ttl_s`` anyway, and cancelling
  on every network blip would churn orders (and spend the venue's rate limits) exactly when the system
  is already degraded. Exits are never cancelled for an outage: they are what protects a position.

Every cancel names the trigger in ``details.reason`` (:class:`aurora.events.codes.KillReason`). An order
whose ``ACK`` is still on its way is cancelled the moment it is acknowledged (the lifecycle FSM has no
ACK after CANCEL.REQUEST). While the state is not ACTIVE no new order it forbids is sent
(:meth:`KillController.admits`, asked by the executor): no entry while REDUCING or unknown, nothing
while HALTED.

Records, both in the runner's event file and in its summary (``kills``):

* ``RUNNER.KILL_APPLIED`` once the cancel requests of a change are out: ``count`` (entries, exits), and
  ``request_latency_ms`` — from the moment the runner *learned* the change (its own clock; ``via`` says
  which answer brought it) to its last cancel request — and ``request_since_gate_ms``, from the gate's
  own stamp of the change (``changed_ns`` of ``/trading_state``; meaningful when gate and runner share a
  clock, null when the gate did not say).
* ``RUNNER.KILL_SETTLED`` once every one of those orders is done (its ``CANCEL.ACK``, or the fill or
  expiry that beat the cancel): ``ack_latency_ms`` / ``ack_since_gate_ms`` likewise (to the last of those
  answers, as the runner received it), how each ended, and the entry fills that arrived after the
  change; ``settled`` is false when the venue did not answer them all within :data:`SETTLE_TIMEOUT_S`
  (or the run ended first).

On a live clock the venue is moved on in wall time while a kill is unsettled, so a simulated venue
answers the cancels even when no market data arrives (an idle runner). On a market clock (a replay) the
answers come with the market, as every other simulated answer does, and no timeout applies.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aurora.events.codes import EventCode, KillReason
from aurora.gate.trading_state import TradingState
from aurora.orders.fsm import OrderState
from runner.clock import RunClock
from runner.config import RunnerSection
from runner.executor import OrderExecutor
from runner.gate_state import StateView
from runner.orders import OrderTracker, TrackedOrder
from runner.venues.base import Venue

#: how long the venue has to answer a kill's cancels before KILL_SETTLED says it did not
SETTLE_TIMEOUT_S = 10.0
#: how often an unsettled kill moves a simulated venue on (live clock)
_ADVANCE_S = 0.002
CANCELABLE = (OrderState.ACKED, OrderState.PARTIALLY_FILLED)
#: orders a kill waits for: cancellable now, acked soon, or already being cancelled
_RESTING = (OrderState.SUBMITTED, *CANCELABLE, OrderState.PENDING_CANCEL)
_KEEP = 100  # kills kept in the summary


def _ms(ns: int | None) -> float | None:
    return None if ns is None else round(ns / 1e6, 3)


@dataclass
class KillRecord:
    n: int
    view: StateView
    reason: KillReason
    cancel_all: bool
    pending: set[str] = field(default_factory=set)
    orders: int = 0
    requests: int = 0
    last_request_ns: int | None = None
    last_answer_ns: int | None = None
    outcomes: Counter[str] = field(default_factory=Counter)
    entry_fills_after: int = 0
    settled: bool | None = None  # None while open
    started_mono: float = field(default_factory=time.monotonic)

    def since(self, ns: int | None) -> tuple[float | None, float | None]:
        """(ms from when the runner learned the change, ms from the gate's stamp of it) to ``ns``."""
        if ns is None:
            return None, None
        changed = self.view.changed_ns
        return _ms(ns - self.view.learned_ns), (_ms(ns - changed) if changed else None)

    def to_dict(self) -> dict[str, Any]:
        req, req_gate = self.since(self.last_request_ns)
        ack, ack_gate = self.since(self.last_answer_ns)
        return {
            "kill": self.n, "state": self.view.state.value if self.view.state else None,
            "reason": self.reason.value, "cancel_all": self.cancel_all, "state_seq": self.view.seq,
            "via": self.view.via, "learned_ns": self.view.learned_ns, "gate_changed_ns": self.view.changed_ns,
            "orders": self.orders, "requests": self.requests, "settled": self.settled,
            "outcomes": dict(self.outcomes), "unanswered": len(self.pending),
            "entry_fills_after": self.entry_fills_after,
            "request_latency_ms": req, "request_since_gate_ms": req_gate,
            "ack_latency_ms": ack if self.settled else None, "ack_since_gate_ms": ack_gate if self.settled else None,
        }  # fmt: skip


class KillController:
    def __init__(
        self,
        cfg: RunnerSection,
        *,
        tracker: OrderTracker,
        executor: OrderExecutor,
        venue: Venue,
        clock: RunClock,
        symbols: list[str],
        emit: Callable[..., None],
    ) -> None:
        self.cfg = cfg
        self.tracker = tracker
        self.executor = executor
        self.venue = venue
        self.clock = clock
        self.symbols = sorted(symbols)
        self.emit = emit
        #: the state new orders meet (the runner wires it to GateStateWatch.state); unknown until then
        self.state_of: Callable[[], TradingState | None] = lambda: None
        self.view = StateView(None, None)
        self._applied_key: tuple[Any, ...] | None = None
        self._last_kill_key: tuple[Any, ...] | None = None  # of the last KILL_APPLIED
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._stragglers: set[str] = set()  # orders acked after their kill: cancel now
        self.open: list[KillRecord] = []
        self.records: deque[KillRecord] = deque(maxlen=_KEEP)
        self.counters = {"kills": 0, "cancel_requests": 0, "settled": 0, "unsettled": 0}
        self._tasks: list[asyncio.Task[None]] = []
        executor.admits = self.admits
        executor.sinks.append(self.on_lifecycle)

    # -- what may be sent -------------------------------------------------------------------------
    def admits(self, order: TrackedOrder) -> bool:
        state = self.state_of()
        if state is TradingState.ACTIVE:
            return True
        if state is TradingState.HALTED:
            return False
        return order.reduce_only  # REDUCING, or unknown: exits go to the gate, which decides

    def entries_open(self) -> bool:
        return self.state_of() is TradingState.ACTIVE

    def _targets(self, view: StateView) -> tuple[bool, bool]:
        """(cancel entries, cancel exits) in ``view``'s state."""
        st = view.state
        if st is TradingState.ACTIVE:
            return False, False
        if st is None:
            return self.cfg.cancel_entries_when_gate_unknown, False
        if view.cancel_all:
            return True, True
        return True, st is TradingState.HALTED and self.cfg.halt_cancels_exits

    def _selected(self, o: TrackedOrder, targets: tuple[bool, bool]) -> bool:
        entries, exits = targets
        return o.state in _RESTING and ((exits and o.reduce_only) or (entries and not o.reduce_only))

    # -- reacting ---------------------------------------------------------------------------------
    def on_view(self, view: StateView) -> None:
        """A change of the state the runner knows (from :class:`runner.gate_state.GateStateWatch`)."""
        self.view = view
        self._wake.set()

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            await self.react()

    async def react(self) -> None:
        """Do what the latest view asks (once): the worker above, or the long-poll at once (no loop hop)."""
        async with self._lock:
            self._wake.clear()
            view = self.view
            if view.key != self._applied_key:
                self._applied_key = view.key
                await self._apply(view)
            if self._stragglers:
                await self._cancel_stragglers()

    async def _apply(self, view: StateView) -> None:
        if view.state is TradingState.ACTIVE:
            self._last_kill_key = None  # the stop ended (ops reset, cool-off over): the next one is a new kill
        targets = self._targets(view)
        if not any(targets):
            return
        reason = view.reason
        selected = [o for o in self.tracker.working() if self._selected(o, targets)]
        if not selected and view.key == self._last_kill_key:
            return  # the same stop again (after an outage blip, say) with nothing resting: nothing to record
        self._last_kill_key = view.key
        rec = KillRecord(self.counters["kills"] + 1, view, reason, view.cancel_all, pending={o.cid for o in selected})
        already = sum(1 for o in selected if o.cancel_sent)
        requested: list[str] = []
        if view.cancel_all:
            cids = await self.venue.cancel_all(self.symbols, self.clock.now(), reason.value)
            for cid in cids:
                o = self.tracker.orders.get(cid)
                if o is not None and not o.cancel_sent:
                    o.cancel_sent = True
                    rec.pending.add(cid)
                requested.append(cid)
        awaiting_ack = sum(1 for o in selected if o.state is OrderState.SUBMITTED and not o.cancel_sent)
        now_cancelable = [o for o in selected if o.state in CANCELABLE and not o.cancel_sent]
        requested += await self._cancel(now_cancelable, reason)
        rec.requests = len(requested)
        rec.last_request_ns = time.time_ns() if requested else None
        rec.orders = len(rec.pending)
        self.counters["kills"] += 1
        self.counters["cancel_requests"] += rec.requests
        by_kind = Counter("exit" if (o := self.tracker.orders.get(c)) is not None and o.reduce_only else "entry"
                          for c in requested)  # fmt: skip
        req_ms, req_gate_ms = rec.since(rec.last_request_ns)
        self.emit(EventCode.RUNNER_KILL_APPLIED.value, {
            "kill": rec.n, "state": view.state.value if view.state else None, "reason": reason.value,
            "trigger": view.trigger, "cancel_all": view.cancel_all, "state_seq": view.seq, "via": view.via,
            "count": rec.requests, "entries": by_kind["entry"], "exits": by_kind["exit"],
            "already_cancelling": already, "awaiting_ack": awaiting_ack,
            "request_latency_ms": req_ms, "request_since_gate_ms": req_gate_ms,
            "learned_ns": view.learned_ns, "gate_changed_ns": view.changed_ns,
        })  # fmt: skip
        self.records.append(rec)
        if rec.pending:
            self.open.append(rec)
            if self.clock.live:
                self._ensure_settling()
        else:
            rec.settled = True

    async def _cancel(self, orders: list[TrackedOrder], reason: KillReason) -> list[str]:
        """Cancel ``orders`` at once (a remote venue sends the requests concurrently)."""
        return await self.executor.cancel_many(orders, reason.value)

    async def _cancel_stragglers(self) -> None:
        cids, self._stragglers = self._stragglers, set()
        targets = self._targets(self.view)
        orders = [o for c in sorted(cids) if (o := self.tracker.orders.get(c)) is not None
                  and self._selected(o, targets) and o.state in CANCELABLE and not o.cancel_sent]  # fmt: skip
        done = await self._cancel(orders, self.view.reason)
        if not done:
            return
        now = time.time_ns()
        self.counters["cancel_requests"] += len(done)
        for rec in self.open:
            hit = [c for c in done if c in rec.pending]
            if hit:
                rec.requests += len(hit)
                rec.last_request_ns = now

    # -- settling ---------------------------------------------------------------------------------
    def on_lifecycle(self, event: dict[str, Any]) -> None:
        """The executor's sink (after the order's FSM step): settle kills, cancel orders acked too late."""
        cid = event.get("cid")
        order = self.tracker.orders.get(cid or "")
        if order is None:
            return
        code = event["event_code"]
        if self.open:
            fill = code in (EventCode.ORDER_FILL, EventCode.ORDER_PARTIAL)
            now = time.time_ns()
            for rec in list(self.open):
                if fill and not order.reduce_only:
                    rec.entry_fills_after += 1
                if cid in rec.pending and order.terminal:
                    rec.pending.discard(cid)
                    rec.outcomes[order.state.value] += 1
                    rec.last_answer_ns = now
                    if not rec.pending:
                        self._settle(rec, True)
        if (code == EventCode.ORDER_ACK and not order.cancel_sent
                and self._selected(order, self._targets(self.view)) and self._applied_key is not None
                and self._applied_key == self.view.key):
            self._stragglers.add(order.cid)
            self._wake.set()

    def _settle(self, rec: KillRecord, settled: bool) -> None:
        rec.settled = settled
        if rec in self.open:
            self.open.remove(rec)
        self.counters["settled" if settled else "unsettled"] += 1
        self.emit(EventCode.RUNNER_KILL_SETTLED.value, rec.to_dict())

    def _ensure_settling(self) -> None:
        if not any(t.get_name() == "kill-settle" and not t.done() for t in self._tasks):
            self._tasks = [t for t in self._tasks if not t.done()]
            self._tasks.append(asyncio.get_running_loop().create_task(self._settling(), name="kill-settle"))

    async def _settling(self) -> None:
        """Move a simulated venue on in wall time (live clock) until the kill settles or times out."""
        while self.open:
            self.venue.advance(self.clock.now())
            mono = time.monotonic()
            for rec in list(self.open):
                if mono - rec.started_mono > SETTLE_TIMEOUT_S:
                    self._settle(rec, False)
            await asyncio.sleep(_ADVANCE_S)

    # -- life -------------------------------------------------------------------------------------
    def start(self) -> None:
        self._tasks.append(asyncio.get_running_loop().create_task(self.run(), name="kill"))

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        for rec in list(self.open):  # the run ended before the venue answered them all
            self._settle(rec, False)

    def summary(self) -> dict[str, Any]:
        view = self.view
        return {
            "state": view.state.value if view.state else None, "state_seq": view.seq, "trigger": view.trigger,
            **self.counters, "kills": [r.to_dict() for r in self.records],
        }  # fmt: skip
