"""The shipped Alertmanager config: `amtool check-config` passes, every alert reaches the webhook
receiver (critical ones on their own route), and the inhibitions name alerts that exist."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.deploy.test_prometheus_rules import ALERTS

CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "alertmanager" / "alertmanager.yml"
AMTOOL = shutil.which("amtool")
needs_amtool = pytest.mark.skipif(
    AMTOOL is None, reason="amtool not on PATH (Debian package: prometheus-alertmanager)"
)


@needs_amtool
def test_amtool_check_config_passes() -> None:
    r = subprocess.run([AMTOOL, "check-config", str(CONFIG)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "SUCCESS" in r.stdout, r.stdout + r.stderr


@needs_amtool
@pytest.mark.parametrize("severity", ["critical", "warning"])
def test_alerts_route_to_the_webhook(severity: str) -> None:
    r = subprocess.run(
        [AMTOOL, "config", "routes", "test", f"--config.file={CONFIG}", "--verify.receivers=aurora-webhook",
         "alertname=AuroraGateDown", f"severity={severity}", "job=aurora-gate", "instance=127.0.0.1:8000"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr


def test_webhook_receiver_and_inhibitions_name_real_alerts() -> None:
    cfg = yaml.safe_load(CONFIG.read_text())
    (receiver,) = cfg["receivers"]
    assert (
        receiver["webhook_configs"][0]["url"].startswith("http")
        and receiver["webhook_configs"][0]["send_resolved"]
    )
    assert {"job", "instance"} <= set(cfg["route"]["group_by"])
    named = set()
    for rule in cfg["inhibit_rules"]:
        assert rule["equal"] == ["job", "instance"]  # one gate's trouble never silences another's
        for m in rule["source_matchers"] + rule["target_matchers"]:
            named |= set(m.split('"')[1].split("|"))
    assert named <= ALERTS, sorted(named - ALERTS)
