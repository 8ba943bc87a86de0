"""Item 10: with the gate down, ``run-runner`` stops within one-click's grace period, spooling what the
gate did not get; the next start delivers the spool. Real processes: ``start-api`` and ``run-runner``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import orjson
import yaml

from oneclick.supervisor import DEFAULT_GRACE_S
from tests.auroractl.test_run_runner import E2E_API_TOKEN, start_gate

GATE_OVERLAY = {"risk": {"pi_min_bps": -100.0, "fees_bps": 0.0}, "sprt": {"enabled": False},
                "killswitch": {"min_outcomes": 10_000}}
# Every ack comes 3 s late: an order placed just before the gate dies is still being answered by the
# venue after it, so there is something to spool.
RUNNER = {
    "runner": {"mode": "paper"},
    "symbols": [{"symbol": "SOLUSDT", "qty": 1.0}],
    "feed": {"source": "synthetic", "seed": 3, "realtime": True},
    "strategy": {"score_threshold": 0.3, "enr_threshold_bps": -20.0, "max_hold_s": 3.0, "warmup_s": 0.5},
    "venue": {"paper": {"late_ack": True, "late_ack_ms": 3000.0}},
}


def read(path: Path) -> list[dict]:
    return [orjson.loads(x) for x in path.read_bytes().splitlines() if x.strip()] if path.exists() else []


def key(e: dict) -> tuple:
    return e["cid"], e["event_code"], e["ts_ns"]


def runner_proc(project: Path, cfg: Path, url: str, session: Path, duration: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AURORA_", "OPS_TOKEN"))}
    env.update({"AURORA_ROOT": str(project), "NO_COLOR": "1", "AURORA_API_TOKEN": E2E_API_TOKEN})
    return subprocess.Popen(
        [sys.executable, "-m", "auroractl", "run-runner", "--runner-config", str(cfg), "--gate-url", url,
         "--session", str(session), "--duration", duration],
        cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip


def test_with_the_gate_down_the_runner_stops_in_time_and_the_next_start_delivers_the_spool(project: Path) -> None:
    overlay = project / "gate_overlay.yaml"
    overlay.write_text(yaml.safe_dump(GATE_OVERLAY))
    cfg = project / "runner.yaml"
    cfg.write_text(yaml.safe_dump(RUNNER))
    session = project / "s"
    state = ("--state-dir", str(project / "state"))
    gate_a, url_a = start_gate(project, project / "gate", *state, "--fresh-state",
                               env_extra={"AURORA_CONFIG": str(overlay)})
    runner = runner_proc(project, cfg, url_a, session, "120")
    try:
        deadline = time.monotonic() + 60
        while not any(e["event_code"] == "ORDER.SUBMIT" for e in read(project / "gate" / "aurora_events.jsonl")):
            assert time.monotonic() < deadline and runner.poll() is None, "no order reached the gate"
            time.sleep(0.1)
        gate_a.kill()  # the gate dies; the order it allowed is still being answered by the venue
        gate_a.wait(10)
        time.sleep(0.5)
        t0 = time.monotonic()
        runner.send_signal(signal.SIGTERM)  # what one-click does at the end, before its SIGKILL
        code = runner.wait(DEFAULT_GRACE_S + 20)
        took = time.monotonic() - t0
    finally:
        for p in (runner, gate_a):
            if p.poll() is None:
                p.kill()
    out = runner.stdout.read().decode() if runner.stdout else ""
    assert code in (0, 1), out  # 1: a position the dead gate would not let it close (printed)
    assert took < DEFAULT_GRACE_S, f"stopping took {took:.1f} s, one-click would have killed it: {out}"
    summary = orjson.loads((session / "runner_summary.json").read_bytes())
    spool = session / "posttrade_pending.jsonl"
    spooled = read(spool)
    assert summary["gate"]["client_spooled"] == len(spooled) > 0
    got_a = {key(e) for e in read(project / "gate" / "aurora_events.jsonl") if e["event_code"].startswith("ORDER.")}
    keys = [key(e) for e in spooled]
    # Delivery is at least once: a post the gate recorded just before it died, whose answer the kill
    # lost, is spooled too (the next gate knows it from the durable state and does not apply it twice).
    fresh = [k for k in keys if k not in got_a]
    assert fresh, "nothing only the spool holds"

    # The gate comes back (same state); the next start delivers the spool before anything else.
    gate_b, url_b = start_gate(project, project / "gate-b", *state, env_extra={"AURORA_CONFIG": str(overlay)})
    try:
        again = runner_proc(project, cfg, url_b, session, "2")
        assert again.wait(60) in (0, 1), again.stdout.read().decode() if again.stdout else ""
    finally:
        gate_b.send_signal(signal.SIGTERM)
        gate_b.wait(15)
    assert not spool.exists()
    got_b = [e for e in read(project / "gate-b" / "aurora_events.jsonl") if e["event_code"].startswith("ORDER.")]
    delivered_at = [i for i, e in enumerate(got_b) if key(e) in set(fresh)]
    assert [key(got_b[i]) for i in delivered_at] == fresh  # all the dead gate never had, in order
    in_flight = set(keys) - set(fresh)
    assert all(n == 1 for k, n in Counter(key(e) for e in got_b).items() if k in in_flight)
    run1 = {cid for cid, _, _ in keys}
    first_new = next((i for i, e in enumerate(got_b) if e["cid"] not in run1 and e["cid"].startswith("ws-")), len(got_b))
    assert delivered_at[-1] < first_new  # before anything of the new run
    delivered = [e for e in read(session / "runner_events.jsonl") if e["event_code"] == "RUNNER.POSTTRADE_DELIVERED"]
    assert delivered and delivered[-1]["details"]["count"] == len(spooled)
