"""The metrics summary of a session (SPEC §7): one JSON-able dict, evaluated against the config.

Over the last ``window_sec`` seconds of the session (``0`` = the whole session). The window ends at the
session's own clock: its newest record on that clock (the reader leaves out records stamped after their
file was last written or in another unit, and reports them), so one bad timestamp cannot move it.

Definitions (one place; statistics themselves are :mod:`aurora.stats`'):
  * decisions = the gate's ``POLICY_DECISION`` events; deny rate = denied / decisions.
  * orders are counted once each, by their final FSM state (:mod:`aurora.analytics.order_walk`, the
    walk the audit uses), in the window that holds the event that made them terminal: success =
    FILLED, rejected = REJECTED, expired = EXPIRED, canceled = CANCELED; failed = rejected + expired
    (the ``orders_failed`` stream). outcomes = success + failed + denied; conversion = success / outcomes.
  * reject rate = the kill-switch's: rejected venue outcomes / venue outcomes (the first venue response
    of each submitted order, plus every later REJECT).
  * kill-switch gates: the gate's rule (:func:`aurora.stats.rate_exceeds`) replayed on the window —
    reject rate over the last ``killswitch.window_trades`` venue outcomes, denied rate over the last
    ``window_trades`` decisions, judged from ``min_outcomes``; the worst judged rate is shown.
  * spread / volatility / request-latency gates: p95 of the values the allowed decisions carry.
  * PnL figures are over closing fills that really happened (a replayed fill is not counted twice):
    ``details.realized_pnl_usd`` / ``_bps``. CVaR (positive = loss) of the ``risk.cvar_alpha`` tail;
    worst intraday drawdown; win rate, expectancy, profit factor, Sharpe and Sortino per trade and per
    UTC day. ECE: ``entry_p_win`` against the trade's outcome (PnL > 0), 10 equal-width bins.
  * fill ratio = filled quantity / ordered quantity of the orders that ended in the window;
    time to fill = SUBMIT → first fill.
  * slippage (bps, positive = cost): of each fill's price against the mid the gate logged with the
    order's decision (``POLICY_DECISION.details.mid``), ``side · (fill − mid) / mid · 1e4``.
  * markouts (bps, positive = the price moved the fill's way): of each fill against the mid the runner
    logged ``h`` seconds after it (a ``RUNNER.MARKOUT`` record naming the fill's ``cid`` and
    ``trade_id``, :mod:`aurora.session.fields`), ``side · (mid_h − fill) / fill · 1e4``, per horizon.
  * kills: each ``RUNNER.KILL_APPLIED`` of the window (a runner cancelling its resting orders on a
    trading-state change, :mod:`runner.kill`), with its ``RUNNER.KILL_SETTLED``: cancel requests sent,
    request latency (the change as the runner learned it → its last cancel request) and ack latency
    (→ the last of those orders done: CANCEL.ACK, or the fill that beat it), their p50/p95/p99.

Counts come from the event log (the gate's system of record); the order logs, when present, are
counted too and any disagreement is reported in ``notes``.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from aurora import stats
from aurora.analytics.order_timing import histogram
from aurora.analytics.order_walk import E_FILLS, FILL_COUNTS, OUTCOME_REJECT, S_IDX, OrderWalk, walk_orders
from aurora.events.codes import EventCode
from aurora.orders.fsm import OrderState
from aurora.session.fields import EVENT, MARKOUT_CODE, MARKOUT_HORIZONS_S, SOURCE, Field
from aurora.session.files import is_runner_stem
from aurora.session.frame import Frame, Labels
from aurora.session.reader import SESSION, SessionData, read_dataset, read_session

if TYPE_CHECKING:  # pydantic models: imported by whoever loads the config (the CLI reads meanwhile)
    from aurora.config.models import AuroraConfig

SCHEMA = "aurora.metrics_summary/2"

F = Field
#: Details shown in the state-change timeline (under their names in the record's ``details``).
STATE_FIELDS: tuple[Field, ...] = (
    F.STATE, F.ACTION, F.ARMED, F.HALTED, F.P95_MS, F.THRESHOLD_MS, F.FROM_STATE, F.TO_STATE, F.TRIGGER,
    F.RATE_PCT, F.COOLOFF_SEC, F.REASON,
)  # fmt: skip
#: A deny's deciding config key, its value and where it was set (``details.threshold``).
DENY_THRESHOLD: tuple[Field, ...] = (F.CONFIG_KEY, F.CONFIG_VALUE, F.CONFIG_SOURCE)
#: The event fields the summary needs (the reader parses only these).
EVENT_COLUMNS: tuple[Field, ...] = tuple(dict.fromkeys((
    F.CID, F.SYMBOL, F.SIDE, F.QTY, F.ALLOW, F.REASON, F.DECISION_US, F.SPREAD_BPS, F.VOL_STD_BPS,
    F.LATENCY_MS, F.MID, F.ORDER_TYPE, F.FILL_QTY, F.FILL_PRICE, F.CUM_QTY, F.TRADE_ID,
    F.REALIZED_PNL_USD, F.REALIZED_PNL_BPS, F.ENTRY_P_WIN, F.FEE_USD, F.HORIZON_S, F.MODE, F.CONFIG_VERSION,
    *STATE_FIELDS, *DENY_THRESHOLD,
)))  # fmt: skip
#: From the runners' files: the event code (counted), the markout and the kill records.
RUNNER_COLUMNS: tuple[Field, ...] = (F.CID, F.SYMBOL, F.TRADE_ID, F.HORIZON_S, F.MID, F.KILL, F.STATE, F.REASON,
                                     F.COUNT, F.REQUEST_LATENCY_MS, F.ACK_LATENCY_MS, F.SETTLED)  # fmt: skip
KILL_APPLIED, KILL_SETTLED = EventCode.RUNNER_KILL_APPLIED.value, EventCode.RUNNER_KILL_SETTLED.value
RUNNER_CODES: tuple[str, ...] = (MARKOUT_CODE, KILL_APPLIED, KILL_SETTLED)
MAX_KILLS = 200  # kills listed one by one (all are in the latency figures)
ORDER_COLUMNS: tuple[Field, ...] = (F.STREAM,)

TRIP_CODES: tuple[str, ...] = (
    "SPREAD_GUARD_TRIP", "AURORA.SLIPPAGE_GUARD", "AURORA.EXPECTED_RETURN_REJECT", "RISK.DENY",
    "AURORA.GUARD_ERROR", "GOVERNANCE.KILL_SWITCH",
)  # fmt: skip
STATE_PREFIXES: tuple[str, ...] = (
    "HEALTH.", "AURORA.COOL_OFF", "AURORA.ESCALATION", "AURORA.ARM_STATE", "GOVERNANCE.KILL_SWITCH",
    "OPS.RESET", "OPS.COOLOFF",
)  # fmt: skip
START_CODE = "AURORA.START"
MAX_TIMELINE = 500
MAX_CURVE = 500  # points of the PnL / drawdown curves in the JSON (the whole curve, evenly thinned)
NS = 1_000_000_000
HOUR_NS = 3600 * NS
_FILLED, _REJECTED, _EXPIRED, _CANCELED = (
    S_IDX[OrderState.FILLED],
    S_IDX[OrderState.REJECTED],
    S_IDX[OrderState.EXPIRED],
    S_IDX[OrderState.CANCELED],
)


def iso(ts_ns: int | None) -> str | None:
    if ts_ns is None:
        return None
    return datetime.fromtimestamp(ts_ns / NS, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _rate(num: float, den: float) -> float | None:
    return round(num / den, 6) if den else None


def _r(x: float | None, digits: int = 6) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), digits)


def _gate(
    value: float | None,
    threshold: float,
    key: str,
    unit: str,
    *,
    basis: str,
    n: int,
    red: bool | None = None,
    extra: dict | None = None,
) -> dict[str, Any]:
    if value is None:
        status = "n/a"
    elif red is not None:
        status = "red" if red else "green"
    else:
        status = "red" if value > threshold else "green"
    out = {
        "value": None if value is None else round(value, 4),
        "threshold": threshold,
        "unit": unit,
        "status": status,
        "key": key,
        "basis": basis,
        "n": n,
    }
    if extra:
        out.update(extra)
    return out


def _rolling_gate(flags: np.ndarray, window: int, limit: float, min_n: int) -> tuple[float | None, bool, int]:
    """The kill-switch rule over every prefix of ``flags``: worst judged rate, whether it tripped, count."""
    hits, n = stats.window_counts(flags, window)
    judged = n >= min_n
    if not judged.any():
        return None, False, int(flags.size)
    rates = 100.0 * hits[judged] / n[judged]
    worst = int(np.argmax(rates))  # the rule trips somewhere iff it trips at the worst judged window
    tripped = stats.rate_exceeds(int(hits[judged][worst]), int(n[judged][worst]), limit, min_n)
    return float(rates[worst]), tripped, int(flags.size)


def _thin(values: np.ndarray, ts: np.ndarray) -> dict[str, list]:
    """At most :data:`MAX_CURVE` evenly spaced points (the last one always kept), with their times."""
    if values.size > MAX_CURVE:
        idx = np.unique(np.linspace(0, values.size - 1, MAX_CURVE).round().astype(int))
        values, ts = values[idx], ts[idx]
    return {"ts_ns": ts.astype(np.int64).tolist(), "value": [round(float(x), 6) for x in values]}


def _pnl_views(ts: np.ndarray, pnl: np.ndarray, pnl_bps: np.ndarray, alpha: float, equity: float) -> dict[str, Any]:
    order = np.argsort(ts, kind="stable")
    ts, pnl = ts[order], pnl[order]
    per_trade = stats.trade_stats(pnl)
    days = ts // stats.NS_PER_DAY
    day_keys, day_idx = np.unique(days, return_inverse=True)
    day_pnl = np.bincount(day_idx, weights=pnl, minlength=day_keys.size) if pnl.size else np.zeros(0)
    per_day = stats.trade_stats(day_pnl)
    cum = np.cumsum(pnl)
    dd = stats.drawdown_curve(pnl)
    cvar_usd = stats.cvar_loss(pnl, alpha) if pnl.size else None
    dd_day = stats.max_daily_drawdown(ts, pnl)
    bps = pnl_bps[np.isfinite(pnl_bps)]
    dist: dict[str, Any] = {"edges": [], "counts": []}
    if bps.size:
        lo, hi = float(bps.min()), float(bps.max())
        counts, edges = np.histogram(bps, bins=min(30, max(1, int(np.sqrt(bps.size)))), range=(lo, hi if hi > lo else lo + 1))
        dist = {"edges": [round(float(e), 4) for e in edges], "counts": counts.astype(int).tolist(), "unit": "bps"}
    return {
        "per_trade": {k: _r(v) if isinstance(v, float) else v for k, v in per_trade.items()},
        "per_day": {
            **{k: _r(v) if isinstance(v, float) else v for k, v in per_day.items()},
            "days": [
                {"day": datetime.fromtimestamp(int(d) * 86_400, UTC).date().isoformat(), "pnl_usd": _r(x)}
                for d, x in zip(day_keys.tolist(), day_pnl.tolist(), strict=True)
            ],
        },
        "cvar_usd": _r(cvar_usd),
        "cvar_bps": _r(stats.cvar_loss(bps, alpha) if bps.size else None, 4),
        "cvar_pct_equity": None if cvar_usd is None else _r(100 * cvar_usd / equity),
        "max_drawdown_usd": _r(stats.max_drawdown(pnl)),
        "max_daily_drawdown_usd": _r(dd_day),
        "max_daily_drawdown_pct": None if dd_day is None else _r(100 * dd_day / equity),
        "curve": {"cum_pnl_usd": _thin(cum, ts), "drawdown_usd": _thin(dd, ts)},
        "distribution_bps": dist,
    }


def _gate_rows(ev: Frame) -> np.ndarray:
    """Rows from the gate's own log (a runner's copy of a decision or lifecycle event must not count twice)."""
    return ev.labels(SOURCE).where(lambda s: not is_runner_stem(s))


def session_start(ev: Frame, gate: np.ndarray) -> dict[str, Any] | None:
    """The gate's first ``AURORA.START`` record of the session (the mode and config version it ran with)."""
    rows = np.flatnonzero(ev.labels(F.EVENT_CODE).isin([START_CODE]) & gate)
    if not rows.size:
        return None
    first = rows[np.argmin(ev[F.TS_NS][rows], kind="stable")] if rows.size > 1 else rows[0]
    return {"ts": iso(int(ev[F.TS_NS][first])), "starts": int(rows.size),
            "mode": ev.labels(F.MODE).get(int(first)), "config_version": ev.labels(F.CONFIG_VERSION).get(int(first))}  # fmt: skip


