"""``auroractl one-click``: preflight failures (nothing started), the dashboard's panels, and — once the
gate and runner commands exist — the real thing end to end: a 20-second run with its proof, SIGKILL of
one-click leaving no child alive, SIGINT writing a proof marked interrupted, and the trouble a proof must
be honest about: the gate stopped (SIGSTOP) for a while, the gate killed mid-run (the runner's summary and
lifecycle events survive), and a disk that fills up mid-run (the proof still lands at --proof)."""

from __future__ import annotations

import errno
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from importlib import resources
from pathlib import Path

import httpx
import pytest
from jsonschema import Draft202012Validator
from rich.console import Console
from typer.testing import CliRunner

from auroractl.dashboard_view import plain_line, render
from auroractl.main import COMMANDS, app
from oneclick.dashboard_model import DashboardSnapshot, TunerLine
from oneclick.process_table import pid_alive

STRONG_API = "api-" + "k3Jd9sLq0Zp2Xv7Rt5Wm"
STRONG_OPS = "ops-" + "Qm8Zr2Lp5Xt9Vb3Nc7Hd1Jf6Gs4Kw0Ay"


def _commands() -> set[str]:
    return {c.name for c in COMMANDS}


needs_gate_and_runner = pytest.mark.skipif(
    not {"start-api", "run-runner"} <= _commands(),
    reason="`auroractl start-api` / `run-runner` not registered yet",
)


