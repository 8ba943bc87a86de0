"""``auroractl metrics summary``: what happened in a session's window, and which gates are red."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.markup import escape
from rich.table import Table

from aurora.analytics.metrics_summary import (
    dataset_info,
    read_dataset_for_summary,
    read_for_summary,
    summarize,
)
from aurora.gate.thresholds import key_value
from aurora.session.reader import SessionReadError
from auroractl.analytics_args import (
    HtmlOpt,
    JsonOpt,
    ModeOpt,
    SessionOpt,
    bad_input,
    fmt,
    load_config,
    pct,
    read_early,
    render_read,
    resolve_session,
    session_config,
    write_text,
)
from auroractl.output import EXIT_FAILURE, Output

app = typer.Typer(
    help="Metrics over session logs (events and order logs, rotated files included).", no_args_is_help=True
)

DEFAULT_OUT = Path("reports/summary_gate_status.json")
STATUS_STYLE = {"green": "green", "red": "bold red", "n/a": "dim"}


@app.command()
def summary(
    window_sec: Annotated[
        float | None,
        typer.Option(
            "--window-sec",
            help="Window length in seconds, ending at the session's newest record on its own clock; 0 = whole"
            " session. Default: 3600 for a session, 0 (everything) for a --dataset.",
            show_default=False,
        ),
    ] = None,
    session: SessionOpt = None,
    dataset: Annotated[
        Path | None,
        typer.Option("--dataset", help="An exported Parquet dataset (auroractl export parquet): the same summary"
                     " over all its sessions.", show_default=False),  # fmt: skip
    ] = None,
    out_path: Annotated[Path, typer.Option("--out", help="Where the JSON summary is written.")] = DEFAULT_OUT,
    as_json: JsonOpt = False,
    html: HtmlOpt = None,
    mode: ModeOpt = None,
    fail_on_red: Annotated[bool, typer.Option("--fail-on-red", help="Exit 1 when any gate is red.")] = False,
) -> None:
    """Summarize a session: decisions, allow/deny by reason, deny/reject rates, conversion, gate trips,
    latency p50/p95/p99, health and kill-switch changes, ECE, CVaR, and the kill-switch/gates thresholds
    of the config evaluated on the window (green/red).

    Examples: [bold]auroractl metrics summary --window-sec 3600 --out reports/summary_gate_status.json[/]
     ·  [bold]auroractl metrics summary --session logs/20261121-090000 --window-sec 0 --json[/]
     ·  [bold]auroractl metrics summary --dataset datasets/aurora --out reports/summary_all.json[/]
    """
    out = Output()
    if window_sec is None:
        window_sec = 0.0 if dataset is not None else 3600.0
    if window_sec < 0 or window_sec != window_sec:
        bad_input(out, f"--window-sec must be a number >= 0 (0 = whole session), got {window_sec}")
    if dataset is not None and (session is not None or html is not None):
        bad_input(out, "--dataset summarizes an exported dataset: it goes without --session and --html"
                       " (a report is of one session)")  # fmt: skip
    source = dataset if dataset is not None else session
    pending = read_early(source, read_dataset_for_summary if dataset is not None else read_for_summary)
    loaded = load_config(out, mode, as_json=as_json)
    if dataset is not None:
        session_dir = dataset
        config_notes = [f"a dataset of many sessions: thresholds of mode {loaded.mode!r} (--mode chooses)"]
    else:
        session_dir = resolve_session(out, session, loaded)
        loaded, config_notes = session_config(out, session_dir, loaded, mode, as_json=as_json)
    try:
        if pending is not None:
            data = pending.result()
        else:
            data = read_dataset_for_summary(session_dir) if dataset is not None else read_for_summary(session_dir)
        result = summarize(data, loaded.config, window_sec)
    except SessionReadError as exc:
        bad_input(out, str(exc))
    except ValueError as exc:
        bad_input(out, f"{session_dir}: {exc}")
    if dataset is not None:
        result["dataset"] = dataset_info(data)
    result["config"] = {"mode": loaded.mode, "version": loaded.version, "notes": config_notes}
    # orjson: the standard library's encoder with indent= is pure Python (a tenth of a second here)
    write_text(out, out_path, orjson.dumps(result, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY,
                                           default=str).decode() + "\n", "--out")  # fmt: skip
    if html is not None:
        # matplotlib is imported only when a report is asked for
        from auroractl.report_cmd import write_report

        write_report(out, session_dir, loaded, html, summary=result)
    if as_json:
        out.json(result)
    else:
        render(out, result)
        out.success(f"wrote {out_path}" + (f" and {html}" if html else ""))
    if fail_on_red and result["status"] == "red":
        raise typer.Exit(EXIT_FAILURE)


def render(out: Output, s: dict[str, Any]) -> None:
    w = s["window"]
    cfg = s.get("config", {})
    span = "whole session" if w["whole_session"] else f"last {w['sec']:g}s"
    out.print(
        f"[bold]session[/] {escape(s['session'])}  [bold]window[/] {w['start']} → {w['end']} ({span})"
        f"  [bold]config[/] {cfg.get('mode', '?')} {cfg.get('version', '')}"
    )
    for note in cfg.get("notes", []):
        out.print(f"  {escape(note)}")
    if s.get("dataset"):
        names = list(s["dataset"]["sessions"])
        out.print(f"[bold]dataset[/] {len(names)} session(s): {escape(', '.join(names[:10]))}" + (" …" if len(names) > 10 else ""))
    style = STATUS_STYLE[s["status"]]
    na = s.get("gates_not_judged") or []
    out.print(
        f"[bold]gates:[/] [{style}]{s['status'].upper()}[/]"
        + (f" [dim](n/a, not judged: {', '.join(na)})[/]" if na else "")
    )
    t = Table(title="Gates (kill-switch thresholds of the config)", title_justify="left")
    for col in ("gate", "value", "threshold", "status", "n", "basis"):
        t.add_column(col, overflow="fold")
    for name, g in s["gates"].items():
        t.add_row(
            name,
            fmt(g["value"]),
            f"{fmt(g['threshold'])} {g['unit']}",
            f"[{STATUS_STYLE[g['status']]}]{g['status']}[/]",
            str(g["n"]),
            escape(g.get("reason") or g["basis"]),
        )
    out.print(t)

    d, o, f = s["decisions"], s["orders"], s["fills"]
    t = Table(title="Decisions and orders (orders by final state)", title_justify="left")
    t.add_column("metric")
    t.add_column("value", justify="right")
    rows = [
        ("decisions", d["total"]),
        ("allow", d["allow"]),
        ("deny", d["deny"]),
        ("deny rate", pct(d["deny_rate"])),
        ("submitted", o["submitted"]),
        ("success (filled orders)", o["success"]),
        ("rejected", o["rejected"]),
        ("expired", o["expired"]),
        ("canceled", o["canceled"]),
        ("open at the end", o["open"]),
        ("orphans (no SUBMIT)", o["orphans"]),
        ("reject rate (venue outcomes)", f"{pct(o['reject_rate'])} ({o['venue_rejects']} of {o['venue_outcomes']})"),
        ("conversion", pct(o["conversion"])),
        ("fill ratio (qty)", pct(f["fill_ratio_qty"])),
        ("time to fill p50 / p95 ms", f"{fmt(f['time_to_fill_ms']['p50'])} / {fmt(f['time_to_fill_ms']['p95'])}"),
    ]  # fmt: skip
    if f["replayed_fills"]:
        rows.append(("replayed fills (not counted)", f["replayed_fills"]))
    for k, v in rows:
        t.add_row(k, str(v))
    out.print(t)
    if d["deny_by_reason"]:
        t = Table(title="Denies by reason", title_justify="left")
        t.add_column("reason")
        t.add_column("count", justify="right")
        t.add_column("share", justify="right")
        t.add_column("decided by (config value and where it was set)")
        keyed = d.get("deny_thresholds") or {}
        for reason, n in d["deny_by_reason"].items():
            by = "; ".join(key_value(k) + (f" ×{k['denies']}" if len(keyed[reason]) > 1 else "")
                           for k in keyed.get(reason, ()))  # fmt: skip
            t.add_row(escape(reason), str(n), pct(n / d["deny"]) if d["deny"] else "—", escape(by) or "—")
        out.print(t)
    for key, title in (("by_symbol", "symbol"), ("by_side", "side")):
        groups = s.get(key) or {}
        if not groups:
            continue
        t = Table(title=f"By {title}", title_justify="left")
        for col in (title, "decisions", "deny", "filled", "other final states", "filled qty", "fill ratio", "trades",
                    "PnL USD", "win rate", "profit factor"):  # fmt: skip
            t.add_column(col, justify="left" if col in (title, "other final states") else "right")
        for name, g in groups.items():
            states = g["orders_by_final_state"]
            others = ", ".join(f"{k} {v}" for k, v in states.items() if k != "FILLED")
            t.add_row(escape(name), str(g["decisions"]), str(g["deny"]), str(states.get("FILLED", 0)), others or "—",
                      fmt(g["filled_qty"]), pct(g["fill_ratio"]), str(g["closed_trades"]), fmt(g["realized_pnl_usd"], 2),
                      pct(g["win_rate"]), fmt(g["profit_factor"]))  # fmt: skip
        out.print(t)

    t = Table(title="Latency (ms)", title_justify="left")
    for col in ("metric", "n", "p50", "p95", "p99", "max"):
        t.add_column(col, justify="right" if col != "metric" else "left")
    for name, label in (
        ("decision", "gate decision"),
        ("submit_to_ack", "submit→ack"),
        ("ack_to_done", "ack→done"),
    ):
        p = s["latency_ms"][name]
        t.add_row(label, str(p["n"]), fmt(p["p50"]), fmt(p["p95"]), fmt(p["p99"]), fmt(p["max"]))
    out.print(t)

    r, c, pt = s["risk"], s["calibration"], s["pnl"]["per_trade"]
    out.print(
        f"[bold]PnL[/] closed trades {r['closed_trades']}, realized {fmt(r['realized_pnl_usd'], 2)} USD,"
        f" win rate {pct(pt['win_rate'])}, expectancy {fmt(pt['expectancy'], 4)} USD,"
        f" profit factor {fmt(pt['profit_factor'])}, Sharpe {fmt(pt['sharpe'])}, Sortino {fmt(pt['sortino'])} (per trade),"
        f" max drawdown {fmt(s['pnl']['max_drawdown_usd'], 2)} USD"
        + (f", fees {fmt(r['fees_usd'], 2)} USD" if r.get("fees_usd") is not None else "")
    )
    out.print(
        f"[bold]risk[/] CVaR({r['cvar_alpha']}) {fmt(r['cvar_bps'], 2)} bps / {fmt(r['cvar_usd'], 2)} USD,"
        f" worst intraday drawdown {fmt(r['max_daily_drawdown_pct'], 4)}% ·"
        f" [bold]calibration[/] ECE {fmt(c['ece'], 4)} (n={c['n']})"
    )
    sl = s.get("slippage") or {}
    if sl.get("n"):
        b = sl["bps"]
        out.print(
            f"[bold]slippage vs decision mid[/] n={sl['n']} p50 {fmt(b['p50'])} bps, p95 {fmt(b['p95'])} bps,"
            f" mean {fmt(b['mean'])} bps"
        )
    if s["gate_trips"]:
        out.print("[bold]gate trips[/] " + ", ".join(f"{escape(k)} {v}" for k, v in s["gate_trips"].items()))
    sc = s["state_changes"]
    if sc["counts"]:
        out.print(
            "[bold]health / kill-switch changes[/] "
            + ", ".join(f"{escape(k)} {v}" for k, v in sc["counts"].items())
        )
        for item in sc["timeline"][-10:]:
            extra = " ".join(f"{k}={v}" for k, v in item.items() if k not in ("ts", "event_code"))
            out.print(f"  {item['ts']}  {escape(item['event_code'])}  {escape(extra)}")
    render_read(out, s["read"])
    for note in s["notes"]:
        out.warning(note)
