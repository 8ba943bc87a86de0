"""Grafana dashboard: generated and current, fixed uid, datasource as an input, job/instance variables on
every query, stat panels that never say "No data" for a scraped gate, valid PromQL."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.deploy.test_prometheus_rules import gate_metric_names, metric_names

GRAFANA = Path(__file__).resolve().parents[2] / "deploy" / "grafana"
DASHBOARD = GRAFANA / "aurora_dashboard.json"
EXPECTED_PANELS = {
    "Gate up", "Trading state", "Armed", "Health state", "Kill-switch", "Guard errors (1h)",
    "Decisions per second", "Conversion (10m)", "Order outcomes per second", "Denies by reason",
    "Trading state over time", "Guard errors", "Gate decision latency", "Submit → ack latency",
    "Anomalies (5m)", "Events emitted by code", "Auth failures and token rotations",
    "Targets up (gates and runners)",
    "Runners up", "Runner reaches its gate", "Books unsynced or stale", "Open positions",
    "Runner checks by outcome", "Runner gate errors", "Runner orders by state", "Positions", "Realized PnL",
    "Book age and trust", "Feed messages per second",
}  # fmt: skip
SELECTOR = 'job=~"$job", instance=~"$instance"'
RUNNER_SELECTOR = 'job="aurora-runner", instance=~"$runner"'


def load():
    return json.loads(DASHBOARD.read_text())


def exprs(d=None) -> list[str]:
    return [t["expr"] for p in (d or load())["panels"] for t in p["targets"]]


def concrete(expr: str, job: str = "aurora-gate", instance: str = ".*", runner: str = ".*") -> str:
    """A panel query with the dashboard variables filled in, as Grafana sends it."""
    return expr.replace("$job", job).replace("$instance", instance).replace("$runner", runner)


def is_runner_panel(panel: dict) -> bool:
    return all(RUNNER_SELECTOR in t["expr"] and SELECTOR not in t["expr"] for t in panel["targets"])


def test_dashboard_json_is_what_the_generator_writes():
    r = subprocess.run([sys.executable, str(GRAFANA / "make_dashboard.py"), "--check"], capture_output=True,
                       text=True, timeout=60)  # fmt: skip
    assert r.returncode == 0, r.stderr


def test_dashboard_loads_with_fixed_uid_and_datasource_input():
    d = load()
    assert d["uid"] == "aurora-gate" and d["title"] == "Aurora gate"
    assert d["__inputs"] == [
        {"name": "DS_PROMETHEUS", "label": "Prometheus", "description": "Prometheus scraping the Aurora gate's /metrics",
         "type": "datasource", "pluginId": "prometheus", "pluginName": "Prometheus"}
    ]  # fmt: skip
    panels = d["panels"]
    assert {p["title"] for p in panels} == EXPECTED_PANELS
    assert len({p["id"] for p in panels}) == len(panels)
    for p in panels:
        assert p["datasource"] == {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
        assert p["targets"] and all(t["datasource"]["uid"] == "${DS_PROMETHEUS}" for t in p["targets"])
    # panels do not overlap on the 24-column grid
    cells = set()
    for p in panels:
        g = p["gridPos"]
        assert g["x"] + g["w"] <= 24
        mine = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not cells & mine, p["title"]
        cells |= mine


def test_job_instance_account_and_runner_variables_select_every_query():
    d = load()
    variables = {v["name"]: v for v in d["templating"]["list"]}
    assert set(variables) == {"job", "instance", "account", "runner"}
    for name in ("instance", "account", "runner"):
        assert variables[name]["includeAll"] and variables[name]["multi"], name
    assert "$job" in variables["instance"]["query"]["query"]
    assert "$account" in variables["runner"]["query"]["query"]  # an account narrows the runners listed
    runner_panels = [p["title"] for p in d["panels"] if is_runner_panel(p)]
    assert len(runner_panels) == 11, runner_panels
    for p in d["panels"]:
        for t in p["targets"]:
            selectors = re.findall(r"\b(?:aurora_[a-z0-9_]+|up)\{([^}]*)\}", t["expr"])
            assert selectors, (p["title"], t["expr"])
            for sel in selectors:
                # a gate query is narrowed to the chosen gates, a runner query to the chosen runners
                if sel.startswith("job=\"aurora-runner\""):
                    assert sel.startswith(RUNNER_SELECTOR), (p["title"], sel)
                else:
                    assert SELECTOR in sel, (p["title"], sel)
            # per instance: never one sum over every gate
            for agg in re.findall(r"\b(?:sum|max|min|avg|count) by \(([^)]*)\)", t["expr"]):
                assert "instance" in agg, (p["title"], t["expr"])
            assert "legendFormat" in t and "{{instance}}" in t["legendFormat"], p["title"]


def test_stat_panels_show_a_value_or_say_why_not():
    for p in load()["panels"]:
        if p["type"] != "stat":
            continue
        (t,) = p["targets"]
        assert t.get("instant") is True, p["title"]  # the current value: a stale gate shows no state
        no_value = p["fieldConfig"]["defaults"]["noValue"]
        assert no_value and no_value != "No data", p["title"]
        if " or " in t["expr"]:  # a count: zero-filled per gate, so a scraped gate shows 0
            assert no_value == "0"


def test_latency_panels_say_they_are_approximate():
    for p in load()["panels"]:
        if any("histogram_quantile" in t["expr"] for t in p["targets"]):
            assert p["description"].startswith("APPROXIMATE"), p["title"]
            assert all("≈" in t["legendFormat"] for t in p["targets"])


def test_dashboard_queries_use_gate_metrics():
    used = set().union(*(metric_names(e) for e in exprs()))
    known = gate_metric_names()
    assert used <= known, f"unknown metric names: {sorted(used - known)}"
    assert {"aurora_trading_state", "aurora_decisions_total", "aurora_guard_errors_total", "aurora_armed",
            "aurora_health_state", "aurora_kill_switch_tripped"} <= used  # fmt: skip
    assert {"aurora_runner_gate_checks_total", "aurora_runner_gate_available", "aurora_runner_book_state",
            "aurora_runner_book_age_seconds", "aurora_runner_position_qty", "aurora_runner_realized_pnl_usd",
            "aurora_runner_orders", "aurora_runner_feed_messages_total", "aurora_runner_gate_errors_total"} <= used


@pytest.mark.skipif(
    shutil.which("promtool") is None, reason="promtool not on PATH (Debian package: prometheus)"
)
def test_dashboard_queries_are_valid_promql(tmp_path):
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [{"record": f"dashboard:q{i}", "expr": concrete(e)} for i, e in enumerate(exprs())],
            }
        ]
    }
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump(rules))
    r = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
