"""One self-contained HTML report per session: the metrics summary and the lifecycle audit, with plots.

Plots are drawn with matplotlib (Agg backend: no display needed) and embedded as base64 PNG data URIs;
the page has inline CSS and no script, font or image fetched from anywhere, so it opens offline.
"""

from __future__ import annotations

import base64
import html
import io
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")  # before pyplot: render to memory, never to a display

import matplotlib.pyplot as plt  # noqa: E402
import networkx as nx  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import FuncFormatter, NullFormatter  # noqa: E402

from aurora.orders.fsm import OrderState  # noqa: E402
from aurora.session.reader import read_warnings  # noqa: E402

if TYPE_CHECKING:
    from aurora.analytics.lifecycle_audit import AuditResult

NS = 1_000_000_000
COLOURS = {"allow": "#2b8a3e", "deny": "#e8590c", "success": "#1971c2", "rejected": "#c92a2a"}
KIND_COLOURS = {"ok": "#495057", "illegal": "#e03131", "fill_after_cancel": "#f08c00"}
STATUS_CSS = {"green": "ok", "red": "bad", "n/a": "na"}

# Fixed positions make the lifecycle picture read left to right the same way every time.
LAYOUT: dict[str, tuple[float, float]] = {
    OrderState.PREPARED.value: (0.0, 0.0),
    OrderState.SUBMITTED.value: (2.0, 0.0),
    OrderState.ACKED.value: (4.0, 1.6),
    OrderState.PARTIALLY_FILLED.value: (6.0, 2.7),
    OrderState.FILLED.value: (8.0, 1.6),
    OrderState.PENDING_CANCEL.value: (6.0, 0.0),
    OrderState.CANCELED.value: (8.0, 0.0),
    OrderState.REJECTED.value: (4.0, -1.8),
    OrderState.EXPIRED.value: (8.0, -1.8),
}
NODE_SIZE = 1700


def plain(v: Any, digits: int = 4) -> str:
    """A number as people write it: no exponent, thousands separated, trailing zeros dropped."""
    if v is None:
        return "—"
    if isinstance(v, bool) or not isinstance(v, int | float):
        return str(v)
    if isinstance(v, int):
        return f"{v:,}"
    if v == 0:
        return "0"
    places = digits if abs(v) >= 0.01 else digits + 4  # small latencies keep their significant digits
    text = f"{v:,.{places}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _png(fig: plt.Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _img(src: str, alt: str) -> str:
    return f'<figure><img src="{src}" alt="{html.escape(alt)}"><figcaption>{html.escape(alt)}</figcaption></figure>'


def plot_decisions_over_time(summary: dict[str, Any]) -> str | None:
    s = summary.get("series") or {}
    n = s.get("buckets", 0)
    if not n or not any(sum(s.get(k, [])) for k in COLOURS):
        return None
    t0 = s["start_ns"] / NS
    x = [datetime.fromtimestamp(t0 + i * s["bucket_sec"], UTC) for i in range(n)]
    fig, ax = plt.subplots(figsize=(9, 3.2))
    for key, colour in COLOURS.items():
        ax.plot(x, s[key], label=key, color=colour, linewidth=1.3, drawstyle="steps-post")
    ax.set_ylabel(f"per {s['bucket_sec']} s")
    ax.set_title("Decisions and outcomes over time")
    ax.legend(loc="upper left", ncols=4, fontsize=8, frameon=False)
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    return _png(fig)


