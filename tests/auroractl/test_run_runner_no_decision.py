"""``run-runner`` exits 1 when the gate gave it no decision at all (no gate there, a wrong token), saying why
in one paragraph; ``--metrics-port 0`` announces where its metrics are."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import orjson
from typer.testing import CliRunner

from auroractl.main import app
from tests.auroractl.test_run_runner import start_gate, stop_gate

#: trades within a second of synthetic data: every run below asks the gate several times
TRADER = """\
runner: {mode: paper, wind_down_s: 0.5, stop_timeout_s: 3.0}
symbols: [{symbol: SOLUSDT, qty: 1.0}]
feed: {source: synthetic, seed: 3, realtime: true}
strategy: {score_threshold: 0.1, enr_threshold_bps: -100.0, cooldown_ms: 100, warmup_s: 0.3,
           tp_bps: 3.0, sl_bps: 3.0, max_hold_s: 1.0, order_ttl_s: 0.5}
gate: {timeout_ms: 200, backoff_initial_ms: 50, backoff_max_ms: 200, flush_timeout_s: 1.0}
"""


def unused_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"  # closed again: nothing listens there


def run(project: Path, url: str, token: str, *extra: str):  # noqa: ANN201
    cfg = project / "trader.yaml"
    cfg.write_text(TRADER)
    return CliRunner().invoke(
        app, ["run-runner", "--runner-config", str(cfg), "--gate-url", url, "--duration", "2s",
              "--session", str(project / "s"), *extra],
        env={"NO_COLOR": "1", "AURORA_API_TOKEN": token, "COLUMNS": "400"},
    )  # fmt: skip


def paragraph(output: str) -> str:
    """The error paragraph (rich wraps long lines), joined back into one line."""
    text = output[output.index("error: "):]
    return " ".join(line.strip() for line in text.splitlines())


def test_no_gate_at_all_exits_1_and_says_no_check_was_answered(project: Path) -> None:
    url = unused_url()
    r = run(project, url, "apitok-NoDecision-Lk4Rt8Zq", "--metrics-port", "0")
    assert r.exit_code == 1, r.output
    summary = orjson.loads((project / "s" / "runner_summary.json").read_bytes())
    g = summary["gate"]
    # the trading state is unknown while the gate cannot be asked: no entry goes to it (fail closed)
    assert g["gate_checks"] == 0 and g["allowed"] == g["denied"] == 0
    polls = g["client_state_polls"]
    assert polls > 0 and g["client_state_poll_failures"] == polls and g["client_state_refused"] == 0
    assert paragraph(r.output) == (
        f"error: the gate gave no decision during the run: its trading state could not be learned at {url} "
        f"({polls} of {polls} GET /trading_state failed, 0 refused with HTTP 4xx), so no entry was sent to it "
        "(fail closed: no new risk while the gate's state is unknown). No order was placed. Check that the gate "
        "runs at --gate-url / AURORA_GATE_URL and the trading token; RUNNER.GATE_UNAVAILABLE and RUNNER.GATE_ERROR "
        "in the runner's event log say more."
    )
    assert "Traceback" not in r.output
    # --metrics-port 0: a free port, announced on the console and in RUNNER.START
    start = orjson.loads((project / "s" / "runner_events.jsonl").read_bytes().splitlines()[0])
    m = re.search(r"^metrics: (http://127\.0\.0\.1:(\d+)/metrics)$", r.output, re.MULTILINE)
    assert m and start["details"]["metrics"]["url"] == m.group(1) and int(m.group(2)) > 0


def test_a_wrong_token_exits_1_and_points_at_the_token(project: Path) -> None:
    proc, url = start_gate(project, project / "gate-session")
    try:
        r = run(project, url, "apitok-NotTheGatesToken-Hq3Wm6")
    finally:
        stop_gate(proc)
    assert r.exit_code == 1, r.output
    summary = orjson.loads((project / "s" / "runner_summary.json").read_bytes())
    g = summary["gate"]
    refused = g["client_state_refused"]
    assert refused > 0 and g["allowed"] == g["denied"] == 0
    assert (f"{refused} refused with HTTP 4xx: a wrong or missing AURORA_API_TOKEN?), so no entry was sent to it "
            "(fail closed: no new risk while the gate's state is unknown).") in paragraph(r.output)  # fmt: skip