def _group_view(
    keys: Labels,
    dec_key: np.ndarray,
    allowed: np.ndarray,
    denied: np.ndarray,
    reason: Labels,
    w: OrderWalk,
    order_key: np.ndarray,
    ended: np.ndarray,
    fill_key: np.ndarray,
    fill_ok: np.ndarray,
    fill_qty: np.ndarray,
    pnl_key: np.ndarray,
    pnl: np.ndarray,
) -> dict[str, Any]:
    """Per value of ``keys`` (codes of one column: decisions', orders' and fills' keys share them)."""
    present = np.unique(np.concatenate((dec_key, order_key[ended])))
    out: dict[str, Any] = {}
    for k in sorted((int(c) for c in present if c >= 0), key=lambda c: keys.value(c) or ""):
        dm = dec_key == k
        om = (order_key == k) & ended
        fm = (fill_key == k) & fill_ok
        pm = pnl_key == k
        t = stats.trade_stats(pnl[pm])
        ordered = float(np.nansum(w.order_qty[om]))
        filled = float(np.nansum(w.filled_qty[om]))
        out[str(keys.value(k))] = {
            "decisions": int((dm & (allowed | denied)).sum()),
            "allow": int((dm & allowed).sum()),
            "deny": int((dm & denied).sum()),
            "deny_by_reason": reason.counts(dm & denied),
            "orders_by_final_state": w.final_counts(om),
            "filled_qty": _r(float(fill_qty[fm].sum())),
            "fill_ratio": _rate(filled, ordered),
            "closed_trades": t["trades"],
            "realized_pnl_usd": _r(float(pnl[pm].sum())),
            "win_rate": _r(t["win_rate"]),
            "expectancy_usd": _r(t["expectancy"]),
            "profit_factor": _r(t["profit_factor"]),
        }
    return out


