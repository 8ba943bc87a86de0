"""``auroractl tune``: an Optuna study over deterministic backtests of recordings; writes the best overlay."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from aurora.calibration import CalibrationError
from aurora.config.errors import ConfigError
from auroractl.analytics_args import HtmlOpt, JsonOpt, bad_input, fmt, write_text
from auroractl.output import Output
from oneclick.backtest import BacktestError
from oneclick.tuning.objectives import DEFAULT_OBJECTIVE, OBJECTIVES, ObjectiveError
from oneclick.tuning.space import load_space
from oneclick.tuning.study import Split, TrialRow, TuneError, tune
from runner.feeds import FeedError
from runner.plans import RunnerError
from runner.venues.base import VenueConfigError


def run(
    recording: Annotated[
        list[Path], typer.Option("--recording", help="Recorded feed (`feed record` / `feed import`); repeat for more.")
    ],
    space: Annotated[Path, typer.Option("--space", help="Search space file (profiles/spaces/*.yaml).")],
    trials: Annotated[int, typer.Option("--trials", help="Finished trials the study should hold (a resumed study "
                                        "runs the missing ones).")],  # fmt: skip
    study: Annotated[
        str | None, typer.Option("--study", help="Study name; also the overlay's file name. Default: tune-<space>.")
    ] = None,
    storage: Annotated[
        str | None,
        typer.Option("--storage", help="Optuna storage URL to keep and resume the study (sqlite:///tune.db). "
                     "Default: in memory."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the TPE sampler.")] = 0,
    objective: Annotated[
        str, typer.Option("--objective", help=f"What a trial maximises: {', '.join(OBJECTIVES)}.")
    ] = DEFAULT_OBJECTIVE,
    runner_config: Annotated[
        str | None, typer.Option("--runner-config", help="Runner config (bare name or path). Default: the runner base.")
    ] = None,
    mode: Annotated[str, typer.Option("--mode", help="Gate config mode: development | testnet | production.")] = "testnet",
    train_fraction: Annotated[
        float, typer.Option("--train-fraction", help="Share of each recording's time that trains; the rest validates.")
    ] = 0.5,
    segments: Annotated[
        int, typer.Option("--segments", help="Pruning steps: the training half is scored after each of this many cuts.")
    ] = 2,
    as_json: JsonOpt = False,
    html: HtmlOpt = None,
) -> None:
    """Tune runner strategy parameters (and, where the space says so, gate thresholds) on recordings: an
    Optuna study over deterministic backtests, pruned, reported on the part of each recording it was not
    tuned on; writes the best overlay under profiles/overlays/ with its provenance.

    Trials (TPE, seeded) run the backtest on the first part of each recording; the best overlay goes to
    profiles/overlays/<study>.yaml (runner) and <study>.gate.yaml (gate), with <study>.provenance.json.

    Example: [bold]auroractl tune --recording btc.jsonl.gz --space profiles/spaces/btc_small.yaml --trials 20 --runner-config btc.yaml[/]
    """
    out = Output()
    try:
        space_obj = load_space(space)
        split = Split(train_fraction, segments)
    except ConfigError as exc:
        out.config_error(exc, as_json=as_json)
    except TuneError as exc:
        bad_input(out, str(exc))

    def progress(row: TrialRow) -> None:
        value = "—" if row.value is None else fmt(row.value, 4)
        where = f" at step {max(row.steps)}" if row.state == "pruned" and row.steps else ""
        out.info(f"trial {row.number}: {row.state}{where} {value} ({row.decisions} decisions, {row.closed_trades} "
                 "trades)")

    try:
        result = tune(recording, space_obj, trials=trials, study=study, storage=storage, seed=seed,
                      objective_name=objective, split=split, runner_config=runner_config, mode=mode,
                      on_trial=progress)  # fmt: skip
    except ConfigError as exc:
        out.config_error(exc, as_json=as_json)
    except (TuneError, ObjectiveError, BacktestError, RunnerError, FeedError, CalibrationError,
            VenueConfigError) as exc:  # fmt: skip
        bad_input(out, str(exc))
    except OSError as exc:
        bad_input(out, f"cannot write the overlay under profiles/overlays/: {exc.strerror or exc}")
    data = result.to_dict()
    if html is not None:
        from oneclick.tuning.html_report import render as render_html

        write_text(out, html, render_html(data), "--html")
    if as_json:
        out.json(data)
        return
    render(out, data)
    if html is not None:
        out.success(f"HTML report written to {html}")


def render(out: Output, data: dict[str, Any]) -> None:
    t = data["trials"]
    states = ", ".join(f"{n} {s}" for s, n in t["by_state"].items())
    out.print(f"[bold]tune[/] {escape(data['study'])}: {t['total']} trials ({escape(states)}), objective "
              f"{escape(data['objective']['name'])}")  # fmt: skip
    if t["ran"]:
        out.info(f"{t['ran']} trials run in {fmt(t['elapsed_s'], 1)} s ({fmt(t['per_min'], 1)} trials/min)")
    top = data["top"]
    if top:
        table = Table(title="Top trials (training half)", title_justify="left")
        names = list(top[0]["params"])
        for col in ("trial", "value", "decisions", "trades", *names):
            table.add_column(escape(col), justify="right")
        for row in top:
            table.add_row(str(row["number"]), fmt(row["value"], 4), str(row["decisions"]), str(row["closed_trades"]),
                          *(fmt(row["params"][n], 4) for n in names))  # fmt: skip
        out.print(table)
    if data["best"] is None:
        out.warning("no trial finished (every one was pruned or failed): no overlay written")
        return
    score = data["score"]
    out.print(f"[bold]best[/] trial {data['trial']}: train {fmt(score['train'], 4)}, validation "
              f"{fmt(score['validation'], 4)} (on the last {fmt(100 * (1 - data['split']['train_fraction']), 1)}% "
              "of each recording, not tuned on)")  # fmt: skip
    if not data["best_closed_trades"]["train"]:
        out.warning("the best trial closed no trade on the training half: no sampled configuration beat not "
                    "trading; widen the space or check the runner config before applying this overlay")
    files = data["files"]
    if files:
        name = data["study"]
        out.success(f"runner overlay {files['runner']} (run-runner --overlay {name})")
        if "gate" in files:
            out.success(f"gate layer {files['gate']} (AURORA_CONFIG={files['gate']})")
        out.info(f"provenance {files['provenance']}")
        check = f"auroractl config validate {data['mode']} --overlay {name}" + (
            f" --runner-config {data['runner_config']}" if data["runner_config"] else "") + (
            f" --file {files['gate']}" if "gate" in files else "")
        out.info(f"check before use: {check}")


def register(app: typer.Typer) -> None:
    app.command("tune")(run)
