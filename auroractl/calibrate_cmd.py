"""``auroractl calibrate``: fit a score → win-probability map offline and save it for the gate/runner."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from aurora.calibration import CalibrationError, expected_calibration_error, fit_calibration
from aurora.calibration.labelled_outcomes import read_labelled
from aurora.session.reader import read_warnings
from auroractl.output import EXIT_USAGE, Output


def calibrate(
    out_path: Annotated[Path, typer.Option("--out", metavar="PATH", help="Where to write the map (JSON).")],
    source: Annotated[
        Path | None,
        typer.Option("--from", metavar="LOG", help="A JSONL of {score, outcome} pairs, or a session dir / events file."),
    ] = None,
    replay: Annotated[
        Path | None,
        typer.Option("--from-replay", metavar="PATH", help="A recording (replay format): the runner trades it "
                     "(paper venue) and its own round trips are the labels; one map per traded symbol."),
    ] = None,
    config: Annotated[
        str | None, typer.Option("--runner-config", help="Runner config (--from-replay). Default: base."),
    ] = None,
    profile: Annotated[str | None, typer.Option("--profile", help="Strategy profile (--from-replay).")] = None,
    symbols: Annotated[
        str | None, typer.Option("--symbols", help="Trade only these of the profile's symbols (--from-replay).")
    ] = None,
    passes: Annotated[int, typer.Option("--passes", min=1, max=200, help="Replays of the recording, each "
                                        "starting to trade --stagger s later (--from-replay).")] = 12,
    stagger: Annotated[float, typer.Option("--stagger", min=0.0, help="Seconds between the passes' starts.")] = 2.5,
    holdout: Annotated[float, typer.Option("--holdout", min=0.0, max=0.9, help="Later part of the recording "
                                           "held out of the fit and scored (ECE) (--from-replay).")] = 0.5,
    fmt: Annotated[str, typer.Option("--format", help="auto | pairs | session")] = "auto",
    min_pairs: Annotated[int, typer.Option("--min-pairs", min=2, help="Refuse to fit on fewer pairs.")] = 50,
    max_knots: Annotated[int, typer.Option("--max-knots", min=2, max=1000, help="Knots of the isotonic map.")] = 64,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")] = False,
) -> None:
    """Fit an isotonic calibration map (with a Platt fallback) from labelled outcomes.

    LOG is either a JSONL file with one [bold]{"score": 1.7, "outcome": 1}[/] per line, or a session dir
    (or its aurora_events.jsonl): closing fills with [bold]details.entry_score[/] and
    [bold]details.realized_pnl_bps[/] (win when > 0). Point the gate at the result with
    [bold]calibration.path[/].

    [bold]--from-replay PATH[/] labels the runner's own trades on a recording instead: the profile's
    strategy on the paper venue (its own ENR bar opened, the gate's veto left out: the gate is what the
    map is for), one label per round trip (win: realised P&L after fees > 0). The written file keeps
    the profile's map for every other symbol and adds one map per traded symbol (per_symbol), which the
    gate and the runner both use for that symbol; the ECE on the held-out later part is reported.

    Examples: [bold]auroractl calibrate --from outcomes.jsonl --out configs/calibration/sol.json[/] ·
    [bold]auroractl calibrate --from logs/20261121-101500 --out cal.json[/] ·
    [bold]auroractl calibrate --from-replay btc.jsonl.gz --profile base --symbols BTCUSDT --out btc.json[/]
    """
    out = Output()
    if (source is None) == (replay is None):
        out.fail("give one of --from LOG or --from-replay PATH", EXIT_USAGE)
    if replay is not None:
        _from_replay(out, replay, out_path, config, profile, symbols, passes, stagger, holdout, min_pairs,
                     max_knots, as_json)
        return
    assert source is not None
    try:
        scores, outcomes, stats, used = read_labelled(source, fmt)
        if len(scores) < min_pairs:
            out.fail(
                f"--from: {source} has {len(scores)} labelled pairs ({used} format); at least {min_pairs} are needed "
                "(--min-pairs)",
                EXIT_USAGE,
            )
        cmap = fit_calibration(scores, outcomes, max_knots=max_knots, meta={"source": str(source), "format": used})
        written = cmap.save(out_path)
    except CalibrationError as exc:
        out.fail(str(exc), EXIT_USAGE)
    except OSError as exc:
        out.fail(f"--out: cannot write {out_path}: {exc.strerror or exc}", EXIT_USAGE)
    ece = expected_calibration_error(cmap.predict_many(scores), outcomes)
    result = {
        "out": str(written),
        "format": used,
        "pairs": len(scores),
        "win_rate": cmap.meta["win_rate"],
        "kind": cmap.kind,
        "knots": len(cmap.x),
        "platt": {"a": cmap.platt_a, "b": cmap.platt_b},
        "ece_in_sample": round(ece, 6),
        "torn_lines_skipped": len(stats.torn),
        "corrupt_lines_skipped": stats.corrupt_count,
    }
    for line in read_warnings(stats):
        out.warning(line)
    if as_json:
        out.json(result)
        return
    table = Table(title=f"calibration map → {written}", show_header=False)
    for k, v in result.items():
        if k != "out":
            table.add_row(k.replace("_", " "), str(v))
    out.print(table)
    out.success(f"wrote {written}")


def _from_replay(out: Output, replay: Path, out_path: Path, config: str | None, profile: str | None,
                 symbols: str | None, passes: int, stagger: float, holdout: float, min_pairs: int,
                 max_knots: int, as_json: bool) -> None:
    import tempfile

    from aurora.calibration import CalibrationMap
    from aurora.config.errors import ConfigError
    from aurora.config.loader import load_runner
    from runner.app import RunnerError
    from runner.config import RunnerConfig
    from runner.feeds import FeedError
    from runner.feeds.replay_feed import sniff_recording
    from runner.labels import calibrate_replay

    try:
        loaded = load_runner(RunnerConfig, config=config, profile=profile)
    except ConfigError as exc:
        out.config_error(exc, as_json=as_json)
    cfg = loaded.config
    if symbols is not None:
        wanted = {x.strip().upper() for x in symbols.split(",") if x.strip()}
        known = {s.symbol for s in cfg.symbols}
        if not wanted or wanted - known:
            out.fail(f"--symbols: {', '.join(sorted(wanted - known)) or repr(symbols)} not in the profile's "
                     f"symbols ({', '.join(sorted(known))})", EXIT_USAGE)
        data = cfg.model_dump()
        parents = {s.parent for s in cfg.symbols if s.symbol in wanted and s.parent}
        data["symbols"] = [s for s in data["symbols"] if s["symbol"] in wanted | parents]
        cfg = RunnerConfig.model_validate(data)
    try:
        if not replay.is_file():
            raise FeedError(f"recording not found: {replay}")
        for w in sniff_recording(replay):
            out.warning(w)
        base = CalibrationMap.load(cfg.strategy.calibration_path)
    except FeedError as exc:
        out.fail(f"--from-replay: {exc}", EXIT_USAGE)
    except CalibrationError as exc:
        out.fail(f"strategy.calibration_path: {exc}", EXIT_USAGE)

    def progress(k: int, run: object) -> None:
        if not as_json:
            out.info(f"pass {k + 1}/{passes}: {len(run.labels)} round trips")  # type: ignore[attr-defined]

    with tempfile.TemporaryDirectory(prefix="aurora-calibrate-") as tmp:
        try:
            cmap, report = calibrate_replay(cfg, replay, Path(tmp), base=base, passes=passes, stagger_s=stagger,
                                            holdout=holdout, min_pairs=min_pairs, max_knots=max_knots,
                                            progress=progress)
        except CalibrationError as exc:
            out.fail(f"--from-replay: {exc}", EXIT_USAGE)
        except (RunnerError, FeedError) as exc:
            out.fail(f"--from-replay: {exc}", EXIT_USAGE)
    try:
        written = cmap.save(out_path)
    except OSError as exc:
        out.fail(f"--out: cannot write {out_path}: {exc.strerror or exc}", EXIT_USAGE)
    result = {"out": str(written), **report}
    if as_json:
        out.json(result)
        return
    table = Table(title=f"per-symbol calibration → {written}", title_justify="left")
    for col in ("symbol", "fit on", "held out", "win rate (held out)", "ECE held out", "ECE before", "kind"):
        table.add_column(col)
    for sym, row in report["symbols"].items():
        wr = row["win_rate_holdout"]
        table.add_row(sym, str(row["train"]), str(row["holdout"]), "-" if wr is None else f"{wr:.3f}",
                      _num(row["ece_holdout"]), _num(row["ece_holdout_base"]), row["kind"])
    out.print(table)
    out.info(f"{report['labels']} round trips from {passes} passes ({report['cut_by_end']} closed by the end of "
             f"the data, not labelled); other symbols keep the profile's map")
    out.success(f"wrote {written}")


def _num(v: float | None) -> str:
    return "-" if v is None else f"{v:.4f}"


def register(app: typer.Typer) -> None:
    app.command("calibrate")(calibrate)
