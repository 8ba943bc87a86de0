import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from auroractl.main import app

OPS = "opstok-OpsCli-Mn4Bv7Cx1Za8Sd5Fg2Hj6Kl9"
NEW = "opstok-OpsCli-rotated-Po9Iu6Yt3Re1Wq4Ea7Sd2F"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def gate(tmp_path_factory):
    session = tmp_path_factory.mktemp("ops-session")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AURORA_", "OPS_TOKEN"))}
    env.update(AURORA_ROOT=str(REPO), NO_COLOR="1", OPS_TOKEN=OPS)
    proc = subprocess.Popen(
        [sys.executable, "-m", "auroractl", "start-api", "--port", "0", "--mode", "development",
         "--session", str(session), "--state-dir", str(session / "state")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=session,
    )  # fmt: skip
    url = proc.stdout.readline().decode().split(" ")[3]
    deadline = time.monotonic() + 10
    while True:  # the URL is printed just before uvicorn accepts connections
        try:
            httpx.get(f"{url}/health", timeout=5)
            break
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)
    yield url, session
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=15)


def ops(args, token=OPS, **env):
    base = {"NO_COLOR": "1", "OPS_TOKEN": token, "AURORA_ROOT": str(REPO)}
    base.update(env)
    return CliRunner().invoke(app, ["ops", *args], env=base)


def test_status_table_and_json(gate):
    url, _ = gate
    r = ops(["status", "--url", url])
    assert r.exit_code == 0, r.output
    assert "armed" in r.output and "health" in r.output and "OK" in r.output
    assert re.search(r"│ armed +│ yes +│", r.output) and re.search(r"│ halted +│ no +│", r.output)
    assert "True" not in r.output and "False" not in r.output
    data = json.loads(ops(["status", "--url", url, "--json"]).output)
    assert data["armed"] is True and data["mode"] == "development"
    assert OPS not in r.output


def test_cooloff_reset_disarm_arm_sequence(gate):
    url, _ = gate
    r = ops(["cooloff", "60", "--url", url, "--json"])
    assert r.exit_code == 0 and json.loads(r.output)["health_state"] == "COOL_OFF"
    r = ops(["reset", "--url", url])
    assert r.exit_code == 0 and "gate reset" in r.output
    assert json.loads(ops(["disarm", "--url", url, "--json"]).output)["armed"] is False
    assert json.loads(ops(["arm", "--url", url, "--json"]).output)["armed"] is True
    assert ops(["cooloff", "0", "--url", url]).exit_code == 2  # out of range: usage error


def test_reload(gate):
    url, session = gate
    r = ops(["reload", "--url", url])
    assert r.exit_code == 0 and "config reloaded: development" in r.output
    codes = [json.loads(x)["event_code"] for x in (session / "aurora_events.jsonl").read_text().splitlines()]
    assert "CONFIG.SWITCHED" in codes


def test_wrong_token_and_unreachable_gate(gate):
    url, _ = gate
    r = ops(["status", "--url", url], token="opstok-wrong-Aq1Sw2De3Fr4Gt5Hy6Ju7Ki8")
    assert r.exit_code == 1 and "refused the ops token (401)" in r.output
    assert "opstok-wrong" not in r.output
    r = ops(["status", "--url", "http://127.0.0.1:9", "--timeout", "0.5"])
    assert r.exit_code == 1 and "cannot reach the gate at http://127.0.0.1:9" in r.output


def test_missing_token_is_usage_error(gate, tmp_path):
    url, _ = gate
    r = CliRunner().invoke(app, ["ops", "status", "--url", url], env={"NO_COLOR": "1", "OPS_TOKEN": "",
                                                                     "AURORA_ROOT": str(tmp_path)})  # fmt: skip
    assert r.exit_code == 2 and "no ops token" in r.output


def test_rotate_token_never_prints_it_and_old_fails(gate, tmp_path, test_secrets):
    url, _ = gate
    r = ops(["rotate-token", "--url", url], NEW_OPS_TOKEN="short")
    assert r.exit_code == 2 and "too short" in r.output
    r = ops(["rotate-token", "--url", url], NEW_OPS_TOKEN=NEW)
    assert r.exit_code == 0 and "ops token rotated" in r.output and NEW not in r.output
    assert ops(["status", "--url", url]).exit_code == 1  # the old token fails at once
    target = tmp_path / "tok"
    r = ops(["rotate-token", "--url", url, "--generate-to", str(target)], token=NEW)
    assert r.exit_code == 0, r.output
    generated = target.read_text().strip()
    test_secrets.add(generated)
    assert len(generated) >= 32 and generated not in r.output and (target.stat().st_mode & 0o777) == 0o600
    assert ops(["status", "--url", url], token=generated).exit_code == 0
    # put the module's token back for the other tests
    assert ops(["rotate-token", "--url", url], token=generated, NEW_OPS_TOKEN=OPS).exit_code == 0


def test_help_has_examples():
    r = CliRunner().invoke(app, ["ops", "rotate-token", "--help"], env={"NO_COLOR": "1"})
    assert r.exit_code == 0 and "--generate-to" in r.output and "Examples" in r.output


def test_kill_and_halt_cancel_all_then_resume_and_arm(gate):
    url, session = gate
    r = ops(["halt", "--cancel-all", "--reason", "drill", "--url", url])
    assert r.exit_code == 0 and "runners cancel every resting order" in r.output, r.output
    assert re.search(r"│ trading state +│ HALTED +│", r.output)
    r = ops(["kill", "--url", url, "--json"])
    data = json.loads(r.output)
    assert data["trading_state"] == "HALTED" and data["armed"] is False and data["ops_halt"]["cancel_all"] is True
    assert ops(["resume", "--url", url]).exit_code == 0
    r = ops(["arm", "--url", url])
    assert re.search(r"│ trading state +│ ACTIVE +│", r.output), r.output
