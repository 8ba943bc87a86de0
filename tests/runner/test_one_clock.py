"""One clock in a replay: the shared BTC recording against a real gate on the request clock.

The gate is the real app (``create_app(..., clock="request")``) under uvicorn on a free port, with a
fresh state dir per run and the testnet config. Only its edge guards are relaxed (no fees, no
expected-return floor, no SPRT): with the shipped calibration, fitted elsewhere, they deny every idea
on BTC, and a replay that trades nothing proves nothing. Everything the two clocks used to disagree
on stays as shipped: throttle, duplicates, reservations, ack TTL, deadlines, kill-switch, verified
reduce-only.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from aurora.api import create_app
from aurora.config.loader import load_aurora, load_runner
from runner.app import Runner, RunnerError
from runner.config import RunnerConfig
from tests.aurora.api.conftest import API_TOKEN, OPS_TOKEN, LiveGate, read_records
from tests.runner.gate_stub import GateStub

EDGE_RELAXED = {"risk": {"pi_min_bps": -100.0, "fees_bps": 0.0}, "sprt": {"enabled": False}}


def start_gate(project: Path, where: Path, clock: str = "request") -> LiveGate:
    overlay = where / "gate_overlay.yaml"
    where.mkdir(parents=True, exist_ok=True)
    overlay.write_text(yaml.safe_dump(EDGE_RELAXED))
    environ = {"AURORA_ROOT": str(project), "AURORA_API_TOKEN": API_TOKEN, "OPS_TOKEN": OPS_TOKEN,
               "AURORA_CONFIG": str(overlay)}
    app = create_app(load_aurora("testnet", environ=environ, root=project), where / "gate", run_id="one-clock",
                     handle_sighup=False, clock=clock, state_dir=where / "state")  # type: ignore[arg-type]
    return LiveGate(app, where / "gate").start()


def btc_config(project: Path, replay: Path, speed: float | None) -> RunnerConfig:
    data = load_runner(RunnerConfig, profile="base", environ={"AURORA_ROOT": str(project)}, root=project)
    cfg = data.config.model_dump()
    cfg["symbols"] = [s for s in cfg["symbols"] if s["symbol"] == "BTCUSDT"]
    cfg["feed"].update(source=f"replay:{replay}", realtime=speed is not None, speed=speed or 1.0)
    cfg["strategy"]["enr_threshold_bps"] = -100.0  # the runner's own ENR bar: let its ideas reach the gate
    return RunnerConfig.model_validate(cfg)


def replay_once(project: Path, replay: Path, where: Path, speed: float | None) -> dict[str, Any]:
    gate = start_gate(project, where)
    try:
        runner = Runner(btc_config(project, replay, speed), session_dir=where / "runner", gate_url=gate.url,
                        api_token=API_TOKEN, environ={}, run_id="one-clock-btc")
        summary = asyncio.run(runner.run())
    finally:
        gate.stop()
    decisions = [(d["cid"], d["details"]["allow"], d["details"]["reason"]) for d in gate.events("POLICY_DECISION")]
    orders = [(e["cid"], e["side"], e["qty"], e["details"].get("price"), e["details"]["order_type"],
               e["details"]["reduce_only"]) for e in gate.events("ORDER.SUBMIT")]
    fills = [(e["cid"], e["event_code"], e["ts_ns"], e["details"].get("fill_qty"), e["details"].get("fill_price"))
             for e in gate.events() if e["event_code"] in ("ORDER.FILL", "ORDER.PARTIAL")]
    gate_events = Counter(e["event_code"] for e in gate.events())
    marks = [(e["cid"], e["ts_ns"], e["details"]) for e in read_records(where / "runner", "runner_events")[0]
             if e["event_code"] == "RUNNER.MARKOUT"]
    return {"decisions": decisions, "orders": orders, "fills": fills, "summary": summary, "gate": gate_events,
            "markouts": marks}


def test_the_btc_recording_decides_the_same_at_8x_and_at_full_speed_against_a_real_gate(
    btc_replay_head: Path, project: Path, tmp_path: Path
) -> None:
    # the first three minutes of the recording: paced at 8x they take ~22 s of the suite's budget
    fast = replay_once(project, btc_replay_head, tmp_path / "max", None)
    paced = replay_once(project, btc_replay_head, tmp_path / "x8", 8.0)
    reasons = Counter(r for _, _, r in fast["decisions"])
    assert len(fast["orders"]) >= 10 and len(fast["fills"]) >= 5, reasons
    assert any(ro for *_, ro in fast["orders"]), "no exit was placed"
    # What two clocks used to deny: exits whose fills the gate had not seen, duplicates, expiries.
    assert not set(reasons) & {"RISK_REDUCE_ONLY_INVALID", "RISK_DUPLICATE", "REQUEST_EXPIRED", "KILL_SWITCH",
                               "GUARD_ERROR"}, reasons
    assert fast["gate"]["ORDER.EXPIRE"] == fast["summary"]["venue"]["expired"]  # only the venue's own GTD expiries
    assert paced["decisions"] == fast["decisions"]
    assert paced["orders"] == fast["orders"]
    assert paced["fills"] == fast["fills"]
    assert paced["markouts"] == fast["markouts"] and fast["markouts"]  # horizons on the one clock too
    for run in (fast, paced):
        assert run["summary"]["open_positions"] == [] and run["summary"]["gate"]["client_drain_timeouts"] == 0


def refusal(project: Path, replay: Path, tmp_path: Path, gate: LiveGate) -> str:
    """Why the runner refused to start a replay against ``gate`` (stopped afterwards)."""
    try:
        runner = Runner(btc_config(project, replay, None), session_dir=tmp_path / "runner", gate_url=gate.url,
                        api_token=API_TOKEN, environ={})
        with pytest.raises(RunnerError) as err:
            asyncio.run(runner.run())
    finally:
        gate.stop()
    return str(err.value)


def test_a_replay_refuses_a_gate_on_wall_time(btc_replay: Path, project: Path, tmp_path: Path) -> None:
    gate = start_gate(project, tmp_path, clock="system")
    assert re.search("system clock.*--clock request", refusal(project, btc_replay, tmp_path, gate))
    assert gate.events("POLICY_DECISION") == []  # refused before a single check


def test_a_replay_refuses_a_gate_whose_request_clock_is_past_the_recording(
    btc_replay: Path, project: Path, tmp_path: Path
) -> None:
    """State left by a later replay: the gate's clock is ahead, every early check would expire."""
    gate = start_gate(project, tmp_path)
    gate.post("/posttrade/log", {"event_code": "ORDER.SUBMIT", "ts_ns": 1_900_000_000 * 10**9, "cid": "old-1",
                                 "symbol": "BTCUSDT", "side": "buy", "qty": 0.01, "details": {}})
    assert re.search("after this recording starts.*--fresh-state", refusal(project, btc_replay, tmp_path, gate))


def test_a_replay_needs_its_gate_up_at_the_start(btc_replay: Path, project: Path, tmp_path: Path) -> None:
    stub = GateStub().start()
    url = stub.url
    stub.stop()
    runner = Runner(btc_config(project, btc_replay, None), session_dir=tmp_path, gate_url=url, environ={})
    with pytest.raises(RunnerError, match="does not answer /health"):
        asyncio.run(runner.run())
