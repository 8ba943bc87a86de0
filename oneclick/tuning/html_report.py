"""The tuning report: one self-contained HTML page (the session report's style and plot embedding) with the
optimisation history, the parameter importances, the best trial on both halves and the top trials."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any

from aurora.analytics.html_report import _e, _img, _png, _table, page, plain, plt


def plot_history(data: dict[str, Any]) -> str | None:
    """Each trial's value (pruned ones at the score they were stopped with) and the best so far."""
    rows = [t for t in data["all"] if t["value"] is not None]
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(10, 3.4))
    for state, colour, marker in (("complete", "#1971c2", "o"), ("pruned", "#adb5bd", "x")):
        pts = [t for t in rows if t["state"] == state]
        if pts:
            ax.plot([t["number"] for t in pts], [t["value"] for t in pts], marker, color=colour, label=state)
    best, xs, ys = None, [], []
    for t in sorted(rows, key=lambda t: t["number"]):
        if t["state"] == "complete" and (best is None or t["value"] > best):
            best = t["value"]
        if best is not None:
            xs.append(t["number"])
            ys.append(best)
    if xs:
        ax.plot(xs, ys, drawstyle="steps-post", color="#2b8a3e", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel(f"objective ({data['objective']['name']})")
    ax.set_title("Optimisation history (training half)")
    ax.legend(fontsize=8, frameon=False)
    ax.grid(alpha=0.3)
    return _png(fig)


def plot_importances(data: dict[str, Any]) -> str | None:
    imp = data.get("importances")
    if not imp:
        return None
    names = list(imp)[::-1]
    fig, ax = plt.subplots(figsize=(8, 0.5 + 0.4 * len(names)))
    ax.barh(names, [imp[n] for n in names], color="#a5d8ff", edgecolor="#1971c2")
    ax.set_xlabel("importance (PED-ANOVA)")
    ax.set_title("Parameter importances")
    ax.grid(alpha=0.3, axis="x")
    return _png(fig)


def render(data: dict[str, Any]) -> str:
    """The page for a tune result's JSON (:meth:`oneclick.tuning.study.TuneResult.to_dict`)."""
    now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    recs = ", ".join(f"{r['path']} (sha256 {r['sha256'][:12]}…, {plain(r['duration_s'])} s)" for r in data["recordings"])
    body = [
        f"<h1>Aurora tuning report</h1><p class='meta'>study {html.escape(data['study'])} · generated {now}</p>",
        "<p class='meta'>" + html.escape(f"objective {data['objective']['name']}: {data['objective']['description']}"
                                         f" · seed {data['seed']} · space {data['space']['path']} · recordings {recs}"
                                         f" · split {data['split']}") + "</p>",
    ]  # fmt: skip
    score = data["score"]
    if data["best"]:
        rows = [[html.escape(k), _e(v)] for k, v in data["best"]["params"].items()]
        body.append(f"<h2>Best trial: {data['trial']}</h2>"
                    f"<p>training half {_e(score['train'])} · validation half {_e(score['validation'])}</p>"
                    + _table(["parameter", "value"], rows))  # fmt: skip
        figs = [[html.escape(half), *(_e(f.get(k)) for k in ("recording", "decisions", "allow", "closed_trades",
                                                             "realized_pnl_usd", "max_drawdown_usd"))]
                for half, group in (("train", data["train_figures"]), ("validation", data["validation_figures"]))
                for f in group]  # fmt: skip
        body.append(_table(["half", "recording", "decisions", "allowed", "closed trades", "realized PnL USD",
                            "max drawdown USD"], figs))  # fmt: skip
    else:
        body.append("<h2>No finished trial</h2><p>every trial was pruned or failed</p>")
    body.append("<h2>Optimisation</h2>")
    for src, alt in ((plot_history(data), "optimisation history"), (plot_importances(data), "parameter importances")):
        if src:
            body.append(_img(src, alt))
    top = data["top"]
    if top:
        names = list(top[0]["params"])
        body.append("<h2>Top trials</h2>" + _table(
            ["trial", "value", *names], [[_e(t["number"]), _e(t["value"]), *(_e(t["params"][n]) for n in names)]
                                         for t in top]))  # fmt: skip
    return page(f"Aurora tuning — {data['study']}", body)
