"""Durable risk state across `kill -9` of a real `auroractl start-api` process (issue 9)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
from typer.testing import CliRunner

from auroractl.main import app

OPS = "opstok-StateTest-Wq3Er6Ty9Ui2Op5As8Df1Gh"
NEW_OPS = "opstok-StateTest-rotated-Ae4Rt7Yu1Io3Pl6Kj9"
API = "apitok-StateTest-Zx7Cv3Bn"


def _env(project, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AURORA_", "OPS_TOKEN"))}
    env.update(AURORA_ROOT=str(project), NO_COLOR="1", OPS_TOKEN=OPS, AURORA_API_TOKEN=API, **extra)
    return env


def _start(project, session, state, mode="development", **env):
    proc = subprocess.Popen(
        [sys.executable, "-m", "auroractl", "start-api", "--port", "0", "--mode", mode, "--session", str(session),
         "--state-dir", str(state)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(project, **env), cwd=project,
    )  # fmt: skip
    line = proc.stdout.readline().decode()
    if "gate listening on" not in line:
        proc.kill()
        raise AssertionError(f"gate did not start: {line!r} {proc.stderr.read().decode()}")
    url = line.split(" ")[3]
    client = httpx.Client(base_url=url, timeout=15, headers={"X-API-TOKEN": API})
    deadline = time.monotonic() + 10
    while True:  # the URL is printed just before uvicorn accepts (issue 13): wait for the socket
        try:
            client.get("/health")
            break
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)
    return proc, client


def _event(client, code, cid, **kw):
    body = {"event_code": code, "ts_ns": time.time_ns(), "cid": cid, "account": kw.pop("account", "acc-1"), **kw}
    r = client.post("/posttrade/log", json=body)
    assert r.status_code == 200, r.text


def _check(client, cid, side="buy", qty=1.0, symbol="SOLUSDT", account="acc-1"):
    body = {"account": {"id": account},
            "order": {"cid": cid, "symbol": symbol, "side": side, "qty": qty, "price": 100.0},
            "market": {"best_bid": 100.0, "best_ask": 100.01, "bid_size": 50.0, "ask_size": 50.0, "spread_bps": 1.0,
                       "latency_ms": 5.0, "vol_std_bps": 10.0, "score": 2.5, "tp_bps": 20.0, "sl_bps": 10.0,
                       "l2_add_volumes": [5.0] * 5, "l2_cancel_volumes": [4.0] * 5}}  # fmt: skip
    r = client.post("/pretrade/check", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def _events(session):
    return [orjson.loads(x) for x in (session / "aurora_events.jsonl").read_bytes().splitlines()]


def test_everything_a_decision_depends_on_survives_kill_9(project):
    overlay = project / "configs" / "aurora" / "state_test.yaml"
    calibration = Path(__file__).resolve().parents[1] / "aurora" / "fixtures" / "gate_calibration.json"
    overlay.write_text("gates:\n  dd_day_pct_max: 5.0\nkillswitch:\n  window_trades: 20\n  min_outcomes: 10\n"
                       f"calibration:\n  path: {calibration}\n")  # fmt: skip
    state = project / "state"
    s1, s2 = project / "logs" / "s1", project / "logs" / "s2"
    proc, c = _start(project, s1, state, AURORA_CONFIG=str(overlay))
    try:
        _event(c, "ORDER.SUBMIT", "sol", symbol="SOLUSDT", side="buy", qty=2.0, details={"price": 100.0})
        _event(c, "ORDER.FILL", "sol", details={"fill_qty": 2.0, "fill_price": 100.0})
        _event(c, "ORDER.SUBMIT", "eth", symbol="ETHUSDT", side="buy", qty=1.0, details={"price": 100.0})
        _event(c, "ORDER.FILL", "eth", details={"fill_qty": 1.0, "realized_pnl_usd": -600.0})
        for i in range(12):  # acc-2's reject storm trips its kill-switch
            _event(c, "ORDER.SUBMIT", f"r{i}", account="acc-2", symbol="XRPUSDT", side="buy", qty=1.0)
            _event(c, "ORDER.REJECT", f"r{i}", account="acc-2", details={"reason": "MARGIN"})
        ops = {"X-OPS-TOKEN": OPS}
        assert c.post("/ops/cooloff/3600", headers=ops).status_code == 200
        assert c.post("/aurora/disarm", headers=ops).status_code == 200
        r = c.post("/ops/rotate_token", headers=ops, json={"new_token": NEW_OPS})
        assert r.status_code == 200
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert not any(OPS in x or NEW_OPS in x for x in (p.read_text(errors="replace") for p in state.iterdir() if p.is_file()))

    proc, c = _start(project, s2, state, AURORA_CONFIG=str(overlay))
    try:
        assert c.get("/ops/status", headers={"X-OPS-TOKEN": OPS}).status_code == 401  # rotated away
        st = c.get("/ops/status", headers={"X-OPS-TOKEN": NEW_OPS}).json()
        assert st["risk"]["positions"]["acc-1"] == {"SOLUSDT": 2.0, "ETHUSDT": 1.0}
        assert st["risk"]["pnl_today"]["acc-1"]["pnl_usd"] == -600.0
        assert st["health_state"] == "COOL_OFF" and st["cooloff_remaining_s"] > 3500
        assert st["armed"] is False and st["trading_state"] == "REDUCING"
        assert list(st["kill_switch"]["tripped"]) == ["acc-2"]
        (restored,) = [e for e in _events(s2) if e["event_code"] == "AURORA.STATE_RESTORED"]
        assert restored["details"]["journal_records"] > 0 and restored["details"]["armed"] is False
        # clearing the triggers does not clear the facts: the drawdown stop still holds
        ops = {"X-OPS-TOKEN": NEW_OPS}
        c.post("/aurora/arm", headers=ops)
        c.post("/ops/reset", headers=ops)
        assert _check(c, "new-buy", symbol="SOONUSDT")["reason"] == "RISK_DAILY_DD"
        closing = _check(c, "close-sol", side="sell", qty=2.0)
        assert closing["allow"] is True and closing["max_qty"] == 2.0
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err.decode()


def test_a_truncated_state_refuses_to_start_naming_the_file(project):
    state = project / "state"
    env = {"AURORA_CONFIG": ""}
    proc, c = _start(project, project / "logs" / "t1", state, mode="testnet", **env)
    try:
        _event(c, "ORDER.SUBMIT", "a", symbol="SOLUSDT", side="buy", qty=1.0)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    journal = state / "gate_state.journal.jsonl"
    data = journal.read_bytes()
    assert data
    journal.write_bytes(data[:-5])  # a record cut short (power loss, a bad disk)
    env = _env(project)
    result = CliRunner(env=env).invoke(app, ["start-api", "--mode", "testnet", "--port", "0", "--state-dir", str(state),
                                             "--session", str(project / "logs" / "t2")])  # fmt: skip
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "gate_state.journal.jsonl:1" in text and "torn" in text and "--fresh-state" in text
    assert "Traceback" not in result.output
    # starting fresh on purpose works, and keeps the old files
    from aurora.api import create_app
    from aurora.config.loader import load_aurora

    loaded = load_aurora("testnet", environ={"OPS_TOKEN": OPS, "AURORA_API_TOKEN": API}, root=project)
    gate_app = create_app(loaded, project / "logs" / "t3", state_dir=state, fresh_state=True)
    gate_app.gate.startup_events()
    gate_app.gate.close()
    (fresh,) = [e for e in _events(project / "logs" / "t3") if e["event_code"] == "AURORA.STATE_FRESH"]
    archived = fresh["details"]["archived_to"]
    assert (project / "state" / archived.rsplit("/", 1)[-1] / "gate_state.journal.jsonl").read_bytes() == data[:-5]
