"""``auroractl run-runner``: run the WiseScalp runner against a gate."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.table import Table

from aurora.calibration import CalibrationError
from aurora.config.errors import ConfigError
from aurora.config.loader import load_runner
from auroractl.clikit import DURATION_METAVAR, parse_duration
from auroractl.output import EXIT_FAILURE, EXIT_USAGE, Output
from runner.app import Runner, RunnerError, resolve_session_dir
from runner.config import RunnerConfig
from runner.feeds import FeedError
from runner.venues.base import VenueConfigError

Mode = Literal["shadow", "paper", "testnet", "live"]


def run_runner(
    config: Annotated[
        str | None,
        typer.Option("--runner-config", help="Runner config: bare name (configs/runner/NAME.yaml) or path. Default: base."),
    ] = None,
    profile: Annotated[str | None, typer.Option("--profile", help="Strategy profile (profiles/NAME.yaml) or path.")] = None,
    overlay: Annotated[
        list[str] | None, typer.Option("--overlay", help="Overlay file(s) merged last, in order (repeatable).")
    ] = None,
    mode: Annotated[
        Mode | None, typer.Option("--venue", help="Venue: shadow | paper | testnet | live. Default: runner.mode.")
    ] = None,
    gate_url: Annotated[
        str | None, typer.Option("--gate-url", help="Gate URL. Default: AURORA_GATE_URL, else gate.url of the config.")
    ] = None,
    duration: Annotated[
        float | None, typer.Option("--duration", parser=parse_duration, metavar=DURATION_METAVAR,
                                   help="Stop after this long (90s, 15m, or seconds). Default: runner.duration_s (or run until Ctrl-C).")
    ] = None,
    session_dir: Annotated[
        Path | None,
        typer.Option("--session", help="Session dir for the runner's events. Default: AURORA_SESSION_DIR, else a new logs/YYYYMMDD-hhmmss/."),
    ] = None,
    group: Annotated[
        str | None, typer.Option("--group", help="Run only the symbols of this group (symbols[*].group; 'default' for none).")
    ] = None,
    i_understand_live: Annotated[
        bool, typer.Option("--i-understand-live", help="Required (with an armed gate and venue.live_armed) for --venue live.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run summary as JSON.")] = False,
) -> None:
    """Run the WiseScalp runner: feed → features → strategy → gate → venue, until --duration or Ctrl-C.

    Every order is checked with the gate first; if the gate cannot be reached, no order is placed.
    XAI events go to [bold]runner_events[-GROUP].jsonl[/] in the session dir; order lifecycle events go to the gate.

    Examples:
      [bold]auroractl run-runner --venue paper --duration 60s[/]
      [bold]auroractl run-runner --runner-config test_param --profile sol_soon_base --gate-url http://127.0.0.1:8000[/]
      [bold]auroractl run-runner --profile aurora_shadow_best --overlay _active_shadow --venue shadow[/]
    """
    out = Output()
    try:
        loaded = load_runner(RunnerConfig, config=config, profile=profile, overlays=overlay or [])
    except ConfigError as exc:
        out.config_error(exc, as_json=as_json)
    cfg = loaded.config
    if mode == "live" and not i_understand_live:
        out.fail("--venue live needs --i-understand-live (and an armed gate, and venue.live_armed: true)", EXIT_USAGE)
    try:
        sdir = resolve_session_dir(session_dir)
    except OSError as exc:
        out.fail(f"cannot create the session dir {session_dir or 'logs/'}: {exc.strerror or exc}", EXIT_USAGE)
    try:
        runner = Runner(cfg, session_dir=sdir, group=group, gate_url=gate_url, mode=mode,
                        live_confirmed=i_understand_live)
    except (RunnerError, FeedError, CalibrationError, VenueConfigError) as exc:
        out.fail(str(exc), EXIT_USAGE)
    if not as_json:
        out.info(
            f"runner {runner.run_id}: mode {runner.mode}, symbols {', '.join(sorted(runner.tradable))}, "
            f"feed {cfg.feed.source}, gate {runner.gate.base_url}, session {sdir}"
        )
    try:
        summary = asyncio.run(_run(runner, duration))
    except RunnerError as exc:
        out.fail(str(exc), EXIT_USAGE)
    except FeedError as exc:
        out.fail(f"feed failed: {exc}", EXIT_FAILURE)
    if as_json:
        out.json(summary)
    else:
        out.print(summary_table(summary))
        out.info(f"events: {sdir / runner.xai.path.name}")
    if summary.get("error"):
        raise typer.Exit(EXIT_FAILURE)
    if not summary["market"]["messages"]:
        out.fail(f"no market data was received from the {cfg.feed.source} feed", EXIT_FAILURE)


async def _run(runner: Runner, duration: float | None) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, runner.request_stop)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):
            pass
    try:
        return await runner.run(duration)
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


def summary_table(s: dict[str, Any]) -> Table:
    g = s["gate"]
    t = Table(title=f"Runner {s['run_id']} ({s['mode']}{', group ' + s['group'] if s.get('group') else ''})",
              title_justify="left", show_header=False)
    t.add_column("what")
    t.add_column("value", overflow="fold")
    m = s["market"]
    t.add_row("elapsed", f"{s['elapsed_s']:.1f} s")
    t.add_row("messages", f"{m['messages']} (torn {m['torn']}, malformed {m['malformed']})")
    st = s["strategy"]
    t.add_row("candidates", f"{st['candidates']} (ENR fail {st['enr_fail']}, parent fail {st['parent_fail']}, passed {st['passed']})")
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(g["denied_by_reason"].items())) or "-"
    t.add_row("gate decisions", f"{g['gate_checks']}: allowed {g['allowed']}, denied {g['denied']} ({reasons}), "
                                f"unavailable {g['no_gate']}")
    if g.get("client_outages"):
        t.add_row("gate outages", f"{g['client_outages']} (fail closed: {g['no_gate']} orders not placed; "
                                  "see RUNNER.GATE_UNAVAILABLE/RESTORED)")
    t.add_row("orders sent", str(g["orders_sent"]))
    t.add_row("orders by state", ", ".join(f"{k} {v}" for k, v in sorted(s["orders"].items())) or "-")
    lc = g["lifecycle"]
    t.add_row("fills", f"{lc.get('ORDER.FILL', 0)} (+{lc.get('ORDER.PARTIAL', 0)} partial)")
    pnl = sum(p["realized_usd"] for p in s["positions"].values())
    t.add_row("realized PnL", f"{pnl:.4f} USD")
    tt = g["tick_to_request_us"]
    if tt["n"]:
        t.add_row("tick → gate request", f"p50 {tt['p50']:.0f} µs, p99 {tt['p99']:.0f} µs (n={tt['n']})")
    if g.get("client_spooled"):
        t.add_row("lifecycle events spooled", str(g["client_spooled"]))
    if s.get("error"):
        t.add_row("error", s["error"])
    return t


def register(app: typer.Typer) -> None:
    app.command("run-runner")(run_runner)
