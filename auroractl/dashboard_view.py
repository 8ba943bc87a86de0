"""Rendering of the one-click dashboard: a rich ``Live`` layout on a terminal, plain lines elsewhere (CI).

The numbers come from :class:`oneclick.dashboard_model.DashboardSnapshot`; this module only lays
them out. The live view refreshes at most 4 times a second and never starts a refresh thread.
"""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.markup import escape
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from auroractl.output import yes_no
from oneclick.dashboard_model import DashboardSnapshot
from oneclick.session_tally import XAI_STAGES

MAX_HZ = 4.0
PLAIN_EVERY_S = 5.0
ORDER_STATES = (
    "SUBMITTED",
    "ACKED",
    "PARTIALLY_FILLED",
    "PENDING_CANCEL",
    "FILLED",
    "CANCELED",
    "REJECTED",
    "EXPIRED",
)


#: the gate figures come from the logs (the metrics summary's definition) once there is a decision;
#: before that from the gate's histogram buckets, which is an approximation and said so
_LATENCY_SOURCE = {"logs": "logs (every decision)", "metrics": "≈ gate histogram buckets"}


def format_ms(v: float | None) -> str:
    """The one way a latency is shown: the dashboard line and one-click's final line agree."""
    return "—" if v is None else (f"{v:.3f} ms" if v < 1 else f"{v:.1f} ms")


def _clock(seconds: float) -> str:
    s = int(max(0.0, seconds))
    return f"{s // 60:d}:{s % 60:02d}"


def _kv(rows: list[tuple[str, str]]) -> Table:
    t = Table.grid(padding=(0, 2))
    t.add_column(style="dim")
    t.add_column()
    for k, v in rows:
        t.add_row(k, v)
    return t


def header(s: DashboardSnapshot) -> RenderableType:
    line = Table.grid(padding=(0, 2))
    if s.phase == "starting":  # the run's clock starts when the runners trade
        line.add_row(Text(f"starting {_clock(s.elapsed_s)}: waiting for the runners to trade"))
    else:
        bar = ProgressBar(total=max(s.duration_s, 1e-9), completed=min(s.elapsed_s, s.duration_s), width=40)
        line.add_row(
            Text(f"elapsed {_clock(s.elapsed_s)}"),
            bar,
            Text(f"remaining {_clock(s.remaining_s)}"),
            Text(f"{s.progress:.0%}" + (" · stopping" if s.phase == "stopping" else "")),
        )
    meta = Text(f"session {s.session_dir} · gate {s.gate_url}", style="dim")
    return Panel(Group(line, meta), title=escape(s.title), title_align="left")


def processes_panel(s: DashboardSnapshot) -> RenderableType:
    t = Table(box=None, pad_edge=False, show_edge=False)
    for col in ("process", "pid", "state", "restarts"):
        t.add_column(col)
    for p in s.processes:
        style = "green" if p["state"] == "running" else "yellow"
        t.add_row(p["name"], str(p["pid"]), f"[{style}]{escape(p['state'])}[/]", str(p.get("restarts", 0)))
    return Panel(t, title="Processes", title_align="left")


def tuner_text(s: DashboardSnapshot) -> str | None:
    """The tuner line (one-click --tune): running, last heartbeat's age, trials told, the last update."""
    t = s.tuner
    if t is None:
        return None
    beat = "no heartbeat yet" if t.last_heartbeat_age_s is None else f"last heartbeat {t.last_heartbeat_age_s:.1f} s ago"
    update = ("no update yet" if t.last_update_trial is None
              else f"last update trial {t.last_update_trial} ({t.last_update_age_s or 0.0:.0f} s ago)")  # fmt: skip
    refused = f" · refused by runners {t.refused_by_runners}" if t.refused_by_runners else ""
    return (f"tuner {'running' if t.running else 'not running'} · {beat} · {t.trials_told} trials told · "
            f"{update}{refused}")


def decisions_panel(s: DashboardSnapshot) -> RenderableType:
    rate = f"{s.denied / s.decisions:.0%}" if s.decisions else "—"
    top = _kv(
        [
            ("decisions", f"{s.decisions}  ({s.decisions_per_s:.1f}/s)"),
            ("allowed", f"[green]{s.allowed}[/]"),
            ("denied", f"[red]{s.denied}[/]  (deny rate {rate})"),
        ]
    )
    reasons = Table(box=None, pad_edge=False, show_edge=False, show_header=True)
    reasons.add_column("deny reason")
    reasons.add_column("count", justify="right")
    for reason, n in s.deny_by_reason:
        reasons.add_row(escape(reason), str(n))
    return Panel(Group(top, reasons), title="Decisions", title_align="left")


def orders_panel(s: DashboardSnapshot) -> RenderableType:
    rows = [("orders", str(s.orders))]
    rows += [
        (state.lower(), str(s.orders_by_state[state]))
        for state in ORDER_STATES
        if s.orders_by_state.get(state)
    ]
    pnl_style = "green" if s.realized_pnl_usd >= 0 else "red"
    rows += [
        ("fills", str(s.fills)),
        ("closed trades", str(s.closed_trades)),
        ("PnL (realized)", f"[{pnl_style}]{s.realized_pnl_usd:+.2f} USD[/]"),
    ]
    return Panel(_kv(rows), title="Orders", title_align="left")