def _deny_thresholds(ev: Frame, dec_idx: np.ndarray, denied: np.ndarray, reason: Labels) -> dict[str, list[dict]]:
    """Per deny reason, each config key that decided (with its value and where it was set) and its denies."""
    rows = dec_idx[denied]
    cols = [ev.labels(f).codes[rows] for f in DENY_THRESHOLD]
    keyed = cols[0] >= 0
    if not keyed.any():
        return {}
    combos, counts = np.unique(np.stack([reason.codes[denied][keyed], *(c[keyed] for c in cols)], axis=1), axis=0,
                               return_counts=True)  # fmt: skip
    labels = [reason, *(ev.labels(f) for f in DENY_THRESHOLD)]
    out: dict[str, list[dict]] = {}
    for combo, n in sorted(zip(combos.tolist(), counts.tolist(), strict=True), key=lambda x: -x[1]):
        r, key, value, source = (lab.value(c) for lab, c in zip(labels, combo, strict=True))
        out.setdefault(str(r), []).append({"key": key, "value": value, "source": source, "denies": n})
    return out


def _side_sign(side: Labels) -> np.ndarray:
    """+1 for buys, -1 for sells, NaN otherwise, per row (evaluated once per distinct value)."""
    table = np.array([1.0 if v == "buy" else -1.0 if v == "sell" else np.nan for v in side.values] + [np.nan])
    return table[side.codes]


