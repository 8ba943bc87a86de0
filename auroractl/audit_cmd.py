"""``auroractl lifecycle-audit``: every order's lifecycle checked against the order FSM."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from aurora.analytics.lifecycle_audit import (
    ANOMALY_CLASSES,
    EVENTS,
    KIND_NAMES,
    SEVERITY,
    STATES,
    AuditResult,
    audit_session,
    order_timeline,
    write_audit,
)
from aurora.session.fields import Field
from aurora.session.reader import SessionReadError, read_warnings
from auroractl.analytics_args import (
    HtmlOpt,
    JsonOpt,
    ModeOpt,
    SessionOpt,
    bad_input,
    fmt,
    load_config,
    render_read,
    resolve_session,
    session_config,
)
from auroractl.output import EXIT_FAILURE, Output

DEFAULT_OUT = Path("reports")


def lifecycle_audit(
    session: SessionOpt = None,
    out_dir: Annotated[
        Path,
        typer.Option(
            "--out-dir",
            help="Directory for lifecycle_audit.json, the transition graph (.graphml, .dot) and the anomalous orders' graphs.",
        ),
    ] = DEFAULT_OUT,
    as_json: JsonOpt = False,
    html: HtmlOpt = None,
    mode: ModeOpt = None,
    order: Annotated[
        str | None, typer.Option("--order", help="Show one order's events and path (by client order id).")
    ] = None,
    fail_on_anomaly: Annotated[
        bool,
        typer.Option(
            "--fail-on-anomaly", help="Exit 1 when an error-class anomaly is found (warnings do not count)."
        ),
    ] = False,
) -> None:
    """Check every order's ORDER.* events against the lifecycle FSM: illegal transitions, missing terminal
    states, late/duplicate acks, duplicate fills, overfills, fills after cancel (warning) and orphan events,
    each with the order ids; submit→ack and ack→done p50/p95/p99; the aggregate transition graph with counts.

    Examples: [bold]auroractl lifecycle-audit --out-dir reports/[/]  ·  [bold]auroractl lifecycle-audit --order c0000042[/]
    """
    out = Output()
    loaded = load_config(out, mode, as_json=as_json)
    session_dir = resolve_session(out, session, loaded)
    loaded, config_notes = session_config(out, session_dir, loaded, mode, as_json=as_json)
    ttl = loaded.config.observability.ack.ttl_s
    if order is not None:  # one order's events only: no need to audit (or hold) the whole session
        show_order(out, session_dir, order, ttl, as_json=as_json)
        return
    try:
        result = audit_session(session_dir, ttl)
    except SessionReadError as exc:
        bad_input(out, str(exc))
    try:
        paths = write_audit(result, out_dir)
    except OSError as exc:
        bad_input(out, f"--out-dir: cannot write into {out_dir}: {exc.strerror or exc}")
    if html is not None:
        # matplotlib is imported only when a report is asked for
        from auroractl.report_cmd import write_report

        write_report(out, session_dir, loaded, html, audit=result)
    if as_json:
        data = result.to_dict()
        data["files"] = {k: str(v) for k, v in paths.items()}
        data["config"] = {"mode": loaded.mode, "version": loaded.version, "notes": config_notes}
        out.json(data)
    else:
        for note in config_notes:
            out.print(escape(note))
        render(out, result)
        written = ", ".join(str(p) for p in paths.values()) + (f", {html}" if html else "")
        out.success(f"wrote {written}")
    if fail_on_anomaly and not result.ok:
        raise typer.Exit(EXIT_FAILURE)


def render(out: Output, r: AuditResult) -> None:
    out.print(
        f"[bold]session[/] {escape(str(r.session_dir))}  [bold]orders[/] {r.orders}  [bold]lifecycle events[/] {r.events}"
        f"  [bold]ack TTL[/] {r.ack_ttl_s:g}s"
    )
    out.print("[bold]final states[/] " + ", ".join(f"{k} {v}" for k, v in r.final_states.items()))
    t = Table(title="Anomalies", title_justify="left")
    for col in ("class", "severity", "orders", "order ids (first 5)", "first detail"):
        t.add_column(col, overflow="fold")
    for cls in ANOMALY_CLASSES:
        items = r.anomalies.get(cls, [])
        sev = SEVERITY[cls]
        colour = "dim" if not items else ("yellow" if sev == "warning" else "red")
        t.add_row(
            cls,
            sev,
            f"[{colour}]{len(items)}[/]",
            escape(", ".join(a.cid for a in items[:5]) + (" …" if len(items) > 5 else "")),
            escape(items[0].detail) if items else "",
        )
    out.print(t)
    if r.in_flight:
        out.print(f"[bold]in flight at the end of the log[/] (not flagged): {len(r.in_flight)}")
    t = Table(title="Latency (ms)", title_justify="left")
    for col in ("metric", "n", "p50", "p95", "p99", "max"):
        t.add_column(col, justify="right" if col != "metric" else "left")
    for name, label in (("submit_to_ack", "submit→ack"), ("ack_to_done", "ack→done")):
        p = r.latency[name]
        t.add_row(label, str(p["n"]), fmt(p["p50"]), fmt(p["p95"]), fmt(p["p99"]), fmt(p["max"]))
    out.print(t)
    t = Table(title="Transitions", title_justify="left")
    for col in ("from", "event", "to", "kind", "count"):
        t.add_column(col, justify="right" if col == "count" else "left")
    for (a, e, b, k), n in sorted(r.transitions.items(), key=lambda x: -x[1]):
        t.add_row(STATES[a].value, EVENTS[e], STATES[b].value, KIND_NAMES[k], str(n))
    out.print(t)
    render_read(out, r.read)


F = Field
TIMELINE_COLUMNS = (
    ("ts", "time (UTC)"), ("offset_ms", "+ms"), (F.EVENT_CODE, "event"), (F.QTY, "qty"), (F.FILL_QTY, "fill qty"),
    (F.CUM_QTY, "cum qty"), (F.PRICE, "price"), (F.FILL_PRICE, "fill price"), (F.TRADE_ID, "trade id"),
    (F.REASON, "reason"), (F.OID, "oid"), ("kind", "walk"),
)  # fmt: skip


def show_order(out: Output, session_dir: Path, cid: str, ack_ttl_s: float, *, as_json: bool) -> None:
    try:
        tl = order_timeline(session_dir, cid, ack_ttl_s)
    except SessionReadError as exc:
        bad_input(out, str(exc))
    except KeyError:
        bad_input(out, f"--order: no decision and no ORDER.* events for client order id {cid!r} in {session_dir}")
    read = tl.pop("read")
    if as_json:
        out.json(tl)
        return
    for d in tl["decisions"]:
        verdict = f"allow max_qty {fmt(d['max_qty'], 6)}" if d["allow"] else f"[red]deny[/] {escape(d['explain'])}"
        out.print(f"[bold]gate[/] {d['ts']}  {verdict}")
    if not tl["events"]:
        out.print("[bold]lifecycle[/] none: no ORDER.* events (the order was not placed)")
        for line in read_warnings(read):
            out.warning(line)
        return
    t = Table(title=f"Order {cid}", title_justify="left")
    for _, label in TIMELINE_COLUMNS:
        t.add_column(label, justify="right" if label in ("+ms", "qty", "fill qty", "cum qty", "price", "fill price") else "left")
    for row in tl["events"]:
        t.add_row(*(escape(fmt(row[k], 6)) if row[k] is not None else "" for k, _ in TIMELINE_COLUMNS))
    out.print(t)
    if tl["orphan"]:
        out.print("[bold]path[/] none: the order has no SUBMIT (an orphan; its events are not walked)")
    else:
        out.print(f"[bold]path[/] {' → '.join(tl['path'])}  (final: {tl['final_state']})")
    for a in tl["anomalies"]:
        colour = "yellow" if a["severity"] == "warning" else "red"
        times = f" (×{a['count']})" if a["count"] > 1 else ""
        out.print(f"[{colour}]{a['class']}[/]: {escape(a['detail'])} — at {a['ts']} by {escape(str(a['event']))}{times}")
    if not tl["anomalies"]:
        out.success("no anomaly on this order")
    for line in read_warnings(read):
        out.warning(line)


def register(app: typer.Typer) -> None:
    app.command("lifecycle-audit")(lifecycle_audit)
