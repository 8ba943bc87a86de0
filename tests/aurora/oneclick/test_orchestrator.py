"""Orchestration paths with stand-in children (fake_children.py): ready/not ready, a dying runner with
--stop-on-dead and --restart-dead, an interrupt. The real gate and runner are exercised end to end in
tests/auroractl/test_one_click.py."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

from aurora.oneclick.orchestrator import MAX_RESTARTS, OneClickRun, StopFlag
from aurora.oneclick.preflight import OneClickOptions, run_preflight
from aurora.oneclick.process_table import pid_alive
from aurora.oneclick.proof import validate_proof
from aurora.oneclick.supervisor import ChildSpec

FAKE = str(Path(__file__).with_name("fake_children.py"))


class FakeRun(OneClickRun):
    def __init__(self, *args, gate_flags=(), runner_flags=(), **kw) -> None:
        super().__init__(*args, **kw)
        self.gate_flags = list(gate_flags)
        self.runner_flags = list(runner_flags)

    def gate_spec(self) -> ChildSpec:
        argv = [sys.executable, FAKE, "gate", str(self.plan.port), str(self.session_dir), *self.gate_flags]
        return ChildSpec("gate", "gate", argv, self._child_env(), self.session_dir / "gate.log", None, 1)

    def runner_specs(self) -> list[ChildSpec]:
        return [
            ChildSpec(
                f"runner-{g}",
                "runner",
                [sys.executable, FAKE, "runner", str(self.session_dir), g, *self.runner_flags],
                self._child_env(),
                self.session_dir / f"runner-{g}.log",
                None,
                0,
            )  # fmt: skip
            for g in self.plan.groups
        ]


@pytest.fixture
def plan_and_checks(project: Path):
    report = run_preflight(OneClickOptions(mode="testnet", port=0, session_dir=project / "logs" / "s1"))
    assert report.ok, report.to_dict()
    return report.plan, report.checks


def _run(plan_and_checks, **kw) -> tuple[FakeRun, object]:
    plan, checks = plan_and_checks
    kw.setdefault("duration_s", 1.5)
    kw.setdefault("grace_s", 2.0)
    run = FakeRun(plan, checks, **kw)
    return run, run.run()


def _no_child_alive(run: OneClickRun) -> bool:
    return not any(pid_alive(c.pid) for c in run.sup.history)


def test_happy_path_writes_a_valid_proof(plan_and_checks, project: Path) -> None:
    statuses: list[str] = []
    snaps: list = []
    run, res = _run(plan_and_checks, on_status=statuses.append, on_snapshot=snaps.append)
    assert res.exit_code == 0, res.failure
    assert res.schema_errors == []
    assert validate_proof(res.proof) == []
    p = res.proof
    assert p["ok"] and not p["interrupted"] and p["chain"]["complete"]
    assert p["counts"]["allowed"] > 0 and p["counts"]["denied"] > 0 and p["counts"]["fills"] > 0
    assert p["counts"]["deny_by_reason"] == {"SPREAD_GUARD": p["counts"]["denied"]}
    assert all(p["xai_tail"][s] for s in ("MODEL", "ENR_GATE", "PARENT_GATE", "POLICY_DECISION", "ORDER"))
    assert p["processes"]["gate"]["healthy"] and all(r["healthy"] for r in p["processes"]["runners"])
    assert p["processes"]["left_alive"] == []
    assert p["tokens"]["generated"] == ["AURORA_API_TOKEN", "OPS_TOKEN"]
    assert res.proof_paths == [
        project / "artifacts" / "full_e2e_proof.json",
        res.session_dir / "full_e2e_proof.json",
    ]
    assert (res.session_dir / "processes.json").is_file()
    assert p["reports"]["summary"] == str(project / "reports" / "s1" / "summary_gate_status.json")
    assert p["sli"]["source"] == "aurora.analytics summary"
    assert p["sli"]["deny_rate"] == pytest.approx(p["counts"]["denied"] / p["counts"]["decisions"], abs=1e-6)
    assert snaps and snaps[-1].decisions == p["counts"]["decisions"]
    assert snaps[-1].latency_source == "metrics" and snaps[-1].gate_p99_ms is not None
    assert any("gate ready" in s for s in statuses)
    # the generated tokens went to the children only: never to the proof or the session files
    token = plan_and_checks[0].api_token
    for f in [*res.session_dir.iterdir(), *res.proof_paths]:
        assert token not in f.read_text(errors="replace"), f
    assert _no_child_alive(run)


def test_gate_never_ready_fails_with_its_log_and_starts_no_runner(plan_and_checks) -> None:
    run, res = _run(plan_and_checks, gate_flags=["--not-ready"], ready_timeout_s=1.0)
    assert res.exit_code == 1
    assert "not ready within 1 s" in res.failure and "/metrics 503" in res.failure
    assert [c.spec.role for c in run.sup.history] == ["gate"]
    assert res.proof["processes"]["runners"] == [] and validate_proof(res.proof) == []
    assert _no_child_alive(run)


def test_gate_exiting_early_shows_its_stderr(plan_and_checks) -> None:
    run, res = _run(plan_and_checks, gate_flags=["--exit-early"], ready_timeout_s=5.0)
    assert res.exit_code == 1
    assert "exited with code 4 before it was ready" in res.failure
    assert "cannot bind" in res.gate_log_tail


def test_dead_runner_stops_the_run(plan_and_checks) -> None:
    run, res = _run(plan_and_checks, runner_flags=["--crash-after", "0.3"], duration_s=5.0)
    assert res.exit_code == 1
    assert "runner-default" in res.failure and "code 3" in res.failure and "--restart-dead" in res.failure
    assert res.proof["processes"]["gate"]["stop_reason"] == "failure"
    assert _no_child_alive(run)


def test_restart_dead_restarts_then_gives_up(plan_and_checks) -> None:
    run, res = _run(plan_and_checks, runner_flags=["--crash-after", "0.1"], duration_s=8.0, restart_dead=True)
    runners = [c for c in run.sup.history if c.spec.role == "runner"]
    assert len(runners) == MAX_RESTARTS + 1
    assert res.exit_code == 1 and "code 3" in res.failure
    assert len(res.proof["processes"]["history"]) == MAX_RESTARTS
    assert _no_child_alive(run)


def test_interrupt_stops_children_and_marks_the_proof(plan_and_checks) -> None:
    stop = StopFlag()
    threading.Timer(1.0, stop.set, args=("SIGINT",)).start()
    run, res = _run(plan_and_checks, duration_s=30.0, stop=stop)
    assert res.exit_code == 130 and res.interrupted
    p = res.proof
    assert p["interrupted"] and p["interrupt_signal"] == "SIGINT" and p["timing"]["elapsed_s"] < 10
    assert p["processes"]["gate"]["stop_reason"] == "interrupt"
    assert validate_proof(p) == []
    assert _no_child_alive(run)
