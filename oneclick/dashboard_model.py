"""What the one-click dashboard shows, computed from the gate's ``/metrics`` and the session logs.

Each refresh reads only what was appended to the logs since the previous one (:mod:`log_tail`) and
scrapes ``/metrics`` and ``/health`` at most once per ``scrape_every_s`` with a short timeout, so a
slow or dead gate never stalls the loop. Rendering lives in ``auroractl/dashboard_view.py``.

Latency percentiles come from the logs' ``decision_us`` (every decision so far, :mod:`aurora.stats`'
linear percentile): the metrics summary's definition, so the dashboard's last figure is the proof's and
the final line's. Only while the logs have no sample yet does it fall back to the gate's histogram,
shown as an approximation (``latency_source == "metrics"``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from aurora.stats import histogram_quantile_approx
from oneclick.log_tail import SessionTails
from oneclick.session_tally import XAI_STAGES, SessionTally

SCRAPE_TIMEOUT_S = 0.5
#: percentiles over every sample are recomputed at most this often (a long run holds millions)
PERCENTILES_EVERY_S = 1.0
#: The gate's metric families the dashboard reads (defined in aurora/metrics.py; a test keeps them in sync).
DECISION_SECONDS = "aurora_decision_duration_seconds"
SUBMIT_ACK_SECONDS = "aurora_order_submit_ack_seconds"
ARMED, HALTED, HEALTH_STATE, KILL_SWITCH = (
    "aurora_armed",
    "aurora_halted",
    "aurora_health_state",
    "aurora_kill_switch_tripped",
)
HEALTH_STATE_NAMES = {0: "OK", 1: "WARN", 2: "COOL_OFF", 3: "HALT"}
#: Details shown first in the one-line summary of an XAI event.
_PREFERRED_DETAILS = (
    "allow", "reason", "score", "p_win", "enr_bps", "expected_bps", "z", "parent_z", "passed", "pass",
    "price", "fill_qty", "fill_price", "realized_pnl_usd", "latency_ms",
)  # fmt: skip


# --- Prometheus text → figures ----------------------------------------------------------------------


@dataclass
class Histogram:
    buckets: list[tuple[float, float]]  # (upper bound, cumulative count), ascending
    count: float
    total: float

    def quantile(self, q: float) -> float | None:
        """APPROXIMATE: interpolated inside the bucket holding rank q·count (PromQL's histogram_quantile)."""
        if self.count <= 0:
            return None
        return histogram_quantile_approx(self.buckets, q, total=self.count)


@dataclass
class MetricsView:
    """The gate's /metrics, by family name: samples summed over labels unless asked per label."""

    families: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> MetricsView:
        return cls({f.name: f for f in text_string_to_metric_families(text)})

    def value(self, name: str | None, suffixes: tuple[str, ...] = ("", "_total")) -> float | None:
        fam = self.families.get(name) if name else None
        if fam is None:
            return None
        vals = [s.value for s in fam.samples if s.name in {name + x for x in suffixes}]
        return float(sum(vals)) if vals else None

    def by_label(self, name: str | None, label: str) -> dict[str, float]:
        fam = self.families.get(name) if name else None
        out: dict[str, float] = {}
        if fam is None:
            return out
        for s in fam.samples:
            if s.name.endswith(("_created",)):
                continue
            key = s.labels.get(label)
            if key is not None:
                out[key] = out.get(key, 0.0) + float(s.value)
        return out

    def histogram(self, name: str | None) -> Histogram | None:
        fam = self.families.get(name) if name else None
        if fam is None or fam.type != "histogram":
            return None
        cum: dict[float, float] = {}
        count = total = 0.0
        for s in fam.samples:
            if s.name.endswith("_bucket"):
                le = float(s.labels["le"])
                cum[le] = cum.get(le, 0.0) + float(s.value)
            elif s.name.endswith("_count"):
                count += float(s.value)
            elif s.name.endswith("_sum"):
                total += float(s.value)
        return Histogram(sorted(cum.items()), count, total)


def histogram_ms(view: MetricsView, name: str) -> tuple[float | None, float | None]:
    """p50 and p99 in milliseconds of a histogram observed in seconds."""
    hist = view.histogram(name)
    if hist is None or hist.count == 0:
        return None, None
    p50, p99 = hist.quantile(0.5), hist.quantile(0.99)
    return (None if p50 is None else p50 * 1000), (None if p99 is None else p99 * 1000)


# --- the model ----------------------------------------------------------------------------------------


@dataclass
class GateStatus:
    reachable: bool = False
    health_http: int | None = None
    metrics_http: int | None = None
    health: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    metrics: MetricsView | None = None


@dataclass
class DashboardSnapshot:
    title: str
    session_dir: str
    gate_url: str
    elapsed_s: float
    duration_s: float
    processes: list[dict[str, Any]]
    decisions: int
    allowed: int
    denied: int
    decisions_per_s: float
    deny_by_reason: list[tuple[str, int]]
    orders: int
    orders_by_state: dict[str, int]
    fills: int
    closed_trades: int
    realized_pnl_usd: float
    gate_p50_ms: float | None
    gate_p99_ms: float | None
    latency_source: str  # "logs" (every decision, the summary's definition) | "metrics" (≈ histogram buckets)
    submit_ack_p50_ms: float | None
    submit_ack_p99_ms: float | None
    health: dict[str, Any]
    gate_reachable: bool
    xai_last: dict[str, str]
    notes: list[str]
    phase: str = "trading"  # "starting" (runners not trading yet) | "trading" | "stopping"
    tuner: TunerLine | None = None  # the live tuner (one-click --tune), None without it

    @property
    def remaining_s(self) -> float:
        return max(0.0, self.duration_s - self.elapsed_s)

    @property
    def progress(self) -> float:
        return 1.0 if self.duration_s <= 0 else min(1.0, self.elapsed_s / self.duration_s)


@dataclass
class TunerLine:
    """The dashboard's tuner line: is it running, how old its last heartbeat, trials told, the last update."""

    running: bool
    heartbeats: int
    last_heartbeat_age_s: float | None
    period_s: float | None
    trials_told: int
    updates: int
    last_update_trial: int | None
    last_update_age_s: float | None
    refused_by_runners: int


def tuner_line(tally: SessionTally, processes: list[dict[str, Any]], now_ns: int) -> TunerLine | None:
    """None when no tuner runs in this session (no ``tuner`` process and no tuner event)."""
    row = next((p for p in processes if p.get("name") == "tuner"), None)
    tt = tally.tuner
    if row is None and not tt.seen:
        return None
    last = tt.param_tail[-1] if tt.param_tail else None
    trial = last.get("trial") if last else None
    return TunerLine(
        running=row is not None and row.get("state") == "running",
        heartbeats=tt.heartbeats,
        last_heartbeat_age_s=tt.heartbeat_age_s(now_ns),
        period_s=tt.period_s,
        trials_told=tt.trials_told,
        updates=tt.updates,
        last_update_trial=trial if isinstance(trial, int) else None,
        last_update_age_s=max(0.0, (now_ns - last["ts_ns"]) / 1e9) if last else None,
        refused_by_runners=tt.refused_by_runners,
    )


def summarize_event(rec: dict[str, Any]) -> str:
    """One short line for an XAI event: code, symbol, side, cid and the telling details."""
    details = rec.get("details") if isinstance(rec.get("details"), dict) else {}
    parts = [str(rec.get("event_code", "?"))]
    for key in ("symbol", "side"):
        if rec.get(key):
            parts.append(str(rec[key]))
    picked = [k for k in _PREFERRED_DETAILS if k in details]
    picked += [k for k in details if k not in picked]
    shown = 0
    for k in picked:
        v = details[k]
        if isinstance(v, bool) or v is None or isinstance(v, int | str):
            parts.append(f"{k}={v}")
        elif isinstance(v, float):
            parts.append(f"{k}={v:.4g}")
        else:
            continue
        shown += 1
        if shown == 4:
            break
    if rec.get("cid"):
        parts.append(f"cid={rec['cid']}")
    return " ".join(parts)


class DashboardModel:
    def __init__(
        self,
        session_dir: Path,
        gate_url: str,
        *,
        ops_token: str | None = None,
        title: str = "Aurora one-click",
        duration_s: float = 0.0,
        cvar_alpha: float = 0.1,
        scrape_every_s: float = 1.0,
        client: httpx.Client | None = None,
    ) -> None:
        self.session_dir = Path(session_dir)
        self.gate_url = gate_url.rstrip("/")
        self.title = title
        self.duration_s = duration_s
        self.scrape_every_s = scrape_every_s
        self.tally = SessionTally(cvar_alpha=cvar_alpha)
        self.tails = SessionTails(self.session_dir)
        self.gate = GateStatus()
        self._headers = {"X-OPS-TOKEN": ops_token} if ops_token else {}
        self._client = client or httpx.Client(timeout=SCRAPE_TIMEOUT_S)
        self._own_client = client is None
        self._last_scrape = -math.inf
        self.probed_at: float | None = None  # wall time of the last probe of the gate
        self._latency: dict[str, tuple[int, float, tuple[float | None, float | None]]] = {}

    def probe_gate(self) -> GateStatus:
        """GET /health and /metrics once (short timeout); never raises."""
        status = GateStatus()
        try:
            h = self._client.get(self.gate_url + "/health")
            status.health_http = h.status_code
            if h.headers.get("content-type", "").startswith("application/json"):
                body = h.json()
                status.health = body if isinstance(body, dict) else {}
            m = self._client.get(self.gate_url + "/metrics", headers=self._headers)
            status.metrics_http = m.status_code
            if m.status_code == 200:
                status.metrics = MetricsView.parse(m.text)
            status.reachable = h.status_code == 200
        except (httpx.HTTPError, ValueError) as exc:
            status.error = type(exc).__name__
        self.gate = status
        self.probed_at = time.time()
        return status

    def ingest(self, records: Iterable[dict[str, Any]]) -> None:
        self.tally.add_many(records)

    def refresh(
        self,
        *,
        elapsed_s: float,
        processes: list[dict[str, Any]] | None = None,
        notes: list[str] | None = None,
        scrape: bool = True,
        phase: str = "trading",
        final: bool = False,
    ) -> DashboardSnapshot:
        """Read what the logs gained; scrape the gate if due (``scrape=False`` after it stopped).
        ``final``: the last snapshot, with percentiles over every sample however recent."""
        self.ingest(self.tails.poll())
        now = time.monotonic()
        if scrape and now - self._last_scrape >= self.scrape_every_s:
            self._last_scrape = now
            self.probe_gate()
        return self.snapshot(elapsed_s=elapsed_s, processes=processes or [], notes=notes or [], phase=phase,
                             final=final)  # fmt: skip

    def _log_percentiles(
        self, key: str, values: Any, scale: float, final: bool
    ) -> tuple[float | None, float | None]:
        n, at, cached = self._latency.get(key, (-1, -math.inf, (None, None)))
        now = time.monotonic()
        if len(values) != n and (final or now - at >= PERCENTILES_EVERY_S):
            cached = self.tally.p50_p99(values, scale)
            self._latency[key] = (len(values), now, cached)
        return cached

    def snapshot(
        self,
        *,
        elapsed_s: float,
        processes: list[dict[str, Any]],
        notes: list[str],
        phase: str = "trading",
        final: bool = False,
    ) -> DashboardSnapshot:
        t = self.tally
        view = self.gate.metrics
        source = "logs"
        p50, p99 = self._log_percentiles("decision", t.decision_us, 1e-3, final)
        if p99 is None and view is not None:  # no decision in the logs yet: the gate's buckets (≈)
            p50, p99 = histogram_ms(view, DECISION_SECONDS)
            source = "metrics" if p99 is not None else source
        ack50, ack99 = self._log_percentiles("submit_ack", t.submit_ack_ms, 1.0, final)
        if ack99 is None and view is not None:
            ack50, ack99 = histogram_ms(view, SUBMIT_ACK_SECONDS)
        return DashboardSnapshot(
            title=self.title,
            session_dir=str(self.session_dir),
            gate_url=self.gate_url,
            elapsed_s=elapsed_s,
            duration_s=self.duration_s,
            processes=processes,
            decisions=t.decisions,
            allowed=t.allowed,
            denied=t.denied,
            decisions_per_s=t.decisions_per_s(),
            deny_by_reason=t.deny_reasons.most_common(8),
            orders=t.orders,
            orders_by_state=t.orders_by_state(),
            fills=t.fills,
            closed_trades=t.closed_trades,
            realized_pnl_usd=t.realized_pnl_usd,
            gate_p50_ms=p50,
            gate_p99_ms=p99,
            latency_source=source,
            submit_ack_p50_ms=ack50,
            submit_ack_p99_ms=ack99,
            health=self.health_state(),
            gate_reachable=self.gate.reachable,
            xai_last={s: summarize_event(t.xai_tail[s][-1]) for s in XAI_STAGES if t.xai_tail[s]},
            notes=notes,
            phase=phase,
            tuner=tuner_line(t, processes, time.time_ns()),
        )

    def health_state(self) -> dict[str, Any]:
        """Health and kill-switch state: the gate's /health body, completed from /metrics gauges."""
        h = self.gate.health
        out: dict[str, Any] = {}
        for key in ("status", "health_state", "armed", "halted", "kill_switch", "config_version"):
            if key in h:
                out[key] = h[key]
        view = self.gate.metrics
        if view is not None:
            for key, name in (("armed", ARMED), ("halted", HALTED), ("kill_switch", KILL_SWITCH)):
                val = view.value(name)
                if key not in out and val is not None:
                    out[key] = bool(val)
            state = view.value(HEALTH_STATE)
            if "health_state" not in out and state is not None:
                out["health_state"] = HEALTH_STATE_NAMES.get(int(state), str(state))
        if not self.gate.reachable:
            out["status"] = f"unreachable ({self.gate.error or self.gate.health_http})"
        return out

    def close(self) -> None:
        self.tails.close()
        if self._own_client:
            self._client.close()
