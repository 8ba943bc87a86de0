"""One-click on a recording (acceptance, issue 11): a recording with one symbol's snapshot removed. The gate
one-click starts runs on the request clock; the symbol without a snapshot places no order and is shown
unsynced in the proof (an incident), the other trades."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator

from oneclick.proof import load_proof_schema
from tests.runner.test_runner_books import record, write

RUNNER = {
    "runner": {"mode": "paper", "wind_down_s": 1.0},
    "symbols": [{"symbol": "SOLUSDT", "qty": 1.0}, {"symbol": "SOONUSDT", "qty": 10.0}],
    "strategy": {"score_threshold": 0.3, "enr_threshold_bps": -20.0, "max_hold_s": 3.0, "warmup_s": 0.5},
    "parent_gate": {"enabled": False},
}


def test_a_recording_without_one_symbols_snapshot(project: Path, tmp_path: Path) -> None:
    lines = record(tmp_path / "full.jsonl", ["SOLUSDT", "SOONUSDT"], seconds=30)
    rec = write(tmp_path / "no_soon_snapshot.jsonl", [x for x in lines if b'"soonusdt@depthSnapshot"' not in x])
    cfg = tmp_path / "replay.yaml"
    cfg.write_text(yaml.safe_dump({**RUNNER, "feed": {"source": f"replay:{rec}", "realtime": False}}))
    session = tmp_path / "session"
    env = {**os.environ, "NO_COLOR": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "auroractl", "one-click", "--mode", "testnet", "--port", "0", "--session", str(session),
         "--runner-config", str(cfg), "--duration", "60s", "--no-report"],
        cwd=project, env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    proof = json.loads((session / "full_e2e_proof.json").read_text())
    assert [e.message for e in Draft202012Validator(load_proof_schema()).iter_errors(proof)] == []
    assert done.returncode == 0 and proof["ok"], done.stdout + done.stderr
    unsynced = proof["incidents"]["unsynced_symbols"]
    assert [(u["symbol"], u["state"]) for u in unsynced] == [("SOONUSDT", "unsynced")], unsynced
    assert proof["incidents"]["open_positions"] == []
    summary = json.loads((session / "runner_summary-default.json").read_text())
    assert summary["books"]["SOLUSDT"]["state"] == "ok" and summary["gate"]["orders_sent"] > 0
    events = [json.loads(x) for x in (session / "aurora_events.jsonl").read_text().splitlines()]
    decided = {e["symbol"] for e in events if e["event_code"] == "POLICY_DECISION"}
    assert decided == {"SOLUSDT"}  # nothing was even asked for the symbol without a book
    assert not any(e["event_code"] == "POLICY_DECISION" and e["details"]["reason"] == "REQUEST_EXPIRED"
                   for e in events)  # the gate ran on the recording's clock
    xai = [json.loads(x) for path in session.glob("runner_events*.jsonl") for x in path.read_text().splitlines()]
    assert any(e["event_code"] == "RUNNER.BOOK_UNSYNCED" and e.get("symbol") == "SOONUSDT" for e in xai)
