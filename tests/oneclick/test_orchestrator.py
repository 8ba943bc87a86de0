"""Orchestration paths with stand-in children (fake_children.py): ready/not ready, a dying runner with
--stop-on-dead and --restart-dead, a dying gate brought back; and the trouble the proof must be honest
about: a hung gate within and beyond the outage budget, positions left open or unknown, unsynced books,
slow and failed runner start-ups, an unwritable session dir. The real gate and runner are exercised end to end in
tests/auroractl/test_one_click.py."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from oneclick.orchestrator import MAX_RESTARTS, OneClickRun, runner_stop_budget_s
from oneclick.preflight import OneClickOptions, run_preflight
from oneclick.process_table import pid_alive
from oneclick.proof import validate_proof
from oneclick.supervisor import ChildSpec

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
    kw.setdefault("duration_s", 1.2)
    kw.setdefault("grace_s", 2.0)
    kw.setdefault(
        "html", False
    )  # the HTML report (matplotlib, ~2 s) is checked end to end in tests/auroractl
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
    assert p["reports"]["audit"] == str(project / "reports" / "s1" / "lifecycle_audit.json")
    assert (
        p["reports"]["audit_result"]["ok"] and p["reports"]["audit_result"]["orders"] == p["counts"]["orders"]
    )
    assert p["reports"]["html"] is None
    assert p["sli"]["deny_rate"] == pytest.approx(p["counts"]["denied"] / p["counts"]["decisions"], abs=1e-6)
    assert snaps and snaps[-1].decisions == p["counts"]["decisions"]
    # one latency definition: the dashboard's last figure is the proof's (the summary's), from the logs
    assert snaps[-1].latency_source == "logs"
    assert snaps[-1].gate_p99_ms == pytest.approx(p["sli"]["gate_latency_p99_ms"], abs=5e-5)
    assert snaps[-1].gate_p50_ms == pytest.approx(p["sli"]["gate_latency_p50_ms"], abs=5e-5)
    assert p["ok"] and p["failures"] == [] and p["incidents"]["gate"]["outages"] == []
    assert p["incidents"]["open_positions"] == [] and p["incidents"]["open_positions_unknown"] == []
    phases = p["timing"]["phases"]
    assert phases["trading_s"] > 0 and p["timing"]["trading_started_at"] is not None
    assert phases["startup_s"] + phases["trading_s"] + phases["shutdown_s"] + phases[
        "reports_s"
    ] == pytest.approx(p["timing"]["elapsed_s"], abs=0.01)
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


def test_restart_dead_brings_a_dead_gate_back(plan_and_checks) -> None:
    statuses: list[str] = []
    run, res = _run(
        plan_and_checks, gate_flags=["--die-once-after", "0.4"], duration_s=2.0, restart_dead=True,
        on_status=statuses.append,
    )  # fmt: skip
    gates = [c for c in run.sup.history if c.spec.role == "gate"]
    assert len(gates) == 2 and gates[0].exit_code == 5 and gates[1].incarnation == 1
    assert any("gate (pid" in s and "exited with code 5; restarting" in s for s in statuses)
    assert res.exit_code == 0, res.failure
    assert res.proof["processes"]["gate"]["incarnation"] == 1
    assert [h["exit_code"] for h in res.proof["processes"]["history"]] == [5]
    assert _no_child_alive(run)


def test_runner_argv_follows_the_contract(plan_and_checks, project: Path) -> None:
    plan, checks = plan_and_checks
    run = OneClickRun(
        plan, checks, duration_s=12.5, runner_config="test_param", profile="sol_soon_base",
        overlays=["_active_shadow"],
    )  # fmt: skip
    run.session_dir = project / "logs" / "s1"
    (spec,) = run.runner_specs()
    assert spec.argv[1:4] == ["-m", "auroractl", "run-runner"]
    args = dict(zip(spec.argv[4::2], spec.argv[5::2], strict=False))
    assert args == {
        "--runner-config": str(project / "configs/runner/test_param.yaml"),
        "--profile": str(project / "profiles/sol_soon_base.yaml"),
        "--overlay": str(project / "profiles/overlays/_active_shadow.yaml"),
        "--venue": "paper",
        "--gate-url": plan.gate_url,
        "--session": str(project / "logs" / "s1"),
        "--group": "default",
        "--duration": "12.5",
        "--metrics-port": "0",  # a free port, announced in RUNNER.START and registered as a target
    }
    assert spec.env["AURORA_API_TOKEN"] == plan.api_token and spec.env["AURORA_RUN_ID"] == run.run_id
    assert "AURORA_METRICS_TOKEN" not in spec.env  # the gate has none: the runner's /metrics are open on loopback
    gate = run.gate_spec()
    assert gate.argv[3:] == ["start-api", "--host", "127.0.0.1", "--port", str(plan.port), "--mode", "testnet",
                             "--session", str(project / "logs" / "s1"),
                             # an offline paper run: a fresh risk state of its own, inside the session dir
                             "--state-dir", str(project / "logs" / "s1" / "gate_state")]  # fmt: skip
    assert gate.env["OPS_TOKEN"] == plan.ops_token and "AURORA_SESSION_DIR" not in gate.env


def test_runners_get_the_gates_metrics_token(project: Path, test_secrets) -> None:
    """The gate's security.metrics_token (here from its config file, not the environment) opens the
    runners' /metrics too: one credential for the scraper."""
    token = "metricstok-OneClick-Tq5Wz8Lm2"
    test_secrets.add(token)
    path = project / "configs" / "aurora" / "testnet.yaml"
    cfg = yaml.safe_load(path.read_text()) or {}
    cfg.setdefault("security", {})["metrics_token"] = token
    path.write_text(yaml.safe_dump(cfg))
    report = run_preflight(OneClickOptions(mode="testnet", port=0, session_dir=project / "logs" / "s1"))
    assert report.ok, report.to_dict()
    run = OneClickRun(report.plan, report.checks, duration_s=5)
    run.session_dir = project / "logs" / "s1"
    (spec,) = run.runner_specs()
    assert spec.env["AURORA_METRICS_TOKEN"] == token and token not in " ".join(spec.argv)