def latency_panel(s: DashboardSnapshot) -> RenderableType:
    rows = [
        ("gate p50", format_ms(s.gate_p50_ms)),
        ("gate p99", format_ms(s.gate_p99_ms)),
        ("submit→ack p50", format_ms(s.submit_ack_p50_ms)),
        ("submit→ack p99", format_ms(s.submit_ack_p99_ms)),
        ("source", _LATENCY_SOURCE.get(s.latency_source, s.latency_source)),
    ]
    return Panel(_kv(rows), title="Latency", title_align="left")


def health_panel(s: DashboardSnapshot) -> RenderableType:
    h = s.health
    status = str(h.get("status", "—"))
    style = "green" if s.gate_reachable and status in ("ok", "OK", "healthy") else "yellow"
    rows = [
        ("gate", f"[{style}]{escape(status)}[/]"),
        ("health state", escape(yes_no(h.get("health_state")))),
        ("armed", yes_no(h.get("armed"))),
        ("halted", yes_no(h.get("halted"))),
        ("kill-switch", escape(yes_no(h.get("kill_switch")))),
    ]
    return Panel(_kv(rows), title="Health", title_align="left")


def xai_panel(s: DashboardSnapshot) -> RenderableType:
    t = Table(box=None, pad_edge=False, show_edge=False, show_header=False)
    t.add_column(style="bold", no_wrap=True, min_width=max(len(x) for x in XAI_STAGES))
    t.add_column(overflow="ellipsis", no_wrap=True)
    for stage in XAI_STAGES:
        t.add_row(stage, escape(s.xai_last.get(stage, "—")))
    return Panel(t, title="XAI: last event per stage", title_align="left")


def render(s: DashboardSnapshot) -> RenderableType:
    row1 = Table.grid(expand=True, padding=(0, 1))
    for _ in range(3):
        row1.add_column(ratio=1)
    row1.add_row(decisions_panel(s), orders_panel(s), Group(latency_panel(s), health_panel(s)))
    parts: list[RenderableType] = [header(s), processes_panel(s), row1, xai_panel(s)]
    tuner = tuner_text(s)
    if tuner is not None:
        parts.insert(2, Text(tuner, style="green" if s.tuner and s.tuner.running else "yellow"))
    if s.notes:
        parts.append(Text("\n".join(s.notes), style="yellow"))
    return Group(*parts)


def plain_line(s: DashboardSnapshot) -> str:
    reasons = ", ".join(f"{r} {n}" for r, n in s.deny_by_reason[:4]) or "none"
    health = s.health.get("health_state") or s.health.get("status") or "—"
    clock = (f"starting {_clock(s.elapsed_s)}" if s.phase == "starting"
             else f"{_clock(s.elapsed_s)}/{_clock(s.duration_s)}")  # fmt: skip
    approx = "≈" if s.latency_source == "metrics" else ""
    return (
        f"[{clock}] decisions {s.decisions} ({s.decisions_per_s:.1f}/s) "
        f"allow {s.allowed} deny {s.denied} ({reasons}) · orders {s.orders} fills {s.fills} "
        f"pnl {s.realized_pnl_usd:+.2f} · gate p99 {approx}{format_ms(s.gate_p99_ms)} · health {health}"
        f" · halted {yes_no(s.health.get('halted'))}"
        + (f" · {tuner}" if (tuner := tuner_text(s)) else "")
    )


class LiveDashboard:
    """rich ``Live`` without its refresh thread: ``update`` redraws at most ``MAX_HZ`` times a second."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._live = Live(console=console, auto_refresh=False, transient=False, redirect_stdout=True)
        self._last = 0.0
        self._pending: DashboardSnapshot | None = None

    def __enter__(self) -> LiveDashboard:
        self._live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._pending is not None:
            self._live.update(render(self._pending), refresh=True)
        self._live.__exit__(*exc)

    def status(self, message: str) -> None:
        self._live.console.print(f"[dim]{escape(message)}[/]")

    def update(self, s: DashboardSnapshot) -> None:
        self._pending = s
        now = time.monotonic()
        if now - self._last >= 1.0 / MAX_HZ:
            self._last = now
            self._live.update(render(s), refresh=True)


class PlainDashboard:
    """One line every ``PLAIN_EVERY_S`` seconds (and the last one at the end): logs stay readable in CI."""

    def __init__(self, console: Console, every_s: float = PLAIN_EVERY_S) -> None:
        self.console = console
        self.every_s = every_s
        self._last = 0.0
        self._pending: DashboardSnapshot | None = None

    def __enter__(self) -> PlainDashboard:
        self._last = time.monotonic()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._pending is not None:
            self.console.print(escape(plain_line(self._pending)))

    def status(self, message: str) -> None:
        self.console.print(escape(message))

    def update(self, s: DashboardSnapshot) -> None:
        self._pending = s
        now = time.monotonic()
        if now - self._last >= self.every_s:
            self._last = now
            self.console.print(escape(plain_line(s)))
            self._pending = None
