"""``auroractl feed record|replay|import``: capture market data, replay it through the book, convert others' files."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.table import Table

from aurora.config.errors import ConfigError
from aurora.config.loader import load_runner
from auroractl.clikit import DURATION_METAVAR, parse_duration
from auroractl.output import EXIT_FAILURE, EXIT_USAGE, Output
from runner.config import FeedSection, RunnerConfig
from runner.feed_tools import record_feed, replay_stats
from runner.feeds import FeedError
from runner.feeds.importers import FORMATS, import_recordings

app = typer.Typer(help="Record market data to a replay file, replay one through the book and features, and "
                       "import other recorders' files.", no_args_is_help=True)


@app.command("record")
def record(
    out_file: Annotated[Path, typer.Option("--out", help="Recording to write (JSONL; gzip when it ends in .gz).")],
    source: Annotated[
        str | None, typer.Option("--source", help="synthetic | binance | replay:PATH. Default: feed.source of the config.")
    ] = None,
    seconds: Annotated[
        float,
        typer.Option("--duration", parser=parse_duration, metavar=DURATION_METAVAR,
                     help="How much market time to record (90s, 15m, or seconds)."),
    ] = "10s",  # type: ignore[assignment]
    symbols: Annotated[
        str | None, typer.Option("--symbols", help="Comma-separated symbols. Default: the config's symbols.")
    ] = None,
    config: Annotated[str | None, typer.Option("--runner-config", help="Runner config (bare name or path).")] = None,
    profile: Annotated[str | None, typer.Option("--profile", help="Strategy profile (bare name or path).")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Synthetic feed seed. Default: feed.seed.")] = None,
    realtime: Annotated[
        bool, typer.Option("--realtime/--fast", help="Synthetic/replay sources: pace in real time, or as fast as possible.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the recording's stats as JSON.")] = False,
) -> None:
    """Record a feed to a replay file ({"recv_ts_ns", "stream", "data"} per line), with in-band depth snapshots.

    Examples:
      [bold]auroractl feed record --source synthetic --out data/sol.jsonl.gz --duration 60s[/]
      [bold]auroractl feed record --source binance --symbols SOLUSDT --out live.jsonl --duration 30s[/]
    """
    out = Output()
    try:
        cfg = load_runner(RunnerConfig, config=config, profile=profile).config
    except ConfigError as exc:
        out.config_error(exc, as_json=as_json)
    feed_cfg = _feed_section(cfg.feed, source, seed, out)
    syms = _symbols(cfg, symbols, out)
    parents = {s.symbol: s.parent for s in cfg.symbols if s.parent and s.parent in syms}
    if out_file.exists() and out_file.is_dir():
        out.fail(f"--out {out_file} is a directory", EXIT_USAGE)
    try:
        stats = asyncio.run(record_feed(feed_cfg, syms, out_file, seconds=seconds, realtime=realtime,
                                        parents=parents))
    except FeedError as exc:
        out.fail(str(exc), EXIT_USAGE if feed_cfg.source.startswith("replay:") else EXIT_FAILURE)
    except OSError as exc:
        out.fail(f"cannot write {out_file}: {exc.strerror or exc}", EXIT_USAGE)
    if as_json:
        out.json(stats)
        return
    out.success(f"recorded {stats['records']} messages ({stats['bytes']} bytes, {stats['market_seconds']:.1f} s of "
                f"market time) from {feed_cfg.source} to {out_file}")
    out.print(_sync_table(stats))


@app.command("replay")
def replay(
    file: Annotated[Path, typer.Argument(help="A recording made by `feed record` (JSONL or .jsonl.gz).")],
    fast: Annotated[bool, typer.Option("--fast", help="As fast as possible instead of the recorded pace.")] = False,
    speed: Annotated[float, typer.Option("--speed", min=0.01, help="Real-time replay speed factor.")] = 1.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the stats as JSON.")] = False,
) -> None:
    """Replay a recording through book sync and features; print book and feature statistics.

    Examples:
      [bold]auroractl feed replay data/sol.jsonl.gz --fast[/]
      [bold]auroractl feed replay live.jsonl --speed 4 --json[/]
    """
    out = Output()
    if not file.is_file():
        _fail(out, f"recording not found: {file}", EXIT_USAGE, as_json)
    started = time.perf_counter()
    try:
        stats = asyncio.run(replay_stats(file, realtime=not fast, speed=speed))
    except FeedError as exc:
        _fail(out, str(exc), EXIT_USAGE, as_json)
    stats["wall_s"] = round(time.perf_counter() - started, 3)
    if not stats["symbols"]:
        where = f":{stats['torn_lines'][0]}" if stats["torn_lines"] else ""
        _fail(out, f"{file}{where}: no market data found ({stats['messages']} lines, {stats['torn']} not JSON, "
                   f"{stats['malformed']} not market messages); is it a `feed record` or `feed import` file?",
              EXIT_USAGE, as_json)
    if as_json:
        out.json(stats)
        return
    for w in stats["warnings"]:
        out.warning(w)
    out.success(f"replayed {stats['messages']} messages in {stats['wall_s']:.2f} s "
                f"({stats['messages_per_s']:.0f} msg/s); torn {stats['torn']}, malformed {stats['malformed']}")
    out.print(_sync_table(stats))
    out.print(_feature_table(stats))


@app.command("import")
def import_(
    sources: Annotated[list[Path], typer.Argument(help="Source files (several are merged in receive-time order).")],
    out_file: Annotated[Path, typer.Option("--out", help="Replay file to write (JSONL; gzip when it ends in .gz).")],
    fmt: Annotated[str, typer.Option("--format", help=f"Source format: {' | '.join(FORMATS)}.")],
    symbol: Annotated[
        str | None, typer.Option("--symbol", help="Symbol of bare REST snapshots when the file does not tell.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print what was imported as JSON.")] = False,
) -> None:
    """Convert other recorders' Binance USD-M files to the replay format, keeping message bytes and receive times.

    hftbacktest: the collector's '<receive_ts_ns> <json>' lines (gzip or not). cryptofeed: the raw capture
    ('<ts_s>: <message>', '<url> -> <ts_s>: <body>' for REST snapshots); pass the websocket and the REST
    files together. A line that cannot be read is an error naming file:line; implausible receive times
    (milliseconds, out of range) are warnings.

    Examples:
      [bold]auroractl feed import --format hftbacktest ../shared/data/usdm_btcusdt_20240808.gz --out btc.jsonl.gz[/]
      [bold]auroractl feed import --format cryptofeed ws.0 rest.0 --out eth.jsonl.gz[/]
    """
    out = Output()
    if fmt not in FORMATS:
        _fail(out, f"--format: {fmt!r} is not a known format (expected {' or '.join(FORMATS)})", EXIT_USAGE, as_json)
    if symbol is not None and not (symbol.isalnum() and 2 <= len(symbol) <= 20):
        _fail(out, f"--symbol: expected an exchange symbol like BTCUSDT, got {symbol!r}", EXIT_USAGE, as_json)
    if out_file.is_dir():
        _fail(out, f"--out {out_file} is a directory", EXIT_USAGE, as_json)
    if any(out_file.resolve() == s.resolve() for s in sources):
        _fail(out, f"--out {out_file} is one of the sources", EXIT_USAGE, as_json)
    try:
        report = import_recordings(fmt, sources, out_file, symbol=symbol)
    except FeedError as exc:
        _fail(out, str(exc), EXIT_USAGE, as_json)
    except OSError as exc:
        _fail(out, f"cannot write {out_file}: {exc.strerror or exc}", EXIT_USAGE, as_json)
    if as_json:
        out.json(report)
        return
    for w in report["warnings"]:
        out.warning(w)
    extra = {k: v for k, v in report["warning_counts"].items() if v > 5}
    if extra:
        out.warning(f"more of the same: {', '.join(f'{k} {v}' for k, v in extra.items())} in all")
    out.success(f"imported {report['records']} records ({report['snapshots']} snapshots, symbols "
                f"{', '.join(report['symbols'])}, {report['receive_span_s']} s) to {out_file}")
    if report["skipped"]:
        out.info("skipped: " + ", ".join(f"{k} {v}" for k, v in report["skipped"].items()))


def _fail(out: Output, message: str, code: int, as_json: bool) -> NoReturn:
    """``--json``: still one JSON document on stdout ({"ok": false, "error"}); the message goes to stderr too."""
    if as_json:
        out.json({"ok": False, "error": message})
    out.fail(message, code)


def _feed_section(base: FeedSection, source: str | None, seed: int | None, out: Output) -> FeedSection:
    data = base.model_dump()
    if source is not None:
        data["source"] = source
    if seed is not None:
        data["seed"] = seed
    try:
        return FeedSection.model_validate(data)
    except ValueError as exc:
        out.fail(f"--source: {source!r} is not a feed source ({_first_error(exc)})", EXIT_USAGE)


def _first_error(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        return str(errors()[0].get("msg"))
    return str(exc)


def _symbols(cfg: RunnerConfig, symbols: str | None, out: Output) -> list[str]:
    if symbols is None:
        return [s.symbol for s in cfg.symbols]
    syms = [s.strip().upper() for s in symbols.split(",") if s.strip()]
    bad = [s for s in syms if not s.isalnum() or not 2 <= len(s) <= 20]
    if not syms or bad:
        out.fail(f"--symbols: expected comma-separated exchange symbols like SOLUSDT, got {symbols!r}", EXIT_USAGE)
    return syms


def _sync_table(stats: dict[str, Any]) -> Table:
    t = Table(title="Book sync", title_justify="left")
    for col in ("symbol", "applied", "snapshots", "gaps", "resyncs", "duplicates", "out of order", "synced"):
        t.add_column(col, justify="right" if col != "symbol" else "left")
    for sym, c in stats["sync"].items():
        t.add_row(sym, *(str(c.get(k, 0)) for k in ("applied", "snapshots", "gaps", "resyncs", "duplicates",
                                                    "out_of_order")), "yes" if c.get("synced") else "no")
    return t


def _feature_table(stats: dict[str, Any]) -> Table:
    t = Table(title="Book and features at the end", title_justify="left")
    for col in ("symbol", "bid", "ask", "spread bps", "levels", "OBI", "TFI", "vol bps", "trades"):
        t.add_column(col, justify="right" if col != "symbol" else "left")
    for sym, f in stats["symbols"].items():
        t.add_row(sym, _num(f["bid"], ""), _num(f["ask"], ""), _num(f["spread_bps"], ".2f"), str(f["levels"]),
                  _num(f["obi"], "+.3f"), _num(f["tfi"], "+.3f"), _num(f["vol_std_bps"], ".2f"), str(f["trades"]))
    return t


def _num(x: float | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)
