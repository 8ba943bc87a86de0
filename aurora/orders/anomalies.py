"""Order-lifecycle anomalies: one incremental engine for the live gate and the offline audit.

Every ``ORDER.*`` event of one order goes through :meth:`OrderTrack.step` — the FSM of
:mod:`aurora.orders.fsm` plus the classification of what does not fit it — and comes out as a
:class:`Step`: the state before and after, what kind of step it was, the venue outcome it carries
and the anomalies it revealed. The gate feeds each posted event as it arrives
(:class:`LifecycleMonitor`); the audit feeds each order's events in time order and reads the same
steps, so both apply the same rules (SPEC §8).

Classes (:class:`AnomalyClass`):

* ``illegal_transition`` — an event the FSM does not allow in the order's state (an ACK after a terminal
  state included);
* ``late_ack`` — the first ACK came more than the ack TTL after SUBMIT;
* ``duplicate_ack`` — a second ACK (not a transition: a replayed message); after a terminal state it is
  illegal as well;
* ``duplicate_fill`` — a PARTIAL/FILL repeating a ``trade_id`` already seen (ignored likewise);
* ``overfill`` — cumulative fill quantity above the order's quantity (reported once per order);
* ``fill_after_cancel`` — a PARTIAL/FILL after CANCEL.ACK (a real-world race: a *warning*);
* ``orphan_event`` — an event of an order without SUBMIT;
* ``missing_terminal`` — never reached a terminal state (only at the end of a log: :meth:`LifecycleMonitor.finish`).

A fill is counted into the order's filled quantity before its legality is judged (a FILL after REJECT
is an illegal transition *and* may be an overfill), as the audit always did.

The rules are one function, :func:`classify`: what an event is to its order, given the order's state and
three facts about its past (acked before, this fill's trade id seen before, answered by the venue
before). Everything else is arithmetic on the order's numbers (the late-ack delay, the filled quantity
against the order's). :class:`OrderTrack` looks each event up in :data:`RULES` (``classify`` over its
whole, small domain); the audit's vectorised walk (:mod:`aurora.analytics.order_walk`) indexes lookup
arrays generated from the same table. The details an anomaly is reported with are :func:`describe`'s.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any

from aurora.events.codes import ORDER_EVENT_NAMES
from aurora.orders.fsm import FILL_EVENTS, TERMINAL_STATES, TRANSITIONS, OrderState

S = OrderState


class AnomalyClass(StrEnum):
    ILLEGAL_TRANSITION = "illegal_transition"
    MISSING_TERMINAL = "missing_terminal"
    LATE_ACK = "late_ack"
    DUPLICATE_ACK = "duplicate_ack"
    DUPLICATE_FILL = "duplicate_fill"
    OVERFILL = "overfill"
    FILL_AFTER_CANCEL = "fill_after_cancel"
    ORPHAN_EVENT = "orphan_event"


A = AnomalyClass
ANOMALY_CLASSES: tuple[AnomalyClass, ...] = tuple(AnomalyClass)
#: A fill racing a cancel is real-world possible: a warning; everything else is corruption.
SEVERITY: dict[AnomalyClass, str] = {c: "warning" if c is A.FILL_AFTER_CANCEL else "error" for c in AnomalyClass}
#: Anomalies that count toward the kill-switch by default (``killswitch.counted_anomalies``): the venue or
#: the runner books fills that cannot be, so positions and PnL cannot be trusted.
DEFAULT_COUNTED_ANOMALIES: tuple[AnomalyClass, ...] = (A.OVERFILL, A.DUPLICATE_FILL)


class StepKind(IntEnum):
    """What one event was to its order (the audit's ``KIND_NAMES``, in that order)."""

    OK = 0
    ILLEGAL = 1
    FILL_AFTER_CANCEL = 2
    DUPLICATE_ACK = 3
    DUPLICATE_FILL = 4
    ORPHAN = 5


class Outcome(IntEnum):
    """The venue outcome an event carries (the kill-switch's reject window): the first response counts."""

    NONE = 0
    OK = 1
    REJECT = 2


#: Venue responses: what answers a submitted order (every lifecycle event but the runner's own two).
RESPONSE_EVENTS: frozenset[str] = frozenset(ORDER_EVENT_NAMES) - {"SUBMIT", "CANCEL.REQUEST"}
#: The event names the rules know; any other name (an ``ORDER.*`` code the FSM lacks) is :data:`UNKNOWN`.
EVENT_NAMES: tuple[str, ...] = ORDER_EVENT_NAMES
UNKNOWN = "?"
NO_TS = -1


@dataclass(frozen=True, slots=True)
class Rule:
    """What one event is to its order (:func:`classify`)."""

    kind: StepKind
    after: OrderState  # the state it leaves the order in
    outcome: Outcome  # the venue outcome it carries
    responded: bool  # the order has had a venue response, this event included
    first_ack: bool  # the order's first ACK (whatever its legality): its ack time, the late-ack check
    counts_fill: bool  # a fill that happened (not a replay): adds to the filled quantity, the overfill check
    anomalies: tuple[AnomalyClass, ...]  # what the step itself reveals (late_ack / overfill are arithmetic)


def classify(state: OrderState, event: str, *, acked: bool, replay: bool, responded: bool) -> Rule:
    """The lifecycle rules (SPEC §8) for one event of an order in ``state``: ``acked`` = an ACK came
    before, ``replay`` = a PARTIAL/FILL whose trade id an earlier fill of the order had, ``responded`` =
    the venue answered the order before. An unknown ``event`` is illegal everywhere."""
    fill = event in FILL_EVENTS
    terminal = state in TERMINAL_STATES
    answers = state is not S.PREPARED and event in RESPONSE_EVENTS
    if answers and not responded:
        outcome = Outcome.REJECT if event == "REJECT" else Outcome.OK
    else:
        outcome = Outcome.REJECT if answers and event == "REJECT" else Outcome.NONE
    found: list[AnomalyClass] = []
    nxt = TRANSITIONS.get((state, event))
    if event == "ACK" and terminal:
        kind = StepKind.ILLEGAL  # anything after a terminal state but the cancel race
        if acked:
            found.append(A.DUPLICATE_ACK)
    elif event == "ACK" and acked:
        kind = StepKind.DUPLICATE_ACK
    elif fill and replay:
        kind = StepKind.DUPLICATE_FILL
    elif nxt is not None:
        kind = StepKind.OK
    elif state is S.CANCELED and fill:
        kind = StepKind.FILL_AFTER_CANCEL
    else:
        kind = StepKind.ILLEGAL
    if kind in _KIND_ANOMALY:
        found.append(_KIND_ANOMALY[kind])
    return Rule(kind, nxt if kind is StepKind.OK and nxt is not None else state, outcome, responded or answers,
                event == "ACK" and not acked, fill and not replay, tuple(found))  # fmt: skip


_KIND_ANOMALY: dict[StepKind, AnomalyClass] = {
    StepKind.ILLEGAL: A.ILLEGAL_TRANSITION,
    StepKind.DUPLICATE_ACK: A.DUPLICATE_ACK,
    StepKind.DUPLICATE_FILL: A.DUPLICATE_FILL,
    StepKind.FILL_AFTER_CANCEL: A.FILL_AFTER_CANCEL,
}

#: :func:`classify` over its whole domain: (state, event name or ``"?"``, acked, replay, responded) -> Rule.
RULES: dict[tuple[OrderState, str, bool, bool, bool], Rule] = {
    (st, ev, ak, rp, rs): classify(st, ev, acked=ak, replay=rp, responded=rs)
    for st in OrderState for ev in (*EVENT_NAMES, UNKNOWN)
    for ak in (False, True) for rp in (False, True) for rs in (False, True)
}  # fmt: skip


def describe(cls: AnomalyClass, before: OrderState, event: str, *, delay_ns: int = 0, ttl_ns: int = 0,
             filled: float = 0.0, order_qty: float = 0.0) -> str:  # fmt: skip
    """The detail an anomaly is reported with (the gate's ``ORDER.ANOMALY``, the audit's list)."""
    if cls is A.ILLEGAL_TRANSITION:
        return f"{before.value} --{event if event in EVENT_NAMES else 'an unknown ORDER.* code'}-->"
    if cls is A.DUPLICATE_ACK:
        return f"ACK after {before.value}" if before in TERMINAL_STATES else "second ACK"
    if cls is A.DUPLICATE_FILL:
        return f"{event} repeats a trade_id"
    if cls is A.FILL_AFTER_CANCEL:
        return f"{event} after CANCEL.ACK"
    if cls is A.LATE_ACK:
        return f"ack {delay_ns / 1e9:.3f}s after submit (ttl {ttl_ns / 1e9:g}s)"
    if cls is A.OVERFILL:
        return f"filled {filled:g} of {order_qty:g}"
    raise ValueError(f"{cls.value} is reported per order, not per event")


_NAMES = frozenset(ORDER_EVENT_NAMES)


@dataclass(slots=True)
class Step:
    before: OrderState
    after: OrderState
    kind: StepKind
    outcome: Outcome
    anomalies: list[tuple[AnomalyClass, str]]


def _missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


@dataclass(slots=True)
class OrderTrack:
    """One order's walk so far. ``step`` is the whole rule set; everything else is bookkeeping."""

    state: OrderState = S.PREPARED
    acked: bool = False
    responded: bool = False
    overfilled: bool = False
    submit_ts: int = NO_TS
    ack_ts: int = NO_TS
    done_ts: int = NO_TS
    fill_ts: int = NO_TS
    last_ts: int = NO_TS
    order_qty: float = math.nan
    cum: float = 0.0
    trades: set[Any] = field(default_factory=set)
    symbol: str | None = None  # what the order trades (for reports; the rules do not read it)

    def step(self, event: str, ts: int, *, qty: float | None = None, fill_qty: float | None = None,
             cum_qty: float | None = None, trade_id: Any = None, ack_ttl_ns: int | None = None) -> Step:  # fmt: skip
        """Apply one event (short name: ``ACK``, ``CANCEL.REQUEST`` ...; an unknown name is illegal)."""
        state = self.state
        self.last_ts = ts
        replay = event in FILL_EVENTS and trade_id is not None and trade_id in self.trades
        rule = RULES[(state, event if event in _NAMES else UNKNOWN, self.acked, replay, self.responded)]
        self.responded = rule.responded
        found = [(c, describe(c, state, event)) for c in rule.anomalies]
        if rule.first_ack:
            self.acked = True
            self.ack_ts = ts
            if self.submit_ts >= 0 and ack_ttl_ns is not None and ts - self.submit_ts > ack_ttl_ns:
                found.insert(0, (A.LATE_ACK, describe(A.LATE_ACK, state, event, delay_ns=ts - self.submit_ts,
                                                      ttl_ns=ack_ttl_ns)))  # fmt: skip
        if rule.counts_fill:
            if trade_id is not None:
                self.trades.add(trade_id)
            f = fill_qty
            if _missing(f):  # derive from the cumulative quantity when that is all there is
                f = cum_qty - self.cum if not _missing(cum_qty) and cum_qty > self.cum else 0.0  # type: ignore[operator]
            self.cum += f  # type: ignore[operator]
            if self.fill_ts < 0:
                self.fill_ts = ts
            oq = self.order_qty
            if not self.overfilled and oq == oq and self.cum > oq * (1 + 1e-9) + 1e-12:
                self.overfilled = True
                found.insert(0, (A.OVERFILL, describe(A.OVERFILL, state, event, filled=self.cum, order_qty=oq)))
        if rule.kind is StepKind.OK:
            if event == "SUBMIT" and self.submit_ts < 0:
                self.submit_ts = ts
                self.order_qty = math.nan if _missing(qty) else float(qty)  # type: ignore[arg-type]
            if rule.after in TERMINAL_STATES and self.done_ts < 0:
                self.done_ts = ts
        self.state = rule.after
        return Step(state, rule.after, rule.kind, rule.outcome, found)

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    def at_end(self, end_ns: int, in_flight_ns: int) -> str | None:
        """At the end of a log: ``None`` when terminal, ``"in_flight"`` when its last event is within
        ``in_flight_ns`` of ``end_ns``, else ``"missing_terminal"``."""
        if self.terminal:
            return None
        return "in_flight" if end_ns - self.last_ts <= in_flight_ns else A.MISSING_TERMINAL.value

    # -- durability -------------------------------------------------------------------------------
    def to_list(self) -> list[Any]:
        return [self.state.value, self.acked, self.responded, self.overfilled, self.submit_ts, self.ack_ts,
                self.done_ts, self.fill_ts, self.last_ts, None if self.order_qty != self.order_qty else self.order_qty, self.cum,
                sorted(self.trades, key=str), self.symbol]  # fmt: skip

    @classmethod
    def from_list(cls, row: list[Any]) -> OrderTrack:
        return cls(OrderState(row[0]), bool(row[1]), bool(row[2]), bool(row[3]), int(row[4]), int(row[5]),
                   int(row[6]), int(row[7]), int(row[8]), math.nan if row[9] is None else float(row[9]),
                   float(row[10]), set(row[11]), row[12] if len(row) > 12 else None)  # fmt: skip


@dataclass(slots=True)
class Anomaly:
    cls: AnomalyClass
    cid: str
    event: str
    ts_ns: int
    detail: str
    state: OrderState
    symbol: str | None = None

    @property
    def severity(self) -> str:
        return SEVERITY[self.cls]

    def details(self) -> dict[str, Any]:
        """The ``ORDER.ANOMALY`` event's details."""
        return {"class": self.cls.value, "severity": self.severity, "event": "ORDER." + self.event,
                "detail": self.detail, "state": self.state.value, "event_ts_ns": self.ts_ns}  # fmt: skip


class LifecycleMonitor:
    """The live engine: every order's track, bounded to the ``max_orders`` most recently seen.

    Events arrive as they were posted; an event of a cid never submitted is an orphan (reported at its
    first event; a SUBMIT that comes after them starts the order's walk). Its state is durable: it is fed
    only from the gate's journal records (:mod:`aurora.gate.gate_state`) and snapshotted with them.
    """

    def __init__(self, *, max_orders: int = 50_000) -> None:
        self.max_orders = max_orders
        self.tracks: OrderedDict[str, OrderTrack] = OrderedDict()
        self.orphans: OrderedDict[str, int] = OrderedDict()  # cid -> events seen
        self.counts: dict[AnomalyClass, int] = dict.fromkeys(AnomalyClass, 0)

    def observe(self, cid: str, event: str, ts: int, *, qty: float | None = None, fill_qty: float | None = None,
                cum_qty: float | None = None, trade_id: Any = None, ack_ttl_ns: int | None = None,
                symbol: str | None = None) -> list[Anomaly]:  # fmt: skip
        track = self.tracks.get(cid)
        if track is None:
            if event != "SUBMIT":
                n = self.orphans.get(cid, 0)
                self.orphans[cid] = n + 1
                self.orphans.move_to_end(cid)
                if len(self.orphans) > self.max_orders:
                    self.orphans.popitem(last=False)
                if n:
                    return []
                return self._count([Anomaly(A.ORPHAN_EVENT, cid, event, ts, f"ORDER.{event} of an order with no SUBMIT",
                                            S.PREPARED, symbol)])  # fmt: skip
            # a SUBMIT after events of its order (reported as orphans when they came): walked from here
            track = self.tracks[cid] = OrderTrack(symbol=symbol)
            if len(self.tracks) > self.max_orders:
                self.tracks.popitem(last=False)
        else:
            self.tracks.move_to_end(cid)
        st = track.step(event, ts, qty=qty, fill_qty=fill_qty, cum_qty=cum_qty, trade_id=trade_id,
                        ack_ttl_ns=ack_ttl_ns)  # fmt: skip
        if not st.anomalies:
            return []
        return self._count([Anomaly(c, cid, event, ts, d, st.before, track.symbol or symbol) for c, d in st.anomalies])

    def _count(self, found: list[Anomaly]) -> list[Anomaly]:
        for a in found:
            self.counts[a.cls] += 1
        return found

    def finish(self, end_ns: int, in_flight_ns: int) -> tuple[list[Anomaly], list[str]]:
        """At the end of a log: orders never terminal (``missing_terminal``) and the ones still in flight
        (their last event within ``in_flight_ns`` of ``end_ns``)."""
        missing, in_flight = [], []
        for cid, t in self.tracks.items():
            end = t.at_end(end_ns, in_flight_ns)
            if end == "in_flight":
                in_flight.append(cid)
            elif end is not None:
                missing.append(Anomaly(A.MISSING_TERMINAL, cid, "", t.last_ts, f"last state {t.state.value}", t.state,
                                       t.symbol))  # fmt: skip
        return missing, in_flight

    # -- durability -------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        return {"tracks": [[cid, *t.to_list()] for cid, t in self.tracks.items()],
                "orphans": list(self.orphans.items()),
                "counts": {c.value: n for c, n in self.counts.items() if n}}  # fmt: skip

    def restore(self, snap: dict[str, Any]) -> None:
        self.tracks = OrderedDict((row[0], OrderTrack.from_list(row[1:])) for row in snap.get("tracks", []))
        self.orphans = OrderedDict((cid, int(n)) for cid, n in snap.get("orphans", []))
        self.counts = dict.fromkeys(AnomalyClass, 0)
        for c, n in snap.get("counts", {}).items():
            self.counts[AnomalyClass(c)] = int(n)


