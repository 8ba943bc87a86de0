"""The session's metrics summary, lifecycle audit and HTML report, written after a one-click run.

They come from :mod:`aurora.analytics` — the code behind ``auroractl metrics summary``,
``auroractl lifecycle-audit`` and ``auroractl report`` — and land in ``reports/<session name>/``.
The proof points at them and takes its SLIs from the summary. If the analytics code cannot produce
them, the proof's SLIs come from one-click's own full read of the session, and a note says why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from aurora.config.loader import LoadedAurora

SUMMARY_NAME = "summary_gate_status.json"
REPORT_NAME = "report.html"


@dataclass
class SessionReports:
    summary: str | None = None
    audit: str | None = None
    audit_graph: str | None = None
    html: str | None = None
    audit_result: dict[str, Any] | None = None  # ok, orders, anomaly counts
    slis: dict[str, Any] | None = None  # from the summary, when there is one
    counts: dict[str, Any] | None = None  # from the summary and the audit, when there are both
    notes: list[str] = field(default_factory=list)

    def pointers(self) -> dict[str, Any]:
        return {
            "summary": self.summary,
            "audit": self.audit,
            "audit_graph": self.audit_graph,
            "html": self.html,
            "audit_result": self.audit_result,
            "notes": list(self.notes),
        }


def _get(d: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(d, dict):
            return None
        d = d.get(key)
    return d


def slis_from_summary(summary: dict[str, Any]) -> dict[str, Any]:
    """The proof's SLIs, as the metrics summary defines them."""
    return {
        "deny_rate": _get(summary, "decisions", "deny_rate"),
        "gate_latency_p50_ms": _get(summary, "latency_ms", "decision", "p50"),
        "gate_latency_p99_ms": _get(summary, "latency_ms", "decision", "p99"),
        "submit_ack_p50_ms": _get(summary, "latency_ms", "submit_to_ack", "p50"),
        "submit_ack_p99_ms": _get(summary, "latency_ms", "submit_to_ack", "p99"),
        "calibration_ece": _get(summary, "calibration", "ece"),
        "cvar_bps": _get(summary, "risk", "cvar_bps"),
        "cvar_alpha": _get(summary, "risk", "cvar_alpha"),
        "cvar_pct_equity": _get(summary, "risk", "cvar_pct_equity"),
        "realized_pnl_usd": _get(summary, "risk", "realized_pnl_usd"),
        "max_daily_drawdown_pct": _get(summary, "risk", "max_daily_drawdown_pct"),
        "conversion": _get(summary, "orders", "conversion"),
        "reject_rate": _get(summary, "orders", "reject_rate"),
        "gates_status": summary.get("status"),
    }


def counts_from_reports(summary: dict[str, Any], anomaly_counts: dict[str, int]) -> dict[str, Any] | None:
    """The proof's order and decision counts as the metrics summary and the lifecycle audit define them
    (one walk of every order, :mod:`aurora.analytics.order_walk`: a replayed fill, a duplicate ack or an
    orphan's event is counted as what it is); None when the summary lacks one of them."""
    d, o, f = (summary.get(k) or {} for k in ("decisions", "orders", "fills"))
    codes = summary.get("events_by_code") or {}
    counts = {
        "decisions": d.get("total"),
        "allowed": d.get("allow"),
        "denied": d.get("deny"),
        "deny_by_reason": d.get("deny_by_reason"),
        "orders": o.get("submitted"),
        "orphan_orders": o.get("orphans"),
        "orders_by_state": {k: v for k, v in (o.get("by_final_state") or {}).items() if k != "(orphan)"},
        "fills": f.get("fill_events"),
        "replayed_fills": f.get("replayed_fills"),
        "rejects": codes.get("ORDER.REJECT", 0),
        "expired": codes.get("ORDER.EXPIRE", 0),
        "canceled": codes.get("ORDER.CANCEL.ACK", 0),
        "closed_trades": _get(summary, "risk", "closed_trades"),
        "illegal_transitions": anomaly_counts.get("illegal_transition"),
        "fill_after_cancel": anomaly_counts.get("fill_after_cancel"),
        "duplicate_acks": anomaly_counts.get("duplicate_ack"),
    }
    required = ("decisions", "allowed", "denied", "orders", "fills", "closed_trades", "illegal_transitions")
    if not all(isinstance(counts[k], int) for k in required) or not isinstance(counts["deny_by_reason"], dict):
        return None
    return counts


def build_session_reports(
    session_dir: Path, out_dir: Path, loaded: LoadedAurora, *, html: bool
) -> SessionReports:
    """Summary (whole session), audit and, with ``html``, the HTML report into ``out_dir``; never raises."""
    out = SessionReports()
    summary: dict[str, Any] | None = None
    audit: Any = None
    try:
        from aurora.analytics.metrics_summary import summarize_session

        summary = summarize_session(session_dir, loaded.config, 0)
        summary["config"] = {"mode": loaded.mode, "version": loaded.version}
        path = out_dir / SUMMARY_NAME
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2, default=str) + b"\n")
        out.summary, out.slis = str(path), slis_from_summary(summary)
    except Exception as exc:  # a report failing must never cost the proof
        out.notes.append(f"metrics summary failed ({type(exc).__name__}: {exc}); SLIs computed by one-click")
    try:
        from aurora.analytics.lifecycle_audit import audit_session, write_audit

        audit = audit_session(session_dir, loaded.config.observability.ack.ttl_s)
        paths = write_audit(audit, out_dir)
        out.audit, out.audit_graph = str(paths["json"]), str(paths.get("graphml"))
        out.audit_result = {"ok": audit.ok, "orders": audit.orders, "anomaly_counts": audit.anomaly_counts}
        if summary is not None:
            out.counts = counts_from_reports(summary, audit.anomaly_counts)
    except Exception as exc:
        out.notes.append(f"lifecycle audit failed ({type(exc).__name__}: {exc})")
    if html and summary is not None and audit is not None:
        try:
            from aurora.analytics.html_report import render_report

            path = out_dir / REPORT_NAME
            path.write_text(render_report(str(session_dir), summary, audit), encoding="utf-8")
            out.html = str(path)
        except Exception as exc:
            out.notes.append(f"HTML report failed ({type(exc).__name__}: {exc})")
    return out
