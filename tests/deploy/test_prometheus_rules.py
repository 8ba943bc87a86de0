"""Prometheus rules: promtool check + unit tests, and only metric names the gate exposes."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from aurora.metrics import GateMetrics

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
RULES = DEPLOY / "prometheus" / "aurora_rules.yml"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool not on PATH (Debian package: prometheus; apt-get install prometheus)"
)


def gate_metric_names() -> set[str]:
    names = set()
    for family in GateMetrics().registry.collect():
        names.add(family.name + ("_total" if family.type == "counter" else ""))
        names.update(s.name for s in family.samples)
    return names


def metric_names(expr: str) -> set[str]:
    return {m for m in re.findall(r"\b(aurora_[a-z0-9_]+)\b", expr)}


@needs_promtool
def test_promtool_check_and_unit_tests_pass():
    check = subprocess.run(
        [PROMTOOL, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60
    )
    assert check.returncode == 0, check.stdout + check.stderr
    test = subprocess.run(
        [PROMTOOL, "test", "rules", "aurora_rules_test.yml"],
        cwd=RULES.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert test.returncode == 0, test.stdout + test.stderr
    assert "SUCCESS" in test.stdout


def test_rules_cover_the_seed_queries_with_known_metrics():
    doc = yaml.safe_load(RULES.read_text())
    rules = [r for g in doc["groups"] for r in g["rules"]]
    alerts = {r["alert"] for r in rules if "alert" in r}
    assert alerts == {
        "AuroraConversionLow",
        "AuroraRejectSpike",
        "AuroraKillSwitchTripped",
        "AuroraHalted",
        "AuroraAuthFailureBurst",
    }
    records = {r["record"]: r["expr"] for r in rules if "record" in r}
    conv = records["aurora:conversion:ratio10m"]
    assert (
        "[10m] +" not in conv and "rate(aurora_orders_success_total[10m])" in conv
    )  # not the seed's invalid form
    assert 'code="ORDER.REJECT"' in records["aurora:order_rejects:increase5m"]
    known = gate_metric_names()
    used = set().union(*(metric_names(r["expr"]) for r in rules))
    assert used and used <= known, f"unknown metric names: {sorted(used - known)}"
    for r in rules:
        if "alert" in r:
            assert r["labels"]["severity"] in {"warning", "critical"} and r["annotations"]["summary"]
