"""``auroractl report``: one self-contained HTML file per session (summary + audit, plots embedded)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from aurora.analytics import lifecycle_audit, metrics_summary
from aurora.analytics.html_report import render_report
from aurora.analytics.lifecycle_audit import AuditResult
from aurora.config.loader import LoadedAurora
from aurora.session.reader import SessionReadError, read_session, read_warnings
from auroractl.analytics_args import (
    ModeOpt,
    SessionOpt,
    bad_input,
    load_config,
    resolve_session,
    session_config,
    write_text,
)
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
    sink: dict[str, Any] | None = None,
) -> Path:
    """Compute whichever of summary/audit is missing (from one read of the session), render the page and
    write it to ``path``."""
    try:
        if summary is None or audit is None:
            columns = tuple(dict.fromkeys((*metrics_summary.EVENT_COLUMNS, *lifecycle_audit.EVENT_COLUMNS)))
            data = read_session(session_dir, event_columns=columns, runner_columns=metrics_summary.RUNNER_COLUMNS,
                                order_columns=metrics_summary.ORDER_COLUMNS, sort=False)  # fmt: skip
            if summary is None:
                summary = metrics_summary.summarize(data, loaded.config, window_sec)
                summary["config"] = {"mode": loaded.mode, "version": loaded.version}
            if audit is None:
                audit = lifecycle_audit.audit(data, loaded.config.observability.ack.ttl_s)
    except SessionReadError as exc:
        bad_input(out, str(exc))
    except ValueError as exc:
        bad_input(out, f"{session_dir}: {exc}")
    write_text(out, path, render_report(str(session_dir), summary, audit), option)
    if sink is not None:
        sink.update(summary)
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
    loaded, notes = session_config(out, session_dir, loaded, mode)
    path = out_path or Path("reports") / f"{session_dir.resolve().name}.html"
    summary: dict[str, Any] = {}
    write_report(out, session_dir, loaded, path, window_sec=window_sec, option="--out", sink=summary)
    for note in notes:
        out.print(note)
    for line in read_warnings(summary.get("read", {})):
        out.warning(line)
    out.success(f"wrote {path}")


def register(app: typer.Typer) -> None:
    app.command("report")(report)
