"""``auroractl report``: one self-contained HTML file per session (summary + audit, plots embedded)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from aurora.analytics.html_report import render_report
from aurora.analytics.lifecycle_audit import AuditResult, audit_session
from aurora.analytics.metrics_summary import summarize_session
from aurora.session.reader import SessionReadError
from aurora.config.loader import LoadedAurora
from auroractl.analytics_args import ModeOpt, SessionOpt, bad_input, load_config, resolve_session, write_text
from auroractl.output import Output


def write_report(
    out: Output,
    session_dir: Path,
    loaded: LoadedAurora,
    path: Path,
    *,
    summary: dict[str, Any] | None = None,
    audit: AuditResult | None = None,
    window_sec: float = 0.0,
    option: str = "--html",
) -> Path:
    """Compute whichever of summary/audit is missing, render the page and write it to ``path``."""
    try:
        if summary is None:
            summary = summarize_session(session_dir, loaded.config, window_sec)
            summary["config"] = {"mode": loaded.mode, "version": loaded.version}
        if audit is None:
            audit = audit_session(session_dir, loaded.config.observability.ack.ttl_s)
    except SessionReadError as exc:
        bad_input(out, str(exc))
    except ValueError as exc:
        bad_input(out, f"{session_dir}: {exc}")
    write_text(out, path, render_report(str(session_dir), summary, audit), option)
    return path


def report(
    session: SessionOpt = None,
    out_path: Annotated[
        Path | None,
        typer.Option(
            "--out", help="HTML file to write (default: reports/<session name>.html).", show_default=False
        ),
    ] = None,
    window_sec: Annotated[
        float,
        typer.Option(
            "--window-sec", help="Summary window in seconds ending at the newest record; 0 = whole session."
        ),
    ] = 0.0,
    mode: ModeOpt = None,
) -> None:
    """Write one self-contained HTML report for a session: gate status, decisions over time, deny reasons,
    latency histograms with p50/p99, the aggregate lifecycle graph and the anomaly table. Opens offline.

    Example: [bold]auroractl report --session logs/20261121-090000 --out reports/session.html[/]
    """
    out = Output()
    if window_sec < 0 or window_sec != window_sec:
        bad_input(out, f"--window-sec must be a number >= 0 (0 = whole session), got {window_sec}")
    loaded = load_config(out, mode)
    session_dir = resolve_session(out, session, loaded)
    path = out_path or Path("reports") / f"{session_dir.resolve().name}.html"
    write_report(out, session_dir, loaded, path, window_sec=window_sec, option="--out")
    out.success(f"wrote {path}")


def register(app: typer.Typer) -> None:
    app.command("report")(report)