def plot_deny_reasons(summary: dict[str, Any]) -> str | None:
    reasons = summary.get("decisions", {}).get("deny_by_reason") or {}
    if not reasons:
        return None
    items = sorted(reasons.items(), key=lambda kv: kv[1])
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(items) + 1.2))
    bars = ax.barh([k for k, _ in items], [v for _, v in items], color=COLOURS["deny"])
    ax.bar_label(bars, padding=3, fontsize=8)
    ax.set_xlabel("denied decisions")
    ax.set_title("Deny reasons")
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def plot_latency(hists: dict[str, dict[str, Any]], pcts: dict[str, dict[str, Any]]) -> str | None:
    names = [(k, label) for k, label in (("decision", "gate decision"), ("submit_to_ack", "submit→ack"),
             ("ack_to_done", "ack→done")) if hists.get(k, {}).get("counts")]  # fmt: skip
    if not names:
        return None
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.0), squeeze=False)
    for ax, (key, label) in zip(axes[0], names, strict=True):
        h = hists[key]
        edges = np.asarray(h["edges"])
        ax.stairs(h["counts"], edges, fill=True, color="#74c0fc", edgecolor="#1971c2")
        log = edges[-1] / edges[0] >= 10  # under a decade a log axis would show no numbers at all
        if log:
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())  # minor labels of a narrow log range overlap
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: plain(float(x), 3)))
        for p, style in (("p50", "--"), ("p99", ":")):
            v = pcts.get(key, {}).get(p)
            if v is not None and v > 0:
                ax.axvline(v, color="#c92a2a", linestyle=style, linewidth=1.4, label=f"{p} {plain(v, 3)} ms")
        if h.get("zeros"):
            ax.text(0.98, 0.95, f"+ {plain(h['zeros'])} samples of 0 ms", transform=ax.transAxes, ha="right",
                    va="top", fontsize=8, color="#c92a2a")  # fmt: skip
        ax.set_title(f"{label} (ms)")
        ax.set_xlabel("ms (log scale)" if log else "ms")
        ax.legend(fontsize=8, frameon=False)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("count")
    fig.tight_layout()
    return _png(fig)


def plot_lifecycle_graph(audit: AuditResult) -> str | None:
    """The aggregate transition graph: arrows between states with event and count; loops listed by the state."""
    if not audit.transitions:
        return None
    agg = audit.aggregate_graph()
    g = nx.DiGraph()
    loops: dict[str, list[str]] = {}
    for u, v, d in agg.edges(data=True):
        label = f"{d['event']} ×{d['count']}" + ("" if d["kind"] == "ok" else f" [{d['kind']}]")
        if u == v:
            loops.setdefault(u, []).append(label)
            continue
        if g.has_edge(u, v):
            g.edges[u, v]["label"] += "\n" + label
            if d["kind"] != "ok":
                g.edges[u, v]["kind"] = d["kind"]
        else:
            g.add_edge(u, v, label=label, kind=d["kind"])
    g.add_nodes_from(LAYOUT)
    pos = {n: LAYOUT.get(n, (0.0, -2.0)) for n in g.nodes}
    fig, ax = plt.subplots(figsize=(13, 6.8))
    terminal = {n for n, d in agg.nodes(data=True) if d.get("terminal")}
    nx.draw_networkx_nodes(g, pos, ax=ax, node_size=NODE_SIZE, node_shape="s", node_color=["#d3f9d8" if n in terminal else "#e7f5ff" for n in g.nodes],
                           edgecolors="#343a40")  # fmt: skip
    nx.draw_networkx_labels(g, pos, ax=ax, labels={n: n.replace("_", "_\n") for n in g.nodes}, font_size=7)
    edges = list(g.edges(data=True))
    nx.draw_networkx_edges(g, pos, ax=ax, edgelist=[(u, v) for u, v, _ in edges], node_size=NODE_SIZE, node_shape="s",
                           edge_color=[KIND_COLOURS.get(d["kind"], "#868e96") for _, _, d in edges], arrowsize=14,
                           connectionstyle="arc3,rad=0.12")  # fmt: skip
    nx.draw_networkx_edge_labels(g, pos, ax=ax, edge_labels={(u, v): d["label"] for u, v, d in edges}, font_size=7,
                                 connectionstyle="arc3,rad=0.12", rotate=False, label_pos=0.45,
                                 bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.75})  # fmt: skip
    for node, labels in loops.items():
        x, y = pos[node]
        ax.text(x, y - 0.38, "↻ " + "\n↻ ".join(labels), ha="center", va="top", fontsize=6.5,
                color="#e03131" if any("[" in lb for lb in labels) else "#495057")  # fmt: skip
    ax.set_title(
        "Order lifecycle: aggregate transitions (red: illegal, orange: fill after cancel)"
    )
    ax.margins(0.08, 0.18)
    ax.axis("off")
    return _png(fig)


