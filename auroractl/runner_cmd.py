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
from runner.app import Runner, RunnerError, no_decision_reason, resolve_session_dir
from runner.config import RunnerConfig
from runner.explore import ExploreSettings
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
    feed: Annotated[
        str | None, typer.Option("--feed", help="Market data: synthetic | binance | replay:PATH. Default: feed.source.")
    ] = None,
    speed: Annotated[
        str | None, typer.Option("--speed", help="Replay/synthetic pace: N (times real time) or max (as fast as possible).")
    ] = None,
    symbols: Annotated[
        str | None, typer.Option("--symbols", help="Trade only these of the profile's symbols (comma-separated; their parents are kept).")
    ] = None,
    metrics_port: Annotated[
        int | None, typer.Option("--metrics-port", min=0, max=65535,
                                 help="Serve Prometheus /metrics on this port (0: a free one, announced in RUNNER.START). Default: metrics.port of the config (none: off).")
    ] = None,
    explore_ratio: Annotated[
        float | None, typer.Option("--explore-ratio", min=0.0, max=1.0,
                                   help="Live tuning: decide this share of the entries with the newest overlay the "
                                   "session's tuner proposed (OPTUNA.PARAMETER_UPDATE in tuner_events.jsonl; "
                                   "validated like --overlay). Default: off.")
    ] = None,
    explore_seed: Annotated[
        int, typer.Option("--explore-seed", help="Seed of the per-decision arm choice (with --explore-ratio).")
    ] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run summary as JSON.")] = False,
) -> None:
    """Run the WiseScalp runner: feed → features → strategy → gate → venue, until --duration or Ctrl-C.

    Every order is checked with the gate first; if the gate cannot be reached, no order is placed.
    XAI events go to [bold]runner_events[-GROUP].jsonl[/] in the session dir; order lifecycle events go to the gate.

    Examples:
      [bold]auroractl run-runner --venue paper --duration 60s[/]
      [bold]auroractl run-runner --runner-config test_param --profile sol_soon_base --gate-url http://127.0.0.1:8000[/]
      [bold]auroractl run-runner --profile aurora_shadow_best --overlay _active_shadow --venue shadow[/]
      [bold]auroractl run-runner --feed replay:btc.jsonl.gz --speed max --symbols BTCUSDT[/]

    Exit 1 when the run got no decision at all from the gate (none asked, or none answered: gate down,
    wrong URL or token), or ended with a position still open (printed with its mark PnL).
    """
    out = Output()
    try:
        loaded = load_runner(RunnerConfig, config=config, profile=profile, overlays=overlay or [])
    except ConfigError as exc:
        out.config_error(exc, as_json=as_json)
    cfg = _overrides(loaded.config, feed, speed, symbols, out)
    if mode == "live" and not i_understand_live:
        out.fail("--venue live needs --i-understand-live (and an armed gate, and venue.live_armed: true)", EXIT_USAGE)
    try:
        sdir = resolve_session_dir(session_dir)
    except OSError as exc:
        out.fail(f"cannot create the session dir {session_dir or 'logs/'}: {exc.strerror or exc}", EXIT_USAGE)
    explore = None
    if explore_ratio is not None:
        if not 0.0 < explore_ratio < 1.0:
            out.fail(f"--explore-ratio: expected a share between 0 and 1 (exclusive), got {explore_ratio:g}", EXIT_USAGE)

        def load(path: Path) -> RunnerConfig:  # the validated config path: this run's layers, the proposal last
            return load_runner(RunnerConfig, config=config, profile=profile,
                               overlays=[*(overlay or []), str(path)]).config  # fmt: skip

        explore = ExploreSettings(ratio=explore_ratio, seed=explore_seed, load=load, baseline=loaded.config)
    try:
        runner = Runner(cfg, session_dir=sdir, group=group, gate_url=gate_url, mode=mode,
                        live_confirmed=i_understand_live, metrics_port=metrics_port, explore=explore)
    except (RunnerError, FeedError, CalibrationError, VenueConfigError) as exc:
        out.fail(str(exc), EXIT_USAGE)
    if not as_json:
        out.info(
            f"runner {runner.run_id}: mode {runner.mode}, symbols {', '.join(sorted(runner.tradable))}, "
            f"feed {cfg.feed.source}, gate {runner.gate.base_url}, session {sdir}"
        )
        runner.on_start = lambda details: _say_metrics(out, details)
    try:
        summary = asyncio.run(_run(runner, duration))
    except RunnerError as exc:
        out.fail(str(exc), EXIT_USAGE)
    except FeedError as exc:
        out.fail(f"feed failed: {exc}", EXIT_FAILURE)
    problem = _problem(summary, cfg.feed.source, runner.gate.base_url)
    if as_json:
        out.json({**summary, "ok": problem is None,
                  **({"error": problem, "exit_code": EXIT_FAILURE} if problem else {})})
    else:
        out.print(summary_table(summary))
        out.info(f"events: {sdir / runner.xai.path.name}")
    if summary.get("error"):
        raise typer.Exit(EXIT_FAILURE)  # shown in the table / the JSON
    if problem:
        out.fail(problem, EXIT_FAILURE)


