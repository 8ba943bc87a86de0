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

Counts come from the event log (the gate's system of record); the order logs, when present, are
counted too and any disagreement is reported in ``notes``.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from aurora import stats
from aurora.analytics.order_timing import histogram
from aurora.analytics.order_walk import E_FILLS, FILL_COUNTS, OUTCOME_REJECT, S_IDX, OrderWalk, walk_orders
from aurora.config.models import AuroraConfig
from aurora.orders.fsm import OrderState
from aurora.session.files import is_runner_stem
from aurora.session.reader import SessionData, read_session

SCHEMA = "aurora.metrics_summary/2"

#: The event fields the summary needs (the reader parses only these).
EVENT_COLUMNS: tuple[str, ...] = (
    "cid", "symbol", "side", "qty", "allow", "reason", "decision_us", "spread_bps", "vol_std_bps",
    "latency_ms", "mid", "order_type", "fill_qty", "fill_price", "cum_qty", "trade_id",
    "realized_pnl_usd", "realized_pnl_bps", "entry_p_win", "fee_usd",
)  # fmt: skip
ORDER_COLUMNS: tuple[str, ...] = ("stream",)
#: Carried through the order walk (per-event fields the per-order figures need).
WALK_EXTRA: tuple[str, ...] = (
    "symbol", "side", "fill_price", "realized_pnl_usd", "realized_pnl_bps", "entry_p_win", "fee_usd", "order_type",
)  # fmt: skip

TRIP_CODES: tuple[str, ...] = (
    "SPREAD_GUARD_TRIP", "AURORA.SLIPPAGE_GUARD", "AURORA.EXPECTED_RETURN_REJECT", "RISK.DENY",
    "AURORA.GUARD_ERROR", "GOVERNANCE.KILL_SWITCH",
)  # fmt: skip
STATE_PREFIXES: tuple[str, ...] = (
    "HEALTH.", "AURORA.COOL_OFF", "AURORA.ESCALATION", "AURORA.ARM_STATE", "GOVERNANCE.KILL_SWITCH",
    "OPS.RESET", "OPS.COOLOFF",
)  # fmt: skip
START_CODE = "AURORA.START"
#: Rare events read whole (details in full): the state-change timeline and the session's start.
RECORDS_FOR: tuple[str, ...] = (*STATE_PREFIXES, START_CODE)
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


def _count_by(values: pd.Series | np.ndarray, mask: np.ndarray) -> dict[str, int]:
    """Counts of the (string) values under ``mask``, most frequent first; missing values are left out."""
    if isinstance(values, pd.Series) and isinstance(values.dtype, pd.CategoricalDtype):
        counts = values[mask].value_counts(sort=True)  # on the codes: no string per row
        return {str(k): int(n) for k, n in counts.items() if n}
    v = pd.Series(np.asarray(values, dtype=object)[mask]).dropna()
    return {str(k): int(n) for k, n in v.value_counts().items()}


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
    tripped = any(stats.rate_exceeds(h, k, limit, min_n) for h, k in zip(hits[judged], n[judged], strict=True)) \
        if rates.max() > limit else False  # fmt: skip
    return float(rates.max()), tripped, int(flags.size)


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


def session_start(data: SessionData) -> dict[str, Any] | None:
    """The gate's first ``AURORA.START`` record of the session (the mode and config version it ran with)."""
    starts = [r for r in data.records if r["event_code"] == START_CODE and not is_runner_stem(str(r.get("source", "")))]
    if not starts:
        return None
    details = starts[0].get("details") if isinstance(starts[0].get("details"), dict) else {}
    return {"ts": iso(starts[0]["ts_ns"]), "starts": len(starts), "mode": details.get("mode"),
            "config_version": details.get("config_version")}  # fmt: skip


def _gate_rows(ev: pd.DataFrame) -> np.ndarray:
    """Rows from the gate's own log (a runner's copy of a decision or lifecycle event must not count twice)."""
    src = ev["source"]
    gate_src = np.array([not is_runner_stem(str(x)) for x in src.cat.categories] + [False])
    return gate_src[src.cat.codes.to_numpy()]  # code -1 (no source) indexes the trailing False


def _group_view(
    keys: list[str | None],
    dec_key: np.ndarray,
    allowed: np.ndarray,
    denied: np.ndarray,
    reason: pd.Series,
    w: OrderWalk,
    order_key: np.ndarray,
    ended: np.ndarray,
    fill_key: np.ndarray,
    fill_ok: np.ndarray,
    fill_qty: np.ndarray,
    pnl_key: np.ndarray,
    pnl: np.ndarray,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k in keys:
        dm = dec_key == k
        om = (order_key == k) & ended
        fm = (fill_key == k) & fill_ok
        pm = pnl_key == k
        t = stats.trade_stats(pnl[pm])
        qty = w.order_qty[om]
        ordered = float(np.nansum(qty))
        filled = float(np.nansum(w.filled_qty[om]))
        out[str(k)] = {
            "decisions": int((dm & (allowed | denied)).sum()),
            "allow": int((dm & allowed).sum()),
            "deny": int((dm & denied).sum()),
            "deny_by_reason": _count_by(reason, dm & denied),
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


def summarize(data: SessionData, config: AuroraConfig, window_sec: float) -> dict[str, Any]:
    """Compute the summary of ``data`` over its last ``window_sec`` seconds (0 = the whole session).

    ``data`` needs :data:`EVENT_COLUMNS` and, for the state-change timeline, ``records_for=STATE_PREFIXES``
    (see :func:`summarize_session`, which reads exactly that).
    """
    ev, orders = data.events, data.orders
    ts = ev["ts_ns"].to_numpy()
    all_ts = np.concatenate((ts, orders["ts_ns"].to_numpy())) if len(orders) else ts
    if all_ts.size == 0:
        raise ValueError("the session has no records")
    first_ns, end_ns = int(all_ts.min()), int(all_ts.max())
    start_ns = first_ns if window_sec <= 0 else max(first_ns, end_ns - int(window_sec * NS))
    win = (ts >= start_ns) & (ts <= end_ns)

    def inwin(t: np.ndarray) -> np.ndarray:
        return (t >= start_ns) & (t <= end_ns)

    cats = ev["event_code"].cat.categories
    codes = ev["event_code"].cat.codes.to_numpy()
    idx = {c: i for i, c in enumerate(cats)}
    gate = _gate_rows(ev)

    def is_code(*names: str) -> np.ndarray:
        # a lookup table over the few categories: one gather instead of an np.isin scan per call
        lut = np.zeros(len(cats) + 1, dtype=bool)
        lut[[idx[n] for n in names if n in idx]] = True
        return lut[codes] & gate

    notes: list[str] = []
    # -- decisions ------------------------------------------------------------------------------
    pd_mask = is_code("POLICY_DECISION") & win
    allow = ev["allow"].to_numpy()
    allowed = pd_mask & (allow == 1.0)
    denied = pd_mask & (allow == 0.0)
    n_dec, n_allow, n_deny = int(pd_mask.sum()), int(allowed.sum()), int(denied.sum())
    if n_dec != n_allow + n_deny:
        notes.append(f"{n_dec - n_allow - n_deny} POLICY_DECISION events without a boolean details.allow")
    dec_idx = np.flatnonzero(pd_mask)  # the per-decision views work on these rows only
    reason = ev["reason"].iloc[dec_idx].reset_index(drop=True)
    deny_by_reason = _count_by(reason, denied[dec_idx])

    # -- orders: one walk, counted by final state --------------------------------------------------
    w = walk_orders(ev, config.observability.ack.ttl_s, extra=WALK_EXTRA)
    f = w.frame
    walked = ~w.orphan
    ended = walked & (w.done_ns >= 0) & inwin(w.done_ns)
    final = w.final

    def n_final(state: int) -> int:
        return int((ended & (final == state)).sum())

    n_success, n_rejected, n_expired, n_canceled = (n_final(s) for s in (_FILLED, _REJECTED, _EXPIRED, _CANCELED))
    n_failed = n_rejected + n_expired
    n_outcomes = n_success + n_failed + n_deny
    f_ts = f["ts_ns"].to_numpy()
    f_win = inwin(f_ts)
    outcome = f["_outcome"].to_numpy()
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
        ots = orders["ts_ns"].to_numpy()
        st = orders["stream"]
        counts = _count_by(st.reset_index(drop=True), inwin(ots))
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
    dec_ms = ev["decision_us"].to_numpy()[pd_mask] / 1000.0
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
    kind = f["_kind"].to_numpy()
    is_fill = np.isin(f["_ev"].to_numpy(), list(E_FILLS))
    real_fill = is_fill & np.isin(kind, FILL_COUNTS) & f_win  # replayed fills are not counted twice
    order_of_row = f["_order"].to_numpy()
    sub_rows = w.submit_row
    order_symbol = f["symbol"].iloc[sub_rows].to_numpy(dtype=object) if w.n else np.zeros(0, dtype=object)
    order_side = f["side"].iloc[sub_rows].to_numpy(dtype=object) if w.n else np.zeros(0, dtype=object)
    pnl_all = f["realized_pnl_usd"].to_numpy()
    closing = real_fill & np.isfinite(pnl_all)
    pnl = pnl_all[closing]
    pnl_ts = f_ts[closing]
    pnl_bps = f["realized_pnl_bps"].to_numpy()[closing]
    equity = risk_cfg.equity_usd
    pnl_view = _pnl_views(pnl_ts, pnl, pnl_bps, risk_cfg.cvar_alpha, equity)
    p_win = f["entry_p_win"].to_numpy()[closing]
    cal = np.isfinite(p_win)
    ece = stats.ece(p_win[cal], (pnl[cal] > 0).astype(float), bins=10) if cal.any() else None
    fees = f["fee_usd"].to_numpy()[real_fill]
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

    fill_qty = f["fill_qty"].to_numpy()
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

    # -- slippage against the decision's mid --------------------------------------------------------
    slippage = _slippage(ev, pd_mask & allowed, f, real_fill, order_of_row, order_side, order_symbol)

    # -- per symbol, per side, per hour ----------------------------------------------------------------
    dec_symbol = ev["symbol"].iloc[dec_idx].to_numpy(dtype=object)
    dec_side = ev["side"].iloc[dec_idx].to_numpy(dtype=object)
    fill_sym = order_symbol[order_of_row] if w.n else np.zeros(0, dtype=object)
    fill_side = order_side[order_of_row] if w.n else np.zeros(0, dtype=object)
    pnl_sym, pnl_side = fill_sym[closing], fill_side[closing]
    by = {}
    for name, dk, ok, fk, pk in (
        ("by_symbol", dec_symbol, order_symbol, fill_sym, pnl_sym),
        ("by_side", dec_side, order_side, fill_side, pnl_side),
    ):
        keys = sorted({str(x) for x in np.concatenate((dk, ok[ended | open_orders])) if isinstance(x, str)})
        by[name] = _group_view(keys, dk, allowed[dec_idx], denied[dec_idx], reason, w, ok, ended | open_orders, fk, real_fill,
                               np.nan_to_num(fill_qty), pk, pnl)  # fmt: skip
    hourly = _hourly(ts, start_ns, allowed, denied, f_ts, real_fill, pnl_ts, pnl)

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

    def p95_of(col: str) -> tuple[float | None, int]:
        v = ev[col].to_numpy()[allowed]
        v = v[np.isfinite(v)]
        return stats.percentile(v, 95), int(v.size)

    spread, n_spread = p95_of("spread_bps")
    gates["spread_bps"] = _gate(spread, gates_cfg.spread_bps_max, "gates.spread_bps_max", "bps",
                                basis="p95 of allowed decisions' spread_bps", n=n_spread)  # fmt: skip
    vol, n_vol = p95_of("vol_std_bps")
    gates["vol_std_bps"] = _gate(vol, gates_cfg.vol_std_bps_max, "gates.vol_std_bps_max", "bps",
                                 basis="p95 of allowed decisions' vol_std_bps", n=n_vol)  # fmt: skip
    req_lat, n_lat = p95_of("latency_ms")
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
    timeline = []
    state_records = [
        r for r in data.records
        if start_ns <= r["ts_ns"] <= end_ns and not is_runner_stem(str(r.get("source", "")))
        and r["event_code"].startswith(STATE_PREFIXES)
    ]  # fmt: skip
    for r in state_records[:MAX_TIMELINE]:
        item: dict[str, Any] = {"ts": iso(r["ts_ns"]), "event_code": r["event_code"]}
        details = r.get("details") if isinstance(r.get("details"), dict) else {}
        for k, v in details.items():
            item[k] = v if isinstance(v, str | int | float | bool) or v is None else json.dumps(v, default=str)
        timeline.append(item)
    code_counts = np.bincount(codes[win & (codes >= 0)], minlength=len(cats))
    by_code = {str(cats[i]): int(c) for i, c in sorted(enumerate(code_counts), key=lambda x: -x[1]) if c}
    bucket_sec = max(1, math.ceil((end_ns - start_ns) / NS / 60))
    series = _series(ts, start_ns, end_ns, bucket_sec, {"allow": allowed, "deny": denied})
    done_in = ended
    for name, m in (("success", done_in & (final == _FILLED)), ("rejected", done_in & np.isin(final, [_REJECTED, _EXPIRED]))):
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
        "session_start": session_start(data),
        "status": status,
        "gates_not_judged": not_judged,
        "gates": gates,
        "decisions": {
            "total": n_dec,
            "allow": n_allow,
            "deny": n_deny,
            "deny_rate": _rate(n_deny, n_dec),
            "deny_by_reason": deny_by_reason,
        },
        "orders": orders_out,
        "fills": fills,
        "slippage": slippage,
        "gate_trips": {c: by_code[c] for c in TRIP_CODES if c in by_code},
        "latency_ms": latency,
        "latency_histograms_ms": latency_hist,
        "state_changes": {
            "counts": {c: n for c, n in by_code.items() if c.startswith(STATE_PREFIXES)},
            "timeline": timeline,
            "truncated": len(state_records) > MAX_TIMELINE,
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


def _slippage(ev: pd.DataFrame, decided: np.ndarray, f: pd.DataFrame, real_fill: np.ndarray,
              order_of_row: np.ndarray, order_side: np.ndarray, order_symbol: np.ndarray) -> dict[str, Any]:  # fmt: skip
    """Fill price against the mid of the order's allowed decision, in bps (positive = paid over the mid)."""
    mids = ev.loc[decided, ["cid", "mid", "order_type"]]
    mids = mids[np.isfinite(mids["mid"].to_numpy()) & mids["cid"].notna().to_numpy()]
    out: dict[str, Any] = {"n": 0, "bps": stats.describe([], 3), "by_symbol": {}, "by_order_type": {}}
    if not len(mids) or not real_fill.any():
        out["note"] = "needs POLICY_DECISION.details.mid and fill prices"
        return out
    first = mids.drop_duplicates("cid", keep="first")
    mid_of = dict(zip(first["cid"].astype(str), first["mid"].astype(float), strict=True))
    type_of = dict(zip(first["cid"].astype(str), first["order_type"].astype(object), strict=True))
    rows = np.flatnonzero(real_fill)
    cid = f["cid"].iloc[rows].to_numpy(dtype=object)
    price = f["fill_price"].to_numpy()[rows]
    mid = np.array([mid_of.get(str(c), np.nan) for c in cid])
    side = np.array([1.0 if s == "buy" else -1.0 if s == "sell" else np.nan for s in order_side[order_of_row[rows]]])
    bps = side * (price - mid) / mid * 1e4
    ok = np.isfinite(bps)
    sym = order_symbol[order_of_row[rows]][ok]
    typ = np.array([type_of.get(str(c)) for c in cid])[ok]
    bps = bps[ok]
    out.update(n=int(bps.size), bps=stats.describe(bps, 3))
    for key, labels in (("by_symbol", sym), ("by_order_type", typ)):
        for label in sorted({str(x) for x in labels}):
            out[key][label] = stats.describe(bps[np.array([str(x) == label for x in labels])], 3)
    return out


def _hourly(ts: np.ndarray, start_ns: int, allowed: np.ndarray, denied: np.ndarray, f_ts: np.ndarray,
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
    for h in np.unique(ph):
        r = row(int(h))
        r["closed_trades"] = int((ph == h).sum())
        r["realized_pnl_usd"] = round(float(pnl[ph == h].sum()), 6)
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


def summarize_session(session_dir: Path | str, config: AuroraConfig, window_sec: float) -> dict[str, Any]:
    """Read ``session_dir`` (only the fields needed) and summarize it."""
    data = read_session(
        session_dir,
        event_columns=EVENT_COLUMNS,
        runner_columns=(),
        order_columns=ORDER_COLUMNS,
        sort=False,
        records_for=RECORDS_FOR,
    )
    return summarize(data, config, window_sec)
