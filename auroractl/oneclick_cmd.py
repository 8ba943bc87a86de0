"""``auroractl one-click``: preflight, gate + runners, live dashboard, clean shutdown, proof (SPEC §6)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.markup import escape
from rich.table import Table

from aurora.config.errors import ConfigError
from aurora.config.loader import Environment, resolve_mode
from aurora.config.paths import project_root
from auroractl.clikit import DURATION_METAVAR, parse_duration
from auroractl.dashboard_view import LiveDashboard, PlainDashboard, format_ms
from auroractl.output import EXIT_USAGE, Output
from oneclick.orchestrator import OneClickRun, StopFlag, TuneOptions
from oneclick.preflight import OneClickOptions, PreflightReport, run_preflight
from oneclick.tuner import (
    DEFAULT_EXPLORE_RATIO,
    DEFAULT_PERIOD_S,
    DEFAULT_SPACE,
    TRIAL_PERIODS,
    live_subspace,
)
from oneclick.tuning.space import load_space

Venue = Literal["shadow", "paper", "testnet", "live"]
_STATUS_STYLE = {"pass": ("green", "✓"), "warn": ("yellow", "!"), "fail": ("red", "✗"), "skip": ("dim", "-")}


def preflight_table(report: PreflightReport, mode: str) -> Table:
    with_hints = any(c.hint for c in report.checks)
    t = Table(title=f"Preflight ({mode})", title_justify="left")
    for col in ("", "check", "detail", "hint")[: 4 if with_hints else 3]:
        t.add_column(col, overflow="fold")
    for c in report.checks:
        style, mark = _STATUS_STYLE[c.status]
        row = [f"[{style}]{mark} {c.status}[/]", c.name, escape(c.detail)]
        t.add_row(*row, *([escape(c.hint)] if with_hints else []))
    return t


def _parse_port(value: str | None, out: Output) -> int | None:
    if value is None:
        return None
    if value.strip().lower() == "auto":
        return 0
    try:
        port = int(value)
    except ValueError:
        out.fail(f"--port: expected a port number, 0 or 'auto', got {value!r}", EXIT_USAGE)
    if not 0 <= port <= 65535:
        out.fail(f"--port: {port} is outside 0..65535", EXIT_USAGE)
    return port


def _duration(value: float, out: Output) -> float:
    if not value > 0:
        out.fail(f"--duration: the run needs a positive duration, got {value:g}s", EXIT_USAGE)
    return value


def one_click(
    mode: Annotated[
        str | None,
        typer.Option(
            "--mode", help="Gate config mode: development | testnet | production. Default: the active mode."
        ),
    ] = None,
    duration_s: Annotated[
        float,
        typer.Option(
            "--duration",
            parser=parse_duration,
            metavar=DURATION_METAVAR,
            help="Run length: 90s, 15m, 1h30m or seconds.",
        ),
    ] = "15m",  # type: ignore[assignment]
    venue: Annotated[
        Venue | None,
        typer.Option(
            "--venue",
            help="Runner venue: shadow | paper | testnet | live. Default: runner.mode of the runner config.",
        ),
    ] = None,
    preflight: Annotated[
        bool,
        typer.Option(
            "--preflight", help="Run every preflight check, network ones included (feed, exchange)."
        ),
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only the preflight; start nothing.")] = False,
    runner_config: Annotated[
        str | None,
        typer.Option(
            "--runner-config",
            help="Runner config: bare name (configs/runner/NAME.yaml) or path. Default: base (synthetic feed, paper venue).",
        ),
    ] = None,
    profile: Annotated[
        str | None, typer.Option("--profile", help="Strategy profile (bare name or path).")
    ] = None,
    overlay: Annotated[
        list[str] | None, typer.Option("--overlay", help="Profile overlay(s), applied in order.")
    ] = None,
    port: Annotated[
        str | None,
        typer.Option(
            "--port", help="Gate port; 0 or 'auto' picks a free one. Default: api.port of the config."
        ),
    ] = None,
    restart_dead: Annotated[
        bool,
        typer.Option(
            "--restart-dead/--stop-on-dead",
            help="Restart a child that dies (up to 3 times), or stop the run.",
        ),
    ] = False,
    session_dir: Annotated[
        Path | None,
        typer.Option("--session", help="Session log dir. Default: a new logs/YYYYMMDD-hhmmss/."),
    ] = None,
    state_dir: Annotated[
        Path | None,
        typer.Option(
            "--state-dir",
            help="The gate's durable risk state. Default: a fresh one in the session dir for "
            "an offline paper/shadow run, else the deployment's (AURORA_STATE_DIR / .aurora/state/<mode>/).",
        ),
    ] = None,
    proof: Annotated[
        Path | None,
        typer.Option("--proof", help="Where to write the proof. Default: artifacts/full_e2e_proof.json."),
    ] = None,
    grace: Annotated[
        float,
        typer.Option(
            "--grace",
            help="Seconds between SIGTERM and SIGKILL at shutdown (runners get at least what "
            "their own stop needs with the gate gone).",
            min=0,
        ),
    ] = 10.0,
    outage_budget: Annotated[
        float,
        typer.Option(
            "--outage-budget",
            parser=parse_duration,
            metavar=DURATION_METAVAR,
            help="How long the gate may be unreachable (down or hung) over the run before it fails.",
        ),
    ] = "5s",  # type: ignore[assignment]
    ready_timeout: Annotated[
        float,
        typer.Option("--ready-timeout", help="Seconds to wait for the gate's /health and /metrics.", min=1),
    ] = 30.0,
    html: Annotated[
        bool,
        typer.Option(
            "--report/--no-report", help="Also write the session's HTML report (plots) next to the summary."
        ),
    ] = True,
    tune: Annotated[
        bool,
        typer.Option("--tune", help="Run the live tuner beside the runners: an Optuna study proposing runner "
                     "overlays that a share (--explore-ratio) of the decisions use; never the gate's limits."),
    ] = False,
    explore_ratio: Annotated[
        float, typer.Option("--explore-ratio", help="With --tune: the share of decisions on the tuner's overlay.")
    ] = DEFAULT_EXPLORE_RATIO,
    space: Annotated[
        str, typer.Option("--space", help="With --tune: the search space file (profiles/spaces/*.yaml).")
    ] = DEFAULT_SPACE,
    tune_period: Annotated[
        float,
        typer.Option("--tune-period", parser=parse_duration, metavar=DURATION_METAVAR,
                     help=f"With --tune: the tuner's heartbeat period; a trial lasts {TRIAL_PERIODS} periods."),
    ] = f"{DEFAULT_PERIOD_S:g}s",  # type: ignore[assignment]
    plain: Annotated[bool, typer.Option("--plain", help="Line output even on a terminal.")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the proof (or, with --dry-run, the preflight) as JSON.")
    ] = False,
) -> None:
    """Run the whole system end to end: preflight, gate, runner(s), live dashboard, clean shutdown, proof.

    Writes [bold]artifacts/full_e2e_proof.json[/] (and a copy in the session dir). Exit 0 when the chain MODEL → POLICY_DECISION → ORDER completed and nothing went wrong; 1 when it did not, a child failed, the gate was unreachable longer than --outage-budget or a position was left open; 2 when preflight failed (nothing is started); 130/143 after Ctrl-C/SIGTERM (the proof is still written, marked interrupted). The duration counts from the moment the runners trade. Only processes one-click started are ever stopped.

    --mode is the gate's config mode; the runner's venue comes from its config (paper in the shipped one) unless
    --venue says otherwise, and the dashboard title shows both.

    Examples: [bold]auroractl one-click --mode testnet --venue paper --duration 1m --preflight[/]  ·
    [bold]auroractl one-click --preflight --dry-run --runner-config test_param[/]  ·
    [bold]auroractl one-click --duration 30s --port auto --profile sol_soon_base[/]
    """
    out = Output()
    duration = _duration(duration_s, out)
    port_n = _parse_port(port, out)
    tune_opts = _tune_options(out, explore_ratio, space, tune_period) if tune else None
    if mode is None:
        try:
            env = Environment.capture()
            mode, _ = resolve_mode(env, project_root(env.values))
        except ConfigError as exc:
            out.config_error(exc)
    opts = OneClickOptions(
        mode=mode,
        duration_s=duration,
        runner_config=runner_config,
        profile=profile,
        overlays=list(overlay or []),
        port=port_n,
        session_dir=session_dir.expanduser().resolve() if session_dir else None,
        venue=venue,
        state_dir=state_dir.expanduser().resolve() if state_dir else None,
        full=preflight,
        restart_dead=restart_dead,
    )
    report = run_preflight(opts)
    if as_json and dry_run:
        out.json(report.to_dict())
    else:  # with --json the data on stdout is the proof; the table goes to stderr
        (out.err if as_json else out.out).print(preflight_table(report, opts.mode))
    if not report.ok or report.plan is None:
        failed = report.failures
        detail = "; ".join(
            f"{c.name}: {c.detail} (hint: {c.hint})" if c.hint else f"{c.name}: {c.detail}" for c in failed
        )
        out.fail(f"preflight failed, nothing was started: {detail}", EXIT_USAGE)
    if dry_run:
        out.success("preflight passed (dry run: nothing started)")
        return

    live = not plain and not as_json and sys.stdout.isatty() and os.environ.get("TERM") != "dumb"
    view = LiveDashboard(out.out) if live else PlainDashboard(out.err if as_json else out.out)
    stop = StopFlag()
    run = OneClickRun(
        report.plan,
        report.checks,
        duration_s=duration,
        restart_dead=restart_dead,
        runner_config=runner_config,
        profile=profile,
        overlays=list(overlay or []),
        grace_s=grace,
        ready_timeout_s=ready_timeout,
        proof_path=proof.expanduser().resolve() if proof else None,
        stop=stop,
        on_status=view.status,
        on_snapshot=view.update,
        html=html,
        outage_budget_s=outage_budget,
        tune=tune_opts,
    )
    stop.install()
    try:
        with view:
            result = run.run()
    finally:
        stop.restore()

    if result.gate_log_tail:
        out.error("the gate's last log lines:")
        out.err.print(escape(result.gate_log_tail))
    if result.schema_errors:
        out.warning("the proof does not match its schema: " + "; ".join(result.schema_errors[:5]))
    for problem in result.write_errors:
        out.warning(f"proof not written to {problem}")
    p = result.proof
    counts, sli = p.get("counts") or {}, p.get("sli") or {}
    if as_json or not result.proof_paths:
        if not result.proof_paths:  # nowhere on disk: the proof is this run's only record, keep it
            out.error("the proof could not be written anywhere; here it is on stdout")
        out.json(p)
    if not as_json:
        out.info(
            f"decisions {counts.get('decisions', 0)} (allowed {counts.get('allowed', 0)}, denied "
            f"{counts.get('denied', 0)}) · orders {counts.get('orders', 0)} · fills {counts.get('fills', 0)} · "
            f"deny rate {_pct(sli.get('deny_rate'))} · gate p99 {format_ms(sli.get('gate_latency_p99_ms'))}"
        )
        phases = (p.get("timing") or {}).get("phases")
        if phases:
            out.info(
                f"startup {phases['startup_s']:.1f} s · trading {phases['trading_s']:.1f} s · "
                f"shutdown {phases['shutdown_s']:.1f} s · reports {phases['reports_s']:.1f} s"
            )
        _incidents(out, p.get("incidents") or {})
        _tuner(out, p.get("optuna") or {})
        out.info(f"session:  {result.session_dir}")
        for path in result.proof_paths:
            out.info(f"proof:    {path}")
        reports = p.get("reports") or {}
        for key, label in (("summary", "summary:"), ("audit", "audit:"), ("html", "report:")):
            if reports.get(key):
                out.info(f"{label:9} {reports[key]}")
        audit = reports.get("audit_result")
        if audit and not audit["ok"]:
            bad = ", ".join(f"{k} {v}" for k, v in audit["anomaly_counts"].items() if v)
            out.warning(f"the lifecycle audit found anomalies: {bad}")
    if result.interrupted:
        out.warning(
            f"interrupted by {p.get('interrupt_signal')}: children stopped, proof written (interrupted: true)"
        )
    elif result.exit_code == 0:
        out.success("chain MODEL → POLICY_DECISION → ORDER completed")
    else:
        for reason in p.get("failures") or [result.failure or "the run failed"]:
            out.error(reason)
    raise typer.Exit(result.exit_code)


def _incidents(out: Output, inc: dict) -> None:
    """Trouble worth a line even when the run passed: outages, restarts, SIGKILLs, positions, books."""
    gate = inc.get("gate") or {}
    outages = gate.get("outages") or []
    if outages:
        seen = ", ".join(f"{o['seen_by']} {o['kind']} {o['length_s']:.1f} s" for o in outages[:6])
        out.warning(
            f"gate unreachable {gate['unreachable_s']:.1f} s in all (budget {gate['budget_s']:g} s): {seen}"
        )
    for r in inc.get("restarts") or []:
        out.warning(f"{r['name']} (pid {r['pid']}) exited with code {r['exit_code']} and was restarted")
    for k in inc.get("sigkills") or []:
        out.warning(f"{k['name']} (pid {k['pid']}) had to be SIGKILLed")
    for pos in inc.get("open_positions") or []:
        dust = " (dust, below one lot)" if pos.get("dust") else ""
        out.warning(f"open at the end: {pos.get('symbol')} {pos.get('qty')} ({pos['runner']}){dust}")
    for u in inc.get("open_positions_unknown") or []:
        out.warning(f"positions unknown for {u['runner']}: {u['why']}")
    for b in inc.get("unsynced_symbols") or []:
        out.warning(f"book of {b['symbol']} {b['state']} at the end ({b['runner']})")


def _tune_options(out: Output, ratio: float, space: str, period_s: float) -> TuneOptions:
    """``--tune``'s settings, checked before anything starts (a bad space file: exit 2 naming its line)."""
    if not 0.0 < ratio < 1.0:
        out.fail(f"--explore-ratio: expected a share between 0 and 1 (exclusive), got {ratio:g}", EXIT_USAGE)
    if not period_s > 0:
        out.fail(f"--tune-period: expected a positive duration, got {period_s:g}s", EXIT_USAGE)
    root = project_root(Environment.capture().values)
    path = Path(space) if Path(space).is_absolute() else root / space
    try:
        live, _ = live_subspace(load_space(path, shown=space))
    except ConfigError as exc:
        out.config_error(exc)
    if not live.parameters:
        out.fail(f"--space {space}: no parameter the live tuner can apply (gate keys and keys shared by both "
                 "arms are never applied live)", EXIT_USAGE)
    return TuneOptions(explore_ratio=ratio, space=str(path), period_s=period_s)


def _tuner(out: Output, opt: dict) -> None:
    if not opt.get("enabled"):
        return
    line = (f"tuner: {opt.get('heartbeats', 0)} heartbeats (every {opt.get('period_s')} s, "
            f"{'on time' if opt.get('heartbeat_ok') else 'LATE or missing'}) · {opt.get('parameter_updates', 0)} "
            f"parameter updates · {opt.get('trials_told', 0)} trials told · applied by runners "
            f"{opt.get('applied_by_runners', 0)}, refused {opt.get('refused_by_runners', 0)}")
    (out.info if opt.get("heartbeat_ok") else out.warning)(line)


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{v:.1%}"


def register(app: typer.Typer) -> None:
    app.command("one-click")(one_click)