def summarize(data: SessionData, config: AuroraConfig, window_sec: float) -> dict[str, Any]:
    """Compute the summary of ``data`` over its last ``window_sec`` seconds (0 = the whole session).

    ``data`` needs :data:`EVENT_COLUMNS` (see :func:`summarize_session`, which reads exactly that).
    """
    ev, orders = data.events, data.orders
    rn = data.runner if data.runner is not None else Frame({F.TS_NS: np.zeros(0, dtype=np.int64)}, 0)
    ts = ev[F.TS_NS]
    clocks = [x for x in (ts, rn[F.TS_NS], orders[F.TS_NS]) if x.size]
    if not clocks:
        raise ValueError("the session has no records")
    first_ns = min(int(x.min()) for x in clocks)
    end_ns = max(int(x.max()) for x in clocks)
    start_ns = first_ns if window_sec <= 0 else max(first_ns, end_ns - int(window_sec * NS))
    win = (ts >= start_ns) & (ts <= end_ns)

    def inwin(t: np.ndarray) -> np.ndarray:
        return (t >= start_ns) & (t <= end_ns)

    code = ev.labels(F.EVENT_CODE)
    gate = _gate_rows(ev)

    def is_code(*names: str) -> np.ndarray:
        return code.isin(names) & gate

    notes: list[str] = []
    # -- decisions ------------------------------------------------------------------------------
    pd_mask = is_code("POLICY_DECISION") & win
    allow = ev.floats(F.ALLOW)
    allowed = pd_mask & (allow == 1.0)
    denied = pd_mask & (allow == 0.0)
    n_dec, n_allow, n_deny = int(pd_mask.sum()), int(allowed.sum()), int(denied.sum())
    if n_dec != n_allow + n_deny:
        notes.append(f"{n_dec - n_allow - n_deny} POLICY_DECISION events without a boolean details.allow")
    dec_idx = np.flatnonzero(pd_mask)  # the per-decision views work on these rows only
    reason = ev.labels(F.REASON).take(dec_idx)
    deny_by_reason = reason.counts(denied[dec_idx])
    deny_thresholds = _deny_thresholds(ev, dec_idx, denied[dec_idx], reason)

    # -- orders: one walk, counted by final state --------------------------------------------------
    w = walk_orders(ev, config.observability.ack.ttl_s)
    walked = ~w.orphan
    ended = walked & (w.done_ns >= 0) & inwin(w.done_ns)
    final = w.final

    def n_final(state: int) -> int:
        return int((ended & (final == state)).sum())

    n_success, n_rejected, n_expired, n_canceled = (n_final(s) for s in (_FILLED, _REJECTED, _EXPIRED, _CANCELED))
    n_failed = n_rejected + n_expired
    n_outcomes = n_success + n_failed + n_deny
    f_ts = w.ts
    f_win = inwin(f_ts)
    outcome = w.outcome
    out_rows = f_win & (outcome > 0)
    out_order = np.argsort(f_ts[out_rows], kind="stable")
    reject_flags = (outcome[out_rows] == OUTCOME_REJECT)[out_order]
    open_orders = walked & (w.done_ns < 0) & inwin(w.submit_ns)
    orders_out: dict[str, Any] = {
        "submitted": int((walked & inwin(w.submit_ns)).sum()),
        "acked": int((walked & (w.ack_ns >= 0) & inwin(w.ack_ns)).sum()),
        "success": n_success,
        "rejected": n_rejected,
        "expired": n_expired,
        "canceled": n_canceled,
        "failed": n_failed,
        "open": int(open_orders.sum()),
        "orphans": int((w.orphan & inwin(w.last_ns)).sum()),
        "denied": n_deny,
        "outcomes": n_outcomes,
        "venue_outcomes": int(reject_flags.size),
        "venue_rejects": int(reject_flags.sum()),
        "reject_rate": _rate(int(reject_flags.sum()), int(reject_flags.size)),
        "conversion": _rate(n_success, n_outcomes),
        "by_final_state": w.final_counts(ended | open_orders),
        "source": "events",
        "order_logs": None,
    }
    if len(orders):
        counts = orders.labels(F.STREAM).counts(inwin(orders[F.TS_NS]))
        logs = {s: counts.get(s, 0) for s in ("success", "failed", "denied")}
        orders_out["order_logs"] = {**logs, "source": data.report.orders_source}
        # the order logs hold one record per FILL / REJECT+EXPIRE event and per deny
        expected = {
            "success": int((is_code("ORDER.FILL") & win).sum()),
            "failed": int((is_code("ORDER.REJECT", "ORDER.EXPIRE") & win).sum()),
            "denied": n_deny,
        }
        diff = {k: (logs[k], v) for k, v in expected.items() if logs[k] != v}
        if diff:
            notes.append(
                "order logs disagree with the event log: "
                + ", ".join(f"{k} {a} in orders logs vs {b} in events" for k, (a, b) in diff.items())
            )

    # -- latency --------------------------------------------------------------------------------
    lat = w.latency_ms(start_ns, end_ns)
    dec_ms = ev.floats(F.DECISION_US)[pd_mask] / 1000.0
    latency = {
        "decision": stats.describe(dec_ms, 4),
        "submit_to_ack": stats.describe(lat["submit_to_ack"]),
        "ack_to_done": stats.describe(lat["ack_to_done"]),
    }
    latency_hist = {
        "decision": histogram(dec_ms),
        "submit_to_ack": histogram(lat["submit_to_ack"]),
        "ack_to_done": histogram(lat["ack_to_done"]),
    }

    # -- fills, PnL, CVaR, drawdown, calibration ----------------------------------------------------
    risk_cfg = config.risk
    kind = w.kind
    is_fill = np.isin(w.ev, list(E_FILLS))
    real_fill = is_fill & np.isin(kind, FILL_COUNTS) & f_win  # replayed fills are not counted twice
    order_of_row = w.order
    order_symbol = w.at_submit(ev, F.SYMBOL)
    order_side = w.at_submit(ev, F.SIDE)
    pnl_all = w.col(ev, F.REALIZED_PNL_USD)
    closing = real_fill & np.isfinite(pnl_all)
    pnl = pnl_all[closing]
    pnl_ts = f_ts[closing]
    pnl_bps = w.col(ev, F.REALIZED_PNL_BPS)[closing]
    equity = risk_cfg.equity_usd
    pnl_view = _pnl_views(pnl_ts, pnl, pnl_bps, risk_cfg.cvar_alpha, equity)
    p_win = w.col(ev, F.ENTRY_P_WIN)[closing]
    cal = np.isfinite(p_win)
    ece = stats.ece(p_win[cal], (pnl[cal] > 0).astype(float), bins=10) if cal.any() else None
    fees = w.col(ev, F.FEE_USD)[real_fill]
    fees = fees[np.isfinite(fees)]
    risk = {
        "closed_trades": int(pnl.size),
        "realized_pnl_usd": round(float(pnl.sum()), 6),
        "fees_usd": _r(float(fees.sum())) if fees.size else None,
        "win_rate": _rate(int((pnl > 0).sum()), int(pnl.size)),
        "cvar_alpha": risk_cfg.cvar_alpha,
        "cvar_usd": pnl_view["cvar_usd"],
        "cvar_bps": pnl_view["cvar_bps"],
        "cvar_pct_equity": pnl_view["cvar_pct_equity"],
        "max_daily_drawdown_usd": pnl_view["max_daily_drawdown_usd"],
        "max_daily_drawdown_pct": pnl_view["max_daily_drawdown_pct"],
        "equity_usd": equity,
    }
    calibration = {"ece": _r(ece), "n": int(cal.sum()), "bins": 10}

    fill_qty = w.col(ev, F.FILL_QTY)
    ordered = float(np.nansum(w.order_qty[ended]))
    filled = float(np.nansum(w.filled_qty[ended]))
    ttf = (w.first_fill_ns - w.submit_ns)[ended & (w.first_fill_ns >= 0) & (w.submit_ns >= 0)] / 1e6
    fills = {
        "fill_events": int(real_fill.sum()),
        "replayed_fills": int((is_fill & (kind == 4) & f_win).sum()),
        "filled_qty": _r(float(np.nansum(fill_qty[real_fill]))),
        "fill_ratio_qty": _rate(filled, ordered),
        "fill_ratio_orders": _rate(int((ended & (w.filled_qty > 0)).sum()), int(ended.sum())),
        "time_to_fill_ms": stats.describe(ttf),
    }

    # -- slippage against the decision's mid, markouts against the mid after the fill -----------------
    fill_rows = np.flatnonzero(real_fill)
    fill_side = _side_sign(order_side)[order_of_row[fill_rows]]
    fill_price = w.col(ev, F.FILL_PRICE)[fill_rows]
    fill_symbol = order_symbol.codes[order_of_row[fill_rows]]
    slippage = _slippage(ev, allowed, w, fill_rows, fill_side, fill_price, fill_symbol, order_symbol)
    markouts = _markouts([ev, rn], w, fill_rows, fill_side, fill_price, fill_symbol, order_symbol, ev)
    kills = _kills(rn, start_ns, end_ns)

    # -- per symbol, per side, per hour ----------------------------------------------------------------
    by = {}
    keep_orders = ended | open_orders
    for name, col, per_order in (("by_symbol", F.SYMBOL, order_symbol), ("by_side", F.SIDE, order_side)):
        labels = ev.labels(col)
        dk = labels.codes[dec_idx]
        ok = per_order.codes
        fk = ok[order_of_row] if w.n else np.zeros(0, dtype=np.int32)
        by[name] = _group_view(labels, dk, allowed[dec_idx], denied[dec_idx], reason, w, ok, keep_orders, fk,
                               real_fill, np.nan_to_num(fill_qty), fk[closing], pnl)  # fmt: skip
    hourly = _hourly(ts, allowed, denied, f_ts, real_fill, pnl_ts, pnl)

    # -- gates -----------------------------------------------------------------------------------
    ks, gates_cfg = config.killswitch, config.gates
    gates: dict[str, Any] = {}
    dec_flags = (~allowed[pd_mask]).astype(bool) if n_dec else np.zeros(0, dtype=bool)
    dec_order = np.argsort(ts[pd_mask], kind="stable")
    for name, flags, thr, key, what in (
        ("reject_rate", reject_flags, ks.max_reject_rate_pct, "killswitch.max_reject_rate_pct", "venue outcomes"),
        ("denied_rate", dec_flags[dec_order], ks.max_denied_rate_pct, "killswitch.max_denied_rate_pct", "decisions"),
    ):
        worst, tripped, n = _rolling_gate(flags, ks.window_trades, thr, ks.min_outcomes)
        hits, cnt = stats.window_counts(flags, ks.window_trades)
        gates[name] = _gate(
            worst, thr, key, "pct",
            basis=f"worst rate over the last {ks.window_trades} {what}, judged from {ks.min_outcomes} (the gate's rule)",
            n=n, red=tripped,
            extra={
                "last_window_pct": _r(stats.rate_pct(hits[-1], cnt[-1]), 4) if flags.size else None,
                "window_pct": _r(stats.rate_pct(int(flags.sum()), flags.size), 4),
                **({} if worst is not None else {"reason": f"fewer than killswitch.min_outcomes={ks.min_outcomes} {what}"}),
            },
        )  # fmt: skip

    def p95_of(col: Field) -> tuple[float | None, int]:
        v = ev.floats(col)[allowed]
        v = v[np.isfinite(v)]
        return stats.percentile(v, 95), int(v.size)

    spread, n_spread = p95_of(F.SPREAD_BPS)
    gates["spread_bps"] = _gate(spread, gates_cfg.spread_bps_max, "gates.spread_bps_max", "bps",
                                basis="p95 of allowed decisions' spread_bps", n=n_spread)  # fmt: skip
    vol, n_vol = p95_of(F.VOL_STD_BPS)
    gates["vol_std_bps"] = _gate(vol, gates_cfg.vol_std_bps_max, "gates.vol_std_bps_max", "bps",
                                 basis="p95 of allowed decisions' vol_std_bps", n=n_vol)  # fmt: skip
    req_lat, n_lat = p95_of(F.LATENCY_MS)
    if req_lat is not None:
        gates["latency_ms"] = _gate(req_lat, gates_cfg.latency_ms_max, "gates.latency_ms_max", "ms",
                                    basis="p95 of allowed decisions' request latency_ms", n=n_lat)  # fmt: skip
    else:
        s2a = latency["submit_to_ack"]
        gates["latency_ms"] = _gate(s2a["p95"], gates_cfg.latency_ms_max, "gates.latency_ms_max", "ms",
                                    basis="p95 of submit→ack", n=s2a["n"])  # fmt: skip
    gates["dd_day_pct"] = _gate(
        risk["max_daily_drawdown_pct"], gates_cfg.dd_day_pct_max, "gates.dd_day_pct_max", "pct",
        basis="worst intraday drawdown of realized PnL, % of risk.equity_usd", n=risk["closed_trades"],
    )  # fmt: skip
    gates["cvar_day_pct"] = _gate(
        risk["cvar_pct_equity"], gates_cfg.cvar_day_pct_max, "gates.cvar_day_pct_max", "pct",
        basis=f"CVaR({risk_cfg.cvar_alpha}) of closed trades' realized PnL, % of risk.equity_usd", n=risk["closed_trades"],
    )  # fmt: skip
    statuses = [g["status"] for g in gates.values()]
    status = "red" if "red" in statuses else ("green" if "green" in statuses else "n/a")
    not_judged = sorted(k for k, g in gates.items() if g["status"] == "n/a")

    # -- state changes, trips, codes --------------------------------------------------------------
    state_mask = code.where(lambda c: c.startswith(STATE_PREFIXES)) & gate & win
    state_rows = np.flatnonzero(state_mask)
    state_rows = state_rows[np.argsort(ts[state_rows], kind="stable")]
    timeline = [_timeline_item(ev, int(i)) for i in state_rows[:MAX_TIMELINE].tolist()]
    by_code = code.counts(win)
    if len(rn):  # the runners' events, read apart
        rt = rn[F.TS_NS]
        for c, n in rn.labels(F.EVENT_CODE).counts((rt >= start_ns) & (rt <= end_ns)).items():
            by_code[c] = by_code.get(c, 0) + n
        by_code = dict(sorted(by_code.items(), key=lambda kv: -kv[1]))
    bucket_sec = max(1, math.ceil((end_ns - start_ns) / NS / 60))
    series = _series(ts, start_ns, end_ns, bucket_sec, {"allow": allowed, "deny": denied})
    for name, m in (("success", ended & (final == _FILLED)), ("rejected", ended & np.isin(final, [_REJECTED, _EXPIRED]))):
        b = (w.done_ns[m] - start_ns) // (bucket_sec * NS)
        series[name] = np.bincount(b, minlength=series["buckets"]).astype(int).tolist()

    return {
        "schema": SCHEMA,
        "session": str(data.session_dir),
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "window": {
            "sec": window_sec,
            "whole_session": window_sec <= 0 or start_ns == first_ns,
            "start_ns": start_ns,
            "end_ns": end_ns,
            "start": iso(start_ns),
            "end": iso(end_ns),
            "anchor": "the session's newest record on its own clock",
            "off_clock_records": data.report.off_clock_count,
        },
        "session_start": session_start(ev, gate),
        "status": status,
        "gates_not_judged": not_judged,
        "gates": gates,
        "decisions": {
            "total": n_dec,
            "allow": n_allow,
            "deny": n_deny,
            "deny_rate": _rate(n_deny, n_dec),
            "deny_by_reason": deny_by_reason,
            "deny_thresholds": deny_thresholds,
        },
        "orders": orders_out,
        "fills": fills,
        "slippage": slippage,
        "markouts": markouts,
        "kills": kills,
        "gate_trips": {c: by_code[c] for c in TRIP_CODES if c in by_code},
        "latency_ms": latency,
        "latency_histograms_ms": latency_hist,
        "state_changes": {
            "counts": {c: n for c, n in by_code.items() if c.startswith(STATE_PREFIXES)},
            "timeline": timeline,
            "truncated": int(state_rows.size) > MAX_TIMELINE,
        },
        "calibration": calibration,
        "risk": risk,
        "pnl": {k: v for k, v in pnl_view.items() if not k.startswith(("cvar", "max_daily"))},
        "by_symbol": by["by_symbol"],
        "by_side": by["by_side"],
        "hourly": hourly,
        "killswitch": {"window_trades": ks.window_trades, "min_outcomes": ks.min_outcomes, "action": ks.action},
        "events_by_code": by_code,
        "unknown_codes": data.report.unknown_codes,
        "series": series,
        "read": data.report.to_dict(),
        "notes": notes,
    }