# --- honesty about trouble --------------------------------------------------------------------------


def test_a_hung_gate_beyond_the_budget_fails_the_run_and_is_recorded(plan_and_checks) -> None:
    """The gate SIGSTOPs itself for 4 s: the supervisor's probes get no answer (a hang, not a crash)."""
    statuses: list[str] = []
    run, res = _run(plan_and_checks, gate_flags=["--hang-after", "0.3", "--hang-for", "4"], duration_s=6.0,
                    outage_budget_s=0.5, on_status=statuses.append)  # fmt: skip
    p = res.proof
    assert res.exit_code == 1 and not p["ok"] and validate_proof(p) == []
    gate = p["incidents"]["gate"]
    (hang,) = [o for o in gate["outages"] if o["seen_by"] == "supervisor"]
    assert hang["kind"] == "hang" and hang["probes_failed"] >= 1 and not hang["ongoing_at_end"]
    assert gate["over_budget"] and gate["unreachable_s"] == pytest.approx(hang["length_s"])
    assert any("gate was unreachable for" in f and "budget 0.5 s" in f for f in p["failures"])
    assert p["processes"]["gate"]["healthy"] is False and p["processes"]["gate"]["outages"] == 1
    assert any("gate not answering (hang" in s for s in statuses) and any(
        "answering again" in s for s in statuses
    )
    assert _no_child_alive(run)


def test_an_outage_within_the_budget_is_recorded_but_passes(plan_and_checks) -> None:
    run, res = _run(plan_and_checks, gate_flags=["--hang-after", "0.3", "--hang-for", "1.5"], duration_s=4.0,
                    outage_budget_s=60.0)  # fmt: skip
    p = res.proof
    assert res.exit_code == 0, p["failures"]
    assert [o["kind"] for o in p["incidents"]["gate"]["outages"]] == ["hang"]
    assert not p["incidents"]["gate"]["over_budget"] and p["processes"]["gate"]["healthy"]


def test_a_gate_stopped_at_shutdown_is_continued_and_stops_cleanly(plan_and_checks) -> None:
    """SIGTERM alone never reaches a stopped process: one-click continues it and it stops within grace."""
    run, res = _run(plan_and_checks, gate_flags=["--hang-after", "0.5", "--hang-for", "60"], duration_s=1.5,
                    outage_budget_s=60.0)  # fmt: skip
    gate = res.proof["processes"]["gate"]
    assert gate["continued"] and not gate["killed"] and gate["clean_stop"]
    assert res.proof["incidents"]["continued_at_shutdown"] == ["gate"]
    (hang,) = res.proof["incidents"]["gate"]["outages"]
    assert hang["ongoing_at_end"]
    assert _no_child_alive(run)


def test_a_position_left_open_fails_the_run(plan_and_checks) -> None:
    run, res = _run(plan_and_checks, runner_flags=["--open-position"])
    p = res.proof
    assert res.exit_code == 1 and not p["ok"]
    assert p["failures"] == ["positions left open: SOLUSDT 0.5 (runner-default)"]
    assert p["incidents"]["open_positions"][0]["mark_pnl_usd"] == 0.05


