"""``auroractl export parquet``: sessions as one partitioned Parquet dataset (DuckDB, Spark, Trino)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from aurora.session.reader import SessionReadError
from auroractl.analytics_args import JsonOpt, bad_input
from auroractl.output import Output

app = typer.Typer(help="Export sessions for other engines.", no_args_is_help=True)


@app.command()
def parquet(
    sessions: Annotated[
        list[Path],
        typer.Option("--session", help="Session dir to export (repeat for several).", show_default=False),
    ],
    out_dir: Annotated[
        Path, typer.Option("--out-dir", help="The dataset directory (created; other sessions' files are kept).")
    ],
    as_json: JsonOpt = False,
) -> None:
    """Write the sessions' events (gate and runners) as Parquet under OUT_DIR/date=YYYY-MM-DD/family=FAMILY/,
    one column per event field plus session and source; re-exporting a session replaces its files. Query
    it with metrics summary --dataset, DuckDB, Spark SQL or Trino (see the README).

    Example: [bold]auroractl export parquet --session logs/20261121-090000 --session logs/20261122-090000 --out-dir datasets/aurora[/]
    """
    out = Output()
    for s in sessions:
        if not s.is_dir():
            bad_input(out, f"--session: session directory not found: {s}")
    if out_dir.exists() and not out_dir.is_dir():
        bad_input(out, f"--out-dir: {out_dir} is not a directory")
    from aurora.analytics.parquet_export import export_sessions  # pyarrow's dataset writer: only here

    try:
        result = export_sessions(list(sessions), out_dir)
    except SessionReadError as exc:
        bad_input(out, str(exc))
    except OSError as exc:
        bad_input(out, f"--out-dir: cannot write into {out_dir}: {exc.strerror or exc}")
    if as_json:
        out.json(result)
        return
    t = Table(title=f"Dataset {escape(str(out_dir))}", title_justify="left")
    for col in ("session", "events", "files", "days", "families"):
        t.add_column(col, justify="right" if col in ("events", "files") else "left", overflow="fold")
    for s in result["sessions"]:
        t.add_row(escape(s["session"]), str(s["events"]), str(s["files"]), ", ".join(s["days"]),
                  escape(", ".join(s["families"])))  # fmt: skip
    out.print(t)
    for s in result["sessions"]:
        if s["torn_lines"]:
            out.print(f"{escape(s['session'])}: {s['torn_lines']} torn last line(s) left out")
        for line in s["warnings"]:
            out.warning(f"{s['session']}: {line}")
    out.success(f"wrote {result['events']} events of {len(result['sessions'])} session(s) to {out_dir}"
                f" ({result['files']} Parquet files in the dataset)")  # fmt: skip
