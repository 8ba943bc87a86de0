"""systemd units for the gate and a runner: `systemd-analyze verify` finds nothing to say, and they carry
the restart policy, state dir, environment file with the tokens, ordering, and options the CLI knows."""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SYSTEMD = Path(__file__).resolve().parents[2] / "deploy" / "systemd"
UNITS = ("aurora-gate.service", "aurora-runner@.service")
SHIPPED_BIN = "/opt/aurora/.venv/bin/auroractl"
ANALYZE = shutil.which("systemd-analyze")


def unit(name: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # systemd keys are case-sensitive
    # repeated keys (Environment=) are legal in systemd: keep the last, the test reads them from the text
    parser.read_string(re.sub(r"(?m)^(Environment|After|Wants)=.*\n", "", (SYSTEMD / name).read_text()))
    return parser


def lines(name: str, key: str) -> list[str]:
    return re.findall(rf"(?m)^{key}=(.*)$", (SYSTEMD / name).read_text())


def auroractl() -> Path:
    return Path(sys.executable).with_name("auroractl")


@pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze not on PATH (Debian package: systemd)")
@pytest.mark.parametrize("name", UNITS)
def test_systemd_analyze_verify_is_silent(name: str, tmp_path: Path) -> None:
    # verify checks that ExecStart's program exists: point it at this checkout's auroractl, nothing else changes
    text = (SYSTEMD / name).read_text()
    assert SHIPPED_BIN in text
    copy = tmp_path / name
    copy.write_text(text.replace(SHIPPED_BIN, str(auroractl())))
    r = subprocess.run([ANALYZE, "verify", str(copy)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "" and r.stderr.strip() == "", r.stdout + r.stderr


@pytest.mark.parametrize("name", UNITS)
def test_restart_policy_env_file_and_hardening(name: str) -> None:
    svc = unit(name)["Service"]
    assert svc["Restart"] == "on-failure" and svc["RestartPreventExitStatus"] == "2"
    assert lines(name, "EnvironmentFile")[0].startswith("/etc/aurora/") and svc["User"] == "aurora"
    assert svc["NoNewPrivileges"] == "yes" and svc["ProtectSystem"] == "strict"
    assert "network-online.target" in " ".join(lines(name, "After"))
    assert "AURORA_ROOT=/opt/aurora" in lines(name, "Environment")


def test_gate_unit_keeps_its_state_dir_and_reloads_on_sighup() -> None:
    svc = unit("aurora-gate.service")["Service"]
    assert "AURORA_STATE_DIR=/var/lib/aurora/gate" in lines("aurora-gate.service", "Environment")
    assert svc["StateDirectory"] == "aurora/gate"  # /var/lib/aurora/gate, created for the service user
    assert svc["ExecReload"] == "/bin/kill -HUP $MAINPID"


def test_runner_unit_follows_the_gate_without_dying_with_it() -> None:
    u = unit("aurora-runner@.service")
    assert "aurora-gate.service" in " ".join(lines("aurora-runner@.service", "After"))
    assert "aurora-gate.service" in " ".join(lines("aurora-runner@.service", "Wants"))
    assert "Requires" not in u["Unit"] and "BindsTo" not in u["Unit"]
    assert "--group %i" in u["Service"]["ExecStart"]
    # its /metrics on a fixed port per group (Prometheus lists it in aurora_runners.yml)
    assert "--metrics-port ${AURORA_RUNNER_METRICS_PORT}" in u["Service"]["ExecStart"]
    assert "AURORA_RUNNER_METRICS_PORT=9101" in lines("aurora-runner@.service", "Environment")
    assert lines("aurora-runner@.service", "EnvironmentFile")[-1] == "-/etc/aurora/runner-%i.env"
    # the stop budget covers the runner's wind-down and flush with the gate gone (5 s + 5 s by default)
    assert int(u["Service"]["TimeoutStopSec"]) >= 20


@pytest.mark.parametrize(("name", "command"), [(UNITS[0], "start-api"), (UNITS[1], "run-runner")])
def test_exec_start_uses_options_the_cli_has(name: str, command: str) -> None:
    exec_start = unit(name)["Service"]["ExecStart"].split()
    assert exec_start[:2] == [SHIPPED_BIN, command]
    help_text = subprocess.run(
        [str(auroractl()), command, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        # this checkout's CLI (PYTHONPATH, when set, points at it rather than the venv's install)
        env={"COLUMNS": "200", **{k: v for k, v in os.environ.items() if k == "PYTHONPATH"}},
    ).stdout
    for opt in (a for a in exec_start[2:] if a.startswith("--")):
        assert re.search(rf"\s{re.escape(opt)}\s", help_text), f"{command} has no {opt}"


@pytest.mark.parametrize("example", ["gate.env.example", "runner.env.example"])
def test_env_examples_hold_placeholders_only(example: str) -> None:
    values = dict(
        line.split("=", 1) for line in (SYSTEMD / example).read_text().splitlines() if line and line[0] != "#"
    )
    assert values and set(values.values()) == {"CHANGE_ME"}
    assert "AURORA_API_TOKEN" in values