def _timeline_item(ev: Frame, i: int) -> dict[str, Any]:
    """One state change: time, code and the state details it carries (under their names in ``details``)."""
    item: dict[str, Any] = {"ts": iso(int(ev[F.TS_NS][i])), F.EVENT_CODE.value: ev.labels(F.EVENT_CODE).get(i)}
    for f in STATE_FIELDS:
        if f not in ev:
            continue
        col = ev[f]
        v = col.get(i) if isinstance(col, Labels) else col[i].item()
        if v is None or (isinstance(v, float) and v != v):
            continue
        if EVENT[f].kind == "bool":
            v = bool(v)
        elif isinstance(v, float) and v.is_integer() and f == F.COOLOFF_SEC:
            v = int(v)
        item[EVENT[f].path.rsplit(".", 1)[-1]] = v
    return item


def _by_symbol_bps(bps: np.ndarray, symbol: np.ndarray, names: Labels, digits: int = 3) -> dict[str, Any]:
    out = {}
    for c in sorted({int(x) for x in symbol.tolist() if x >= 0}, key=lambda c: names.value(c) or ""):
        out[str(names.value(c))] = stats.describe(bps[symbol == c], digits)
    return out


def _slippage(ev: Frame, allowed: np.ndarray, w: OrderWalk, fill_rows: np.ndarray, side: np.ndarray,
              price: np.ndarray, symbol: np.ndarray, symbols: Labels) -> dict[str, Any]:  # fmt: skip
    """Fill price against the mid of the order's allowed decision, in bps (positive = paid over the mid)."""
    out: dict[str, Any] = {"n": 0, "bps": stats.describe([], 3), "by_symbol": {}, "by_order_type": {}}
    cid = ev.keys(F.CID)
    mid = ev.floats(F.MID)
    dec = np.flatnonzero(allowed & np.isfinite(mid) & (cid >= 0))
    if not dec.size or not fill_rows.size:
        out["note"] = "needs POLICY_DECISION.details.mid and fill prices"
        return out
    # the first allowed decision of each order (by time) carries its mid and order type
    dec = dec[np.lexsort((ev[F.TS_NS][dec], cid[dec]))]
    first = dec[np.r_[True, cid[dec][1:] != cid[dec][:-1]]]
    keys = cid[first]
    fill_cid = w.keys[w.order[fill_rows]]
    at = np.clip(np.searchsorted(keys, fill_cid), 0, keys.size - 1)
    hit = keys[at] == fill_cid
    dmid = np.where(hit, mid[first][at], np.nan)
    bps = side * (price - dmid) / dmid * 1e4
    ok = np.isfinite(bps)
    types = ev.labels(F.ORDER_TYPE)
    typ = np.where(hit, types.codes[first][at], -1)[ok]
    b = bps[ok]
    out.update(n=int(b.size), bps=stats.describe(b, 3), by_symbol=_by_symbol_bps(b, symbol[ok], symbols),
               by_order_type=_by_symbol_bps(b, typ, types))  # fmt: skip
    return out


