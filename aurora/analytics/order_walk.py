"""One walk of every order's ``ORDER.*`` events through the lifecycle FSM, shared by the summary and the audit.

The walk decides, once, what each event *was* (a legal transition, an illegal one, a duplicate ack, a
replayed fill, a fill after cancel, an orphan's event) and what each order *ended as* (its final FSM
state). Everything counted per order — success / rejected / canceled / expired, filled quantity,
realized PnL of the fills that really happened, submit→ack and ack→done latency, the kill-switch's
venue outcomes — comes from it, so the summary and the audit cannot disagree.

Rules (SPEC §8, :mod:`aurora.orders.fsm` is imported, never restated):

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

Vectorised where it can be (one ``lexsort`` groups the events by order); the walk itself is one tight
Python loop over a list-of-lists transition table of small integers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from aurora.events.codes import ORDER_EVENT_NAMES
from aurora.orders.fsm import FILL_EVENTS, TERMINAL_STATES, TRANSITIONS, OrderState

# --- integer encoding of the FSM (derived, not restated) ------------------------------------------
STATES: tuple[OrderState, ...] = tuple(OrderState)
EVENTS: tuple[str, ...] = ORDER_EVENT_NAMES + ("?",)  # "?" = an ORDER.* code the FSM does not know
S_IDX = {s: i for i, s in enumerate(STATES)}
E_IDX = {e: i for i, e in enumerate(EVENTS)}
TABLE: list[list[int]] = [[-1] * len(EVENTS) for _ in STATES]
for (_s, _e), _n in TRANSITIONS.items():
    TABLE[S_IDX[_s]][E_IDX[_e]] = S_IDX[_n]
PREPARED = S_IDX[OrderState.PREPARED]
CANCELED = S_IDX[OrderState.CANCELED]
TERMINAL = frozenset(S_IDX[s] for s in TERMINAL_STATES)
E_SUBMIT, E_ACK, E_REJECT, E_UNKNOWN = E_IDX["SUBMIT"], E_IDX["ACK"], E_IDX["REJECT"], E_IDX["?"]
E_FILLS = frozenset(E_IDX[e] for e in FILL_EVENTS)
#: Venue responses: what clears a submitted order's pending ack (the kill-switch's outcomes).
RESPONSE_EVENTS: frozenset[str] = frozenset(ORDER_EVENT_NAMES) - {"SUBMIT", "CANCEL.REQUEST"}
_E_RESPONSES = frozenset(E_IDX[e] for e in RESPONSE_EVENTS)

# step kinds (per event)
OK, ILLEGAL, FAC, DUP_ACK, DUP_FILL, ORPHAN = range(6)
KIND_NAMES = ("ok", "illegal", "fill_after_cancel", "duplicate_ack", "duplicate_fill", "orphan")
#: Kinds whose fills happened (count toward filled quantity and PnL): legal ones and the cancel race.
FILL_COUNTS = (OK, FAC)
# venue outcome per event (the kill-switch's reject window)
NO_OUTCOME, OUTCOME_OK, OUTCOME_REJECT = 0, 1, 2

NO_TS = -1
COLUMNS = ("ts_ns", "event_code", "cid", "qty", "fill_qty", "cum_qty", "trade_id")


@dataclass
class OrderWalk:
    """The walk's results: ``frame`` is the lifecycle events sorted by (order, time) with the per-event
    columns ``_ev`` (FSM event index), ``_kind`` (step kind), ``_outcome`` and ``_order`` (order index);
    the per-order arrays are indexed by order (``cids[i]``)."""

    frame: pd.DataFrame
    cids: list[str | None]
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
    submit_row: np.ndarray  # row of the SUBMIT in ``frame`` (first row for orphans)
    # anomalies found, per order index: class -> [(ts_ns, detail, row)], only when asked for
    found: dict[int, dict[str, list[tuple[int, str, int]]]] = field(default_factory=dict)
    steps: dict[int, list[tuple[int, int, int, int, int]]] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.cids)

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


def _walk(cols: tuple[list, ...], lo: int, hi: int, ttl_ns: int, kinds: list[int], outcomes: list[int],
          after: list[int], found: dict[str, list] | None, steps: list | None) -> tuple:  # fmt: skip
    """Walk one order's events ``[lo, hi)``; fill ``kinds``/``outcomes``/``after`` (the state after each
    event) for them; anomalies to ``found``.

    Returns (final state, submit ts, first ack ts, done ts, first fill ts, order qty, filled qty, submit row).
    """
    ev, ts, qty, fq, cq, tid = cols
    state = PREPARED
    acked = False
    responded = False
    submit_ts = ack_ts = done_ts = fill_ts = NO_TS
    submit_row = lo
    order_qty = float("nan")
    cum = 0.0
    overfilled = False
    trades: set[int] = set()
    table = TABLE
    for i in range(lo, hi):
        e = ev[i]
        t = ts[i]
        kind = OK
        nxt = table[state][e]
        if state != PREPARED and e in _E_RESPONSES:
            if not responded:
                responded = True
                outcomes[i] = OUTCOME_REJECT if e == E_REJECT else OUTCOME_OK
            elif e == E_REJECT:
                outcomes[i] = OUTCOME_REJECT
        if e == E_ACK:
            if state in TERMINAL:
                kind = ILLEGAL  # SPEC §8: anything after a terminal state but the cancel race
                if acked and found is not None:
                    found["duplicate_ack"].append((t, f"ACK after {STATES[state].value}", i))
            elif acked:
                kind = DUP_ACK
            if not acked:
                acked = True
                ack_ts = t
                if submit_ts >= 0 and t - submit_ts > ttl_ns and found is not None:
                    found["late_ack"].append(
                        (t, f"ack {(t - submit_ts) / 1e9:.3f}s after submit (ttl {ttl_ns / 1e9:g}s)", i)
                    )
        elif e in E_FILLS:
            k = tid[i]
            if k >= 0 and k in trades:
                kind = DUP_FILL
            else:
                if k >= 0:
                    trades.add(k)
                f = fq[i]
                if f != f:  # NaN: derive from the cumulative quantity when that is all we have
                    c = cq[i]
                    f = c - cum if c == c and c > cum else 0.0
                cum += f
                if fill_ts < 0:
                    fill_ts = t
                if not overfilled and order_qty == order_qty and cum > order_qty * (1 + 1e-9) + 1e-12:
                    overfilled = True
                    if found is not None:
                        found["overfill"].append((t, f"filled {cum:g} of {order_qty:g}", i))
        if kind == OK:
            if nxt >= 0:
                if e == E_SUBMIT and submit_ts < 0:
                    submit_ts = t
                    submit_row = i
                    order_qty = qty[i]
                if nxt in TERMINAL and done_ts < 0:
                    done_ts = t
            elif state == CANCELED and e in E_FILLS:
                kind, nxt = FAC, state
            else:
                kind, nxt = ILLEGAL, state
        else:
            nxt = state
        if found is not None:
            if kind == ILLEGAL:
                what = EVENTS[e] if e != E_UNKNOWN else "an unknown ORDER.* code"
                found["illegal_transition"].append((t, f"{STATES[state].value} --{what}-->", i))
            elif kind == DUP_ACK:
                found["duplicate_ack"].append((t, "second ACK", i))
            elif kind == DUP_FILL:
                found["duplicate_fill"].append((t, f"{EVENTS[e]} repeats a trade_id", i))
            elif kind == FAC:
                found["fill_after_cancel"].append((t, f"{EVENTS[e]} after CANCEL.ACK", i))
        if steps is not None:
            steps.append((state, e, nxt, kind, t))
        kinds[i] = kind
        after[i] = nxt
        state = nxt
    return state, submit_ts, ack_ts, done_ts, fill_ts, order_qty, cum, submit_row


def _columns(frame: pd.DataFrame) -> tuple[list, ...]:
    return (
        frame["_ev"].tolist(),
        frame["ts_ns"].tolist(),
        frame["qty"].tolist(),
        frame["fill_qty"].tolist(),
        frame["cum_qty"].tolist(),
        frame["trade_id"].cat.codes.tolist(),
    )


def lifecycle_rows(events: pd.DataFrame) -> np.ndarray:
    """Mask of the gate's ``ORDER.*`` events in a session frame (the runners' copies are not the record)."""
    from aurora.session.files import is_runner_stem

    codes = events["event_code"]
    order_ids = [i for i, c in enumerate(codes.cat.categories) if c.startswith("ORDER.")]
    mask = np.isin(codes.cat.codes.to_numpy(), order_ids)
    if "source" in events:
        src = events["source"]
        gate_src = [i for i, s in enumerate(src.cat.categories) if not is_runner_stem(s)]
        mask &= np.isin(src.cat.codes.to_numpy(), gate_src)
    return mask


def walk_orders(
    events: pd.DataFrame,
    ack_ttl_s: float = float("inf"),
    *,
    collect: bool = False,
    keep_steps: bool = False,
    extra: tuple[str, ...] = (),
) -> OrderWalk:
    """Walk the lifecycle events of ``events`` (a session frame, :data:`COLUMNS` at least).

    ``collect`` gathers each order's anomalies (for the audit); ``keep_steps`` keeps each order's
    path for graphs; ``extra`` columns are carried into :attr:`OrderWalk.frame`.
    """
    mask = lifecycle_rows(events)
    wanted = list(dict.fromkeys([*COLUMNS, *(c for c in extra if c in events)]))
    frame = events.loc[mask, wanted]
    cats = frame["event_code"].cat.categories
    code_to_ev = np.array(
        [E_IDX.get(c[len("ORDER.") :], E_UNKNOWN) if c.startswith("ORDER.") else -1 for c in cats] + [-1]
    )
    cid_codes = frame["cid"].cat.codes.to_numpy()
    order = np.lexsort((np.arange(len(frame)), frame["ts_ns"].to_numpy(), cid_codes))
    frame = frame.iloc[order].reset_index(drop=True)
    frame["_ev"] = code_to_ev[frame["event_code"].cat.codes.to_numpy()]
    cid_sorted = cid_codes[order]
    n = len(frame)
    bounds = np.flatnonzero(np.diff(cid_sorted)) + 1
    starts = np.concatenate(([0], bounds)).astype(np.int64) if n else np.zeros(0, dtype=np.int64)
    ends = np.concatenate((bounds, [n])).astype(np.int64) if n else np.zeros(0, dtype=np.int64)
    group_cid = cid_sorted[starts] if n else np.zeros(0, dtype=np.int64)
    names = frame["cid"].cat.categories.astype(str).tolist()
    has_submit = np.zeros(len(names) + 1, dtype=bool)
    has_submit[cid_sorted[frame["_ev"].to_numpy() == E_SUBMIT]] = True
    has_submit[-1] = False  # events without a cid (code -1) are orphans whatever they are

    cols = _columns(frame)
    ttl_ns = int(min(ack_ttl_s, 1e9) * 1e9)
    kinds = [ORPHAN] * n
    outcomes = [NO_OUTCOME] * n
    after = [PREPARED] * n
    ev_list = cols[0]
    k = len(starts)
    orphan = ~has_submit[group_cid] if k else np.zeros(0, dtype=bool)
    res: list[tuple] = [()] * k
    found_all: dict[int, dict[str, list]] = {}
    steps_all: dict[int, list] = {}
    classes = ("illegal_transition", "late_ack", "duplicate_ack", "duplicate_fill", "overfill", "fill_after_cancel")
    starts_l, ends_l, orphan_l = starts.tolist(), ends.tolist(), orphan.tolist()
    for j in range(k):
        lo, hi = starts_l[j], ends_l[j]
        if orphan_l[j]:
            for i in range(lo, hi):  # an orphan's REJECT still reaches the kill-switch
                if ev_list[i] == E_REJECT:
                    outcomes[i] = OUTCOME_REJECT
            res[j] = (PREPARED, NO_TS, NO_TS, NO_TS, NO_TS, np.nan, 0.0, lo)
            continue
        found = {c: [] for c in classes} if collect else None
        steps: list | None = [] if keep_steps else None
        res[j] = _walk(cols, lo, hi, ttl_ns, kinds, outcomes, after, found, steps)
        if found is not None and any(found.values()):
            found_all[j] = found
        if steps is not None:
            steps_all[j] = steps
    frame["_kind"] = np.array(kinds, dtype=np.int8)
    frame["_outcome"] = np.array(outcomes, dtype=np.int8)
    frame["_after"] = np.array(after, dtype=np.int8)
    frame["_order"] = np.repeat(np.arange(k), ends - starts) if k else np.zeros(0, dtype=np.int64)
    ts = frame["ts_ns"].to_numpy()
    # per-order columns (int64 for times: a float would lose nanoseconds)
    col = list(zip(*res, strict=True)) if k else [()] * 8

    def ints(i: int) -> np.ndarray:
        return np.array(col[i], dtype=np.int64)

    def floats(i: int) -> np.ndarray:
        return np.array(col[i], dtype=np.float64)

    return OrderWalk(
        frame=frame,
        cids=[None if c < 0 else names[c] for c in group_cid.tolist()],
        starts=starts,
        ends=ends,
        orphan=orphan,
        final=ints(0),
        submit_ns=ints(1),
        ack_ns=ints(2),
        done_ns=ints(3),
        first_fill_ns=ints(4),
        last_ns=ts[ends - 1] if k else np.zeros(0, dtype=np.int64),
        order_qty=floats(5),
        filled_qty=floats(6),
        submit_row=ints(7),
        found=found_all,
        steps=steps_all,
    )


def walk_steps(w: OrderWalk, j: int, ack_ttl_s: float) -> list[tuple[int, int, int, int, int]]:
    """Order ``j``'s path (from, event, to, kind, ts), walked again (for one order's graph or timeline)."""
    if j in w.steps:
        return w.steps[j]
    lo, hi = int(w.starts[j]), int(w.ends[j])
    if w.orphan[j]:
        return [(PREPARED, int(e), PREPARED, ORPHAN, int(t)) for e, t in zip(
            w.frame["_ev"].to_numpy()[lo:hi], w.frame["ts_ns"].to_numpy()[lo:hi], strict=True)]  # fmt: skip
    sub = w.frame.iloc[lo:hi]
    steps: list = []
    m = hi - lo
    _walk(_columns(sub), 0, m, int(min(ack_ttl_s, 1e9) * 1e9), [0] * m, [0] * m, [0] * m, None, steps)
    return steps


def transition_counts(w: OrderWalk) -> dict[tuple[int, int, int, int], int]:
    """(from, event, to, kind) -> count over every walked event (orphans' events are not transitions)."""
    f = w.frame
    if not len(f):
        return {}
    after = f["_after"].to_numpy().astype(np.int64)
    before = np.empty_like(after)
    before[1:] = after[:-1]
    before[w.starts] = PREPARED  # each order starts PREPARED
    kind = f["_kind"].to_numpy().astype(np.int64)
    keep = kind != ORPHAN
    ev = f["_ev"].to_numpy().astype(np.int64)
    base = 64  # states, events and kinds are all below 64
    key = ((before * base + ev) * base + after) * base + kind
    values, counts = np.unique(key[keep], return_counts=True)
    out = {}
    for v, c in zip(values.tolist(), counts.tolist(), strict=True):
        v, k = divmod(v, base)
        v, b = divmod(v, base)
        a, e = divmod(v, base)
        out[(a, e, b, k)] = c
    return out
