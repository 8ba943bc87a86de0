"""One walk of every order's ``ORDER.*`` events through the lifecycle FSM, shared by the summary and the audit.

The walk decides, once, what each event *was* (a legal transition, an illegal one, a duplicate ack, a
replayed fill, a fill after cancel, an orphan's event) and what each order *ended as* (its final FSM
state). Everything counted per order — success / rejected / canceled / expired, filled quantity,
realized PnL of the fills that really happened, submit→ack and ack→done latency, the kill-switch's
venue outcomes — comes from it, so the summary and the audit cannot disagree.

Rules (SPEC §8): the live engine's, :func:`aurora.orders.anomalies.classify`, never restated: the walk
indexes lookup arrays generated from its table (:data:`aurora.orders.anomalies.RULES`) by (state, event,
acked before, replayed trade id, answered before); only the arithmetic (late-ack delay, filled quantity)
is done here, on whole columns. In words:

* events are grouped by ``cid`` and walked in time order (ties keep the read order);
* an order without a SUBMIT is an *orphan*: its events are not walked and it counts in nothing but the
  orphan figures (not in latency, not in success);
* a second ACK is a duplicate and is ignored by the walk; an ACK after a terminal state is illegal
  (and, when the order was acked before, a duplicate too);
* a PARTIAL/FILL repeating a ``trade_id`` already seen is a replayed fill and is ignored (its
  quantity and PnL are not counted); a PARTIAL/FILL after CANCEL.ACK is the *fill after cancel* race:
  the state stays CANCELED but the fill did happen and counts;
* submit→ack = first ACK − SUBMIT; ack→done = the event that made the order terminal − first ACK.
* venue outcomes (the kill-switch's reject window, as the gate feeds it): the first venue response
  of a submitted order (any lifecycle event but SUBMIT and CANCEL.REQUEST) is one outcome, a reject
  when it is a REJECT; any later REJECT (and an orphan's REJECT) is another rejected outcome.

How (linear in events, no Python loop per event): one ``lexsort`` groups the events by order; what does
not depend on the state (was the order acked before this event, does this fill repeat a trade id) is
computed for all events at once; then the state machine advances every order by one event per step —
step ``k`` takes the ``k``-th event of every order that has one — so there are as many numpy steps as
the longest order has events, each over the orders still going. Per event the walk keeps a few bytes
(int8 step kind, outcome and state), which is what lets the audit stay under 1 KB per order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from aurora.events.codes import ORDER_EVENT_NAMES, is_lifecycle_code
from aurora.orders.anomalies import RULES, UNKNOWN, AnomalyClass, Outcome, StepKind, describe
from aurora.orders.fsm import FILL_EVENTS, TERMINAL_STATES, OrderState
from aurora.session.fields import SOURCE, Field
from aurora.session.files import is_runner_stem
from aurora.session.frame import Frame, Labels

# --- integer encoding of the FSM and of the rules (generated from aurora.orders, not restated) ----
STATES: tuple[OrderState, ...] = tuple(OrderState)
EVENTS: tuple[str, ...] = ORDER_EVENT_NAMES + (UNKNOWN,)  # "?" = an ORDER.* code the FSM does not know
S_IDX = {s: i for i, s in enumerate(STATES)}
E_IDX = {e: i for i, e in enumerate(EVENTS)}
PREPARED = S_IDX[OrderState.PREPARED]
TERMINAL = frozenset(S_IDX[s] for s in TERMINAL_STATES)
E_SUBMIT, E_ACK, E_REJECT, E_UNKNOWN = E_IDX["SUBMIT"], E_IDX["ACK"], E_IDX["REJECT"], E_IDX[UNKNOWN]
E_FILLS = frozenset(E_IDX[e] for e in FILL_EVENTS)
_TERMINAL_LUT = np.array([i in TERMINAL for i in range(len(STATES))])
_FILL_LUT = np.array([i in E_FILLS for i in range(len(EVENTS))])

# step kinds (per event) and venue outcomes: the engine's enums as small ints
OK, ILLEGAL, FAC, DUP_ACK, DUP_FILL, ORPHAN = (int(k) for k in (
    StepKind.OK, StepKind.ILLEGAL, StepKind.FILL_AFTER_CANCEL, StepKind.DUPLICATE_ACK, StepKind.DUPLICATE_FILL,
    StepKind.ORPHAN))  # fmt: skip
KIND_NAMES: tuple[str, ...] = tuple(k.name.lower() for k in sorted(StepKind))
#: Kinds whose fills happened (count toward filled quantity and PnL): legal ones and the cancel race.
FILL_COUNTS = (OK, FAC)
NO_OUTCOME, OUTCOME_OK, OUTCOME_REJECT = int(Outcome.NONE), int(Outcome.OK), int(Outcome.REJECT)
NO_TS = -1


def _rule_key(state: np.ndarray | int, event: np.ndarray | int, acked: np.ndarray | bool, replay: np.ndarray | bool,
              responded: np.ndarray | bool) -> np.ndarray | int:  # fmt: skip
    """Where (state, event, acked, replay, responded) sits in the lookup arrays (int16: 9 × 9 × 8 keys)."""
    st = state.astype(np.int16) if isinstance(state, np.ndarray) else state
    return (((st * len(EVENTS) + event) * 2 + acked) * 2 + replay) * 2 + responded


#: The anomaly classes a step itself reveals (the rest is arithmetic: late_ack, overfill).
STEP_ANOMALIES: tuple[AnomalyClass, ...] = (
    AnomalyClass.ILLEGAL_TRANSITION, AnomalyClass.DUPLICATE_ACK, AnomalyClass.DUPLICATE_FILL,
    AnomalyClass.FILL_AFTER_CANCEL,
)  # fmt: skip
_N_KEYS = len(STATES) * len(EVENTS) * 8
R_KIND = np.zeros(_N_KEYS, dtype=np.int8)
R_AFTER = np.zeros(_N_KEYS, dtype=np.int8)
R_OUTCOME = np.zeros(_N_KEYS, dtype=np.int8)
R_RESPONDED = np.zeros(_N_KEYS, dtype=bool)
R_FIRST_ACK = np.zeros(_N_KEYS, dtype=bool)
R_COUNTS_FILL = np.zeros(_N_KEYS, dtype=bool)
R_ANOMALY = {c: np.zeros(_N_KEYS, dtype=bool) for c in STEP_ANOMALIES}
for (_st, _e, _ak, _rp, _rs), _rule in RULES.items():
    _k = _rule_key(S_IDX[_st], E_IDX[_e], _ak, _rp, _rs)
    R_KIND[_k], R_AFTER[_k], R_OUTCOME[_k] = int(_rule.kind), S_IDX[_rule.after], int(_rule.outcome)
    R_RESPONDED[_k], R_FIRST_ACK[_k], R_COUNTS_FILL[_k] = _rule.responded, _rule.first_ack, _rule.counts_fill
    for _c in _rule.anomalies:
        R_ANOMALY[_c][_k] = True

#: The fields the walk reads.
COLUMNS: tuple[Field, ...] = (Field.TS_NS, Field.EVENT_CODE, Field.CID, Field.QTY, Field.FILL_QTY, Field.CUM_QTY,
                              Field.TRADE_ID)  # fmt: skip
#: Anomaly classes the walk finds (the audit adds missing_terminal and orphan_event per order).
WALK_ANOMALIES: tuple[str, ...] = tuple(c.value for c in AnomalyClass if c not in (AnomalyClass.MISSING_TERMINAL,
                                                                                   AnomalyClass.ORPHAN_EVENT))


@dataclass
class OrderWalk:
    """The walk's results.

    Per lifecycle event, in walk order (by order, then time, ties in read order): ``rows`` (its row in
    the frame walked), ``ev`` (FSM event index), ``kind`` (step kind), ``outcome``, ``before`` /
    ``after`` (FSM state) and ``order`` (the order's index). Per order (``cids.get(i)`` names order
    ``i``): the arrays below; times are int64 ns (``-1`` = never), ``submit_pos`` is the walk position
    of its SUBMIT (its first event for orphans).
    """

    rows: np.ndarray
    ev: np.ndarray
    kind: np.ndarray
    outcome: np.ndarray
    before: np.ndarray
    after: np.ndarray
    cids: Labels  # one row per order (names when the cid column is Labels, else empty values)
    keys: np.ndarray  # per order: its cid's code or hashed key (-1 = none)
    starts: np.ndarray
    ends: np.ndarray
    orphan: np.ndarray  # bool
    final: np.ndarray  # final FSM state index (PREPARED for orphans)
    submit_ns: np.ndarray
    ack_ns: np.ndarray  # first ACK
    done_ns: np.ndarray  # the event that made the order terminal
    first_fill_ns: np.ndarray
    last_ns: np.ndarray
    order_qty: np.ndarray
    filled_qty: np.ndarray  # fills that happened (replays excluded)
    submit_pos: np.ndarray
    ts: np.ndarray  # per event, in walk order
    #: anomalies found (``collect=True``): class -> (walk positions, one detail value per position)
    found: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return int(self.starts.size)

    @property
    def order(self) -> np.ndarray:
        """The order index of each event in walk order (made when asked: 4 bytes per event)."""
        return np.repeat(np.arange(self.n, dtype=np.int32), self.ends - self.starts)

    def order_of(self, pos: np.ndarray) -> np.ndarray:
        """The order index of the events at walk positions ``pos`` (few: no per-event array)."""
        return np.searchsorted(self.starts, pos, side="right") - 1

    def col(self, frame: Frame, name: str) -> np.ndarray | Labels:
        """Column ``name`` of the walked frame, per event in walk order."""
        c = frame[name]
        return c.take(self.rows) if isinstance(c, Labels) else c[self.rows]

    def at_submit(self, frame: Frame, name: str) -> np.ndarray | Labels:
        """Column ``name`` per order, as its SUBMIT carries it."""
        rows = self.rows[self.submit_pos] if self.n else np.zeros(0, dtype=np.int64)
        c = frame[name]
        return c.take(rows) if isinstance(c, Labels) else c[rows]

    def final_counts(self, mask: np.ndarray | None = None) -> dict[str, int]:
        """Orders by final state (``(orphan)`` for orphans), optionally of the orders in ``mask``."""
        m = np.ones(self.n, dtype=bool) if mask is None else mask
        counts = np.bincount(self.final[m & ~self.orphan], minlength=len(STATES))
        out = {STATES[i].value: int(c) for i, c in enumerate(counts) if c}
        if (m & self.orphan).any():
            out["(orphan)"] = int((m & self.orphan).sum())
        return dict(sorted(out.items(), key=lambda kv: -kv[1]))

    def latency_ms(self, start_ns: int | None = None, end_ns: int | None = None) -> dict[str, np.ndarray]:
        """submit→ack and ack→done in ms of walked orders, each counted when its closing event is in the window."""
        lo = -1 if start_ns is None else start_ns
        hi = np.iinfo(np.int64).max if end_ns is None else end_ns
        sub, ack, done = self.submit_ns, self.ack_ns, self.done_ns
        walked = ~self.orphan
        m1 = walked & (sub >= 0) & (ack >= sub) & (ack >= lo) & (ack <= hi)
        m2 = walked & (ack >= 0) & (done >= ack) & (done >= lo) & (done <= hi)
        return {"submit_to_ack": (ack[m1] - sub[m1]) / 1e6, "ack_to_done": (done[m2] - ack[m2]) / 1e6}

    def steps(self, j: int) -> list[tuple[int, int, int, int, int]]:
        """Order ``j``'s path: (from, event, to, kind, ts) per event."""
        lo, hi = int(self.starts[j]), int(self.ends[j])
        return list(zip(self.before[lo:hi].tolist(), self.ev[lo:hi].tolist(), self.after[lo:hi].tolist(),
                        self.kind[lo:hi].tolist(), self.ts[lo:hi].tolist(), strict=True))  # fmt: skip

    def first_by_order(self, cls: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Anomalies of ``cls`` per order: (orders, walk position of the first one, how many)."""
        pos, _ = self.found.get(cls, (np.zeros(0, dtype=np.int64), np.zeros(0)))
        if not pos.size:
            return np.zeros(0, dtype=np.int64), pos, np.zeros(0, dtype=np.int64)
        pos = np.sort(pos)  # walk order = (order, time)
        orders = self.order_of(pos)
        uniq, first, counts = np.unique(orders, return_index=True, return_counts=True)
        return uniq, pos[first], counts

    def detail(self, cls: str, pos: int, ack_ttl_s: float) -> str:
        """The anomaly's description, as the audit lists it (the engine's :func:`describe`)."""
        where, values = self.found[cls]
        v = values[np.flatnonzero(where == pos)[0]]
        c, before, e = AnomalyClass(cls), STATES[int(self.before[pos])], EVENTS[int(self.ev[pos])]
        if c is AnomalyClass.LATE_ACK:
            return describe(c, before, e, delay_ns=int(v), ttl_ns=int(min(ack_ttl_s, 1e9) * 1e9))
        if c is AnomalyClass.OVERFILL:
            return describe(c, before, e, filled=float(v), order_qty=float(self.order_qty[int(self.order_of(np.array([pos]))[0])]))
        return describe(c, before, e)


def lifecycle_rows(events: Frame) -> np.ndarray:
    """Mask of the gate's ``ORDER.*`` lifecycle events in a session frame (the runners' copies are not the
    record; the gate's ``ORDER.ANOMALY`` is its verdict on an order, not a step of it)."""
    mask = events.labels(Field.EVENT_CODE).where(is_lifecycle_code)
    if SOURCE in events:
        mask &= events.labels(SOURCE).where(lambda s: not is_runner_stem(s))
    return mask