def _markouts(frames: list[Frame], w: OrderWalk, fill_rows: np.ndarray, side: np.ndarray, price: np.ndarray,
              symbol: np.ndarray, symbols: Labels, walked: Frame) -> dict[str, Any]:  # fmt: skip
    """Each fill against the mid the runner logged ``h`` s after it (positive = the price moved the fill's way).

    A markout names its fill by (``cid``, ``trade_id``); records may come from any event file (the runner's,
    read apart, or the gate's), so they are matched to the walked fills by those strings (they are few)."""
    horizons: dict[str, Any] = {}
    out: dict[str, Any] = {"unit": "bps", "horizons_s": list(MARKOUT_HORIZONS_S), "by_horizon": horizons}
    marks: list[tuple[int, int, float, float]] = []
    for fr in frames:
        if not len(fr) or F.EVENT_CODE not in fr:
            continue
        rows = np.flatnonzero(fr.labels(F.EVENT_CODE).isin([MARKOUT_CODE]))
        cid, tid = fr.keys(F.CID), fr.keys(F.TRADE_ID)
        hor, mid = fr.floats(F.HORIZON_S), fr.floats(F.MID)
        marks += [(int(cid[i]), int(tid[i]), float(hor[i]), float(mid[i])) for i in rows.tolist()]
    if not marks or not fill_rows.size:
        out["note"] = f"needs the runner's {MARKOUT_CODE} records (cid, trade_id, horizon_s, mid after each fill)"
        for h in MARKOUT_HORIZONS_S:
            horizons[f"{h}s"] = {"n": 0, "bps": stats.describe([], 3), "by_symbol": {}}
        return out
    # the walked fills' (cid, trade_id) keys, to meet the markouts' (the same keys: one read, one hash)
    fill_key = list(zip(w.keys[w.order[fill_rows]].tolist(), walked.keys(F.TRADE_ID)[w.rows[fill_rows]].tolist(),
                        strict=True))  # fmt: skip
    seen_h = sorted({*MARKOUT_HORIZONS_S, *(int(h) for _, _, h, _ in marks if h == h and h == int(h))})
    for h in seen_h:
        mid_of: dict[tuple[int, int], float] = {}
        for c, t, hh, m in marks:
            if hh == h and c >= 0 and t >= 0 and m == m:
                mid_of.setdefault((c, t), m)  # a repeated record counts once
        mid_h = np.array([mid_of.get(k, np.nan) for k in fill_key])
        bps = side * (mid_h - price) / price * 1e4
        ok = np.isfinite(bps)
        horizons[f"{h}s"] = {"n": int(ok.sum()), "bps": stats.describe(bps[ok], 3),
                             "by_symbol": _by_symbol_bps(bps[ok], symbol[ok], symbols)}  # fmt: skip
    return out


