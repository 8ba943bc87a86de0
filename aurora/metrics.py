"""Prometheus metrics of the gate (SPEC §9), one registry per gate instance (tests build several).

Names follow Prometheus conventions (``_total`` counters, ``_seconds`` histograms); labels are
bounded sets (reason codes, event codes, guard names) — never per-order values.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "GateMetrics"]

_DECISION_BUCKETS = (5e-6, 1e-5, 2e-5, 4e-5, 6e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 5e-3, 0.025, 0.1)
_ACK_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class LabelledCounter:
    """A counter family incremented with a plain dict update, exposed as a Prometheus counter on scrape.

    For the per-decision counters: ``prometheus_client.Counter.labels(..).inc()`` takes a lock and
    validates on every call (~0.7 µs), a dict update costs ~0.05 µs. The gate updates these only from
    its event-loop thread, where scrapes also run, so no lock is needed.
    """

    def __init__(self, name: str, documentation: str, label: str, registry: CollectorRegistry) -> None:
        self.name = name[: -len("_total")] if name.endswith("_total") else name
        self.documentation = documentation
        self.label = label
        self.values: dict[str, float] = {}
        registry.register(self)

    def inc(self, key: str, amount: float = 1.0) -> None:
        values = self.values
        values[key] = values.get(key, 0.0) + amount

    def describe(self) -> list[CounterMetricFamily]:
        return [CounterMetricFamily(self.name, self.documentation, labels=[self.label])]

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(self.name, self.documentation, labels=[self.label])
        for key, value in sorted(self.values.items()):
            family.add_metric([key], value)
        yield family


class GateMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = r = registry or CollectorRegistry()
        self.events_emitted = LabelledCounter(
            "aurora_events_emitted_total", "Events written to aurora_events.jsonl, by code.", "code", r
        )
        self.decisions = LabelledCounter("aurora_decisions_total", "Pre-trade decisions, by result.", "result", r)
        self.orders_success = Counter("aurora_orders_success_total", "Orders filled (ORDER.FILL).", registry=r)
        self.orders_rejected = Counter("aurora_orders_rejected_total", "Orders rejected by the venue.", registry=r)
        self.orders_expired = Counter("aurora_orders_expired_total", "Orders expired (incl. no ack in TTL).", registry=r)
        self.orders_denied = LabelledCounter(
            "aurora_orders_denied_total", "Orders denied by the gate, by reason code.", "reason", r
        )
        self.guard_errors = Counter(
            "aurora_guard_errors_total", "Exceptions inside a guard (denied GUARD_ERROR).", ["guard"], registry=r
        )
        self.auth_fail = Counter(
            "aurora_ops_auth_fail_total", "Requests refused for a missing or wrong token.", ["scope"], registry=r
        )
        self.token_rotations = Counter("aurora_ops_token_rotations_total", "Token rotations.", registry=r)
        self.decision_seconds = Histogram(
            "aurora_decision_duration_seconds", "Time to decide one pre-trade check.", buckets=_DECISION_BUCKETS, registry=r
        )
        self.submit_ack_seconds = Histogram(
            "aurora_order_submit_ack_seconds", "ORDER.SUBMIT to ORDER.ACK latency.", buckets=_ACK_BUCKETS, registry=r
        )
        self.armed = Gauge("aurora_armed", "1 when the gate is armed.", registry=r)
        self.halted = Gauge("aurora_halted", "1 when the gate is halted (health HALT or kill-switch).", registry=r)
        self.health_state = Gauge("aurora_health_state", "HealthGuard state: 0 OK, 1 WARN, 2 COOL_OFF, 3 HALT.", registry=r)
        self.kill_switch = Gauge("aurora_kill_switch_tripped", "1 while the governance kill-switch is tripped.", registry=r)
        self.auth_fail.labels("ops")
        self.auth_fail.labels("api")

    def event(self, code: str) -> None:
        self.events_emitted.inc(code)

    def decision(self, allow: bool, reason: str, seconds: float) -> None:
        self.decision_seconds.observe(seconds)
        if allow:
            self.decisions.inc("allow")
            return
        self.decisions.inc("deny")
        self.orders_denied.inc(str(reason))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