def plot_pnl(summary: dict[str, Any]) -> str | None:
    pnl = summary.get("pnl") or {}
    curve = (pnl.get("curve") or {}).get("cum_pnl_usd") or {}
    if not curve.get("value"):
        return None
    x = [datetime.fromtimestamp(t / NS, UTC) for t in curve["ts_ns"]]
    dd = pnl["curve"]["drawdown_usd"]["value"]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 3.2), gridspec_kw={"width_ratios": [2, 1]})
    a1.plot(x, curve["value"], color="#1971c2", drawstyle="steps-post", label="cumulative PnL")
    a1.fill_between(x, [-d for d in dd], 0, step="post", color="#ffa8a8", alpha=0.6, label="drawdown")
    a1.yaxis.set_major_formatter(FuncFormatter(lambda v, _: plain(float(v), 2)))
    a1.set_ylabel("USD")
    a1.set_title("Realized PnL and drawdown")
    a1.legend(fontsize=8, frameon=False)
    a1.grid(alpha=0.3)
    dist = pnl.get("distribution_bps") or {}
    if dist.get("counts"):
        a2.stairs(dist["counts"], dist["edges"], fill=True, color="#b2f2bb", edgecolor="#2b8a3e")
        a2.xaxis.set_major_formatter(FuncFormatter(lambda v, _: plain(float(v), 1)))
    a2.set_title("PnL per closed trade (bps)")
    a2.grid(alpha=0.3)
    fig.autofmt_xdate()
    return _png(fig)


def plot_slippage_markouts(summary: dict[str, Any]) -> str | None:
    """Slippage by symbol (bps against the decision's mid) and markouts by horizon (bps after the fill):
    mean as bars, median as dots, the fills counted under each bar."""
    sl = (summary.get("slippage") or {}).get("by_symbol") or {}
    mk = {h: v for h, v in ((summary.get("markouts") or {}).get("by_horizon") or {}).items() if v.get("n")}
    if not sl and not mk:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.0))
    for ax, groups, title in ((axes[0], sl, "Slippage vs the decision's mid (bps, + = cost)"),
                              (axes[1], {h: v["bps"] for h, v in mk.items()},
                               "Markouts after the fill (bps, + = price moved the fill's way)")):  # fmt: skip
        if not groups:
            ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
            ax.set_axis_off()
            continue
        names = [f"{k}\n{groups[k]['n']} fills" for k in groups]
        ax.bar(names, [v["mean"] or 0.0 for v in groups.values()], color="#a5d8ff", edgecolor="#1971c2", label="mean")
        ax.plot(names, [v["p50"] or 0.0 for v in groups.values()], "o", color="#1971c2", label="median")
        ax.axhline(0, color="black", linewidth=0.8)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: plain(float(v), 1)))
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=8, frameon=False)
        ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return _png(fig)


def _table(headers: list[str], rows: list[list[Any]], cls: str = "") -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _e(v: Any) -> str:
    return html.escape(plain(v))


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{100 * v:.2f}%"