def _kills(rn: Frame, start_ns: int, end_ns: int) -> dict[str, Any]:
    """The runners' kills in the window: each with its settlement, and the latency figures over all."""
    out: dict[str, Any] = {"n": 0, "by_reason": {}, "cancel_requests": 0, "unsettled": 0, "events": [],
                           "request_latency_ms": stats.describe([]), "ack_latency_ms": stats.describe([])}  # fmt: skip
    if not len(rn) or F.KILL not in rn:
        return out
    code, ts = rn.labels(F.EVENT_CODE), rn[F.TS_NS]
    src = rn.labels(SOURCE) if SOURCE in rn else Labels(np.zeros(len(rn), dtype=np.int32), ["runner_events"])
    kill, count = rn.floats(F.KILL), rn.floats(F.COUNT)
    req_ms, ack_ms, settled = rn.floats(F.REQUEST_LATENCY_MS), rn.floats(F.ACK_LATENCY_MS), rn.floats(F.SETTLED)
    state, reason = rn.labels(F.STATE), rn.labels(F.REASON)
    settlement = {(int(src.codes[j]), kill[j]): j for j in np.flatnonzero(code.isin([KILL_SETTLED])).tolist()}
    rows = np.flatnonzero(code.isin([KILL_APPLIED]) & (ts >= start_ns) & (ts <= end_ns))
    rows = rows[np.argsort(ts[rows], kind="stable")]
    events, reqs, acks = [], [], []
    for i in rows.tolist():
        j = settlement.get((int(src.codes[i]), kill[i]))
        done = None if j is None else bool(settled[j] == 1.0)
        # the settlement's request latency includes orders cancelled once their ack came in
        req = req_ms[j] if j is not None and req_ms[j] == req_ms[j] else req_ms[i]
        ack = ack_ms[j] if done else float("nan")
        reqs.append(req)
        acks.append(ack)
        events.append({"ts": iso(int(ts[i])), "runner": src.get(i), "kill": int(kill[i]), "state": state.get(i),
                       "reason": reason.get(i), "count": int(count[i]) if count[i] == count[i] else 0,
                       "request_latency_ms": _r(req, 3), "ack_latency_ms": _r(ack, 3), "settled": done})  # fmt: skip
    out.update(
        n=len(events), by_reason=reason.counts(np.isin(np.arange(len(rn)), rows)),
        cancel_requests=sum(e["count"] for e in events), unsettled=sum(1 for e in events if e["settled"] is False),
        events=events[:MAX_KILLS], truncated=len(events) > MAX_KILLS,
        request_latency_ms=stats.describe(reqs), ack_latency_ms=stats.describe(acks),
    )  # fmt: skip
    return out


