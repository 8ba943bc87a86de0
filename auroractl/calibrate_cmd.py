"""``auroractl calibrate``: fit a score → win-probability map offline and save it for the gate/runner."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from aurora.calibration import CalibrationError, expected_calibration_error, fit_calibration
from aurora.calibration.labelled_outcomes import read_labelled
from auroractl.output import EXIT_USAGE, Output


def calibrate(
    source: Annotated[
        Path,
        typer.Option("--from", metavar="LOG", help="A JSONL of {score, outcome} pairs, or a session dir / events file."),
    ],
    out_path: Annotated[Path, typer.Option("--out", metavar="PATH", help="Where to write the map (JSON).")],
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

    Examples: [bold]auroractl calibrate --from outcomes.jsonl --out configs/calibration/sol.json[/] ·
    [bold]auroractl calibrate --from logs/20261121-101500 --out cal.json[/]
    """
    out = Output()
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
        "torn_lines_skipped": stats.torn,
    }
    if as_json:
        out.json(result)
        return
    table = Table(title=f"calibration map → {written}", show_header=False)
    for k, v in result.items():
        if k != "out":
            table.add_row(k.replace("_", " "), str(v))
    out.print(table)
    out.success(f"wrote {written}")


def register(app: typer.Typer) -> None:
    app.command("calibrate")(calibrate)