def test_kills_are_in_the_proof_and_one_the_venue_never_confirmed_fails_the_run(plan_and_checks) -> None:
    run, res = _run(plan_and_checks, runner_flags=["--kills"])
    p = res.proof
    assert validate_proof(p) == []
    kills = p["incidents"]["kills"]
    assert [(k["runner"], k["kill"], k["reason"], k["settled"]) for k in kills["events"]] == [
        ("runner-default", 1, "KILL_SWITCH", True), ("runner-default", 2, "OPS_HALT", False)]
    assert kills["request_latency_ms"]["n"] == 2 and kills["request_latency_ms"]["max"] == 1.25
    assert kills["ack_latency_ms"]["n"] == 1 and kills["ack_latency_ms"]["p99"] == 14.5
    assert kills["unsettled"] == 1 and res.exit_code == 1
    assert p["failures"] == ["kill cancels not confirmed: runner-default kill 2 (OPS_HALT): 1 order(s)"]


def test_unsynced_books_at_the_end_are_recorded(plan_and_checks) -> None:
    run, res = _run(plan_and_checks, runner_flags=["--unsynced"])
    assert res.exit_code == 0, res.proof["failures"]
    assert res.proof["incidents"]["unsynced_symbols"] == [
        {
            "runner": "runner-default",
            "symbol": "SOLUSDT",
            "state": "unsynced",
            "age_ms": None,
            "untrusted_ms": 1200,
        }
    ]


def test_a_runner_without_a_summary_leaves_positions_unknown(plan_and_checks) -> None:
    run, res = _run(plan_and_checks, runner_flags=["--crash-after", "0.3"], duration_s=5.0)
    unknown = res.proof["incidents"]["open_positions_unknown"]
    assert unknown == [{"runner": "runner-default", "why": "runner_summary-default.json missing: the runner did "
                                                            "not finish its stop"}]  # fmt: skip
    assert any(f.startswith("open positions unknown") for f in res.proof["failures"])


def test_the_duration_counts_from_when_the_runners_trade(plan_and_checks) -> None:
    """A runner that needs 1.5 s to start still gets the whole duration; start-up is its own phase."""
    run, res = _run(plan_and_checks, runner_flags=["--start-after", "1.5"], duration_s=1.5)
    t = res.proof["timing"]
    assert res.exit_code == 0, res.proof["failures"]
    assert t["phases"]["startup_s"] >= 1.5 and t["phases"]["trading_s"] >= 1.5
    start = next(json.loads(x) for x in (res.session_dir / "runner_events-default.jsonl").read_text().splitlines()
                 if '"RUNNER.START"' in x)  # fmt: skip
    assert datetime.fromisoformat(t["trading_started_at"]).timestamp() >= start["ts_ns"] / 1e9


def test_a_runner_that_never_trades_fails_the_start(plan_and_checks) -> None:
    run, res = _run(
        plan_and_checks, runner_flags=["--start-after", "30"], ready_timeout_s=1.0, duration_s=5.0
    )
    assert res.exit_code == 1
    assert res.failure == "runner-default did not start trading within 1 s (no RUNNER.START in its event log; " \
                          "see its log)"  # fmt: skip
    assert res.proof["timing"]["phases"]["trading_s"] == 0.0
    assert _no_child_alive(run)


def test_runners_get_the_grace_their_stop_needs(plan_and_checks) -> None:
    plan, checks = plan_and_checks
    run = OneClickRun(plan, checks, duration_s=1.0, grace_s=2.0)
    cfg = plan.runner.config
    assert run.runner_grace_s == runner_stop_budget_s(cfg) > 2.0
    assert run.runner_grace_s >= cfg.runner.wind_down_s + cfg.gate.flush_timeout_s


def test_an_unwritable_session_dir_still_ends_with_a_proof(plan_and_checks, project: Path) -> None:
    """The session dir turns into a file mid-run (every write there fails): the proof lands at --proof,
    says why it is not in the session dir, and the run is not ok."""
    run, res = _run(plan_and_checks, runner_flags=["--sabotage-session-after", "0.4"], duration_s=3.0)
    p = res.proof
    assert res.exit_code == 1 and not p["ok"] and validate_proof(p) == []
    assert res.proof_paths == [project / "artifacts" / "full_e2e_proof.json"]
    assert json.loads(res.proof_paths[0].read_text()) == p
    assert any("could not be written to the session dir" in f for f in p["failures"])
    assert res.write_errors and str(res.session_dir) in res.write_errors[0]
    assert _no_child_alive(run)


def test_nowhere_to_write_returns_the_proof_for_stdout(plan_and_checks, tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    run, res = _run(plan_and_checks, runner_flags=["--sabotage-session-after", "0.4"], duration_s=2.0,
                    proof_path=blocker / "proof.json")  # fmt: skip
    assert res.proof_paths == [] and len(res.write_errors) == 2 and res.exit_code == 1
