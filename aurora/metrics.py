"""Prometheus metrics of the gate (SPEC §9), one registry per gate instance (tests build several).

Names follow Prometheus conventions (``_total`` counters, ``_seconds`` histograms); labels are
bounded sets (reason codes, event codes, guard names) — never per-order values.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "GateMetrics"]

_DECISION_BUCKETS = (5e-6, 1e-5, 2e-5, 4e-5, 6e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 5e-3, 0.025, 0.1)
_ACK_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class GateMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = r = registry or CollectorRegistry()
        self.events_emitted = Counter(
            "aurora_events_emitted_total", "Events written to aurora_events.jsonl, by code.", ["code"], registry=r
        )
        self.decisions = Counter("aurora_decisions_total", "Pre-trade decisions, by result.", ["result"], registry=r)
        self.orders_success = Counter("aurora_orders_success_total", "Orders filled (ORDER.FILL).", registry=r)
        self.orders_rejected = Counter("aurora_orders_rejected_total", "Orders rejected by the venue.", registry=r)
        self.orders_expired = Counter("aurora_orders_expired_total", "Orders expired (incl. no ack in TTL).", registry=r)
        self.orders_denied = Counter(
            "aurora_orders_denied_total", "Orders denied by the gate, by reason code.", ["reason"], registry=r
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
        self.kill_switch = Gauge("aurora_kill_switch_active", "1 while the governance kill-switch is tripped.", registry=r)
        # Label children are cached: ``.labels()`` costs a lock and a dict lookup per call otherwise.
        self._event_children: dict[str, Counter] = {}
        self._denied_children: dict[str, Counter] = {}
        self._allow = self.decisions.labels("allow")
        self._deny = self.decisions.labels("deny")
        self.auth_fail.labels("ops")
        self.auth_fail.labels("api")

    def event(self, code: str) -> None:
        child = self._event_children.get(code)
        if child is None:
            child = self._event_children[code] = self.events_emitted.labels(code)
        child.inc()

    def decision(self, allow: bool, reason: str, seconds: float) -> None:
        self.decision_seconds.observe(seconds)
        if allow:
            self._allow.inc()
            return
        self._deny.inc()
        child = self._denied_children.get(reason)
        if child is None:
            child = self._denied_children[reason] = self.orders_denied.labels(reason)
        child.inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