def _dup_fills(ev: np.ndarray, tid_all: np.ndarray, rows: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Per walk position: a fill whose trade id an earlier fill of the same order already had.

    Done a million positions at a time (cut at order boundaries), so that its sorting needs memory for
    one slice, not for every event."""
    dup = np.zeros(ev.size, dtype=bool)
    step = 1 << 20
    lo = 0
    while lo < ev.size:
        hi = min(ev.size, lo + step)
        if hi < ev.size:  # end the slice where an order starts
            hi = int(starts[np.searchsorted(starts, hi, side="left")]) if hi <= starts[-1] else ev.size
        p = lo + np.flatnonzero(_FILL_LUT[ev[lo:hi]]).astype(np.int64)
        tid = tid_all[rows[p]]
        p, tid = p[tid >= 0], tid[tid >= 0]
        if p.size > 1:
            order = np.searchsorted(starts, p, side="right") - 1
            srt = np.lexsort((p, tid, order))
            same = (order[srt[1:]] == order[srt[:-1]]) & (tid[srt[1:]] == tid[srt[:-1]])
            dup[p[srt[1:][same]]] = True
        lo = hi
    return dup


def walk_orders(events: Frame, ack_ttl_s: float = float("inf"), *, collect: bool = False) -> OrderWalk:
    """Walk the lifecycle events of ``events`` (a session frame with :data:`COLUMNS` at least).

    ``collect`` gathers the anomalies (for the audit).
    """
    mask = lifecycle_rows(events)
    every = bool(mask.all())  # the audit reads lifecycle events only: no index array then
    idx = None if every else np.flatnonzero(mask)
    code = events.labels(Field.EVENT_CODE)
    ev_of_code = np.array([E_IDX.get(v[6:], E_UNKNOWN) if is_lifecycle_code(v) else E_UNKNOWN
                           for v in code.values] + [E_UNKNOWN], dtype=np.int8)  # fmt: skip
    cid_col = events.get(Field.CID)
    cid_all = events.keys(Field.CID)
    ts_all = events[Field.TS_NS]
    srt = np.lexsort((ts_all, cid_all) if every else (ts_all[idx], cid_all[idx]))  # stable: ties keep read order
    rows = srt if every else idx[srt]
    del srt, idx
    if rows.size and int(rows.max()) < 2**31:
        rows = rows.astype(np.int32)
    n = int(rows.size)
    cid_s = cid_all[rows]
    ev = ev_of_code[code.codes[rows]]
    ts = ts_all[rows]
    bounds = np.flatnonzero(cid_s[1:] != cid_s[:-1]) + 1
    starts = np.r_[0, bounds].astype(np.int64) if n else np.zeros(0, dtype=np.int64)
    ends = np.r_[bounds, n].astype(np.int64) if n else np.zeros(0, dtype=np.int64)
    del bounds
    k_orders = int(starts.size)
    lengths = ends - starts
    keys = cid_s[starts] if n else np.zeros(0, dtype=np.int64)
    del cid_s
    has_submit = np.zeros(k_orders, dtype=bool)
    has_submit[np.searchsorted(starts, np.flatnonzero(ev == E_SUBMIT), side="right") - 1] = True
    orphan = ~has_submit | (keys < 0)  # events without a cid are orphans whatever they are
    dup_fill = _dup_fills(ev, events.keys(Field.TRADE_ID), rows, starts)
    qty, fq, cq = events.floats(Field.QTY), events.floats(Field.FILL_QTY), events.floats(Field.CUM_QTY)

    kind = np.full(n, ORPHAN, dtype=np.int8)
    outcome = np.zeros(n, dtype=np.int8)
    after = np.full(n, PREPARED, dtype=np.int8)
    # an orphan's REJECT still reaches the kill-switch
    rejects = np.flatnonzero(ev == E_REJECT)
    outcome[rejects[orphan[np.searchsorted(starts, rejects, side="right") - 1]]] = OUTCOME_REJECT
    del rejects
    state = np.full(k_orders, PREPARED, dtype=np.int8)
    acked = np.zeros(k_orders, dtype=bool)
    responded = np.zeros(k_orders, dtype=bool)
    overfilled = np.zeros(k_orders, dtype=bool)
    submit_ns, ack_ns, done_ns, fill_ns = (np.full(k_orders, NO_TS, dtype=np.int64) for _ in range(4))
    submit_pos = starts.copy()
    order_qty = np.full(k_orders, np.nan)
    cum = np.zeros(k_orders)
    ttl_ns = int(min(ack_ttl_s, 1e9) * 1e9)
    found: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {c: [] for c in WALK_ANOMALIES}

    walked = np.flatnonzero(~orphan)
    by_len = walked[np.argsort(-lengths[walked], kind="stable")]
    neg_len = -lengths[by_len]
    for k in range(int(lengths[by_len[0]]) if by_len.size else 0):
        a = by_len[: int(np.searchsorted(neg_len, -k, side="left"))]  # orders with more than k events
        p = starts[a] + k
        r = rows[p]
        e = ev[p]
        t = ts[p]
        s = state[a]
        # the rules: one lookup per event, in the arrays generated from aurora.orders.anomalies.RULES
        key = _rule_key(s, e, acked[a], dup_fill[p], responded[a])
        step = R_KIND[key]
        new_state = R_AFTER[key]
        outcome[p] = R_OUTCOME[key]
        responded[a] = R_RESPONDED[key]
        # the arithmetic: the first ACK's time (and delay), the fills that happened
        first_ack = R_FIRST_ACK[key]
        if first_ack.any():
            fa = a[first_ack]
            ack_ns[fa] = t[first_ack]
            acked[fa] = True
            if collect:
                sub = submit_ns[fa]
                late = (sub >= 0) & (t[first_ack] - sub > ttl_ns)
                found["late_ack"].append((p[first_ack][late], (t[first_ack] - sub)[late].astype(np.float64)))
        real = R_COUNTS_FILL[key]
        if real.any():
            ra, rr = a[real], r[real]
            f, c, cur = fq[rr], cq[rr], cum[ra]
            f = np.where(np.isnan(f), np.where(~np.isnan(c) & (c > cur), c - cur, 0.0), f)  # from cum_qty
            new = cur + f
            cum[ra] = new
            first = fill_ns[ra] < 0
            fill_ns[ra[first]] = t[real][first]
            oq = order_qty[ra]
            over = ~overfilled[ra] & ~np.isnan(oq) & (new > oq * (1 + 1e-9) + 1e-12)
            if over.any():
                overfilled[ra[over]] = True
                if collect:
                    found["overfill"].append((p[real][over], new[over]))
        legal = step == OK
        submitted = legal & (e == E_SUBMIT) & (submit_ns[a] < 0)
        if submitted.any():
            sa = a[submitted]
            submit_ns[sa] = t[submitted]
            submit_pos[sa] = p[submitted]
            order_qty[sa] = qty[r[submitted]]
        done = legal & _TERMINAL_LUT[new_state] & (done_ns[a] < 0)
        done_ns[a[done]] = t[done]
        kind[p] = step
        after[p] = new_state
        state[a] = new_state
        if collect:
            for cls in STEP_ANOMALIES:
                m = R_ANOMALY[cls][key]
                if m.any():
                    found[cls.value].append((p[m], np.zeros(int(m.sum()))))
    before = np.empty_like(after)
    if n:
        before[1:] = after[:-1]
        before[starts] = PREPARED  # each order starts PREPARED
    final = state
    return OrderWalk(
        rows=rows, ev=ev, kind=kind, outcome=outcome, before=before, after=after,
        cids=Labels(keys if isinstance(cid_col, Labels) else np.full(k_orders, -1), cid_col._values
                    if isinstance(cid_col, Labels) else []), keys=keys.astype(np.int64), starts=starts, ends=ends, orphan=orphan, final=final.astype(np.int64),
        submit_ns=submit_ns, ack_ns=ack_ns, done_ns=done_ns, first_fill_ns=fill_ns,
        last_ns=ts[ends - 1] if k_orders else np.zeros(0, dtype=np.int64),
        order_qty=order_qty, filled_qty=cum, submit_pos=submit_pos, ts=ts,
        found={c: (np.concatenate([x for x, _ in v]).astype(np.int64), np.concatenate([y for _, y in v]))
               for c, v in found.items() if v},
    )  # fmt: skip


def transition_counts(w: OrderWalk) -> dict[tuple[int, int, int, int], int]:
    """(from, event, to, kind) -> count over every walked event (orphans' events are not transitions)."""
    if not w.kind.size:
        return {}
    keep = w.kind != ORPHAN
    base = 64  # states, events and kinds are all below 64
    key = ((w.before.astype(np.int64) * base + w.ev) * base + w.after) * base + w.kind
    values, counts = np.unique(key[keep], return_counts=True)
    out = {}
    for v, c in zip(values.tolist(), counts.tolist(), strict=True):
        v, k = divmod(v, base)
        v, b = divmod(v, base)
        a, e = divmod(v, base)
        out[(a, e, b, k)] = c
    return out
