"""Prometheus rules: promtool check + unit tests, every alert tested both ways, per-gate labels, and only
metric names the gate exposes."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from aurora.metrics import GateMetrics
from runner.metrics import METRICS as RUNNER_METRICS

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
RULES = DEPLOY / "prometheus" / "aurora_rules.yml"
#: promtool unit tests: minute-scale cases (evaluated every minute) and seconds-scale ones (every 5 s)
RULES_TESTS = [
    DEPLOY / "prometheus" / "aurora_rules_test.yml",
    DEPLOY / "prometheus" / "aurora_rules_availability_test.yml",
    DEPLOY / "prometheus" / "aurora_rules_runner_test.yml",
]
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool not on PATH (Debian package: prometheus; apt-get install prometheus)"
)
ALERTS = {
    "AuroraGateDown", "AuroraGateNotScraped", "AuroraGateMetricsMissing", "AuroraRunnerDown",
    "AuroraDecisionsStopped", "AuroraConversionLow", "AuroraRejectSpike", "AuroraKillSwitchTripped",
    "AuroraHalted", "AuroraReducing", "AuroraGuardErrors", "AuroraWriteFailed", "AuroraAuthFailureBurst",
    "AuroraRunnerMetricsMissing", "AuroraRunnerBookUntrusted", "AuroraRunnerFeedSilent",
    "AuroraRunnerGateUnreachable", "AuroraRunnerGateRefused",
}  # fmt: skip


def gate_metric_names() -> set[str]:
    """What a gate and a runner expose (runner/metrics.py lists its families by name)."""
    names = set(RUNNER_METRICS)
    for family in GateMetrics().registry.collect():
        names.add(family.name + ("_total" if family.type == "counter" else ""))
        names.update(s.name for s in family.samples)
    return names


def metric_names(expr: str) -> set[str]:
    return {m for m in re.findall(r"\b(aurora_[a-z0-9_]+)\b", expr)}


def rules() -> list[dict]:
    doc = yaml.safe_load(RULES.read_text())
    return [r for g in doc["groups"] for r in g["rules"]]


@needs_promtool
def test_promtool_check_and_unit_tests_pass():
    check = subprocess.run(
        [PROMTOOL, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60
    )
    assert check.returncode == 0, check.stdout + check.stderr
    test = subprocess.run(
        [PROMTOOL, "test", "rules", *(t.name for t in RULES_TESTS)],
        cwd=RULES.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert test.returncode == 0, test.stdout + test.stderr
    assert test.stdout.count("SUCCESS") == len(RULES_TESTS)


def promtool_cases() -> list[dict]:
    return [t for f in RULES_TESTS for t in yaml.safe_load(f.read_text())["tests"]]


def test_every_alert_has_a_firing_and_a_quiet_promtool_case():
    cases = [c for t in promtool_cases() for c in t.get("alert_rule_test", [])]
    fires = {c["alertname"] for c in cases if c.get("exp_alerts")}
    quiet = {c["alertname"] for c in cases if not c.get("exp_alerts")}
    assert fires == ALERTS, f"no firing case: {sorted(ALERTS - fires)}"
    assert quiet == ALERTS, f"no quiet case: {sorted(ALERTS - quiet)}"


def test_the_stopped_gate_case_takes_up_from_1_to_0():
    """The case the issue asked for: a gate that stops answering (up goes 1 -> 0) fires AuroraGateDown."""
    case = next(
        t for t in promtool_cases()
        if any(c["alertname"] == "AuroraGateDown" and c.get("exp_alerts") for c in t.get("alert_rule_test", []))
    )  # fmt: skip
    up = next(s for s in case["input_series"] if s["series"].startswith('up{job="aurora-gate"'))
    assert up["values"].split()[:2] == ["1x11", "0x11"]


def test_rules_cover_the_seed_queries_with_known_metrics():
    rs = rules()
    assert {r["alert"] for r in rs if "alert" in r} == ALERTS
    records = {r["record"]: r["expr"] for r in rs if "record" in r}
    conv = records["aurora:conversion:ratio10m"]
    assert (
        "[10m] +" not in conv and "rate(aurora_orders_success_total[10m])" in conv
    )  # not the seed's invalid form
    assert 'code="ORDER.REJECT"' in records["aurora:order_rejects:increase5m"]
    known = gate_metric_names()
    used = set().union(*(metric_names(r["expr"]) for r in rs))
    assert used and used <= known, f"unknown metric names: {sorted(used - known)}"
    # the metrics the issue found in no rule
    assert {"aurora_decisions_total", "aurora_guard_errors_total", "aurora_trading_state"} <= used
    for r in rs:
        if "alert" in r:
            assert r["labels"]["severity"] in {"warning", "critical"} and r["annotations"]["summary"]


def test_rules_never_merge_gates():
    """Aggregations keep job and instance, so a testnet and a production gate stay apart."""
    for r in rules():
        expr = r["expr"]
        for m in re.finditer(r"\b(sum|max|min|avg|count)\s*(by\s*\(([^)]*)\))?\s*\(", expr):
            if m.group(1) == "count" and "aurora-runner" in expr[m.end() : m.end() + 40]:
                continue  # "is any runner up" is about all runners on purpose
            by = {x.strip() for x in (m.group(3) or "").split(",")}
            assert {"job", "instance"} <= by, f"{r.get('record') or r.get('alert')}: {m.group(0)}"


def test_auth_failure_alert_ignores_the_metrics_scope():
    """A scraper with a wrong metrics token shows up as its target down, not as a never-ending auth alert."""
    records = {r["record"]: r["expr"] for r in rules() if "record" in r}
    assert 'scope!="metrics"' in records["aurora:ops_auth_fail:increase5m"]