def _problem(summary: dict[str, Any], feed: str, gate_url: str) -> str | None:
    """Why the run failed (exit 1), or None: an error, no market data, no decision, positions left open."""
    if summary.get("error"):
        return str(summary["error"])
    if not summary["market"]["messages"]:
        return f"no market data was received from the {feed} feed"
    why = no_decision_reason(summary, gate_url)
    if why:
        return why
    if summary["open_positions"]:
        return "the run ended with positions open: " + "; ".join(
            f"{p['symbol']} qty {p['qty']:g} @ {p['avg_price']:g}, mark PnL "
            + (f"{p['mark_pnl_usd']:+.2f} USD" if p["mark_pnl_usd"] is not None else "unknown (no price)")
            for p in summary["open_positions"])
    return None


def _say_metrics(out: Output, start: dict[str, Any]) -> None:
    if start.get("metrics"):
        out.info(f"metrics: {start['metrics']['url']}")


def _overrides(cfg: RunnerConfig, feed: str | None, speed: str | None, symbols: str | None,
               out: Output) -> RunnerConfig:
    """``--feed``, ``--speed`` and ``--symbols`` over the loaded config, validated like the config itself."""
    data = cfg.model_dump()
    if feed is not None:
        data["feed"]["source"] = feed
    if speed is not None:
        if speed == "max":
            data["feed"]["realtime"] = False
        else:
            try:
                factor = float(speed)
            except ValueError:
                factor = -1.0
            if not (factor > 0 and factor < float("inf")):
                out.fail(f"--speed: expected a positive number or 'max', got {speed!r}", EXIT_USAGE)
            data["feed"].update(realtime=True, speed=factor)
    if symbols is not None:
        wanted = [x.strip().upper() for x in symbols.split(",") if x.strip()]
        known = {s["symbol"]: s for s in data["symbols"]}
        missing = [x for x in wanted if x not in known]
        if not wanted or missing:
            out.fail(f"--symbols: {', '.join(missing) or repr(symbols)} not in the profile's symbols "
                     f"({', '.join(known)})", EXIT_USAGE)
        parents = {known[x]["parent"] for x in wanted if known[x].get("parent")}
        data["symbols"] = [s for s in data["symbols"] if s["symbol"] in set(wanted) | parents]
    try:
        return RunnerConfig.model_validate(data)
    except ValueError as exc:
        errors = getattr(exc, "errors", None)
        first = errors()[0] if callable(errors) else {"loc": (), "msg": str(exc)}
        where = ".".join(str(x) for x in first.get("loc", ()))
        out.fail(f"--feed/--speed/--symbols: {where}: {first.get('msg')}", EXIT_USAGE)


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
    books = s.get("books") or {}
    if books:
        t.add_row("books", ", ".join(
            f"{sym} {b['state']}" + (f" (untrusted {b['untrusted_ms'] / 1000:.1f} s)" if b["untrusted_ms"] else "")
            for sym, b in sorted(books.items())))
    for p in s.get("open_positions") or []:
        t.add_row("OPEN at end", f"{p['symbol']} qty {p['qty']:g} @ {p['avg_price']:g}, mark PnL "
                                 f"{p['mark_pnl_usd'] if p['mark_pnl_usd'] is not None else '?'} USD")
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
