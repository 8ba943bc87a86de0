"""The metrics summary of a session (SPEC §7): one JSON-able dict, evaluated against the config.

Over the last ``window_sec`` seconds of the session (ending at its newest record; ``0`` = the whole
session): decisions, allow/deny by reason, deny rate, reject rate, conversion, gate trips, latency
p50/p95/p99 (gate decision, submit→ack, ack→done), health and kill-switch state changes, calibration
ECE, CVaR and drawdown, and the kill-switch / gates thresholds of the config evaluated on the window
(green / red per gate, ``n/a`` when the window holds no data for it).

Definitions (one place):
  * decisions = ``POLICY_DECISION`` events; deny rate = denied / decisions.
  * outcomes = success (``ORDER.FILL``) + rejected (``ORDER.REJECT`` + ``ORDER.EXPIRE``, the
    ``orders_failed`` stream) + denied; conversion = success / outcomes;
    reject rate = rejected / (success + rejected).
  * kill-switch gates: the reject and denied shares of outcomes over every run of
    ``killswitch.window_trades`` consecutive outcomes in the window (what the gate's kill-switch
    watches); red when the worst run exceeds the threshold (judged from ``min_outcomes`` outcomes).
  * spread / volatility / request-latency gates: p95 of the values the allowed decisions carry (the
    conditions orders were actually sent in; a denied wide spread is the guard doing its job).
  * CVaR: mean loss of the worst ``risk.cvar_alpha`` share of closed trades (``realized_pnl_*``);
    drawdown: worst peak-to-trough of cumulative realized PnL within a UTC day; both also in % of
    ``risk.equity_usd``.
  * ECE: ``entry_p_win`` against the trade's outcome (realized PnL > 0), 10 equal-width bins.

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

from aurora.analytics.order_timing import code_index, histogram, latency_samples, order_times, percentiles
from aurora.session.reader import SessionData, read_session
from aurora.calibration import expected_calibration_error
from aurora.config.models import AuroraConfig

SCHEMA = "aurora.metrics_summary/1"

#: The event fields the summary needs (the reader parses only these).
EVENT_COLUMNS: tuple[str, ...] = (
    "cid", "allow", "reason", "decision_us", "spread_bps", "vol_std_bps", "latency_ms",
    "realized_pnl_usd", "realized_pnl_bps", "entry_p_win",
)  # fmt: skip
ORDER_COLUMNS: tuple[str, ...] = ("stream",)

TRIP_CODES: tuple[str, ...] = (
    "SPREAD_GUARD_TRIP", "AURORA.SLIPPAGE_GUARD", "AURORA.EXPECTED_RETURN_REJECT", "RISK.DENY",
    "AURORA.GUARD_ERROR", "GOVERNANCE.KILL_SWITCH",
)  # fmt: skip
STATE_PREFIXES: tuple[str, ...] = (
    "HEALTH.", "AURORA.COOL_OFF", "AURORA.ESCALATION", "AURORA.ARM_STATE", "GOVERNANCE.KILL_SWITCH",
    "OPS.RESET", "OPS.COOLOFF",
)  # fmt: skip
MAX_TIMELINE = 500
NS = 1_000_000_000


def iso(ts_ns: int | None) -> str | None:
    if ts_ns is None:
        return None
    return datetime.fromtimestamp(ts_ns / NS, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _rate(num: int, den: int) -> float | None:
    return round(num / den, 6) if den else None


def _by_code(codes: np.ndarray, categories: pd.Index, mask: np.ndarray) -> dict[str, int]:
    counts = np.bincount(codes[mask & (codes >= 0)], minlength=len(categories))
    return {str(categories[i]): int(c) for i, c in sorted(enumerate(counts), key=lambda x: -x[1]) if c}


def _cvar(pnl: np.ndarray, alpha: float) -> float | None:
    """Mean loss (positive = loss) of the worst ``alpha`` share of ``pnl``."""
    if pnl.size == 0:
        return None
    k = max(1, math.ceil(alpha * pnl.size))
    return float(-np.sort(pnl)[:k].mean())


def _max_daily_drawdown(ts: np.ndarray, pnl: np.ndarray) -> float | None:
    if pnl.size == 0:
        return None
    order = np.argsort(ts, kind="stable")
    ts, pnl = ts[order], pnl[order]
    day = ts // (86_400 * NS)
    worst = 0.0
    for d in np.unique(day):  # days in a window: a handful
        cum = np.concatenate(([0.0], np.cumsum(pnl[day == d])))
        worst = max(worst, float((np.maximum.accumulate(cum) - cum).max()))
    return worst


def _rolling_peak(flags: np.ndarray, window: int) -> float:
    """Largest share of ``flags`` over any ``window`` consecutive entries (all of them if fewer)."""
    n = flags.size
    if n <= window:
        return float(flags.mean())
    c = np.concatenate(([0], np.cumsum(flags, dtype=np.int64)))
    return float((c[window:] - c[:-window]).max() / window)


def _gate(
    value: float | None,
    threshold: float,
    key: str,
    unit: str,
    *,
    basis: str,
    n: int,
    extra: dict | None = None,
) -> dict[str, Any]:
    status = "n/a" if value is None else ("red" if value > threshold else "green")
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

    cats = ev["event_code"].cat.categories
    codes = ev["event_code"].cat.codes.to_numpy()
    idx = code_index(ev["event_code"])

    # decisions and lifecycle events are counted from the gate's log only (the system of record): a
    # runner's copy of either, should one ever appear in its file, must not count twice
    src = ev["source"]
    gate_src = np.array([not str(x).startswith("runner_events") for x in src.cat.categories] + [False])
    gate = gate_src[src.cat.codes.to_numpy()]  # code -1 (no source) indexes the trailing False

    def is_code(*names: str) -> np.ndarray:
        # a lookup table over the few categories: one gather instead of an np.isin scan per call
        lut = np.zeros(len(cats) + 1, dtype=bool)
        lut[[idx[n] for n in names if n in idx]] = True
        return lut[codes] & gate

    notes: list[str] = []
    # -- decisions ------------------------------------------------------------------------------
    pd_mask = is_code("POLICY_DECISION") & win
    allow = ev["allow"].to_numpy() if "allow" in ev else np.full(ts.shape, np.nan)
    allowed = pd_mask & (allow == 1.0)
    denied = pd_mask & (allow == 0.0)
    n_dec, n_allow, n_deny = int(pd_mask.sum()), int(allowed.sum()), int(denied.sum())
    if n_dec != n_allow + n_deny:
        notes.append(f"{n_dec - n_allow - n_deny} POLICY_DECISION events without a boolean details.allow")
    reason = ev["reason"]
    rcodes = reason.cat.codes.to_numpy()
    deny_by_reason = _by_code(rcodes, reason.cat.categories, denied)

    # -- outcomes -------------------------------------------------------------------------------
    fill = is_code("ORDER.FILL") & win
    rej = is_code("ORDER.REJECT") & win
    exp = is_code("ORDER.EXPIRE") & win
    n_success, n_reject, n_expire = int(fill.sum()), int(rej.sum()), int(exp.sum())
    n_rejected = n_reject + n_expire
    n_outcomes = n_success + n_rejected + n_deny
    orders_out: dict[str, Any] = {
        "submitted": int((is_code("ORDER.SUBMIT") & win).sum()),
        "acked": int((is_code("ORDER.ACK") & win).sum()),
        "success": n_success,
        "rejected": n_rejected,
        "rejected_by_code": {"ORDER.REJECT": n_reject, "ORDER.EXPIRE": n_expire},
        "canceled": int((is_code("ORDER.CANCEL.ACK") & win).sum()),
        "denied": n_deny,
        "outcomes": n_outcomes,
        "reject_rate": _rate(n_rejected, n_success + n_rejected),
        "conversion": _rate(n_success, n_outcomes),
        "source": "events",
        "order_logs": None,
    }
    if len(orders):
        ots = orders["ts_ns"].to_numpy()
        ow = (ots >= start_ns) & (ots <= end_ns)
        st = orders["stream"]
        counts = _by_code(st.cat.codes.to_numpy(), st.cat.categories, ow)
        logs = {s: counts.get(s, 0) for s in ("success", "failed", "denied")}
        orders_out["order_logs"] = {**logs, "source": data.report.orders_source}
        expected = {"success": n_success, "failed": n_rejected, "denied": n_deny}
        diff = {k: (logs[k], v) for k, v in expected.items() if logs[k] != v}
        if diff:
            notes.append(
                "order logs disagree with the event log: "
                + ", ".join(f"{k} {a} in orders logs vs {b} in events" for k, (a, b) in diff.items())
            )

    # -- latency --------------------------------------------------------------------------------
    order_rows = is_code(*[c for c in cats if c.startswith("ORDER.")])
    times = order_times(ev[order_rows]) if order_rows.any() else order_times(ev.iloc[:0])
    lat = latency_samples(times, start_ns, end_ns)
    dec_us = ev["decision_us"].to_numpy()[pd_mask] if "decision_us" in ev else np.array([])
    latency = {
        "decision": percentiles(dec_us / 1000.0, 4),
        "submit_to_ack": percentiles(lat["submit_to_ack"]),
        "ack_to_done": percentiles(lat["ack_to_done"]),
    }
    latency_hist = {
        "decision": histogram(dec_us / 1000.0),
        "submit_to_ack": histogram(lat["submit_to_ack"]),
        "ack_to_done": histogram(lat["ack_to_done"]),
    }

    # -- PnL, CVaR, drawdown, calibration ---------------------------------------------------------
    risk_cfg = config.risk
    pnl_usd = ev["realized_pnl_usd"].to_numpy()
    closed = win & ~np.isnan(pnl_usd)
    pnl = pnl_usd[closed]
    pnl_bps_all = ev["realized_pnl_bps"].to_numpy()
    pnl_bps = pnl_bps_all[win & ~np.isnan(pnl_bps_all)]
    cvar_usd = _cvar(pnl, risk_cfg.cvar_alpha)
    cvar_bps = _cvar(pnl_bps, risk_cfg.cvar_alpha)
    dd_usd = _max_daily_drawdown(ts[closed], pnl)
    equity = risk_cfg.equity_usd
    p_win = ev["entry_p_win"].to_numpy()
    cal = closed & ~np.isnan(p_win)
    ece = (
        expected_calibration_error(p_win[cal], (pnl_usd[cal] > 0).astype(float), bins=10)
        if cal.any()
        else None
    )
    risk = {
        "closed_trades": int(closed.sum()),
        "realized_pnl_usd": round(float(pnl.sum()), 6),
        "win_rate": _rate(int((pnl > 0).sum()), int(pnl.size)),
        "cvar_alpha": risk_cfg.cvar_alpha,
        "cvar_usd": None if cvar_usd is None else round(cvar_usd, 6),
        "cvar_bps": None if cvar_bps is None else round(cvar_bps, 4),
        "cvar_pct_equity": None if cvar_usd is None else round(100 * cvar_usd / equity, 6),
        "max_daily_drawdown_usd": None if dd_usd is None else round(dd_usd, 6),
        "max_daily_drawdown_pct": None if dd_usd is None else round(100 * dd_usd / equity, 6),
        "equity_usd": equity,
    }
    calibration = {"ece": None if ece is None else round(float(ece), 6), "n": int(cal.sum()), "bins": 10}

    # -- gates -----------------------------------------------------------------------------------
    ks, gates_cfg = config.killswitch, config.gates
    out_mask = fill | rej | exp | denied
    o_ts = ts[out_mask]
    o_kind = np.select([fill[out_mask], (rej | exp)[out_mask]], [0, 1], 2)
    o_kind = o_kind[np.argsort(o_ts, kind="stable")]
    gates: dict[str, Any] = {}
    for name, flag, thr, key in (
        ("reject_rate", 1, ks.max_reject_rate_pct, "killswitch.max_reject_rate_pct"),
        ("denied_rate", 2, ks.max_denied_rate_pct, "killswitch.max_denied_rate_pct"),
    ):
        flags = (o_kind == flag).astype(np.int64)
        judged = flags.size >= ks.min_outcomes
        peak = 100 * _rolling_peak(flags, ks.window_trades) if judged else None
        last = 100 * float(flags[-ks.window_trades :].mean()) if flags.size else None
        gates[name] = _gate(
            peak, thr, key, "pct",
            basis=f"worst run of {ks.window_trades} consecutive outcomes in the window",
            n=int(flags.size),
            extra={
                "last_window_pct": None if last is None else round(last, 4),
                "window_pct": None if not flags.size else round(100 * float(flags.mean()), 4),
                **({} if judged else {"reason": f"fewer than killswitch.min_outcomes={ks.min_outcomes} outcomes"}),
            },
        )  # fmt: skip

    def p95_of(col: str) -> tuple[float | None, int]:
        if col not in ev:
            return None, 0
        v = ev[col].to_numpy()[allowed]
        v = v[~np.isnan(v)]
        return (float(np.percentile(v, 95)), int(v.size)) if v.size else (None, 0)

    spread, n_spread = p95_of("spread_bps")
    gates["spread_bps"] = _gate(
        spread,
        gates_cfg.spread_bps_max,
        "gates.spread_bps_max",
        "bps",
        basis="p95 of allowed decisions' spread_bps",
        n=n_spread,
    )
    vol, n_vol = p95_of("vol_std_bps")
    gates["vol_std_bps"] = _gate(
        vol,
        gates_cfg.vol_std_bps_max,
        "gates.vol_std_bps_max",
        "bps",
        basis="p95 of allowed decisions' vol_std_bps",
        n=n_vol,
    )
    req_lat, n_lat = p95_of("latency_ms")
    if req_lat is not None:
        gates["latency_ms"] = _gate(
            req_lat,
            gates_cfg.latency_ms_max,
            "gates.latency_ms_max",
            "ms",
            basis="p95 of allowed decisions' request latency_ms",
            n=n_lat,
        )
    else:
        s2a = latency["submit_to_ack"]
        gates["latency_ms"] = _gate(
            s2a["p95"],
            gates_cfg.latency_ms_max,
            "gates.latency_ms_max",
            "ms",
            basis="p95 of submit→ack",
            n=s2a["n"],
        )
    gates["dd_day_pct"] = _gate(
        risk["max_daily_drawdown_pct"], gates_cfg.dd_day_pct_max, "gates.dd_day_pct_max", "pct",
        basis="worst intraday drawdown of realized PnL, % of risk.equity_usd", n=risk["closed_trades"],
    )  # fmt: skip
    gates["cvar_day_pct"] = _gate(
        risk["cvar_pct_equity"], gates_cfg.cvar_day_pct_max, "gates.cvar_day_pct_max", "pct",
        basis=f"CVaR({risk_cfg.cvar_alpha}) of closed trades' realized PnL, % of risk.equity_usd", n=risk["closed_trades"],
    )  # fmt: skip
    status = "red" if any(g["status"] == "red" for g in gates.values()) else "green"

    # -- state changes, trips, codes --------------------------------------------------------------
    # the timeline comes from the whole records the reader extracted (rare events, details in full)
    timeline = []
    state_records = [
        r for r in data.records
        if start_ns <= r["ts_ns"] <= end_ns and not str(r.get("source", "")).startswith("runner_events")
        and r["event_code"].startswith(STATE_PREFIXES)
    ]  # fmt: skip
    for r in state_records[:MAX_TIMELINE]:
        item: dict[str, Any] = {"ts": iso(r["ts_ns"]), "event_code": r["event_code"]}
        details = r.get("details") if isinstance(r.get("details"), dict) else {}
        for k, v in details.items():
            item[k] = (
                v if isinstance(v, str | int | float | bool) or v is None else json.dumps(v, default=str)
            )
        timeline.append(item)
    by_code = _by_code(codes, cats, win)
    bucket_sec = max(1, math.ceil((end_ns - start_ns) / NS / 60))
    series = _series(
        ts,
        start_ns,
        end_ns,
        bucket_sec,
        {"allow": allowed, "deny": denied, "success": fill, "rejected": rej | exp},
    )

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
        },
        "status": status,
        "gates": gates,
        "decisions": {
            "total": n_dec,
            "allow": n_allow,
            "deny": n_deny,
            "deny_rate": _rate(n_deny, n_dec),
            "deny_by_reason": deny_by_reason,
        },
        "orders": orders_out,
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
        "killswitch": {
            "window_trades": ks.window_trades,
            "min_outcomes": ks.min_outcomes,
            "action": ks.action,
        },
        "events_by_code": by_code,
        "series": series,
        "read": data.report.to_dict(),
        "notes": notes,
    }


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
        records_for=STATE_PREFIXES,
    )
    return summarize(data, config, window_sec)