@dataclass(slots=True)
class OrderEvent:
    """One lifecycle event of one order, as a log holds it (the fields the rules read)."""

    event: str  # short name: ACK, CANCEL.REQUEST ...
    ts: int
    qty: float | None = None
    fill_qty: float | None = None
    cum_qty: float | None = None
    trade_id: Any = None


@dataclass(slots=True)
class WalkedOrder:
    """One whole order walked (:func:`walk_order`): its track (None for an orphan), each event's step, and
    every anomaly with the index of the event that revealed it."""

    track: OrderTrack | None
    steps: list[Step]
    anomalies: list[tuple[AnomalyClass, str, int]]


def walk_order(events: list[OrderEvent], ack_ttl_ns: int | None = None) -> WalkedOrder:
    """Walk one order's events in time order (a log's view: the order is an orphan only when it has no
    SUBMIT at all; events before a late SUBMIT are illegal in PREPARED)."""
    if not any(e.event == "SUBMIT" for e in events):
        orphan = [(A.ORPHAN_EVENT, f"{len(events)} event(s), no SUBMIT", 0)] if events else []
        return WalkedOrder(None, [], orphan)
    track = OrderTrack()
    steps: list[Step] = []
    found: list[tuple[AnomalyClass, str, int]] = []
    for i, e in enumerate(events):
        st = track.step(e.event, e.ts, qty=e.qty, fill_qty=e.fill_qty, cum_qty=e.cum_qty, trade_id=e.trade_id,
                        ack_ttl_ns=ack_ttl_ns)  # fmt: skip
        steps.append(st)
        found.extend((c, d, i) for c, d in st.anomalies)
    return WalkedOrder(track, steps, found)
