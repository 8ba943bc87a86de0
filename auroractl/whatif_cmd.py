"""``auroractl whatif``: re-decide a session's recorded checks under a candidate config and show what flips."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from aurora.config.errors import ConfigError
from aurora.session.reader import read_warnings
from aurora.whatif import WhatIfError, whatif
from aurora.whatif.html import key_change, page, pct, set_at
from auroractl.analytics_args import (
    HtmlOpt,
    JsonOpt,
    SessionOpt,
    bad_input,
    load_config,
    resolve_session,
    write_text,
)
from auroractl.output import Output

#: Flips listed in the terminal (the JSON lists up to aurora.whatif.replay.MAX_LISTED; all are counted).
SHOWN = 50


def run(
    session: SessionOpt = None,
    config: Annotated[
        list[Path] | None,
        typer.Option("--config", help="Candidate config file (YAML), layered over the session's own config; "
                     "repeat for more layers, applied in order."),
    ] = None,
    as_json: JsonOpt = False,
    html: HtmlOpt = None,
) -> None:
    """Re-run a session's recorded checks, in order, through the gate built from a candidate config layered
    over the session's own config version, with the gate's state as recorded (positions, PnL, reservations,
    health, kill-switch); show the decisions that flip, by guard and by config key, and the change in deny
    rate and allowed size.

    Example: [bold]auroractl whatif --session logs/20261121-090000 --config tighter_spread.yaml[/]
    """
    out = Output()
    if not config:
        bad_input(out, "--config: give at least one candidate config file (YAML, like configs/aurora/*.yaml)")
    if session is None:
        session = resolve_session(out, None, load_config(out, None, as_json=as_json))
    else:
        resolve_session(out, session, None)  # type: ignore[arg-type] - only checks an explicit dir
    try:
        result = whatif(session, config).to_dict()
    except ConfigError as exc:
        out.config_error(exc, as_json=as_json)
    except WhatIfError as exc:
        bad_input(out, f"--session: {exc}")
    if html is not None:
        write_text(out, html, page(result), "--html")
    if as_json:
        out.json(result)
        return
    render(out, result)
    if html is not None:
        out.success(f"wrote {html}")


def render(out: Output, r: dict[str, Any]) -> None:
    s, c, ch, f = r["session"], r["candidate"], r["change"], r["flips"]
    versions = ", ".join(f"{v['session_version']} → {v['candidate_version']}" for v in r["versions"]) or "none"
    out.print(f"[bold]whatif[/] session {escape(r['session_dir'])}  candidate {escape(', '.join(r['candidates']))}"
              f"  config {versions}")  # fmt: skip
    out.print(f"[bold]decisions[/] {r['decisions']['replayed']} replayed, {r['decisions']['not_compared']} not compared"
              f" (the gate could not record their state)")  # fmt: skip
    changes = [x for v in r["versions"] for x in v["changes"]]
    for x in changes:
        out.print(f"[bold]changed[/] {escape(x['key'])}: {escape(set_at(x['session']))} → {escape(set_at(x['candidate']))}")
    if not changes:
        out.print("[bold]changed[/] nothing: the candidate sets every key to the session's value")
    kinds = f["by_kind"]
    out.print(f"[bold]flips[/] {f['total']} (" + ", ".join(f"{k} {n}" for k, n in kinds.items()) + ")")
    rate = "—" if ch["deny_rate"] is None else f"{100 * ch['deny_rate']:+.2f} pp"
    out.print(f"[bold]deny rate[/] {pct(s['deny_rate'])} → {pct(c['deny_rate'])} ({rate}); denies {s['deny']} → {c['deny']}")
    out.print(f"[bold]allowed notional[/] {s['allowed_notional']:.2f} → {c['allowed_notional']:.2f}"
              f" ({ch['allowed_notional']:+.2f}); allowed max_qty changed on {ch['allowed_max_qty_changed']}"
              " decision(s) both allowed")  # fmt: skip
    qty = ch["allowed_max_qty_by_symbol"]
    if qty:
        t = Table(title="Allowed max_qty by symbol", title_justify="left")
        for col in ("symbol", "session", "candidate", "change"):
            t.add_column(col, justify="left" if col == "symbol" else "right")
        for sym, d in qty.items():
            a, b = s["allowed_max_qty_by_symbol"].get(sym, 0.0), c["allowed_max_qty_by_symbol"].get(sym, 0.0)
            t.add_row(escape(sym), f"{a:g}", f"{b:g}", f"{d:+g}")
        out.print(t)
    if not f["total"]:
        out.success("no decision flips")
    else:
        t = Table(title="Flips by config key", title_justify="left")
        for col in ("config key", "session", "candidate", *kinds, "total"):
            t.add_column(col, justify="right" if col in (*kinds, "total") else "left")
        for key, v in f["by_key"].items():
            t.add_row(escape(key), escape(set_at(v["session"])), escape(set_at(v["candidate"])),
                      *(str(n) for n in v["by_kind"].values()), str(v["flips"]))  # fmt: skip
        out.print(t)
        t = Table(title="Flips by guard", title_justify="left")
        for col in ("guard", *kinds, "total"):
            t.add_column(col, justify="left" if col == "guard" else "right")
        for g, n in f["by_guard"].items():
            t.add_row(escape(g), *(str(x) for x in n.values()), str(sum(n.values())))
        out.print(t)
        t = Table(title=f"Flips (first {min(SHOWN, f['total'])} of {f['total']})", title_justify="left")
        for col in ("time (UTC)", "cid", "symbol", "flip", "session", "candidate", "key value: session → candidate"):
            t.add_column(col, overflow="fold")
        for x in r["flip_list"][:SHOWN]:
            t.add_row(x["ts"], escape(str(x["cid"])), escape(x["symbol"]), x["kind"], escape(x["session"]["explain"]),
                      escape(x["candidate"]["explain"]), escape(key_change(x, named=False)))  # fmt: skip
        out.print(t)
    for note in r["notes"]:
        out.warning(note)
    for line in read_warnings(r["read"]) if r["read"] else ():
        out.warning(line)


def register(app: typer.Typer) -> None:
    app.command("whatif")(run)
