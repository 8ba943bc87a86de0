"""Kill events in the metrics summary: the runners' RUNNER.KILL_APPLIED / _SETTLED, with known latencies."""

from __future__ import annotations

from aurora.analytics.metrics_summary import summarize_session
from aurora.config.models import AuroraConfig
from tests.aurora.analytics.session_builder import rec, write_jsonl


def applied(t, kill, reason, state, count, req_ms):
    return rec(t, "RUNNER.KILL_APPLIED", kill=kill, reason=reason, state=state, count=count,
               request_latency_ms=req_ms, cancel_all=False)  # fmt: skip


def settled(t, kill, reason, state, req_ms, ack_ms, ok=True):
    return rec(t, "RUNNER.KILL_SETTLED", kill=kill, reason=reason, state=state, settled=ok,
               request_latency_ms=req_ms, ack_latency_ms=ack_ms if ok else None)  # fmt: skip


def test_kills_are_listed_with_their_latencies_per_runner(tmp_path):
    write_jsonl(tmp_path / "aurora_events.jsonl", [rec(0, "AURORA.START", mode="testnet"),
                                                   rec(900, "GOVERNANCE.KILL_SWITCH", action="HALT_AND_ALERT")])
    # runner "sol": a kill-switch kill (3 cancels, the last one sent once its ack came: 4.0 ms in all) that
    # settled in 20 ms, then an ops halt whose venue never answered; runner "soon": a kill with nothing resting
    write_jsonl(tmp_path / "runner_events-sol.jsonl", [
        rec(0, "RUNNER.START"),
        applied(1000, 1, "KILL_SWITCH", "REDUCING", 3, 1.5), settled(1020, 1, "KILL_SWITCH", "REDUCING", 4.0, 20.0),
        applied(5000, 2, "OPS_HALT", "HALTED", 1, 0.5), settled(15_000, 2, "OPS_HALT", "HALTED", 0.5, None, ok=False),
    ])  # fmt: skip
    write_jsonl(tmp_path / "runner_events-soon.jsonl", [rec(0, "RUNNER.START"),
                                                        applied(1001, 1, "KILL_SWITCH", "REDUCING", 0, None)])
    k = summarize_session(tmp_path, AuroraConfig(), 0)["kills"]
    assert k["n"] == 3 and k["cancel_requests"] == 4 and k["unsettled"] == 1
    assert k["by_reason"] == {"KILL_SWITCH": 2, "OPS_HALT": 1}
    assert [(e["runner"], e["kill"], e["reason"], e["count"], e["request_latency_ms"], e["ack_latency_ms"],
             e["settled"]) for e in k["events"]] == [
        ("runner_events-sol", 1, "KILL_SWITCH", 3, 4.0, 20.0, True),
        ("runner_events-soon", 1, "KILL_SWITCH", 0, None, None, None),
        ("runner_events-sol", 2, "OPS_HALT", 1, 0.5, None, False),
    ]  # fmt: skip
    assert k["request_latency_ms"]["n"] == 2 and k["request_latency_ms"]["max"] == 4.0
    assert k["ack_latency_ms"] == {"n": 1, "p50": 20.0, "p95": 20.0, "p99": 20.0, "mean": 20.0, "max": 20.0}


def test_a_window_without_kills_says_none(tmp_path):
    write_jsonl(tmp_path / "aurora_events.jsonl", [rec(0, "AURORA.START", mode="testnet")])
    k = summarize_session(tmp_path, AuroraConfig(), 0)["kills"]
    assert k["n"] == 0 and k["events"] == [] and k["ack_latency_ms"]["p99"] is None


def test_the_html_report_lists_the_kills(tmp_path):
    from aurora.analytics.html_report import render_report

    write_jsonl(tmp_path / "aurora_events.jsonl", [rec(0, "AURORA.START", mode="testnet")])
    write_jsonl(tmp_path / "runner_events-sol.jsonl", [
        applied(1000, 1, "KILL_SWITCH", "REDUCING", 3, 1.5), settled(1020, 1, "KILL_SWITCH", "REDUCING", 4.0, 20.0)])
    page = render_report(str(tmp_path), summarize_session(tmp_path, AuroraConfig(), 0))
    assert "Kills: resting orders cancelled" in page and "<td>KILL_SWITCH</td>" in page and "<td>20</td>" in page