def _summary_section(s: dict[str, Any]) -> str:
    w = s["window"]
    na = s.get("gates_not_judged") or []
    parts = [f"<h2>Metrics summary</h2><p>Window {_e(w['start'])} → {_e(w['end'])}"
             f" ({'whole session' if w['whole_session'] else _e(w['sec']) + ' s'}). Gates: "
             f"<span class='{STATUS_CSS[s['status']]}'>{s['status'].upper()}</span>"
             + (f" <span class='na'>(n/a, not judged: {html.escape(', '.join(na))})</span>" if na else "")
             + "</p>"]  # fmt: skip
    rows = [
        [html.escape(name), _e(g["value"]), f"{_e(g['threshold'])} {g['unit']}",
         f"<span class='{STATUS_CSS[g['status']]}'>{g['status']}</span>", _e(g["n"]), html.escape(g.get("reason") or g["basis"])]
        for name, g in s["gates"].items()
    ]  # fmt: skip
    parts.append(_table(["gate", "value", "threshold", "status", "n", "basis"], rows))
    d, o = s["decisions"], s["orders"]
    kv = [
        ("decisions", d["total"]), ("allow", d["allow"]), ("deny", d["deny"]), ("deny rate", _pct(d["deny_rate"])),
        ("submitted", o["submitted"]), ("success (filled orders)", o["success"]), ("rejected", o["rejected"]),
        ("expired", o["expired"]), ("canceled", o["canceled"]), ("open", o["open"]),
        ("reject rate (venue outcomes)", _pct(o["reject_rate"])), ("conversion", _pct(o["conversion"])),
        ("fill ratio (qty)", _pct(s["fills"]["fill_ratio_qty"])),
        ("calibration ECE", _e(s["calibration"]["ece"])), ("CVaR bps", _e(s["risk"]["cvar_bps"])),
        ("realized PnL USD", _e(s["risk"]["realized_pnl_usd"])),
        ("worst intraday drawdown %", _e(s["risk"]["max_daily_drawdown_pct"])),
    ]  # fmt: skip
    parts.append(
        _table(["metric", "value"], [[html.escape(k), _e(v) if not isinstance(v, str) else v] for k, v in kv])
    )
    lat = s["latency_ms"]
    parts.append(
        _table(
            ["latency (ms)", "n", "p50", "p95", "p99", "max"],
            [[k, _e(p["n"]), _e(p["p50"]), _e(p["p95"]), _e(p["p99"]), _e(p["max"])] for k, p in lat.items()],
        )
    )
    for src, alt in (
        (plot_decisions_over_time(s), "Decisions (allow / deny) and outcomes (success / rejected) over time"),
        (plot_deny_reasons(s), "Deny reasons"),
        (plot_latency(s.get("latency_histograms_ms", {}), lat), "Latency histograms with p50 and p99 marked"),
    ):
        if src:
            parts.append(_img(src, alt))
    groups = s.get("by_symbol") or {}
    if groups:
        rows = [[html.escape(k), _e(g["decisions"]), _e(g["deny"]), html.escape(", ".join(f"{a} {b}" for a, b in g["orders_by_final_state"].items())),
                 _e(g["filled_qty"]), _pct(g["fill_ratio"]), _e(g["closed_trades"]), _e(g["realized_pnl_usd"]), _pct(g["win_rate"])]
                for k, g in groups.items()]  # fmt: skip
        parts.append("<h3>By symbol</h3>" + _table(
            ["symbol", "decisions", "deny", "orders by final state", "filled qty", "fill ratio", "trades", "PnL USD", "win rate"], rows))  # fmt: skip
    sl = s.get("slippage") or {}
    if sl.get("n"):
        rows = [[html.escape(k), _e(v["n"]), _e(v["p50"]), _e(v["p95"]), _e(v["mean"])]
                for k, v in {**sl["by_symbol"], **{f"type {t}": v for t, v in sl["by_order_type"].items()}}.items()]  # fmt: skip
        parts.append("<h3>Slippage against the decision's mid (bps, positive = cost)</h3>"
                     + _table(["group", "fills", "p50", "p95", "mean"], rows))  # fmt: skip
    mk = (s.get("markouts") or {}).get("by_horizon") or {}
    if any(v["n"] for v in mk.values()):
        rows = [[html.escape(h), _e(v["n"]), _e(v["bps"]["p50"]), _e(v["bps"]["p95"]), _e(v["bps"]["mean"])]
                for h, v in mk.items()]  # fmt: skip
        parts.append("<h3>Markouts after the fill (bps, positive = the price moved the fill's way)</h3>"
                     + _table(["horizon", "fills", "p50", "p95", "mean"], rows))  # fmt: skip
    src = plot_slippage_markouts(s)
    if src:
        parts.append(_img(src, "Slippage by symbol and markouts by horizon (bps)"))
    src = plot_pnl(s)
    if src:
        parts.append(_img(src, "Cumulative realized PnL and drawdown (USD), and the PnL distribution (bps)"))
    sc = s["state_changes"]
    if sc["timeline"]:
        rows = [[_e(i["ts"]), html.escape(i["event_code"]),
                 html.escape(" ".join(f"{k}={v}" for k, v in i.items() if k not in ("ts", "event_code")))] for i in sc["timeline"]]  # fmt: skip
        parts.append("<h3>Health and kill-switch changes</h3>" + _table(["time", "event", "details"], rows))
    kills = s.get("kills") or {}
    if kills.get("n"):
        rows = [[_e(k["ts"]), html.escape(str(k["runner"])), html.escape(str(k["reason"])), _e(k["state"]),
                 _e(k["count"]), _e(k["request_latency_ms"]), _e(k["ack_latency_ms"]), _e(k["settled"])]
                for k in kills["events"]]  # fmt: skip
        parts.append("<h3>Kills: resting orders cancelled on a trading-state change (latency in ms)</h3>" + _table(
            ["time", "runner", "reason", "state", "cancels", "to last request", "to all done", "settled"], rows))  # fmt: skip
    return "\n".join(parts)


