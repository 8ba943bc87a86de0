"""``auroractl run-runner``: bad input exits 2 with a clear message; end to end against the real gate."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
import pytest
from typer.testing import CliRunner

from auroractl.main import app

TERMINAL = {"ORDER.FILL", "ORDER.CANCEL.ACK", "ORDER.REJECT", "ORDER.EXPIRE"}


#: outside development the gate refuses to start without a trading token
E2E_API_TOKEN = "apitok-RunRunner-Mx4Nb7Vc"


def invoke(*args: str):  # noqa: ANN201
    return CliRunner().invoke(app, ["run-runner", *args], env={"NO_COLOR": "1", "AURORA_API_TOKEN": E2E_API_TOKEN})


def test_unknown_config_key_exits_2_naming_file_and_key(project: Path) -> None:
    bad = project / "bad_runner.yaml"
    bad.write_text("strategy:\n  tp_bps: 12\n  tp_bsp: 3\n")
    r = invoke("--runner-config", str(bad), "--duration", "1")
    assert r.exit_code == 2
    assert "bad_runner.yaml" in r.output and "strategy.tp_bsp" in r.output and "unknown key" in r.output
    assert "Traceback" not in r.output


def test_bad_values_and_missing_files_exit_2(project: Path) -> None:
    r = invoke("--runner-config", "no_such_config")
    assert r.exit_code == 2 and "no_such_config" in r.output
    bad = project / "neg.yaml"
    bad.write_text("strategy:\n  tp_bps: -1\n")
    r = invoke("--runner-config", str(bad))
    assert r.exit_code == 2 and "strategy.tp_bps" in r.output
    missing = project / "replay.yaml"
    missing.write_text(f"feed:\n  source: replay:{project / 'nope.jsonl'}\n")
    r = invoke("--runner-config", str(missing), "--session", str(project / "s"))
    assert r.exit_code == 2 and "recording not found" in r.output and "nope.jsonl" in r.output
    r = invoke("--venue", "live", "--session", str(project / "s"))
    assert r.exit_code == 2 and "--i-understand-live" in r.output
    r = invoke("--group", "nosuchgroup", "--session", str(project / "s"))
    assert r.exit_code == 2 and "nosuchgroup" in r.output
    assert "Traceback" not in r.output


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read(path: Path) -> list[dict]:
    return [orjson.loads(x) for x in path.read_bytes().splitlines() if x.strip()]


def start_gate(project: Path, session: Path, *extra: str,
               env_extra: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    """``auroractl start-api --mode testnet`` as a child process on a free port, once ``/health`` answers."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AURORA_", "OPS_TOKEN", "TRAP_GUARD", "TRADING_"))}
    env.update({"AURORA_ROOT": str(project), "NO_COLOR": "1", "AURORA_API_TOKEN": E2E_API_TOKEN, **(env_extra or {})})
    proc = subprocess.Popen(
        [sys.executable, "-m", "auroractl", "start-api", "--mode", "testnet", "--port", str(port),
         "--session", str(session), *extra],
        cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(url + "/health", timeout=1.0).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            out = proc.stdout.read().decode() if proc.stdout else ""
            proc.kill()
            pytest.fail(f"the gate did not start: {out}")
        time.sleep(0.1)


def stop_gate(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def gate(project: Path):  # noqa: ANN201
    """``auroractl start-api --mode testnet`` as a child process on a free port."""
    session = project / "logs" / "e2e"
    proc, url = start_gate(project, session)
    yield url, session
    stop_gate(proc)


def test_end_to_end_paper_run_against_the_real_gate(gate, project: Path) -> None:  # noqa: ANN001
    url, session = gate
    busy = Path(__file__).resolve().parents[1] / "fixtures" / "e2e_busy_overlay.yaml"
    r = invoke("--venue", "paper", "--duration", "20", "--gate-url", url, "--session", str(session),
               "--overlay", str(busy))  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "gate decisions" in r.output and "tick → gate request" in r.output
    summary = orjson.loads((session / "runner_summary.json").read_bytes())
    events = read(session / "aurora_events.jsonl")  # the gate's log: decisions and lifecycle

    decisions = [e for e in events if e["event_code"] == "POLICY_DECISION"]
    allowed = {e["cid"] for e in decisions if e["details"]["allow"]}
    denied = [e for e in decisions if not e["details"]["allow"]]
    # 20 s of wall time holds more or fewer ideas depending on the machine's load: assert on what
    # happened (the runner's tally agrees with the gate's records), not on seeing a deny.
    assert allowed, "the chain needs at least one allowed decision"
    assert summary["gate"]["denied"] == len(denied)
    assert summary["gate"]["allowed"] == len(decisions) - len(denied)

    lifecycle: dict[str, list[str]] = {}
    for e in events:
        if e["event_code"].startswith("ORDER.") and e.get("cid", "").startswith("ws-"):
            lifecycle.setdefault(e["cid"], []).append(e["event_code"])
    submitted = {cid for cid, codes in lifecycle.items() if "ORDER.SUBMIT" in codes}
    # Every order sent to the venue has a matching allow decision (joined on the client order id).
    assert submitted and submitted <= allowed
    assert len(submitted) == summary["gate"]["orders_sent"] == summary["venue"]["sent"]
    # Fills happened, and every order's history is complete: it starts with SUBMIT and ends terminal.
    assert any("ORDER.FILL" in codes for codes in lifecycle.values())
    for cid, codes in lifecycle.items():
        assert codes[0] == "ORDER.SUBMIT", (cid, codes)
        assert codes[-1] in TERMINAL, (cid, codes)
    assert read(session / "orders_success.jsonl")
    closing = [e for e in events if e["event_code"] == "ORDER.FILL" and "realized_pnl_bps" in e["details"]]
    assert closing and all("entry_p_win" in e["details"] for e in closing)

    xai = read(session / "runner_events.jsonl")
    codes = [e["event_code"] for e in xai]
    assert codes[0] == "RUNNER.START" and codes[-1] == "RUNNER.STOP"
    assert {"MODEL", "ENR_GATE", "PARENT_GATE"} <= set(codes)
    assert not any(c.startswith("ORDER.") for c in codes)  # the gate is the system of record
    # The XAI chain joins the decision: each allowed entry's cid has its MODEL record (exits have no XAI
    # records; their fills, like the entries', have markouts).
    models = {e["cid"] for e in xai if e["event_code"] == "MODEL"}
    entries = {cid for cid in submitted if any(e.get("cid") == cid and e["event_code"] != "RUNNER.MARKOUT"
                                               for e in xai)}  # fmt: skip
    assert entries and entries <= models
    marked = {e["cid"] for e in xai if e["event_code"] == "RUNNER.MARKOUT"}
    assert marked <= submitted
    assert summary["anomalies"] == {} and summary["gate"]["client_spooled"] == 0


def test_a_replay_that_cannot_close_exits_1_and_prints_the_open_position(project: Path) -> None:
    from tests.runner.gate_stub import GateStub

    rec = project / "sol.jsonl"
    r = CliRunner().invoke(app, ["feed", "record", "--source", "synthetic", "--out", str(rec), "--duration", "8s",
                                 "--symbols", "SOLUSDT"], env={"NO_COLOR": "1"})
    assert r.exit_code == 0, r.output
    cfg = project / "trader.yaml"
    cfg.write_text(
        "runner: {mode: paper, wind_down_s: 1.0}\n"
        "symbols: [{symbol: SOLUSDT, qty: 1.0}]\n"
        "strategy: {score_threshold: 0.1, enr_threshold_bps: -100.0, cooldown_ms: 100, warmup_s: 0.3,\n"
        "           tp_bps: 3.0, sl_bps: 3.0, max_hold_s: 1.0, order_ttl_s: 0.5}\n"
        "gate: {timeout_ms: 500, flush_timeout_s: 2.0}\n"
    )
    stub = GateStub().start()
    stub.deny_reduce_only = True  # every exit is refused: the position cannot be closed
    try:
        r = invoke("--runner-config", str(cfg), "--gate-url", stub.url, "--feed", f"replay:{rec}", "--speed", "max",
                   "--session", str(project / "s"))
    finally:
        stub.stop()
    assert r.exit_code == 1, r.output
    assert "positions open" in r.output and "SOLUSDT qty" in r.output and "mark PnL" in r.output
    summary = orjson.loads((project / "s" / "runner_summary.json").read_bytes())
    assert summary["open_positions"][0]["symbol"] == "SOLUSDT"


def test_feed_speed_and_symbols_options_are_validated(project: Path) -> None:
    r = invoke("--speed", "fast", "--session", str(project / "s"))
    assert r.exit_code == 2 and "--speed" in r.output
    r = invoke("--symbols", "DOGEUSDT", "--session", str(project / "s"))
    assert r.exit_code == 2 and "DOGEUSDT" in r.output
    r = invoke("--feed", "kraken", "--session", str(project / "s"))
    assert r.exit_code == 2 and "feed.source" in r.output
    assert "Traceback" not in r.output


def test_the_explore_ratio_is_a_share_strictly_between_0_and_1(project: Path) -> None:
    for bad in ("0", "1"):
        r = invoke("--explore-ratio", bad, "--session", str(project / "s"))
        assert r.exit_code == 2 and "--explore-ratio: expected a share between 0 and 1 (exclusive)" in r.output
    r = invoke("--explore-ratio", "1.5", "--session", str(project / "s"))
    assert r.exit_code == 2 and "--explore-ratio" in r.output and "Traceback" not in r.output


def test_unknown_instruments_are_refused_and_sizes_are_qty_or_notional(project: Path) -> None:
    rec = project / "x.jsonl"
    rec.write_text('{"recv_ts_ns":1723161255000000000,"stream":"dogeusdt@bookTicker","data":{"e":"bookTicker",'
                   '"u":1,"s":"DOGEUSDT","b":"0.1","B":"1","a":"0.2","A":"1","T":1,"E":1}}\n')
    cfg = project / "doge.yaml"
    cfg.write_text("symbols: [{symbol: DOGEUSDT, notional_usd: 100}]\n")
    r = invoke("--runner-config", str(cfg), "--feed", f"replay:{rec}", "--session", str(project / "s"))
    assert r.exit_code == 2 and "DOGEUSDT" in r.output and "symbols[].tick" in r.output
    cfg.write_text("symbols: [{symbol: BTCUSDT, qty: 0.01, notional_usd: 100}]\n")
    r = invoke("--runner-config", str(cfg), "--session", str(project / "s"))
    assert r.exit_code == 2 and "qty or notional_usd" in r.output
    assert "Traceback" not in r.output

    from runner.app import plan_symbols
    from runner.config import RunnerConfig

    plans = {p.symbol: p for p in plan_symbols(RunnerConfig.model_validate(
        {"feed": {"source": f"replay:{rec}"},
         "symbols": [{"symbol": "BTCUSDT", "notional_usd": 1000}, {"symbol": "ETHUSDT", "qty": 0.5},
                     {"symbol": "DOGEUSDT", "notional_usd": 100, "tick": 0.00001, "lot": 1}]}), None)}
    assert plans["BTCUSDT"].entry_qty(61_800.0) == 0.016  # 1000 / 61800 = 0.01618, down to the 0.001 lot
    assert plans["ETHUSDT"].entry_qty(2_600.0) == 0.5
    assert plans["DOGEUSDT"].entry_qty(0.1) == 1000 and plans["BTCUSDT"].entry_qty(2e6) == 0.0
