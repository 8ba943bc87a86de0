"""What the gate records so that every decision can be recomputed, and the records its state is made of.

A ``POLICY_DECISION`` carries the check's whole validated input, the gate clock it was judged at and
the config version in force; the state journal's ``dec`` and ``ord`` records are built here too, from
the same inputs, so that ``auroractl whatif`` (:mod:`aurora.whatif`) can rebuild from a session's log
exactly the records the live gate applied, and apply them through the same
:class:`aurora.gate.gate_state.GateState`.

Compactness: most of the request is already in the decision record for the analytics
(``symbol``/``side``/``qty``/``cid`` at the top, ``account``, ``spread_bps``, ``latency_ms``,
``vol_std_bps``, ``score``, ``reduce_only``, ``request_ts_ns`` in ``details``); only the rest is
written, once, as the positional list ``details.req`` (:data:`REQ_FIELDS`, trailing ``None`` left
out). Floats are written in their shortest round-trip form (orjson), so a replay computes with the very
numbers the gate saw. The gate clock is the record's top-level ``gate_ns``, which lifecycle and operator
events carry as well (their own ``ts_ns`` is the runner's or the wall clock's).
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from aurora.gate.guard import CheckRequest
from aurora.session.fields import Field

#: ``details.req`` of a ``POLICY_DECISION``: the request's fields its other fields do not carry, in order.
REQ_FIELDS: tuple[str, ...] = (
    "best_bid", "best_ask", "bid_size", "ask_size", "tp_bps", "sl_bps", "price", "order_type",
    "l2_add_volumes", "l2_cancel_volumes", "sprt_samples", "equity_usd", "deadline_ms", "book_age_ms",
)  # fmt: skip
_N = len(REQ_FIELDS)
#: The gate clock (ns) a decision, lifecycle event or operator action was applied at (top level).
GATE_NS = Field.GATE_NS.value


def req_of(r: CheckRequest) -> list[Any]:
    """``details.req`` of ``r`` (see :data:`REQ_FIELDS`)."""
    out = [r.best_bid, r.best_ask, r.bid_size, r.ask_size, r.tp_bps, r.sl_bps, r.price, r.order_type,
           r.l2_add_volumes, r.l2_cancel_volumes, r.sprt_samples, r.equity_usd, r.deadline_ms, r.book_age_ms]  # fmt: skip
    while out[-1] is None:  # the optional tail is usually absent: not written
        out.pop()
    return out


def replayable(rec: dict[str, Any]) -> bool:
    """A ``POLICY_DECISION`` that carries its whole input (written by a gate that records it)."""
    d = rec.get("details")
    return isinstance(d, dict) and isinstance(d.get("req"), list) and isinstance(rec.get(GATE_NS), int)


def request_of(rec: dict[str, Any]) -> CheckRequest:
    """The check a ``POLICY_DECISION`` judged, as the gate had it after validation (raises ``KeyError``,
    ``TypeError`` or ``ValueError`` on a record that is not one)."""
    d = rec["details"]
    q = d["req"]
    if len(q) < _N:
        q = [*q, *([None] * (_N - len(q)))]
    bid, ask, bid_size, ask_size, tp, sl, price, order_type, l2_add, l2_cancel, sprt, eq, deadline, book_age = q
    return CheckRequest(
        d["account"], rec["symbol"], rec["side"], rec["qty"], bid, ask, bid_size, ask_size, d["spread_bps"],
        d["latency_ms"], d["vol_std_bps"], d["score"], tp, sl, l2_add if l2_add is not None else [],
        l2_cancel if l2_cancel is not None else [], sprt, price, order_type, d["reduce_only"], rec.get("cid"), eq,
        d.get("request_ts_ns"), deadline, book_age,
    )  # fmt: skip


def decision_state_record(r: CheckRequest, allow: bool, reason: str, max_qty: float, risk_reducing: bool,
                          now_ns: int, reservation_ns: int, counts: bool) -> dict[str, Any] | None:  # fmt: skip
    """The journal's ``dec`` record of a decision: an allow reserves capacity (until SUBMIT or
    ``reservation_ns``) and feeds the throttles; a denial the kill-switch counts (``counts``) is a hit
    of its denied-rate window. ``None``: the decision changes no state."""
    if allow:
        o = [r.symbol, r.side, max_qty, r.price, risk_reducing, reservation_ns, r.qty]
        return {"k": "dec", "t": now_ns, "a": r.account_id, "c": r.cid, "o": o, "h": False}
    if counts:
        return {"k": "dec", "t": now_ns, "a": r.account_id, "h": True}
    return None


def posttrade_key(ev: dict[str, Any]) -> str:
    """The idempotency key of a lifecycle event (a retried post is recognised by it)."""
    details = ev.get("details") or {}
    return f"{ev['cid']}|{ev['event_code']}|{ev['ts_ns']}|{details.get('trade_id')}|{details.get('cum_qty')}"


def order_state_record(ev: dict[str, Any], short: str, now_ns: int, equity_usd: float) -> dict[str, Any]:
    """The journal's ``ord`` record of a lifecycle event (the ``/posttrade/log`` body, or the same event as
    the gate logged it): positions, open orders, PnL, the venue-outcome sample, the lifecycle track."""
    details: dict[str, Any] = ev.get("details") or {}
    journal_ev: dict[str, Any] = {"short": short, "cid": ev["cid"], "account": ev.get("account")}
    for k in ("symbol", "side", "qty"):
        if ev.get(k) is not None:
            journal_ev[k] = ev[k]
    for k in ("price", "fill_qty", "cum_qty", "realized_pnl_usd"):
        v = details.get(k)
        if isinstance(v, int | float) and not isinstance(v, bool):
            journal_ev[k] = float(v)
    trade_id = details.get("trade_id")
    if trade_id is not None:
        journal_ev["trade_id"] = str(trade_id)  # 5 and "5" are one trade (as in the session's logs)
    journal_ev["ts"] = ev["ts_ns"]  # the event's own time: the lifecycle check judges late acks by it
    return {"k": "ord", "t": now_ns, "e": journal_ev, "key": posttrade_key(ev), "eq": equity_usd}


def judged_with(calibration: Any, instruments: Any) -> dict[str, str]:
    """Fingerprints of the data besides the config that decisions are judged on (recorded with the config
    in force): a replay notes when the calibration map or the instrument registry it loads is not the same."""
    def digest(doc: Any) -> str:
        return hashlib.sha256(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY)).hexdigest()[:16]

    return {"calibration_sha256": digest(calibration.to_dict()), "instruments_sha256": digest(instruments.to_document())}