@pytest.fixture
def no_process_started(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if one-click tries to start any process."""

    def tripwire(*args, **kwargs):
        raise AssertionError(f"a process was started: {args[0] if args else kwargs}")

    monkeypatch.setattr(subprocess, "Popen", tripwire)


def invoke(*args: str, env: dict[str, str] | None = None):
    result = CliRunner().invoke(app, ["one-click", *args], env={"NO_COLOR": "1", **(env or {})})
    if result.exception and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"one-click raised {result.exception!r}\n{result.output}")
    return result


def assert_nothing_started(project: Path) -> None:
    logs = project / "logs"
    assert not logs.exists() or not any(logs.iterdir())
    assert not (project / "artifacts").exists()


# --- preflight through the CLI ----------------------------------------------------------------------


def test_dry_run_passes_and_starts_nothing(project: Path, no_process_started) -> None:
    r = invoke("--mode", "testnet", "--preflight", "--dry-run", "--port", "auto")
    assert r.exit_code == 0, r.output
    assert "Preflight (testnet)" in r.stdout and "✓ preflight passed (dry run: nothing started)" in r.stdout
    assert "generated ephemeral AURORA_API_TOKEN and OPS_TOKEN" in r.stdout
    assert_nothing_started(project)


def test_dry_run_json(project: Path, no_process_started) -> None:
    r = invoke("--mode", "testnet", "--dry-run", "--json", "--port", "auto")
    data = json.loads(r.stdout)
    assert data["ok"] is True and {c["name"] for c in data["checks"]} >= {"port", "tokens", "gate config"}


def test_port_in_use_exits_2_with_hint(project: Path, no_process_started) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = invoke("--mode", "testnet", "--duration", "5s", "--port", str(port))
    assert r.exit_code == 2
    assert f"port: 127.0.0.1:{port} in use" in r.stderr and "pass --port auto" in r.stderr
    assert "preflight failed, nothing was started" in r.stderr
    assert_nothing_started(project)


def test_short_token_in_production_exits_2_with_hint(project: Path, no_process_started) -> None:
    short = "Qm8Zr2Lp5Xt9Vb3Nc7Hd"
    r = invoke(
        "--mode", "production", "--duration", "5s", env={"AURORA_API_TOKEN": STRONG_API, "OPS_TOKEN": short}
    )
    assert r.exit_code == 2
    assert "tokens: OPS_TOKEN is shorter than 32 characters" in r.stderr
    assert "export OPS_TOKEN=$(python -c 'import secrets; print(secrets.token_urlsafe(32))')" in r.stderr
    assert short not in r.output and STRONG_API not in r.output
    assert_nothing_started(project)


def test_unwritable_session_dir_exits_2_with_hint(project: Path, tmp_path: Path, no_process_started) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    r = invoke("--mode", "testnet", "--duration", "5s", "--session", str(blocker / "session"))
    assert r.exit_code == 2
    assert "session dir:" in r.stderr and "is not a directory" in r.stderr
    assert "hint: pass a --session under a writable directory" in r.stderr
    assert_nothing_started(project)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through directory permissions")
def test_read_only_session_dir_exits_2(project: Path, tmp_path: Path, no_process_started) -> None:
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o500)
    try:
        r = invoke("--mode", "testnet", "--duration", "5s", "--session", str(ro / "s"))
    finally:
        ro.chmod(0o700)
    assert r.exit_code == 2 and "not writable" in r.stderr


def test_missing_exchange_keys_for_testnet_venue_exits_2_with_hint(project: Path, no_process_started) -> None:
    env = {"AURORA_API_TOKEN": STRONG_API, "OPS_TOKEN": STRONG_OPS}
    r = invoke("--mode", "testnet", "--duration", "5s", "--profile", "aurora_live_canary", env=env)
    assert r.exit_code == 2
    assert "exchange keys: AURORA_TESTNET_API_KEY and AURORA_TESTNET_API_SECRET not set" in r.stderr
    assert "export AURORA_TESTNET_API_KEY and AURORA_TESTNET_API_SECRET" in r.stderr
    assert_nothing_started(project)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--duration", "5 minutes"), "Invalid value for '--duration': expected a duration like"),
        (("--duration", "0s"), "positive duration"),
        (("--port", "eighty"), "--port: expected a port number, 0 or 'auto'"),
        (("--port", "70000"), "outside 0..65535"),
        (("--tune", "--explore-ratio", "1"), "--explore-ratio: expected a share between 0 and 1 (exclusive)"),
        (("--tune", "--space", "profiles/spaces/nope.yaml"), "nope.yaml"),
        (("--tune", "--tune-period", "0s"), "--tune-period: expected a positive duration"),
    ],
)
def test_bad_options_exit_2(project: Path, no_process_started, args, message) -> None:
    r = invoke("--mode", "testnet", *args)
    assert r.exit_code == 2 and message in r.stderr


# --- the dashboard ----------------------------------------------------------------------------------


def snapshot(**kw) -> DashboardSnapshot:
    base = dict(
        title="Aurora one-click · testnet · paper · synthetic",
        session_dir="logs/20261121-090000",
        gate_url="http://127.0.0.1:8000",
        elapsed_s=75.0,
        duration_s=300.0,
        processes=[
            {"name": "gate", "pid": 101, "state": "running", "restarts": 0},
            {"name": "runner-default", "pid": 102, "state": "running", "restarts": 1},
        ],
        decisions=420,
        allowed=300,
        denied=120,
        decisions_per_s=5.6,
        deny_by_reason=[("SPREAD_GUARD", 70), ("ER_BELOW_MIN", 50)],
        orders=290,
        orders_by_state={"FILLED": 250, "CANCELED": 30, "ACKED": 10},
        fills=260,
        closed_trades=120,
        realized_pnl_usd=-12.5,
        gate_p50_ms=0.041,
        gate_p99_ms=0.180,
        latency_source="logs",
        submit_ack_p50_ms=6.1,
        submit_ack_p99_ms=14.9,
        health={"status": "ok", "health_state": "OK", "armed": True, "halted": False, "kill_switch": False},
        gate_reachable=True,
        xai_last={
            "MODEL": "MODEL SOLUSDT buy score=0.61 p_win=0.55 cid=ws-1",
            "POLICY_DECISION": "POLICY_DECISION SOLUSDT buy allow=True reason=OK cid=ws-1",
            "ORDER": "ORDER.FILL SOLUSDT fill_qty=1 cid=ws-1",
        },
        notes=["runner-default exited with code 1; restarting"],
    )
    base.update(kw)
    return DashboardSnapshot(**base)


def test_dashboard_shows_the_expected_panels() -> None:
    console = Console(record=True, width=140, color_system=None, force_terminal=False)
    console.print(render(snapshot()))
    text = console.export_text()
    for title in ("Aurora one-click · testnet · paper · synthetic", "Processes", "Decisions", "Orders", "Latency",
                  "Health", "XAI: last event per stage"):  # fmt: skip
        assert title in text, title
    assert "elapsed 1:15" in text and "remaining 3:45" in text and "25%" in text
    assert "420  (5.6/s)" in text and "(deny rate 29%)" in text
    assert "SPREAD_GUARD" in text and "ER_BELOW_MIN" in text
    assert "filled" in text and "-12.50 USD" in text
    assert "0.180 ms" in text and "14.9 ms" in text
    assert "runner-default" in text and "kill-switch" in text
    assert "POLICY_DECISION SOLUSDT buy allow=True reason=OK" in text
    assert "ENR_GATE" in text and "PARENT_GATE" in text  # stages with no event yet still listed
    assert "restarting" in text


def test_plain_line_for_ci() -> None:
    line = plain_line(snapshot())
    assert line.startswith(
        "[1:15/5:00] decisions 420 (5.6/s) allow 300 deny 120 (SPREAD_GUARD 70, ER_BELOW_MIN 50)"
    )
    assert "orders 290 fills 260" in line and "gate p99 0.180 ms" in line and "halted no" in line
    # before the logs have a decision the figure comes from the gate's buckets, and says so
    assert "gate p99 ≈0.180 ms" in plain_line(snapshot(latency_source="metrics"))
    # start-up is not the run's time: the clock shows it apart
    assert plain_line(snapshot(phase="starting", elapsed_s=3.0)).startswith("[starting 0:03] decisions")


def test_dashboard_labels_its_latency_source_and_start_up() -> None:
    console = Console(record=True, width=140, color_system=None, force_terminal=False)
    console.print(render(snapshot(latency_source="metrics")))
    console.print(render(snapshot(phase="starting", elapsed_s=4.0)))
    text = console.export_text()
    assert "≈ gate histogram buckets" in text
    assert "starting 0:04: waiting for the runners to trade" in text


def test_the_dashboard_has_a_tuner_line_when_tuning() -> None:
    tuner = TunerLine(running=True, heartbeats=12, last_heartbeat_age_s=1.2, period_s=5.0, trials_told=3, updates=4,
                      last_update_trial=3, last_update_age_s=14.0, refused_by_runners=0)  # fmt: skip
    console = Console(record=True, width=140, color_system=None, force_terminal=False)
    console.print(render(snapshot(tuner=tuner)))
    want = "tuner running · last heartbeat 1.2 s ago · 3 trials told · last update trial 3 (14 s ago)"
    assert want in console.export_text()
    assert plain_line(snapshot(tuner=tuner)).endswith(" · " + want)
    stopped = TunerLine(running=False, heartbeats=0, last_heartbeat_age_s=None, period_s=None, trials_told=0,
                        updates=0, last_update_trial=None, last_update_age_s=None, refused_by_runners=2)  # fmt: skip
    assert plain_line(snapshot(tuner=stopped)).endswith(
        " · tuner not running · no heartbeat yet · 0 trials told · no update yet · refused by runners 2")
    assert "tuner" not in plain_line(snapshot())  # no --tune: no tuner line


# --- end to end with the real gate and runner -----------------------------------------------------


def _schema() -> dict:
    return json.loads(resources.files("oneclick").joinpath("proof.schema.json").read_text())


def _start(
    project: Path, tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen, Path, Path]:
    out = tmp_path / "oneclick.out"
    err = tmp_path / "oneclick.err"
    session = tmp_path / "session"
    env = {**os.environ, "NO_COLOR": "1", **(env or {})}
    proc = subprocess.Popen(
        [sys.executable, "-m", "auroractl", "one-click", "--mode", "testnet", "--port", "0",
         "--session", str(session), *args],
        cwd=project, env=env, stdout=open(out, "w"), stderr=open(err, "w"),  # noqa: SIM115
    )  # fmt: skip
    return proc, session, out


def _wait_for(pred, timeout: float, step: float = 0.1) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


def _children(session: Path) -> dict:
    try:
        return json.loads((session / "processes.json").read_text())
    except (OSError, ValueError):
        return {}


def _running(session: Path) -> bool:
    """Gate and runner started, and the runner is live (its event log exists: RUNNER.START)."""
    roles = {c["role"] for c in _children(session).get("children", [])}
    return roles == {"gate", "runner"} and any(session.glob("runner_events*.jsonl"))


@needs_gate_and_runner
def test_twenty_second_run_writes_a_valid_proof(project: Path, tmp_path: Path) -> None:
    tokens = {"AURORA_API_TOKEN": STRONG_API, "OPS_TOKEN": STRONG_OPS}
    busy = Path(__file__).resolve().parents[1] / "fixtures" / "e2e_busy_overlay.yaml"
    proc, session, out = _start(project, tmp_path, "--duration", "20s", "--overlay", str(busy), env=tokens)
    code = proc.wait(timeout=90)
    stdout = out.read_text()
    assert code == 0, stdout + (tmp_path / "oneclick.err").read_text()
    proof_path = project / "artifacts" / "full_e2e_proof.json"
    proof = json.loads(proof_path.read_text())
    assert json.loads((session / "full_e2e_proof.json").read_text()) == proof
    errors = [e.message for e in Draft202012Validator(_schema()).iter_errors(proof)]
    assert errors == []
    counts = proof["counts"]
    # How many ideas 20 s of wall time holds depends on the machine's load: assert on what happened
    # (the proof agrees with the gate's own records), not on a volume or on seeing a deny.
    decisions = [
        json.loads(x)
        for x in (session / "aurora_events.jsonl").read_text().splitlines()
        if '"POLICY_DECISION"' in x
    ]
    allowed = sum(1 for d in decisions if d["details"]["allow"])
    assert (counts["allowed"], counts["denied"]) == (allowed, len(decisions) - allowed), counts
    assert counts["allowed"] > 0 and counts["orders"] > 0, counts
    assert proof["chain"]["complete"] and proof["chain"]["orders_without_allow"] == 0
    assert all(proof["xai_tail"][s] for s in ("MODEL", "ENR_GATE", "PARENT_GATE", "POLICY_DECISION", "ORDER"))
    assert proof["ok"] and proof["exit_code"] == 0 and proof["interrupted"] is False
    assert proof["processes"]["gate"]["healthy"] and proof["processes"]["runners"]
    assert all(r["healthy"] for r in proof["processes"]["runners"])
    assert proof["config"]["gate"]["version_match"] is True
    reports = proof["reports"]
    for key in ("summary", "audit", "html"):
        assert (
            Path(reports[key]).is_file() and Path(reports[key]).parent == project / "reports" / session.name
        )
    assert reports["audit_result"]["ok"], reports["audit_result"]
    assert proof["sli"]["source"] == "aurora.analytics summary" and proof["sli"]["gate_latency_p99_ms"] > 0
    # non-TTY: plain lines, no escape codes, and where things are
    assert "\x1b[" not in stdout
    assert "decisions" in stdout and f"proof:    {proof_path}" in stdout
    # one latency figure: the dashboard's last line and the final line agree (both from the logs)
    dash = re.findall(r"^\[.*gate p99 (≈?[0-9.]+ ms)", stdout, re.M)
    final = re.search(r"^decisions .* gate p99 ([0-9.]+ ms)$", stdout, re.M)
    assert dash and final and dash[-1] == final.group(1), stdout
    # the duration is trading time; start-up and shutdown are their own phases
    phases = proof["timing"]["phases"]
    assert phases["trading_s"] >= 19.0 and proof["timing"]["trading_started_at"] is not None
    assert re.search(
        r"^startup [0-9.]+ s · trading [0-9.]+ s · shutdown [0-9.]+ s · reports [0-9.]+ s$", stdout, re.M
    )
    assert proof["incidents"]["gate"]["outages"] == [] and proof["incidents"]["open_positions"] == []
    pids = [c["pid"] for c in _children(session)["children"]]
    assert not any(pid_alive(p) for p in pids)
    assert proof["tokens"]["generated"] == []
    # without --tune the tuner's parts say so
    assert proof["processes"]["optuna"] == {"enabled": False, "running": False, "process": None}
    assert proof["optuna"]["enabled"] is False and proof["optuna"]["heartbeat_ok"] is None
    assert "not enabled" in proof["optuna"]["note"]
    # the tokens reached the children (the run worked) but no log, report, proof or output holds them
    written = [
        *session.rglob("*"),
        *(project / "reports").rglob("*"),
        proof_path,
        out,
        tmp_path / "oneclick.err",
    ]
    for f in (f for f in written if f.is_file()):
        blob = f.read_bytes()
        assert STRONG_API.encode() not in blob and STRONG_OPS.encode() not in blob, f


@needs_gate_and_runner
def test_sigkill_of_one_click_leaves_no_child_alive(project: Path, tmp_path: Path) -> None:
    proc, session, _ = _start(project, tmp_path, "--duration", "60s", "--grace", "2")
    try:
        assert _wait_for(lambda: _running(session), 30), (tmp_path / "oneclick.err").read_text()
        info = _children(session)
        pids = [c["pid"] for c in info["children"]] + [info["watchdog_pid"]]
        assert all(pid_alive(p) for p in pids)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert _wait_for(lambda: not any(pid_alive(p) for p in pids), 5.0), [p for p in pids if pid_alive(p)]


@needs_gate_and_runner
def test_sigint_stops_cleanly_and_marks_the_proof_interrupted(project: Path, tmp_path: Path) -> None:
    proc, session, out = _start(project, tmp_path, "--duration", "60s", "--no-report")
    try:
        assert _wait_for(lambda: _running(session), 30), (tmp_path / "oneclick.err").read_text()
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 130, out.read_text()
    proof = json.loads((session / "full_e2e_proof.json").read_text())
    assert (
        proof["interrupted"] is True and proof["interrupt_signal"] == "SIGINT" and proof["exit_code"] == 130
    )
    assert [e.message for e in Draft202012Validator(_schema()).iter_errors(proof)] == []
    assert proof["processes"]["gate"]["stop_reason"] == "interrupt"
    assert not any(pid_alive(c["pid"]) for c in _children(session)["children"])
    assert "interrupted by SIGINT" in (tmp_path / "oneclick.err").read_text()


def _gate_pid(session: Path) -> int:
    return next(c["pid"] for c in _children(session)["children"] if c["role"] == "gate" and c["running"])


def _proof(path: Path) -> dict:
    proof = json.loads(path.read_text())
    assert [e.message for e in Draft202012Validator(_schema()).iter_errors(proof)] == []
    return proof


@needs_gate_and_runner
def test_a_gate_stopped_for_a_while_gives_a_proof_that_is_not_ok(project: Path, tmp_path: Path) -> None:
    """Issue 12: SIGSTOP of the gate used to give `ok: true`, exit 0 and a healthy gate."""
    busy = Path(__file__).resolve().parents[1] / "fixtures" / "e2e_busy_overlay.yaml"
    proc, session, out = _start(project, tmp_path, "--duration", "20s", "--overlay", str(busy), "--no-report",
                                "--outage-budget", "2s")  # fmt: skip
    gate = None
    try:
        assert _wait_for(lambda: _running(session), 60), (tmp_path / "oneclick.err").read_text()
        gate = _gate_pid(session)
        os.kill(gate, signal.SIGSTOP)
        time.sleep(8.0)
    finally:
        if gate is not None:
            os.kill(gate, signal.SIGCONT)
    code = proc.wait(timeout=120)
    stdout, stderr = out.read_text(), (tmp_path / "oneclick.err").read_text()
    assert code == 1, stdout + stderr
    proof = _proof(session / "full_e2e_proof.json")
    assert proof["ok"] is False and proof["exit_code"] == 1
    assert proof["processes"]["gate"]["healthy"] is False
    avail = proof["incidents"]["gate"]
    hangs = [o for o in avail["outages"] if o["seen_by"] == "supervisor"]
    assert [o["kind"] for o in hangs] == ["hang"] and hangs[0]["length_s"] > 2.0, avail
    assert avail["over_budget"] and avail["unreachable_s"] >= hangs[0]["length_s"]
    assert any(f.startswith("the gate was unreachable for") for f in proof["failures"]), proof["failures"]
    # a runner that asked during the stop says so too, and counts the checks that got no answer
    unanswered = proof["incidents"]["checks_unanswered"]["runner-default"]
    if unanswered["total"]:
        assert any(o["seen_by"] == "runner-default" for o in avail["outages"]), avail
    assert "gate unreachable" in stderr and "the gate was unreachable for" in stderr


@needs_gate_and_runner
def test_the_gate_killed_mid_run_leaves_the_runner_summary_and_lifecycle_intact(
    project: Path, tmp_path: Path
) -> None:
    """Issue 12: the runner's stop with the gate gone took longer than the grace, so it was SIGKILLed and
    lost its summary and pending lifecycle events."""
    busy = Path(__file__).resolve().parents[1] / "fixtures" / "e2e_busy_overlay.yaml"
    proc, session, out = _start(project, tmp_path, "--duration", "60s", "--overlay", str(busy), "--no-report")
    gate_log = session / "aurora_events.jsonl"
    try:
        assert _wait_for(lambda: _running(session), 60), (tmp_path / "oneclick.err").read_text()
        assert _wait_for(lambda: gate_log.is_file() and b'"ORDER.SUBMIT"' in gate_log.read_bytes(), 60)
        os.kill(_gate_pid(session), signal.SIGKILL)
        code = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 1, out.read_text()
    proof = _proof(session / "full_e2e_proof.json")
    assert "gate (pid" in proof["failure"] and "exited with code -9" in proof["failure"]
    (runner,) = proof["processes"]["runners"]
    # it finished its own stop within its grace (exit 1 when the gate's absence left a position open)
    assert not runner["killed"] and runner["exit_code"] in (0, 1), runner
    assert [o["kind"] for o in proof["incidents"]["gate"]["outages"] if o["seen_by"] == "supervisor"] == [
        "exited"
    ]
    summary = json.loads((session / "runner_summary-default.json").read_text())
    events = [json.loads(x) for x in (session / "runner_events-default.jsonl").read_text().splitlines()]
    assert events[-1]["event_code"] == "RUNNER.STOP"
    # every lifecycle event the runner produced reached the gate's log before it died, or its spool
    in_gate = Counter(
        json.loads(x)["event_code"] for x in gate_log.read_text().splitlines() if '"ORDER.' in x
    )
    spool = session / "posttrade_pending-default.jsonl"
    spooled = (
        Counter(json.loads(x)["event_code"] for x in spool.read_text().splitlines()) if spool.exists() else {}
    )
    sent = summary["gate"]["lifecycle"]
    assert sent and all(in_gate[c] + spooled.get(c, 0) >= n for c, n in sent.items()), (
        sent,
        in_gate,
        spooled,
    )
    (r,) = proof["runners"]
    assert r["summary"] == "runner_summary-default.json" and r["lifecycle"]["spooled"] == sum(
        spooled.values()
    )
    # what it could not close without the gate is in the proof, as the runner reported it
    assert [(p["symbol"], p["qty"]) for p in proof["incidents"]["open_positions"]] == [
        (p["symbol"], p["qty"]) for p in summary["open_positions"]
    ]
    assert proof["incidents"]["open_positions_unknown"] == []


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 300 MB tmpfs (preflight wants 200 MB free): mounted for the test, unmounted after."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small filesystem needs root")
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=300m", "tmpfs", str(mnt)], capture_output=True, text=True
    )
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip() or r.returncode}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def _fill(directory: Path) -> None:
    with open(directory / "filler.bin", "wb") as fh:
        block = b"\0" * (1 << 20)
        try:
            while True:
                fh.write(block)
                fh.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc


@needs_gate_and_runner
def test_a_disk_that_fills_mid_run_still_ends_with_a_proof(
    project: Path, tmp_path: Path, small_disk: Path
) -> None:
    """Issue 12: a full disk killed one-click with a one-line error and no proof, not even at --proof."""
    session = small_disk / "session"
    proof_path = tmp_path / "elsewhere" / "proof.json"
    err = tmp_path / "oneclick.err"
    proc = subprocess.Popen(
        [sys.executable, "-m", "auroractl", "one-click", "--mode", "testnet", "--port", "0", "--duration", "15s",
         "--session", str(session), "--proof", str(proof_path), "--no-report"],
        cwd=project, env={**os.environ, "NO_COLOR": "1"}, stdout=open(tmp_path / "oneclick.out", "w"),  # noqa: SIM115
        stderr=open(err, "w"),  # noqa: SIM115
    )  # fmt: skip
    try:
        assert _wait_for(lambda: _running(session), 60), err.read_text()
        _fill(small_disk)
        code = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    stderr = err.read_text()
    assert code == 1, stderr
    assert "Traceback" not in stderr
    proof = _proof(proof_path)
    assert proof["ok"] is False and proof["exit_code"] == 1
    assert any("could not be written to the session dir" in f for f in proof["failures"]), proof["failures"]
    assert not (session / "full_e2e_proof.json").exists()
    assert not any(pid_alive(c["pid"]) for c in proof["processes"]["history"] + proof["processes"]["runners"])
    assert not pid_alive(proof["processes"]["gate"]["pid"])


def test_a_proof_that_could_not_be_written_anywhere_goes_to_stdout(project: Path, monkeypatch) -> None:
    from oneclick import orchestrator

    proof = {"ok": False, "exit_code": 1, "failure": "disk full", "failures": ["disk full"], "counts": {},
             "sli": {}, "reports": {}, "incidents": {}}  # fmt: skip

    def run(self):
        return orchestrator.RunResult(exit_code=1, proof=proof, proof_paths=[], session_dir=project / "logs" / "x",
                                      interrupted=False, failure="disk full",
                                      write_errors=["a: No space left on device", "b: No space left on device"])  # fmt: skip

    monkeypatch.setattr(orchestrator.OneClickRun, "run", run)
    r = invoke("--mode", "testnet", "--port", "auto", "--duration", "5s")
    assert r.exit_code == 1
    start = re.search(r"^\{", r.stdout, re.M).start()  # after the preflight table, before the summary lines
    printed, _ = json.JSONDecoder().raw_decode(r.stdout[start:])
    assert printed == proof
    assert "the proof could not be written anywhere; here it is on stdout" in r.stderr
    assert "proof not written to a: No space left on device" in r.stderr


#: Issue 17: entries that rest (joining the touch, a long TTL) and exits within the price collar; the rest is
#: the shipped offline default (synthetic feed, paper venue).
RESTING_OVERLAY = """\
strategy:
  score_threshold: 0.1
  enr_threshold_bps: -20.0
  cooldown_ms: 200
  entry: join
  order_ttl_s: 30.0
  tp_bps: 40.0
  sl_bps: 40.0
  max_hold_s: 2.0
"""
#: The gate's kill-switch judged over a short window, so that a storm of a few rejects trips it.
KILL_SWITCH_OVERLAY = "killswitch:\n  window_trades: 10\n  min_outcomes: 5\n  max_reject_rate_pct: 35\n"


def _records(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    out = []
    for line in path.read_bytes().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass  # a line being written
    return out


def _resting_entries(events: list[dict]) -> set[str]:
    """Entries acknowledged and not done, in the gate's log."""
    entries = {e["cid"] for e in events if e["event_code"] == "ORDER.SUBMIT" and e["details"].get("reduce_only") is False}
    acked = {e["cid"] for e in events if e["event_code"] == "ORDER.ACK"}
    done = {e["cid"] for e in events if e["event_code"] in ("ORDER.FILL", "ORDER.CANCEL.REQUEST", "ORDER.CANCEL.ACK",
                                                            "ORDER.EXPIRE", "ORDER.REJECT")}  # fmt: skip
    return (entries & acked) - done


def _trips(events: list[dict]) -> list[int]:
    return [e["ts_ns"] for e in events if e["event_code"] == "GOVERNANCE.KILL_SWITCH"]


@needs_gate_and_runner
def test_a_kill_switch_trip_cancels_the_resting_entries_of_a_one_click_run(project: Path, tmp_path: Path) -> None:
    """Issue 17 on the shipped offline default: a reject storm trips the kill-switch; within 1 s every resting
    entry has its CANCEL.REQUEST and, on the paper venue, its CANCEL.ACK; no entry fills after the trip except
    in the cancel race (before its CANCEL.ACK); exits are not cancelled and still get out; the proof and the
    summary report the kill with its latency.

    The market does not stop for the storm: should the resting entry fill while the rejects are posted, no
    entry rests at the trip and there is nothing to check, so the gate is reset and the storm tried again."""
    from tests.support.kill import reject, storm_checks

    overlay = tmp_path / "resting.yaml"
    overlay.write_text(RESTING_OVERLAY)
    gate_overlay = tmp_path / "gate_kill_switch.yaml"
    gate_overlay.write_text(KILL_SWITCH_OVERLAY)
    env = {"AURORA_API_TOKEN": STRONG_API, "OPS_TOKEN": STRONG_OPS, "AURORA_CONFIG": str(gate_overlay)}
    proc, session, out = _start(project, tmp_path, "--duration", "15s", "--overlay", str(overlay), env=env)
    gate_log = session / "aurora_events.jsonl"
    resting_at_trip: set[str] = set()
    try:
        def starts() -> list[dict]:
            return [e for e in _records(session / "runner_events-default.jsonl") if e["event_code"] == "RUNNER.START"]

        assert _wait_for(starts, 60), (tmp_path / "oneclick.err").read_text()
        (start,) = starts()
        url = start["details"]["gate_url"]
        for _attempt in range(3):
            storm = storm_checks(url, STRONG_API, account="acc-1", n=5)  # asked ahead: the storm is the rejects
            assert len(storm) == 5
            assert _wait_for(lambda: _resting_entries(_records(gate_log)), 30, step=0.01), "no entry came to rest"
            reject(url, STRONG_API, account="acc-1", orders=storm)
            assert _wait_for(lambda: _trips(_records(gate_log)), 5, step=0.01)
            events = _records(gate_log)
            t = _trips(events)[-1]
            resting_at_trip = _resting_entries([e for e in events if e["ts_ns"] <= t])
            if resting_at_trip:
                break
            httpx.post(url + "/ops/reset", headers={"X-OPS-TOKEN": STRONG_OPS}, timeout=5).raise_for_status()
        assert resting_at_trip, "the resting entry filled during each storm"
        code = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 0, out.read_text() + (tmp_path / "oneclick.err").read_text()
    events = _records(gate_log)
    trips = _trips(events)
    t = trips[-1]
    by_cid: dict[str, dict[str, dict]] = {}
    for e in events:
        if e["event_code"].startswith("ORDER."):
            by_cid.setdefault(e["cid"], {}).setdefault(e["event_code"], e)
    for cid in resting_at_trip:
        steps = by_cid[cid]
        req = steps["ORDER.CANCEL.REQUEST"]
        assert req["details"]["reason"] == "KILL_SWITCH" and 0 < req["ts_ns"] - t < 1e9, (t, steps)
        fill = steps.get("ORDER.FILL")
        if "ORDER.CANCEL.ACK" in steps:
            assert 0 < steps["ORDER.CANCEL.ACK"]["ts_ns"] - t < 1e9 and fill is None, (t, steps)
        else:  # the cancel race: filled on the venue before the cancel reached it
            assert fill is not None and fill["ts_ns"] - req["ts_ns"] < 50e6, (t, steps)
    entries = {c for c, s in by_cid.items() if s.get("ORDER.SUBMIT", {}).get("details", {}).get("reduce_only") is False}
    late = [e for e in events if e["ts_ns"] > t and e["event_code"] in ("ORDER.FILL", "ORDER.PARTIAL")
            and e["cid"] in entries and e["cid"] not in resting_at_trip]  # fmt: skip
    assert late == [], "an entry filled after the trip"
    assert not [e for e in events if e["ts_ns"] > t + 1e9 and e["event_code"] == "ORDER.SUBMIT" and e["cid"] in entries]
    exits = {c for c, s in by_cid.items() if s.get("ORDER.SUBMIT", {}).get("details", {}).get("reduce_only") is True}
    assert not [e for e in events if e["event_code"] == "ORDER.CANCEL.REQUEST" and e["cid"] in exits
                and e["details"].get("reason") == "KILL_SWITCH"], "an exit was cancelled by the kill"  # fmt: skip
    proof = _proof(session / "full_e2e_proof.json")
    assert proof["ok"], proof["failures"]
    assert proof["incidents"]["open_positions"] == []  # whatever was open got out through the gate (REDUCING)
    kills = proof["incidents"]["kills"]["events"]
    assert len(kills) == len(trips) and all(k["reason"] == "KILL_SWITCH" and k["settled"] for k in kills)
    kill = kills[-1]
    assert kill["state"] == "REDUCING" and kill["requests"] >= len(resting_at_trip)
    assert 0 < kill["ack_latency_ms"] < 1000 and proof["incidents"]["kills"]["ack_latency_ms"]["n"] >= 1
    summary = json.loads(Path(proof["reports"]["summary"]).read_text())
    assert summary["kills"]["n"] == len(kills) and summary["kills"]["by_reason"] == {"KILL_SWITCH": len(kills)}
    assert summary["kills"]["events"][-1]["ack_latency_ms"] == kill["ack_latency_ms"]


@needs_gate_and_runner
def test_a_tuned_run_has_a_supervised_tuner_whose_updates_reach_the_runner(project: Path, tmp_path: Path) -> None:
    """``--tune``: the tuner runs beside the runner, heartbeats at its period, announces a validated
    overlay the runner takes for its explore arm, is stopped first and leaves nothing running."""
    tokens = {"AURORA_API_TOKEN": STRONG_API, "OPS_TOKEN": STRONG_OPS}
    busy = Path(__file__).resolve().parents[1] / "fixtures" / "e2e_busy_overlay.yaml"
    proc, session, out = _start(project, tmp_path, "--duration", "8s", "--overlay", str(busy), "--no-report",
                                "--tune", "--explore-ratio", "0.5", "--tune-period", "0.5s", env=tokens)  # fmt: skip
    code = proc.wait(timeout=90)
    stdout = out.read_text()
    assert code in (0, 1), stdout + (tmp_path / "oneclick.err").read_text()
    proof = _proof(project / "artifacts" / "full_e2e_proof.json")
    assert [e.message for e in Draft202012Validator(_schema()).iter_errors(proof)] == []
    assert not [f for f in proof["failures"] if "tuner" in f], proof["failures"]
    tuner = proof["processes"]["optuna"]
    assert tuner["enabled"] and tuner["running"] and tuner["process"]["clean_stop"]
    assert tuner["process"]["role"] == "tuner" and "oneclick.tuner" in tuner["process"]["argv"]
    opt = proof["optuna"]
    assert opt["enabled"] and opt["heartbeat_ok"] is True and opt["heartbeats"] >= 2 and opt["period_s"] == 0.5
    assert opt["parameter_updates"] >= 1 and opt["param_tail"][0]["trial"] == 0
    assert opt["applied_by_runners"] >= 1 and opt["refused_by_runners"] == 0
    assert "gate.risk.pi_min_bps" in opt["not_applied_live"]
    # stopped in order: the tuner before the runner it feeds (unless the runner had already ended its own
    # --duration, which it may do a moment before one-click's clock for the run runs out)
    runner = proof["processes"]["runners"][0]
    if runner["stop_reason"] is not None:
        assert tuner["process"]["ended_at"] <= runner["ended_at"]
    else:
        assert runner["exit_code"] in (0, 1) and tuner["process"]["stop_reason"] is not None
    # the runner switched its explore arm to an announced trial; every decision and order names its arm
    events = [e for f in sorted(session.glob("runner_events*.jsonl")) for e in _records(f)]
    applied = [e for e in events if e["event_code"] == "RUNNER.OVERLAY_APPLIED"]
    trials = {u["trial"] for u in opt["param_tail"]}
    assert applied and {a["details"]["trial"] for a in applied} <= trials
    assert all(e["details"].get("arm") in ("base", "explore") for e in events if e["event_code"] == "MODEL")
    orders = [e for e in _records(session / "aurora_events.jsonl") if e["event_code"].startswith("ORDER.")
              and e["event_code"] != "ORDER.ANOMALY"]  # fmt: skip
    assert all(o["details"].get("arm") in ("base", "explore") for o in orders)
    assert re.search(r"^tuner: \d+ heartbeats \(every 0.5 s, on time\)", stdout, re.M), stdout
    children = _children(session)["children"]
    assert {c["role"] for c in children} == {"gate", "runner", "tuner"}
    assert not any(pid_alive(c["pid"]) for c in children)
