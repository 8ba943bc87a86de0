"""``auroractl instruments fetch|show``: the instrument registry (tick, lot step, min/max qty, min notional)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from aurora.config.errors import ConfigError
from aurora.config.loader import load_aurora
from aurora.config.paths import project_root
from aurora.instruments import DEFAULT_VENUE, InstrumentRegistry, load_registry, resolve_path
from aurora.instruments.fetch import VENUES, FetchError, fetch_registry
from auroractl.output import EXIT_FAILURE, EXIT_USAGE, Output

app = typer.Typer(
    help="The instrument registry the gate, the runner and preflight judge orders against.",
    no_args_is_help=True,
)

FIELDS = (
    ("tick", "price tick"), ("step", "lot step"), ("min_qty", "min qty"), ("max_qty", "max qty (limit)"),
    ("max_market_qty", "max qty (market)"), ("min_notional", "min notional"), ("contract_size", "contract size"),
    ("price_precision", "price decimals"), ("qty_precision", "qty decimals"), ("status", "status"),
    ("base", "base"), ("quote", "quote"), ("kind", "kind"), ("ccxt_symbol", "ccxt symbol"),
    ("min_price", "min price"), ("max_price", "max price"),
)  # fmt: skip


def _registry(out: Output, file: Path | None) -> tuple[InstrumentRegistry, str]:
    """``--file``, else what the gate uses: ``instruments.path`` of the active config (default: shipped)."""
    try:
        if file is not None:
            return load_registry(file), DEFAULT_VENUE
        root = project_root()
        loaded = load_aurora(None, root=root)
        cfg = loaded.config.instruments
        return load_registry(resolve_path(cfg.path, loaded.root)), cfg.venue
    except ConfigError as exc:
        out.config_error(exc)


@app.command("show")
def show(
    symbol: Annotated[str, typer.Argument(help="The venue's symbol, e.g. BTCUSDT.")],
    venue: Annotated[str | None, typer.Option("--venue", help="Venue (default: instruments.venue, binanceusdm).")] = None,
    file: Annotated[Path | None, typer.Option("--file", help="Registry file (default: instruments.path of the "
                                                            "active config, else the shipped snapshot).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")] = False,
) -> None:
    """Show one instrument: tick, lot step, min/max quantity, min notional, status, and where it comes from.

    Exit 2 when the symbol is not in the registry.

    Examples:
      [bold]auroractl instruments show BTCUSDT[/]
      [bold]auroractl instruments show SOLUSDT --json --file reports/instruments.json[/]
    """
    out = Output()
    registry, configured_venue = _registry(out, file)
    v = venue or configured_venue
    inst = registry.get(symbol, v)
    if inst is None:
        out.fail(registry.unknown_message(symbol, v), EXIT_USAGE)
    source = {"path": str(registry.path), "source": registry.source, "fetched_at": registry.fetched_at}
    if as_json:
        out.json({"venue": v, "symbol": symbol, **inst.to_dict(), "registry": source})
        return
    table = Table(title=f"{symbol} on {v}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    data = inst.to_dict()
    for key, label in FIELDS:
        if data.get(key) is not None:
            table.add_row(label, f"{data[key]:g}" if isinstance(data[key], float) else str(data[key]))
    out.print(table)
    out.info(f"registry: {registry.path} (fetched {registry.fetched_at})")
    out.info(f"source: {registry.source}")


@app.command("fetch")
def fetch(
    venue: Annotated[str, typer.Option("--venue", help=f"ccxt venue: {', '.join(VENUES)}.")] = DEFAULT_VENUE,
    out_path: Annotated[Path | None, typer.Option("--out", help="Where to write the registry "
                                                                "(default: reports/instruments-VENUE.json).")] = None,
    url: Annotated[str | None, typer.Option("--url", help="REST base URL instead of the exchange's own (a mirror).")] = None,
    timeout_ms: Annotated[int, typer.Option("--timeout-ms", min=100, max=120_000)] = 10_000,
    as_json: Annotated[bool, typer.Option("--json", help="Print what was written as JSON.")] = False,
) -> None:
    """Build the registry from the exchange's own market list (ccxt) and write it.

    Point the gate and the runner at the file with instruments.path (AURORA_INSTRUMENTS_PATH). Needs the
    network (or --url of a mirror); exit 1 when the list cannot be fetched, 2 for a bad argument.

    Examples:
      [bold]auroractl instruments fetch --venue binanceusdm --out configs/instruments.json[/]
    """
    out = Output()
    if venue not in VENUES:
        out.fail(f"--venue: unknown venue {venue!r}; known: {', '.join(VENUES)}", EXIT_USAGE)
    if url is not None and not url.startswith(("http://", "https://")):
        out.fail(f"--url: {url!r} is not an http(s) URL", EXIT_USAGE)
    target = out_path or project_root() / "reports" / f"instruments-{venue}.json"
    try:
        result = fetch_registry(venue, base_url=url, timeout_ms=timeout_ms)
    except FetchError as exc:
        out.fail(str(exc), EXIT_FAILURE)
    try:
        result.registry.write(target)
    except OSError as exc:
        out.fail(f"--out {target}: cannot write: {exc.strerror or exc}", EXIT_USAGE)
    n = len(result.registry.symbols(venue))
    if as_json:
        out.json({"ok": True, "path": str(target), "venue": venue, "instruments": n, "skipped": result.skipped,
                  "source": result.registry.source, "fetched_at": result.registry.fetched_at})  # fmt: skip
        return
    out.success(f"{n} {venue} instruments written to {target}")
    if result.skipped:
        shown = ", ".join(f"{k} ({v})" for k, v in list(result.skipped.items())[:5])
        more = f" and {len(result.skipped) - 5} more" if len(result.skipped) > 5 else ""
        out.warning(f"{len(result.skipped)} market(s) left out: {shown}{more}")
    out.info(f"use it: instruments.path: {target}  (or AURORA_INSTRUMENTS_PATH={target})")
