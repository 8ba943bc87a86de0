"""``auroractl``: the operator's CLI. Thin commands: parse, call ``aurora``/``runner``, render.

Commands are imported when they run, not when the CLI starts (``auroractl.clikit.AuroraGroup``), so
``auroractl --help`` and ``config …`` never load pandas, matplotlib, uvicorn or ccxt.
"""

from __future__ import annotations

import gc
import os
import sys
from typing import Annotated

import typer

from auroractl.clikit import AuroraGroup, LazyCommand

#: Top-level commands in help order. ``short_help`` is what ``auroractl --help`` shows without importing
#: the command; tests/auroractl/test_cli.py fails when it differs from the command's own help.
COMMANDS = (
    LazyCommand("config", "auroractl.config_cmd:app", "Explain and validate the layered configuration (gate and runner)."),
    LazyCommand("init-run", "auroractl.session_cmd:register",
                "Create an isolated session dir logs/YYYYMMDD-hhmmss/ and print its path."),
    LazyCommand("start-api", "auroractl.start_api_cmd:register",
                "Run the pre-trade gate in the foreground (Ctrl-C or SIGTERM stops it; SIGHUP reloads the config)."),
    LazyCommand("run-runner", "auroractl.runner_cmd:register",
                "Run the WiseScalp runner: feed → features → strategy → gate → venue, until --duration or Ctrl-C."),
    LazyCommand("one-click", "auroractl.oneclick_cmd:register",
                "Run the whole system end to end: preflight, gate, runner(s), live dashboard, clean shutdown, proof."),
    LazyCommand("ops", "auroractl.ops_cmd:app",
                "Operator actions against a running gate: status, halt, kill, resume, cooloff, reset, arm, disarm, rotate-token, reload."),
    LazyCommand("metrics", "auroractl.metrics_cmd:app",
                "Metrics over session logs (events and order logs, rotated files included)."),
    LazyCommand("lifecycle-audit", "auroractl.audit_cmd:register",
                "Check every order's ORDER.* events against the lifecycle FSM: illegal transitions, missing terminal\n"
                "    states, late/duplicate acks, duplicate fills, overfills, fills after cancel (warning) and orphan events,\n"
                "    each with the order ids; submit→ack and ack→done p50/p95/p99; the aggregate transition graph with counts."),
    LazyCommand("report", "auroractl.report_cmd:register",
                "Write one self-contained HTML report for a session: gate status, decisions over time, deny reasons,\n"
                "    latency histograms with p50/p99, the aggregate lifecycle graph and the anomaly table. Opens offline."),
    LazyCommand("whatif", "auroractl.whatif_cmd:register",
                "Re-run a session's recorded checks, in order, through the gate built from a candidate config layered\n"
                "    over the session's own config version, with the gate's state as recorded (positions, PnL, reservations,\n"
                "    health, kill-switch); show the decisions that flip, by guard and by config key, and the change in deny\n"
                "    rate and allowed size."),
    LazyCommand("backtest", "auroractl.backtest_cmd:register",
                "Run the runner on a recorded feed against a fresh gate (request clock) once per gate config and show the\n"
                "    sessions' summaries side by side: decisions, denies by reason, orders, fills, realized PnL, drawdown,\n"
                "    slippage. Deterministic: the same inputs give the same numbers."),
    LazyCommand("tune", "auroractl.tune_cmd:register",
                "Tune runner strategy parameters (and, where the space says so, gate thresholds) on recordings: an\n"
                "    Optuna study over deterministic backtests, pruned, reported on the part of each recording it was not\n"
                "    tuned on; writes the best overlay under profiles/overlays/ with its provenance."),
    LazyCommand("instruments", "auroractl.instruments_cmd:app",
                "The instrument registry the gate, the runner and preflight judge orders against."),
    LazyCommand("export", "auroractl.export_cmd:app", "Export sessions for other engines."),
    LazyCommand("feed", "auroractl.feed_cmd:app",
                "Record market data to a replay file, replay one through the book and features, and "
                "import other recorders' files."),
    LazyCommand("calibrate", "auroractl.calibrate_cmd:register",
                "Fit an isotonic calibration map (with a Platt fallback) from labelled outcomes."),
)  # fmt: skip


class _Root(AuroraGroup):
    lazy = COMMANDS


app = typer.Typer(
    name="auroractl",
    cls=_Root,
    help="Aurora operator CLI: config, pre-trade gate, WiseScalp runner, one-click, analytics.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            v = version("aurora")
        except PackageNotFoundError:  # a source checkout that was never installed
            v = "unknown (not installed)"
        sys.stdout.write(f"auroractl {v}\n")
        raise typer.Exit(0)


#: Commands that read, compute and exit: they keep the cyclic GC off that :func:`main` turns off for the
#: start-up (their data are numpy columns, not reference cycles; a collection would only rescan the
#: libraries' objects: 0.1-0.2 s of a summary). Every other command (a gate, a runner) collects as usual.
BATCH_COMMANDS = frozenset({"metrics", "lifecycle-audit", "report", "export"})


@app.callback()
def _root(
    ctx: typer.Context,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Aurora operator CLI: config, pre-trade gate, WiseScalp runner, one-click, analytics."""
    gc.freeze()  # what start-up imported lives as long as the process: never scanned again
    if ctx.invoked_subcommand not in BATCH_COMMANDS:
        gc.enable()


def main() -> None:
    """Console-script entry point. Unexpected errors show one line unless AURORA_DEBUG=1."""
    # The CLI uses no pydantic plugins; looking for them reads every installed package's metadata (about
    # 50 ms of each command's start-up). Set PYDANTIC_DISABLE_PLUGINS yourself to choose otherwise.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    # numpy's OpenBLAS starts a thread per core that spins waiting for matrix work the CLI never gives it
    # (~0.1 s of CPU in a summary, taken from the reader's threads); one thread, unless you say otherwise.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    gc.disable()  # for the start-up's imports; the root callback turns it back on (see BATCH_COMMANDS)
    try:
        app()
    except SystemExit:
        raise
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        raise SystemExit(130) from None
    except Exception as exc:  # the CLI edge: never a traceback unless asked for
        if os.environ.get("AURORA_DEBUG") == "1":
            raise
        sys.stderr.write(f"error: {type(exc).__name__}: {exc} (set AURORA_DEBUG=1 for a traceback)\n")
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