def _hourly(ts: np.ndarray, allowed: np.ndarray, denied: np.ndarray, f_ts: np.ndarray,
            real_fill: np.ndarray, pnl_ts: np.ndarray, pnl: np.ndarray) -> list[dict[str, Any]]:  # fmt: skip
    """Per UTC clock hour of the window: decisions, denies, fills, closed trades and realized PnL."""
    hours: dict[int, dict[str, Any]] = {}

    def row(h: int) -> dict[str, Any]:
        return hours.setdefault(h, {"decisions": 0, "deny": 0, "fills": 0, "closed_trades": 0, "realized_pnl_usd": 0.0})

    for h, n in zip(*np.unique(ts[allowed | denied] // HOUR_NS, return_counts=True), strict=True):
        row(int(h))["decisions"] = int(n)
    for h, n in zip(*np.unique(ts[denied] // HOUR_NS, return_counts=True), strict=True):
        row(int(h))["deny"] = int(n)
    for h, n in zip(*np.unique(f_ts[real_fill] // HOUR_NS, return_counts=True), strict=True):
        row(int(h))["fills"] = int(n)
    ph = pnl_ts // HOUR_NS
    keys, inv = np.unique(ph, return_inverse=True)
    sums = np.bincount(inv, weights=pnl, minlength=keys.size) if pnl.size else np.zeros(0)
    for k, (h, n) in enumerate(zip(*np.unique(ph, return_counts=True), strict=True)):
        r = row(int(h))
        r["closed_trades"] = int(n)
        r["realized_pnl_usd"] = round(float(sums[k]), 6)
    return [{"hour": iso(h * HOUR_NS), **v} for h, v in sorted(hours.items())]


def _series(
    ts: np.ndarray, start_ns: int, end_ns: int, bucket_sec: int, masks: dict[str, np.ndarray]
) -> dict[str, Any]:
    width = bucket_sec * NS
    n = int((end_ns - start_ns) // width) + 1
    out: dict[str, Any] = {"bucket_sec": bucket_sec, "start_ns": start_ns, "buckets": n}
    for name, m in masks.items():
        b = (ts[m] - start_ns) // width
        out[name] = np.bincount(b, minlength=n).astype(int).tolist()
    return out


def read_for_summary(session_dir: Path | str) -> SessionData:
    """Read ``session_dir`` with only the fields the summary needs."""
    return read_session(session_dir, event_columns=EVENT_COLUMNS, runner_columns=RUNNER_COLUMNS,
                        runner_codes=RUNNER_CODES, runner_apart=True, order_columns=ORDER_COLUMNS,
                        sort=False, hashed=(F.CID, F.TRADE_ID))  # fmt: skip


def summarize_session(session_dir: Path | str, config: AuroraConfig, window_sec: float) -> dict[str, Any]:
    """Read ``session_dir`` (only the fields needed) and summarize it."""
    return summarize(read_for_summary(session_dir), config, window_sec)


def read_dataset_for_summary(dataset: Path | str) -> SessionData:
    """Read an exported dataset (``auroractl export parquet``) with the fields the summary needs."""
    return read_dataset(dataset, event_columns=tuple(dict.fromkeys((*EVENT_COLUMNS, *RUNNER_COLUMNS))), sort=False)


def dataset_info(data: SessionData) -> dict[str, Any]:
    """Which sessions a dataset's summary covers (events per session)."""
    return {"path": str(data.session_dir), "sessions": data.events.labels(SESSION).counts()}


def summarize_dataset(dataset: Path | str, config: AuroraConfig, window_sec: float) -> dict[str, Any]:
    """The same summary over an exported dataset of many sessions (``auroractl export parquet``)."""
    data = read_dataset_for_summary(dataset)
    return {**summarize(data, config, window_sec), "dataset": dataset_info(data)}
