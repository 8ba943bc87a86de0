"""The what-if result as an HTML section (and a self-contained page around it, styled like the session report)."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any

from aurora.gate.thresholds import fmt_threshold

#: Flips shown in the HTML table (the JSON lists more; all are counted).
SHOWN = 500


def _e(v: Any) -> str:
    return html.escape("—" if v is None else str(v))


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def set_at(v: dict[str, Any] | None) -> str:
    """``80 (configs/aurora/testnet.yaml:3)``: a key's value and where it was set."""
    if v is None:
        return "—"
    return fmt_threshold(v["value"]) + (f" ({v['source']})" if v.get("source") else "")


def key_change(flip: dict[str, Any], *, named: bool = True) -> str:
    """``<key> <session value> (<where>) → <candidate value> (<where>)`` of one flip (``named``: with the key)."""
    if flip["key"] is None:
        return "—"
    change = f"{set_at(flip['session_value'])} → {set_at(flip['candidate_value'])}"
    return f"{flip['key']} {change}" if named else change


def pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.2f}%"


def section(r: dict[str, Any]) -> str:
    """``<section id="whatif">`` of a :meth:`aurora.whatif.replay.WhatIf.to_dict` result."""
    s, c, ch, f = r["session"], r["candidate"], r["change"], r["flips"]
    parts = [
        "<section id='whatif'><h2>What-if</h2>",
        f"<p class='meta'>candidate {_e(', '.join(r['candidates']))} over the session's config "
        f"{_e(', '.join(v['session_version'] for v in r['versions']))}; {r['decisions']['replayed']} decisions replayed"
        f" ({r['decisions']['not_compared']} not compared)</p>",
        _table(["", "session", "candidate", "change"], [
            ["deny rate", pct(s["deny_rate"]), pct(c["deny_rate"]),
             "—" if ch["deny_rate"] is None else f"{100 * ch['deny_rate']:+.2f} pp"],
            ["denies", s["deny"], c["deny"], f"{ch['deny']:+d}"],
            ["allowed notional", f"{s['allowed_notional']:.2f}", f"{c['allowed_notional']:.2f}",
             f"{ch['allowed_notional']:+.2f}"],
            ["allowed max_qty changed (allowed by both)", "", "", ch["allowed_max_qty_changed"]],
        ]),  # fmt: skip
        "<h3>Candidate changes</h3>",
        _table(["key", "session", "candidate"], [[x["key"], set_at(x["session"]), set_at(x["candidate"])]
                                                 for v in r["versions"] for x in v["changes"]]),  # fmt: skip
        f"<h3>Flips: {f['total']}</h3>",
        _table(["config key", "session", "candidate", *f["by_kind"], "total"], [
            [k, set_at(v["session"]), set_at(v["candidate"]), *v["by_kind"].values(), v["flips"]]
            for k, v in f["by_key"].items()
        ]),  # fmt: skip
        _table(["guard", *f["by_kind"], "total"], [[g, *n.values(), sum(n.values())] for g, n in f["by_guard"].items()]),
        _table(["time (UTC)", "cid", "symbol", "flip", "session", "candidate", "key: session → candidate"], [
            [x["ts"], x["cid"], x["symbol"], x["kind"], x["session"]["explain"], x["candidate"]["explain"], key_change(x)]
            for x in r["flip_list"][:SHOWN]
        ]),  # fmt: skip
    ]
    if f["listed"] > SHOWN or f["total"] > f["listed"]:
        parts.append(f"<p class='meta'>{SHOWN} of {f['total']} flips shown</p>")
    parts.extend(f"<p class='meta'>note: {_e(n)}</p>" for n in r["notes"])
    parts.append("</section>")
    return "\n".join(parts)


def page(r: dict[str, Any]) -> str:
    """A self-contained page holding :func:`section` (no script, nothing fetched: opens offline)."""
    from aurora.analytics.html_report import CSS  # the session report's look

    now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>Aurora what-if — {_e(r['session_dir'])}</title><style>{CSS}</style></head><body>"
        f"<h1>Aurora what-if</h1><p class='meta'>session {_e(r['session_dir'])} · generated {now}</p>"
        + section(r) + "</body></html>\n"
    )
