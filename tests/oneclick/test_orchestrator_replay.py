"""One-click on a recording: the gate it starts runs on the request clock (the recording's time)."""

from __future__ import annotations

from pathlib import Path

from oneclick.orchestrator import OneClickRun
from oneclick.preflight import OneClickOptions, run_preflight


def gate_argv(project: Path, feed: dict | None) -> list[str]:
    cfg = project / "configs" / "runner" / "replay_test.yaml"
    lines = ["symbols:", "  - symbol: SOLUSDT", "    qty: 1.0"]
    if feed:
        lines += ["feed:"] + [f"  {k}: {v}" for k, v in feed.items()]
    cfg.write_text("\n".join(lines) + "\n")
    report = run_preflight(OneClickOptions(mode="testnet", port=0, runner_config=str(cfg),
                                           session_dir=project / "logs" / "s1"))
    assert report.ok, report.to_dict()
    run = OneClickRun(report.plan, report.checks, duration_s=5.0, runner_config=str(cfg))
    run.session_dir = project / "logs" / "s1"
    return run.gate_spec().argv


def test_a_replay_gets_a_gate_on_the_request_clock_with_a_fresh_state(project: Path) -> None:
    rec = project / "r.jsonl"
    rec.write_text("")
    argv = gate_argv(project, {"source": f"replay:{rec}"})
    assert argv[argv.index("--clock") + 1] == "request"
    assert argv[argv.index("--state-dir") + 1] == str(project / "logs" / "s1" / "gate_state")


def test_a_sped_up_synthetic_market_too_but_not_one_at_real_time(project: Path) -> None:
    fast = gate_argv(project, {"source": "synthetic", "realtime": "false"})
    assert fast[fast.index("--clock") + 1] == "request"
    assert "--clock" not in gate_argv(project, None)  # the shipped default: synthetic at 1x, on wall time
