"""Grafana dashboard: valid JSON, fixed uid, datasource as an input, the expected panels, valid PromQL."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.deploy.test_prometheus_rules import gate_metric_names, metric_names

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "aurora_dashboard.json"
EXPECTED_PANELS = {
    "Halted", "Armed", "Health state", "Kill-switch", "Conversion (10m)", "Order outcomes per second",
    "Denies by reason", "Venue rejects (5m)", "Gate decision latency", "Submit → ack latency",
    "Events emitted by code", "Auth failures and token rotations",
}  # fmt: skip


def load():
    return json.loads(DASHBOARD.read_text())


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


def test_dashboard_queries_use_gate_metrics():
    exprs = [t["expr"] for p in load()["panels"] for t in p["targets"]]
    used = set().union(*(metric_names(e) for e in exprs))
    known = gate_metric_names()
    assert used <= known, f"unknown metric names: {sorted(used - known)}"
    assert {"aurora_halted", "aurora_armed", "aurora_health_state", "aurora_kill_switch_tripped"} <= used


@pytest.mark.skipif(
    shutil.which("promtool") is None, reason="promtool not on PATH (Debian package: prometheus)"
)
def test_dashboard_queries_are_valid_promql(tmp_path):
    exprs = [t["expr"] for p in load()["panels"] for t in p["targets"]]
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [{"record": f"dashboard:q{i}", "expr": e} for i, e in enumerate(exprs)],
            }
        ]
    }
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump(rules))
    r = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