def _audit_section(a: AuditResult) -> str:
    from aurora.analytics.lifecycle_audit import ANOMALY_CLASSES, SEVERITY

    parts = [f"<h2>Lifecycle audit</h2><p>{a.orders} orders, {a.events} lifecycle events, ack TTL {a.ack_ttl_s:g} s. "
             + ("<span class='ok'>no error-class anomaly</span>" if a.ok else "<span class='bad'>anomalies found</span>")
             + "</p>"]  # fmt: skip
    rows = []
    for cls in ANOMALY_CLASSES:
        items = a.anomalies.get(cls, [])
        ids = ", ".join(html.escape(x.cid) for x in items[:20]) + (" …" if len(items) > 20 else "")
        rows.append(
            [
                html.escape(cls),
                SEVERITY[cls],
                str(len(items)),
                ids,
                html.escape(items[0].detail) if items else "",
            ]
        )
    parts.append(_table(["anomaly", "severity", "orders", "order ids", "first detail"], rows, "anomalies"))
    parts.append(
        _table(["final state", "orders"], [[html.escape(k), str(v)] for k, v in a.final_states.items()])
    )
    parts.append(
        _table(
            ["latency (ms)", "n", "p50", "p95", "p99", "max"],
            [
                [k, _e(p["n"]), _e(p["p50"]), _e(p["p95"]), _e(p["p99"]), _e(p["max"])]
                for k, p in a.latency.items()
            ],
        )
    )
    src = plot_lifecycle_graph(a)
    if src:
        parts.append(_img(src, "Aggregate order lifecycle graph with transition counts"))
    src = plot_latency(a.latency_histograms, a.latency)
    if src:
        parts.append(_img(src, "Lifecycle latency histograms (whole session) with p50 and p99 marked"))
    return "\n".join(parts)


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1100px;color:#212529;padding:0 1em}
h1{font-size:1.5em}h2{border-bottom:1px solid #dee2e6;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.8em 0;font-size:.9em}th,td{border:1px solid #dee2e6;padding:.25em .6em;text-align:left}
th{background:#f1f3f5}figure{margin:1em 0}img{max-width:100%}figcaption{font-size:.85em;color:#495057}
.ok{color:#2b8a3e;font-weight:600}.bad{color:#c92a2a;font-weight:600}.na{color:#868e96}
.meta{color:#495057;font-size:.9em}
"""


def render_report(session: str, summary: dict[str, Any] | None = None, audit: AuditResult | None = None,
                  read: dict[str, Any] | None = None) -> str:  # fmt: skip
    """The HTML page (a string) for one session."""
    read = read or (summary or {}).get("read") or (audit.read if audit else None) or {}
    now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    body = [
        f"<h1>Aurora session report</h1><p class='meta'>session {html.escape(session)} · generated {now}</p>"
    ]
    if read:
        body.append(
            f"<p class='meta'>read {len(read.get('files', []))} files, {read.get('records', 0)} records;"
            f" torn last lines {read.get('torn_lines', 0)}, corrupt lines {read.get('corrupt_lines', 0)}"
            + "".join(f"<br>{html.escape(w)}" for w in read_warnings(read))
            + "</p>"
        )  # fmt: skip
    if summary is not None:
        body.append(_summary_section(summary))
    if audit is not None:
        body.append(_audit_section(audit))
    return page(f"Aurora report — {session}", body)


def page(title: str, body: list[str]) -> str:
    """A self-contained HTML page (inline CSS, nothing fetched) around ``body``'s HTML fragments."""
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )
