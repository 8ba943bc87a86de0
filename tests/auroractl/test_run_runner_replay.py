"""``auroractl run-runner --feed replay:PATH`` against ``auroractl start-api --clock request`` (both real)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from auroractl.main import app
from tests.auroractl.test_run_runner import invoke, start_gate, stop_gate
from tests.runner.gate_stub import GateStub

# The shipped strategy (its TP/SL are what the shipped calibration was fitted for), with a lower bar so
# that ideas reach the gate within a short recording.
TRADER = (
    "runner: {mode: paper, wind_down_s: 1.0}\n"
    "symbols: [{symbol: SOLUSDT, qty: 1.0}]\n"
    "strategy: {score_threshold: 0.3, enr_threshold_bps: -20.0, max_hold_s: 3.0}\n"
)


@pytest.fixture
def recording(project: Path) -> Path:
    rec = project / "sol.jsonl"
    r = CliRunner().invoke(app, ["feed", "record", "--source", "synthetic", "--out", str(rec), "--duration", "30s",
                                 "--symbols", "SOLUSDT"], env={"NO_COLOR": "1"})
    assert r.exit_code == 0, r.output
    return rec


@pytest.fixture
def request_clock_gate(project: Path) -> Iterator[str]:
    proc, url = start_gate(project, project / "gate", "--state-dir", str(project / "state"), "--clock", "request",
                           "--fresh-state")
    yield url
    stop_gate(proc)


def test_a_replay_runs_against_a_gate_on_the_request_clock(request_clock_gate: str, recording: Path,
                                                           project: Path) -> None:
    cfg = project / "trader.yaml"
    cfg.write_text(TRADER)
    r = invoke("--runner-config", str(cfg), "--gate-url", request_clock_gate, "--feed", f"replay:{recording}",
               "--speed", "max", "--session", str(project / "s"))
    assert r.exit_code == 0, r.output
    decisions = [orjson.loads(x) for x in (project / "gate" / "aurora_events.jsonl").read_bytes().splitlines()
                 if b'"POLICY_DECISION"' in x]
    assert decisions and any(d["details"]["allow"] for d in decisions)
    # the recording's time, not the wall clock's: nothing expired, each check said how long it waits
    assert not any(d["details"]["reason"] == "REQUEST_EXPIRED" for d in decisions)
    first = orjson.loads(recording.read_bytes().splitlines()[0])["recv_ts_ns"]
    assert all(first <= d["details"]["request_ts_ns"] < first + 60 * 10**9 for d in decisions)


def test_a_replay_against_a_gate_on_wall_time_exits_2_saying_how_to_start_one(recording: Path,
                                                                              project: Path) -> None:
    stub = GateStub()
    stub.clock = "system"
    stub.start()
    try:
        r = invoke("--gate-url", stub.url, "--feed", f"replay:{recording}", "--speed", "max",
                   "--symbols", "SOLUSDT", "--session", str(project / "s"))
    finally:
        stub.stop()
    assert r.exit_code == 2, r.output
    assert "system clock" in r.output and "start-api --clock request" in r.output
    assert stub.checks == [] and "Traceback" not in r.output
