"""Write ``aurora_dashboard.json`` (the Grafana dashboard) from the panel list below.

    python deploy/grafana/make_dashboard.py          # rewrite the JSON next to this file
    python deploy/grafana/make_dashboard.py --check  # exit 1 if the JSON is not what this script writes

Kept as code because every query needs the same ``job``/``instance`` selector and zero fill, which is easy
to get wrong by hand in 1,000 lines of JSON; tests/deploy checks that the committed JSON is current.

Conventions:
* every query selects ``{job=~"$job", instance=~"$instance"}`` and keeps ``instance``, so a testnet and a
  production gate are never summed into one line;
* state panels are *instant* queries: a gate that stopped answering has no current value (its series
  went stale), which shows as "no data: gate down?" — never its last state from before it went quiet;
* count panels zero-fill per instance from ``aurora_trading_state`` (always exposed), so "0" is shown
  instead of "No data" before the first error.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).with_name("aurora_dashboard.json")
DS = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
SEL = 'job=~"$job", instance=~"$instance"'
NO_STATE = "no data: gate down?"
#: zero per scraped gate instance, to fill a count that has no series yet
ZERO = f"sum by (instance) (0 * aurora_trading_state{{{SEL}}})"
#: the runner panels: job aurora-runner, the runners picked by the ``runner`` variable (narrowed by ``account``)
RSEL = 'job="aurora-runner", instance=~"$runner"'
RZERO = f"sum by (instance) (0 * aurora_runner_info{{{RSEL}}})"
NO_RUNNER = "no data: runner down?"


def target(expr: str, legend: str, ref: str, *, instant: bool = False) -> dict[str, Any]:
    t: dict[str, Any] = {"datasource": DS, "refId": ref, "expr": expr, "legendFormat": legend}
    if instant:
        t["instant"] = True
        t["range"] = False
    else:
        t["range"] = True
    return t


def value_map(*pairs: tuple[int, str, str]) -> list[dict[str, Any]]:
    return [{"type": "value", "options": {str(v): {"text": text, "color": color, "index": i}
                                          for i, (v, text, color) in enumerate(pairs)}}]  # fmt: skip


def stat(title: str, description: str, expr: str, *, mappings: list | None = None, steps: list | None = None,
         no_value: str = NO_STATE, instant: bool = True, unit: str | None = None) -> dict[str, Any]:  # fmt: skip
    defaults: dict[str, Any] = {
        "noValue": no_value,
        "thresholds": {"mode": "absolute", "steps": steps or [{"color": "green", "value": None}]},
        "color": {"mode": "thresholds"},
    }
    if mappings:
        defaults["mappings"] = mappings
    if unit:
        defaults["unit"] = unit
    return {
        "type": "stat",
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": [target(expr, "{{instance}}", "A", instant=instant)],
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "background",
            "graphMode": "none",
            "textMode": "value_and_name",
            "justifyMode": "auto",
        },
    }


def series(
    title: str, description: str, exprs: list[tuple[str, str]], unit: str, **defaults: Any
) -> dict[str, Any]:
    return {
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": [target(e, legend, chr(ord("A") + i)) for i, (e, legend) in enumerate(exprs)],
        "fieldConfig": {"defaults": {"unit": unit, **defaults}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}, "tooltip": {"mode": "multi"}},
    }


def red_above(v: float, warn: float | None = None) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = [{"color": "green", "value": None}]
    if warn is not None:
        steps.append({"color": "orange", "value": warn})
    steps.append({"color": "red", "value": v})
    return steps


def conversion() -> str:
    success = f"sum by (instance) (rate(aurora_orders_success_total{{{SEL}}}[10m]))"
    failed = (f"sum by (instance) (rate(aurora_orders_rejected_total{{{SEL}}}[10m])) + "
              f"sum by (instance) (rate(aurora_orders_expired_total{{{SEL}}}[10m]))")  # fmt: skip
    denied = f"(sum by (instance) (rate(aurora_orders_denied_total{{{SEL}}}[10m])) or {ZERO})"
    return f"{success}\n/\n(({success}) + {failed} + {denied} > 0)"


def panels() -> list[tuple[dict[str, Any], int, int]]:
    """(panel, width, height), laid out left to right, top to bottom on the 24-column grid."""
    return [
        # --- state, now (instant queries) ---
        (
            stat(
                "Gate up",
                "Prometheus' own `up` for each gate target: 0 when the scrape fails (down, hung, or "
                "refusing the scraper's token).",
                f"up{{{SEL}}}",
                mappings=value_map((0, "DOWN", "red"), (1, "up", "green")),
                steps=red_above(1.5),
                no_value="not scraped",
            ),
            4,
            4,
        ),  # fmt: skip
        (
            stat(
                "Trading state",
                "ACTIVE: every order judged; REDUCING: exits only; HALTED: nothing passes "
                "(`auroractl ops status` shows the trigger).",
                f"aurora_trading_state{{{SEL}}}",
                mappings=value_map((0, "ACTIVE", "green"), (1, "REDUCING", "orange"), (2, "HALTED", "red")),
                steps=red_above(2, 1),
            ),
            4,
            4,
        ),  # fmt: skip
        (
            stat(
                "Armed",
                "Production starts disarmed (`auroractl ops arm`).",
                f"aurora_armed{{{SEL}}}",
                mappings=value_map((0, "disarmed", "orange"), (1, "armed", "green")),
            ),
            4,
            4,
        ),  # fmt: skip
        (
            stat(
                "Health state",
                "HealthGuard on the decision-latency p95.",
                f"aurora_health_state{{{SEL}}}",
                mappings=value_map(
                    (0, "OK", "green"), (1, "WARN", "yellow"), (2, "COOL_OFF", "orange"), (3, "HALT", "red")
                ),
                steps=red_above(3, 1),
            ),
            4,
            4,
        ),  # fmt: skip
        (
            stat(
                "Kill-switch",
                "Tripped until `auroractl ops reset`.",
                f"aurora_kill_switch_tripped{{{SEL}}}",
                mappings=value_map((0, "clear", "green"), (1, "TRIPPED", "red")),
                steps=red_above(1),
            ),
            4,
            4,
        ),  # fmt: skip
        (
            stat(
                "Guard errors (1h)",
                "Decisions denied GUARD_ERROR because a guard raised (a bug or bad input).",
                f"sum by (instance) (increase(aurora_guard_errors_total{{{SEL}}}[1h])) or {ZERO}",
                steps=red_above(1),
                no_value="0",
            ),
            4,
            4,
        ),  # fmt: skip
        # --- traffic ---
        (
            series(
                "Decisions per second",
                "Pre-trade checks answered, by result.",
                [
                    (
                        f"sum by (instance, result) (rate(aurora_decisions_total{{{SEL}}}[1m]))",
                        "{{instance}} {{result}}",
                    )
                ],
                "reqps",
                min=0,
            ),
            12,
            8,
        ),  # fmt: skip
        (
            series(
                "Conversion (10m)",
                "success / (success + rejected + expired + denied), as the rules and "
                "`auroractl metrics summary` define it.",
                [(conversion(), "{{instance}}")],
                "percentunit",
                min=0,
                max=1,
            ),
            12,
            8,
        ),  # fmt: skip
        (
            series(
                "Order outcomes per second",
                "Fills, venue rejects, expiries and gate denials.",
                [
                    (
                        f"sum by (instance) (rate(aurora_orders_success_total{{{SEL}}}[5m]))",
                        "{{instance}} filled",
                    ),
                    (
                        f"sum by (instance) (rate(aurora_orders_rejected_total{{{SEL}}}[5m]))",
                        "{{instance}} rejected",
                    ),
                    (
                        f"sum by (instance) (rate(aurora_orders_expired_total{{{SEL}}}[5m]))",
                        "{{instance}} expired",
                    ),
                    (
                        f"sum by (instance) (rate(aurora_orders_denied_total{{{SEL}}}[5m])) or {ZERO}",
                        "{{instance}} denied",
                    ),
                ],
                "ops",
                min=0,
            ),
            12,
            8,
        ),  # fmt: skip
        (
            series(
                "Denies by reason",
                "Gate denials per second, by reason code.",
                [
                    (
                        f"sum by (instance, reason) (rate(aurora_orders_denied_total{{{SEL}}}[5m]))",
                        "{{instance}} {{reason}}",
                    )
                ],
                "ops",
                min=0,
            ),
            12,
            8,
        ),  # fmt: skip
        (
            series(
                "Trading state over time",
                "0 ACTIVE, 1 REDUCING, 2 HALTED; a gap is a gate that was not scraped.",
                [(f"aurora_trading_state{{{SEL}}}", "{{instance}}")],
                "none",
                min=0,
                max=2,
                decimals=0,
            ),
            12,
            8,
        ),  # fmt: skip
        (
            series(
                "Guard errors",
                "GUARD_ERROR denials per guard over 5 minutes (0 is normal).",
                [
                    (
                        f"sum by (instance, guard) (increase(aurora_guard_errors_total{{{SEL}}}[5m])) or {ZERO}",
                        "{{instance}} {{guard}}",
                    )
                ],
                "short",
                min=0,
            ),
            12,
            8,
        ),  # fmt: skip
        # --- latency ---
        (
            series(
                "Gate decision latency",
                "APPROXIMATE: interpolated inside histogram buckets (12 per decade, "
                "within 22%). `auroractl metrics summary` has the exact percentiles from the logs.",
                [
                    (
                        f"histogram_quantile(0.5, sum by (instance, le) (rate(aurora_decision_duration_seconds_bucket{{{SEL}}}[5m])))",
                        "{{instance}} p50 (≈)",
                    ),
                    (
                        f"histogram_quantile(0.99, sum by (instance, le) (rate(aurora_decision_duration_seconds_bucket{{{SEL}}}[5m])))",
                        "{{instance}} p99 (≈)",
                    ),
                ],
                "s",
            ),
            12,
            8,
        ),  # fmt: skip
        (
            series(
                "Submit → ack latency",
                "APPROXIMATE (histogram buckets): venue acknowledgement time.",
                [
                    (
                        f"histogram_quantile(0.5, sum by (instance, le) (rate(aurora_order_submit_ack_seconds_bucket{{{SEL}}}[5m])))",
                        "{{instance}} p50 (≈)",
                    ),
                    (
                        f"histogram_quantile(0.99, sum by (instance, le) (rate(aurora_order_submit_ack_seconds_bucket{{{SEL}}}[5m])))",
                        "{{instance}} p99 (≈)",
                    ),
                ],
                "s",
            ),
            12,
            8,
        ),  # fmt: skip
        # --- anomalies, security, runners ---
        (
            series(
                "Anomalies (5m)",
                "Venue rejects and expiries, failed durable writes (disk full), guard errors "
                "and kill-switch trips.",
                [
                    (
                        f'sum by (instance, code) (increase(aurora_events_emitted_total{{{SEL}, code=~"ORDER\\\\.REJECT|'
                        "ORDER\\\\.EXPIRE|AURORA\\\\.(LOG|STATE)_WRITE_FAILED|AURORA\\\\.GUARD_ERROR|"
                        'GOVERNANCE\\\\.KILL_SWITCH"}[5m]))',
                        "{{instance}} {{code}}",
                    )
                ],
                "short",
                min=0,
            ),
            12,
            8,
        ),  # fmt: skip
        (
            series(
                "Events emitted by code",
                "Everything the gate wrote to aurora_events.jsonl, per second.",
                [
                    (
                        f"sum by (instance, code) (rate(aurora_events_emitted_total{{{SEL}}}[5m]))",
                        "{{instance}} {{code}}",
                    )
                ],
                "ops",
                min=0,
            ),
            12,
            8,
        ),  # fmt: skip
        (
            series(
                "Auth failures and token rotations",
                "Refused tokens by scope. `metrics` is a scraper with a "
                "wrong token (its target is down); `ops`/`api` feed AuroraAuthFailureBurst.",
                [
                    (
                        f"sum by (instance, scope) (increase(aurora_ops_auth_fail_total{{{SEL}}}[5m]))",
                        "{{instance}} {{scope}}",
                    ),
                    (
                        f"sum by (instance) (increase(aurora_ops_token_rotations_total{{{SEL}}}[1h]))",
                        "{{instance}} rotations (1h)",
                    ),
                ],
                "short",
                min=0,
            ),
            12,
            8,
        ),  # fmt: skip
        # --- runners (runner/metrics.py) ---
        (
            stat(
                "Runners up",
                "Prometheus' `up` for each runner target (one-click registers them in prometheus_runners.json).",
                f"up{{{RSEL}}}",
                mappings=value_map((0, "DOWN", "red"), (1, "up", "green")),
                steps=red_above(1.5),
                no_value="no runner scraped",
            ),
            6,
            4,
        ),  # fmt: skip
        (
            stat(
                "Runner reaches its gate",
                "The runner's own view: 0 while its checks fail (fail closed: no orders).",
                f"aurora_runner_gate_available{{{RSEL}}}",
                mappings=value_map((0, "GATE UNREACHABLE", "red"), (1, "reachable", "green")),
                steps=red_above(1.5),
                no_value=NO_RUNNER,
            ),
            6,
            4,
        ),  # fmt: skip
        (
            stat(
                "Books unsynced or stale",
                "Symbols whose book cannot be traded on now (no new orders there, exits only).",
                f'sum by (instance) (aurora_runner_book_state{{{RSEL}, state=~"unsynced|stale"}})',
                steps=red_above(1),
                no_value=NO_RUNNER,
            ),
            6,
            4,
        ),  # fmt: skip
        (
            stat(
                "Open positions",
                "Symbols with a position now (a run that ends with one exits 1).",
                f"count by (instance) (aurora_runner_position_qty{{{RSEL}}} != 0) or {RZERO}",
                steps=[{"color": "green", "value": None}, {"color": "orange", "value": 1}],
                no_value="0",
            ),
            6,
            4,
        ),  # fmt: skip
        (
            series(
                "Runner checks by outcome",
                "Pre-trade checks the runners asked per second: allowed, denied, no answer (fail closed).",
                [
                    (
                        f"sum by (instance, outcome) (rate(aurora_runner_gate_checks_total{{{RSEL}}}[1m]))",
                        "{{instance}} {{outcome}}",
                    )
                ],
                "reqps",
                min=0,
            ),
            12,
            8,
        ),  # fmt: skip
        (
            series(
                "Runner gate errors",
                "Gate client failures per 5 minutes by kind (unavailable, skipped_backoff, http_4xx, "
                "post_failed) and outages.",
                [
                    (
                        f"sum by (instance, kind) (increase(aurora_runner_gate_errors_total{{{RSEL}}}[5m]))",
                        "{{instance}} {{kind}}",
                    ),
                    (
                        f"sum by (instance) (increase(aurora_runner_gate_outages_total{{{RSEL}}}[5m]))",
                        "{{instance}} outages",
                    ),
                ],
                "short",
                min=0,
            ),
            12,
            8,
        ),  # fmt: skip
        (
            series(
                "Runner orders by state",
                "The runners' orders by lifecycle state now (terminal states accumulate over the run).",
                [(f"sum by (instance, state) (aurora_runner_orders{{{RSEL}}})", "{{instance}} {{state}}")],
                "short",
                min=0,
            ),
            12,
            8,
        ),  # fmt: skip
        (
            series(
                "Positions",
                "Net position per symbol in base units (> 0 long, < 0 short).",
                [(f"aurora_runner_position_qty{{{RSEL}}}", "{{instance}} {{symbol}}")],
                "short",
            ),
            12,
            8,
        ),  # fmt: skip
        (
            series(
                "Realized PnL",
                "Realized P&L of closed trades this run per symbol, USD after fees.",
                [(f"aurora_runner_realized_pnl_usd{{{RSEL}}}", "{{instance}} {{symbol}}")],
                "currencyUSD",
            ),
            12,
            8,
        ),  # fmt: skip
        (
            series(
                "Book age and trust",
                "Age of each symbol's book on the market's clock, and 1 while it is unsynced or stale.",
                [
                    (f"aurora_runner_book_age_seconds{{{RSEL}}}", "{{instance}} {{symbol}} age"),
                    (
                        f'sum by (instance, symbol) (aurora_runner_book_state{{{RSEL}, state=~"unsynced|stale"}})',
                        "{{instance}} {{symbol}} untrusted",
                    ),
                ],
                "s",
                min=0,
            ),
            12,
            8,
        ),  # fmt: skip
        (
            series(
                "Feed messages per second",
                "Market-data messages received per second, and the ones that could not be used.",
                [
                    (
                        f"sum by (instance) (rate(aurora_runner_feed_messages_total{{{RSEL}}}[1m]))",
                        "{{instance}} messages",
                    ),
                    (
                        f"sum by (instance, why) (rate(aurora_runner_feed_bad_messages_total{{{RSEL}}}[1m]))",
                        "{{instance}} {{why}}",
                    ),
                ],
                "ops",
                min=0,
            ),
            12,
            8,
        ),  # fmt: skip
        (
            series(
                "Targets up (gates and runners)",
                "`up` of every Aurora target: 1 scraped, 0 failing. Runners "
                "appear once they are listed in aurora_runners.yml (or one-click's prometheus_runners.json).",
                [(f"up{{{SEL}}} or up{{{RSEL}}}", "{{job}} {{instance}}")],
                "none",
                min=0,
                max=1,
                decimals=0,
            ),
            12,
            8,
        ),  # fmt: skip
    ]


def layout(items: list[tuple[dict[str, Any], int, int]]) -> list[dict[str, Any]]:
    out, x, y, row_h = [], 0, 0, 0
    for i, (panel, w, h) in enumerate(items, 1):
        if x + w > 24:
            x, y, row_h = 0, y + row_h, 0
        out.append({"id": i, **panel, "gridPos": {"x": x, "y": y, "w": w, "h": h}})
        x, row_h = x + w, max(row_h, h)
    return out


def variable(name: str, label: str, query: str, *, default: str | None, regex: str = "") -> dict[str, Any]:
    """``job`` picks one gate job; ``instance`` (gates), ``account`` and ``runner`` are multi-select with All."""
    value = "$__all" if default == "All" else default
    current = {"selected": True, "text": default, "value": value} if default else {}
    many = name != "job"
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DS,
        "definition": query,
        "query": {"query": query, "refId": f"{name}-var"},
        "refresh": 2,  # on time range change: a gate that appeared or went away is listed correctly
        "regex": regex,
        "sort": 1,
        "multi": many,
        "includeAll": many,
        **({"allValue": ".*"} if many else {}),
        "current": current,
        "hide": 0,
    }


def dashboard() -> dict[str, Any]:
    return {
        "__inputs": [
            {
                "name": "DS_PROMETHEUS",
                "label": "Prometheus",
                "description": "Prometheus scraping the Aurora gate's /metrics",
                "type": "datasource",
                "pluginId": "prometheus",
                "pluginName": "Prometheus",
            }
        ],  # fmt: skip
        "__requires": [
            {"type": "grafana", "id": "grafana", "name": "Grafana", "version": "10.0.0"},
            {"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"},
            {"type": "panel", "id": "stat", "name": "Stat", "version": ""},
            {"type": "panel", "id": "timeseries", "name": "Time series", "version": ""},
        ],
        "uid": "aurora-gate",
        "title": "Aurora gate",
        "description": "Aurora pre-trade gate: up, trading state, decisions, conversion, denies, guard errors, "
        "latency, anomalies, security; per job and instance (SPEC §9). Its runners: up, gate reachability, "
        "books, positions, P&L, checks, orders, feed; per runner and account.",  # fmt: skip
        "tags": ["aurora", "trading"],
        "timezone": "utc",
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 2,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                }
            ]
        },  # fmt: skip
        "templating": {
            "list": [
                variable("job", "job", 'label_values(up{job=~"aurora-gate.*"}, job)', default="aurora-gate"),
                variable("instance", "gate", 'label_values(up{job=~"$job"}, instance)', default="All"),
                variable("account", "account", "label_values(aurora_runner_info, account)", default="All"),
                variable("runner", "runner",
                         'label_values(aurora_runner_info{account=~"$account"}, instance)', default="All"),
            ]
        },  # fmt: skip
        "links": [],
        "panels": layout(panels()),
    }


def render() -> str:
    return json.dumps(dashboard(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if OUT.read_text(encoding="utf-8") != text:
            print(f"{OUT} is out of date: run python {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
