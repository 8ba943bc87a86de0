import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import orjson
from typer.testing import CliRunner

from aurora import native
from auroractl.main import app

OPS = "opstok-StartApi-Wq3Er6Ty9Ui2Op5As8Df1Gh4"
API = "apitok-StartApi-Zx7Cv3Bn"


def _env(project, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AURORA_", "OPS_TOKEN"))}
    env.update(AURORA_ROOT=str(project), NO_COLOR="1", OPS_TOKEN=OPS, AURORA_API_TOKEN=API, **extra)
    return env


def test_runs_in_foreground_and_stops_gracefully_on_sigterm(project):
    session = project / "logs" / "s1"
    proc = subprocess.Popen(
        [sys.executable, "-m", "auroractl", "start-api", "--port", "0", "--session", str(session)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(project), cwd=project,
    )  # fmt: skip
    try:
        line = proc.stdout.readline().decode()
        assert "gate listening on http://127.0.0.1:" in line and "mode development" in line, line
        url = line.split(" ")[3]
        health = httpx.get(f"{url}/health", timeout=15).json()
        assert health["status"] == "ok" and health["armed"] is True
        r = httpx.post(f"{url}/ops/cooloff/3", headers={"X-OPS-TOKEN": OPS}, timeout=15)
        assert r.status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err.decode()
    assert "gate stopped on SIGTERM" in out.decode()
    assert "Traceback" not in err.decode()
    records = [orjson.loads(x) for x in (session / "aurora_events.jsonl").read_bytes().splitlines()]
    codes = [r["event_code"] for r in records]
    assert codes[0] == "AURORA.START" and codes[-1] == "AURORA.STOP" and "OPS.COOLOFF" in codes
    # the start says which decision path runs (aurora/native.py): compiled when the build matches the sources
    start = records[0]["details"]
    assert start["decision_path"] == ("compiled" if native.stale_reason() is None else "interpreted"), start
    assert start["decision_path_reason"]


def test_the_announced_url_accepts_a_connection_at_once(project):
    """Started several times, the gate answers the instant it prints its URL (no retry, no sleep)."""
    for i in range(5):
        proc = subprocess.Popen(
            [sys.executable, "-m", "auroractl", "start-api", "--port", "0", "--session", str(project / "logs" / f"r{i}")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(project), cwd=project,
        )  # fmt: skip
        try:
            line = proc.stdout.readline().decode()
            assert line.startswith("gate listening on http://127.0.0.1:"), proc.stderr.read().decode()
            port = int(line.split(" ")[3].rsplit(":", 1)[1])
            with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:  # refused = announced too early
                conn.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                assert conn.recv(64).startswith(b"HTTP/1.1 200"), i
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=15)
        assert proc.returncode == 0


def test_sighup_reloads_the_config(project):
    session = project / "logs" / "s2"
    proc = subprocess.Popen(
        [sys.executable, "-m", "auroractl", "start-api", "--port", "0", "--session", str(session)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(project), cwd=project,
    )  # fmt: skip
    try:
        url = proc.stdout.readline().decode().split(" ")[3]
        before = httpx.get(f"{url}/health", timeout=15).json()["config_version"]
        base = project / "configs" / "aurora" / "development.yaml"
        base.write_text(base.read_text() + "\nrisk:\n  pi_min_bps: 7.5\n")
        proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 5
        after = before
        while after == before and time.monotonic() < deadline:
            time.sleep(0.05)
            after = httpx.get(f"{url}/health", timeout=15).json()["config_version"]
        assert after != before
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0 and "gate stopped on SIGINT" in out.decode()
    events = [orjson.loads(x) for x in (session / "aurora_events.jsonl").read_bytes().splitlines()]
    (sw,) = [e for e in events if e["event_code"] == "CONFIG.SWITCHED"]
    assert sw["details"]["config_version"] == after


def test_production_refuses_placeholder_tokens_cleanly(project, clean_env):
    clean_env.setenv("OPS_TOKEN", "changeme")
    clean_env.setenv("AURORA_API_TOKEN", "apitok-Short-Prod-1234")
    result = CliRunner().invoke(app, ["start-api", "--mode", "production", "--port", "0"])
    assert result.exit_code == 2
    text = result.output
    assert "security.ops_token" in text and "placeholder" in text
    assert "changeme" not in text and "Traceback" not in text


def test_bad_mode_is_exit_2(project):
    result = CliRunner().invoke(app, ["start-api", "--mode", "staging", "--port", "0"])
    assert result.exit_code == 2 and "unknown mode" in result.output


def test_port_in_use_is_exit_2(project):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    try:
        port = s.getsockname()[1]
        result = CliRunner().invoke(app, ["start-api", "--port", str(port), "--session", str(project / "logs/x")])
    finally:
        s.close()
    assert result.exit_code == 2 and "already in use" in result.output
