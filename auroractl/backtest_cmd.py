"""``auroractl backtest``: the runner on a recorded feed against a fresh gate per gate config, side by side."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from aurora.calibration import CalibrationError
from aurora.config.errors import ConfigError
from auroractl.analytics_args import JsonOpt, bad_input, fmt, pct
from auroractl.output import Output
from oneclick.backtest import BacktestError, backtest, report
from runner.feeds import FeedError
from runner.plans import RunnerError
from runner.venues.base import VenueConfigError

ROWS: tuple[tuple[str, str], ...] = (
    ("decisions", "decisions"), ("allow", "allowed"), ("deny", "denied"), ("deny_rate", "deny rate"),
    ("orders_submitted", "orders submitted"), ("orders_filled", "orders filled"),
    ("orders_rejected", "orders rejected"), ("orders_expired", "orders expired"),
    ("orders_canceled", "orders canceled"), ("orders_open", "orders open at the end"), ("fill_events", "fills"),
    ("filled_qty", "filled qty"), ("closed_trades", "closed trades"), ("realized_pnl_usd", "realized PnL USD"),
    ("max_drawdown_usd", "max drawdown USD"), ("slippage_n", "fills with slippage"),
    ("slippage_bps_p50", "slippage p50 bps"), ("slippage_bps_mean", "slippage mean bps"),
)  # fmt: skip


def run(
    recording: Annotated[Path, typer.Option("--recording", help="Recorded feed (as `feed record` / `feed import` write).")],
    config: Annotated[
        list[Path] | None,
        typer.Option("--config", help="Gate config file (YAML), layered over the --mode files like AURORA_CONFIG; "
                     "repeat to compare (one run each)."),
    ] = None,
    runner_config: Annotated[
        str | None, typer.Option("--runner-config", help="Runner config (bare name or path). Default: the runner base.")
    ] = None,
    mode: Annotated[str, typer.Option("--mode", help="Gate config mode: development | testnet | production.")] = "testnet",
    out_dir: Annotated[
        Path | None,
        typer.Option("--out-dir", help="Directory for the runs' sessions. Default: reports/backtest-<time>/."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run the runner on a recorded feed against a fresh gate (request clock) once per gate config and show the
    sessions' summaries side by side: decisions, denies by reason, orders, fills, realized PnL, drawdown,
    slippage. Deterministic: the same inputs give the same numbers.

    Example: [bold]auroractl backtest --recording btc.jsonl.gz --config a.yaml --config b.yaml --runner-config trader.yaml[/]
    """
    out = Output()
    if not config:
        bad_input(out, "--config: give at least one gate config file (two to compare)")
    out_dir = out_dir or Path("reports") / time.strftime("backtest-%Y%m%d-%H%M%S")
    try:
        runs = backtest(recording, config, out_dir=out_dir, runner_config=runner_config, mode=mode)
    except ConfigError as exc:
        out.config_error(exc, as_json=as_json)
    except (BacktestError, RunnerError, FeedError, CalibrationError, VenueConfigError) as exc:
        bad_input(out, str(exc))
    except OSError as exc:
        bad_input(out, f"--out-dir: cannot write into {out_dir}: {exc.strerror or exc}")
    data = report(runs, recording)
    if as_json:
        out.json(data)
        return
    render(out, data)


def render(out: Output, data: dict[str, Any]) -> None:
    runs = data["runs"]
    out.print(f"[bold]backtest[/] {escape(data['recording'])}")
    t = Table(title="Side by side", title_justify="left")
    t.add_column("")
    for r in runs:
        t.add_column(escape(f"{r['label']} ({r['config_version']})"), justify="right")
    figures = [r["figures"] for r in runs]

    def cell(key: str, v: Any) -> str:
        return pct(v) if key == "deny_rate" else fmt(v, 6 if key == "filled_qty" else 3)

    for key, label in ROWS:
        t.add_row(label, *(cell(key, f[key]) for f in figures))
        if key == "deny_rate":
            reasons = sorted({k for f in figures for k in f["deny_by_reason"]})
            for reason in reasons:
                t.add_row(f"  deny {escape(reason)}", *(str(f["deny_by_reason"].get(reason, 0)) for f in figures))
    out.print(t)
    for r in runs:
        out.print(f"[bold]{escape(r['label'])}[/] {escape(r['config'])} → session {escape(r['session_dir'])}")
        if not r["figures"]["decisions"]:
            out.warning(f"{r['label']}: the runner asked the gate nothing: does the recording carry the runner "
                        "config's symbols?")  # fmt: skip


def register(app: typer.Typer) -> None:
    app.command("backtest")(run)
