"""The session's metrics summary and lifecycle audit, written after a one-click run.

Both come from :mod:`aurora.analytics` — the code behind ``auroractl metrics summary`` and
``auroractl lifecycle-audit`` — and land in ``reports/<session name>/``. The proof points at them and
takes its SLIs from the summary. If the analytics code cannot produce them, the proof's SLIs come from
one-click's own full read of the session, and a note says why.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from aurora.config.models import AuroraConfig

SUMMARY_NAME = "summary_gate_status.json"


@dataclass
class SessionReports:
    summary: str | None = None
    audit: str | None = None
    slis: dict[str, Any] | None = None  # from the summary, when there is one
    notes: list[str] = field(default_factory=list)

    def pointers(self) -> dict[str, Any]:
        return {"summary": self.summary, "audit": self.audit, "notes": list(self.notes)}


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


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2, default=str) + b"\n")


def build_session_reports(session_dir: Path, out_dir: Path, *, config: AuroraConfig) -> SessionReports:
    """Summary (whole session) and audit of ``session_dir`` into ``out_dir``; never raises."""
    out = SessionReports()
    try:
        summary_mod = importlib.import_module("aurora.analytics.metrics_summary")
    except ImportError as exc:
        out.notes.append(
            f"metrics summary unavailable ({exc}); SLIs computed by one-click from the session logs"
        )
    else:
        try:
            summary = summary_mod.summarize_session(session_dir, config, 0)
        except Exception as exc:  # a report failing must not lose the proof
            out.notes.append(
                f"metrics summary failed: {type(exc).__name__}: {exc}; SLIs computed by one-click"
            )
        else:
            path = out_dir / SUMMARY_NAME
            _write_json(path, summary)
            out.summary = str(path)
            out.slis = slis_from_summary(summary)
    out.notes.append("lifecycle audit: not available in this build")
    return out
