"""Run the whole system for a while: session dir, gate, runners, dashboard refreshes, shutdown, proof.

The order of things (SPEC §6): create the session dir; start the gate and wait for ``/health`` and
``/metrics``; start one runner per symbol group; refresh the dashboard model at ≤ 4 Hz while
supervising the children until the deadline, a stop signal, or a child's death (stop or restart, by
flag); stop the runners, then the gate (SIGTERM, SIGKILL after the grace period); write the proof —
also after an interrupt, marked as such.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from aurora.config.paths import overlays_dir, profiles_dir, resolve_named, runner_configs
from aurora.events.logger import new_run_id
from aurora.oneclick.dashboard_model import DashboardModel, DashboardSnapshot
from aurora.oneclick.preflight import Check, Plan
from aurora.oneclick.process_table import pid_alive
from aurora.oneclick.proof import PROOF_NAME, build_proof, read_session_tally, validate_proof, write_proof
from aurora.oneclick.session_reports import build_session_reports
from aurora.oneclick.supervisor import Child, ChildSpec, Supervisor
from aurora.session import create_session_dir
from runner.feeds import runs_on_market_clock

EXIT_OK, EXIT_FAILED = 0, 1
SIGNAL_EXIT = {"SIGINT": 130, "SIGTERM": 143, "SIGHUP": 129}
TICK_S = 0.25  # dashboard refresh: 4 Hz at most
READY_TIMEOUT_S = 30.0
MAX_RESTARTS = 3
DEFAULT_RUNNER_CONFIG = "base"  # the shipped offline config: synthetic feed, paper venue


class StopFlag:
    """Set by SIGINT/SIGTERM/SIGHUP while installed; a second signal asks to hurry (SIGKILL, no grace).

    SIGHUP is included because a closed terminal must still end in a clean stop and a proof.
    """

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signal_name: str | None = None
        self.count = 0
        self._previous: dict[int, Any] = {}

    def _handler(self, signum: int, _frame: Any) -> None:
        self.count += 1
        self.signal_name = self.signal_name or signal.Signals(signum).name
        self.event.set()

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            self._previous[sig] = signal.signal(sig, self._handler)

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def set(self, name: str = "SIGINT") -> None:
        self.signal_name = self.signal_name or name
        self.count += 1
        self.event.set()

    @property
    def is_set(self) -> bool:
        return self.event.is_set()

    @property
    def hurry(self) -> bool:
        return self.count >= 2

    def wait(self, timeout: float) -> bool:
        return self.event.wait(timeout)


@dataclass
class RunResult:
    exit_code: int
    proof: dict[str, Any]
    proof_paths: list[Path]
    session_dir: Path
    interrupted: bool
    failure: str | None
    gate_log_tail: str | None = None  # shown when the gate never became ready
    schema_errors: list[str] = field(default_factory=list)


def tail_text(path: Path, lines: int = 20) -> str:
    try:
        data = path.read_bytes()[-16384:]
    except OSError:
        return ""
    return "\n".join(data.decode("utf-8", "replace").splitlines()[-lines:])


def _clean_exit(child: Child) -> bool:
    if child.killed or child.exit_code is None:
        return False
    if child.exit_code == 0:
        return True
    stopped_codes = {-signal.SIGTERM, 128 + signal.SIGTERM, -signal.SIGINT, 128 + signal.SIGINT}
    return child.stop_reason is not None and child.exit_code in stopped_codes


class OneClickRun:
    def __init__(
        self,
        plan: Plan,
        preflight: list[Check],
        *,
        duration_s: float,
        restart_dead: bool = False,
        runner_config: str | None = None,
        profile: str | None = None,
        overlays: list[str] | None = None,
        grace_s: float = 10.0,
        ready_timeout_s: float = READY_TIMEOUT_S,
        proof_path: Path | None = None,
        stop: StopFlag | None = None,
        on_status: Callable[[str], None] | None = None,
        on_snapshot: Callable[[DashboardSnapshot], None] | None = None,
        tick_s: float = TICK_S,
        html: bool = True,
    ) -> None:
        self.plan = plan
        self.preflight = preflight
        self.duration_s = duration_s
        self.restart_dead = restart_dead
        self.runner_config = runner_config or DEFAULT_RUNNER_CONFIG
        self.profile = profile
        self.overlays = overlays or []
        self.grace_s = grace_s
        self.ready_timeout_s = ready_timeout_s
        self.proof_path = proof_path or plan.root / "artifacts" / PROOF_NAME
        self.stop = stop or StopFlag()
        self._on_status = on_status
        self._on_snapshot = on_snapshot
        self.tick_s = max(TICK_S, tick_s)
        self.html = html
        self.run_id = plan.child_env.get("AURORA_RUN_ID") or new_run_id()
        self.notes: list[str] = []
        self.session_dir: Path | None = None
        self.sup: Supervisor | None = None
        self.model: DashboardModel | None = None
        self._started = 0.0

    # --- the view: its failures (e.g. a closed terminal) must never stop the shutdown or the proof ---

    def on_status(self, message: str) -> None:
        self._call_view("_on_status", message)

    def on_snapshot(self, snapshot: DashboardSnapshot) -> None:
        self._call_view("_on_snapshot", snapshot)

    def _call_view(self, attr: str, arg: Any) -> None:
        fn = getattr(self, attr)
        if fn is None:
            return
        try:
            fn(arg)
        except (OSError, ValueError):
            setattr(self, attr, None)
            self.notes.append("the dashboard could not be drawn any more (terminal gone?); the run goes on")

    # --- children ----------------------------------------------------------------------------------

    def _child_env(self) -> dict[str, str]:
        # The session dir goes on the command line, not in AURORA_SESSION_DIR: as an env override it
        # would change the gate's effective config, and its version would differ from the proof's.
        env = dict(self.plan.child_env)
        env.update(
            {
                "AURORA_ROOT": str(self.plan.root),
                "AURORA_RUN_ID": self.run_id,
                "PYTHONUNBUFFERED": "1",
                "NO_COLOR": "1",
            }
        )
        env.pop("AURORA_OPS_TOKEN", None)  # the canonical OPS_TOKEN is set; the alias would only warn
        return env

    def _resolved(self, value: str, dirs: list[Path], what: str) -> str:
        return str(resolve_named(value, dirs, what=what).resolve())

    def gate_spec(self) -> ChildSpec:
        assert self.session_dir is not None
        argv = [
            sys.executable, "-m", "auroractl", "start-api",
            "--host", self.plan.host, "--port", str(self.plan.port),
            "--mode", self.plan.mode, "--session", str(self.session_dir),
        ]  # fmt: skip
        if self.plan.state_dir is not None:
            argv += ["--state-dir", str(self.plan.state_dir)]
        elif self.plan.venue in ("paper", "shadow"):
            argv += ["--state-dir", str(self.session_dir / "gate_state")]
        if runs_on_market_clock(self.plan.runner.config.feed):
            # A replay's runners send the recording's time: every gate window must run on it too.
            argv += ["--clock", "request"]
        return ChildSpec(
            "gate", "gate", argv, self._child_env(), self.session_dir / "gate.log", self.plan.root, 1
        )

    def runner_specs(self) -> list[ChildSpec]:
        assert self.session_dir is not None
        root = self.plan.root
        config = self._resolved(self.runner_config, [runner_configs(root)], "--runner-config")
        extra: list[str] = []
        if self.profile:
            extra += ["--profile", self._resolved(self.profile, [profiles_dir(root)], "--profile")]
        for o in self.overlays:
            extra += ["--overlay", self._resolved(o, [overlays_dir(root), profiles_dir(root)], "--overlay")]
        specs = []
        for group in self.plan.groups:
            argv = [
                sys.executable, "-m", "auroractl", "run-runner", "--runner-config", config, *extra,
                "--venue", self.plan.venue, "--gate-url", self.plan.gate_url,
                "--session", str(self.session_dir), "--group", group,
                "--duration", f"{self.duration_s:g}",
            ]  # fmt: skip
            spec = ChildSpec(
                f"runner-{group}",
                "runner",
                argv,
                self._child_env(),
                self.session_dir / f"runner-{group}.log",
                root,
                0,
            )
            specs.append(spec)
        return specs

    def _write_processes_file(self) -> None:
        """``processes.json`` in the session dir: who is running (operators and tests read it)."""
        if self.sup is None or self.session_dir is None:
            return
        data = {
            "oneclick_pid": os.getpid(),
            "watchdog_pid": self.sup.watchdog_pid,
            "children": [
                {
                    "name": c.name,
                    "role": c.spec.role,
                    "pid": c.pid,
                    "pgid": c.pgid,
                    "running": c.exit_code is None,
                }
                for c in self.sup.history
            ],
        }
        path = self.session_dir / "processes.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
        os.replace(tmp, path)

    def wait_gate_ready(self, gate: Child) -> str | None:
        """None when ``/health`` and ``/metrics`` answer 200; else why not."""
        headers = {"X-OPS-TOKEN": self.plan.ops_token} if self.plan.ops_token else {}
        deadline = time.monotonic() + self.ready_timeout_s
        last = "no answer"
        with httpx.Client(timeout=1.0) as client:
            while time.monotonic() < deadline:
                if self.stop.is_set:
                    return "interrupted while waiting for the gate"
                if gate.reap() is not None:
                    return f"the gate exited with code {gate.exit_code} before it was ready"
                try:
                    h = client.get(self.plan.gate_url + "/health")
                    m = client.get(self.plan.gate_url + "/metrics", headers=headers)
                    if h.status_code == 200 and m.status_code == 200:
                        gate.extra["ready_after_s"] = round(time.time() - gate.started_at, 3)
                        return None
                    last = f"/health {h.status_code}, /metrics {m.status_code}"
                except httpx.HTTPError as exc:
                    last = type(exc).__name__
                self.stop.wait(0.1)
        return f"the gate was not ready within {self.ready_timeout_s:g} s ({last})"

    def _process_rows(self) -> list[dict[str, Any]]:
        assert self.sup is not None
        rows = []
        for c in self.sup.children:
            state = "running" if c.exit_code is None else f"exited {c.exit_code}"
            rows.append({"name": c.name, "pid": c.pid, "state": state, "restarts": c.incarnation})
        return rows

    def _handle_dead(self, dead: list[Child]) -> str | None:
        """Restart or give up per ``restart_dead``; returns a failure message to stop the run."""
        assert self.sup is not None
        for child in dead:
            if child.spec.role == "runner" and child.exit_code == 0:
                self.notes.append(f"{child.name} finished")
                continue
            what = f"{child.name} (pid {child.pid}) exited with code {child.exit_code}"
            if self.restart_dead and child.incarnation < MAX_RESTARTS:
                self.notes.append(what + "; restarting")
                self.on_status(what + "; restarting")
                new = self.sup.restart(child)
                self._write_processes_file()
                if new.spec.role == "gate":
                    why = self.wait_gate_ready(new)
                    if why:
                        return why
                continue
            self.notes.append(what)
            return what + ("" if self.restart_dead else " (use --restart-dead to restart dead children)")
        return None

    # --- the run -----------------------------------------------------------------------------------

    def run(self) -> RunResult:
        self._started = time.time()
        failure: str | None = None
        gate_log_tail: str | None = None
        gate_reported: str | None = None
        plan = self.plan
        if plan.session_dir is not None:
            plan.session_dir.mkdir(parents=True, exist_ok=True)
            self.session_dir = plan.session_dir.resolve()
        else:
            self.session_dir = create_session_dir(plan.session_parent).resolve()
        self.on_status(f"session dir {self.session_dir}")
        self.sup = Supervisor(grace_s=self.grace_s, watchdog_log=self.session_dir / "watchdog.log")
        if self.sup.watchdog_error:
            self.on_status(self.sup.watchdog_error)
        self.model = DashboardModel(
            self.session_dir,
            plan.gate_url,
            ops_token=plan.ops_token,
            title=f"Aurora one-click · {plan.mode} · {plan.venue} · {plan.feed}",
            duration_s=self.duration_s,
            cvar_alpha=plan.gate.config.risk.cvar_alpha,
        )
        try:
            gate = self.sup.start(self.gate_spec())
            self._write_processes_file()
            self.on_status(
                f"gate started (pid {gate.pid}) on {plan.gate_url}; waiting for /health and /metrics"
            )
            failure = self.wait_gate_ready(gate)
            if failure:
                gate_log_tail = tail_text(gate.spec.log_path)
            else:
                self.on_status(f"gate ready in {gate.extra.get('ready_after_s', 0):.1f} s")
                for spec in self.runner_specs():
                    child = self.sup.start(spec)
                    child.extra["group"] = spec.name.removeprefix("runner-")
                    child.extra["symbols"] = plan.groups.get(child.extra["group"], [])
                    self.on_status(
                        f"{spec.name} started (pid {child.pid}): {', '.join(child.extra['symbols'])}"
                    )
                self._write_processes_file()
                failure = self._loop()
            gate = self.sup.get("gate") or gate  # the current incarnation after a restart
            if gate.exit_code is None and gate.reap() is None:  # its health at the end, before stopping it
                status = self.model.probe_gate()
                gate_reported = status.health.get("config_version") if status.health else None
                gate.extra["health"] = {
                    "http": status.health_http,
                    "metrics_http": status.metrics_http,
                    "status": status.health.get("status"),
                    "armed": status.health.get("armed"),
                    "halted": status.health.get("halted"),
                    "health_state": status.health.get("health_state"),
                }
        except Exception as exc:  # the children must still be stopped and the proof written
            if os.environ.get("AURORA_DEBUG") == "1":
                self.sup.close()
                raise
            failure = f"internal error: {type(exc).__name__}: {exc}"
        finally:
            reason = "interrupt" if self.stop.is_set else ("failure" if failure else "deadline")
            self.on_status("stopping runners, then the gate")
            self._stop_children(reason)
            self.sup.close()
            self._write_processes_file()
        return self._finish(failure, gate_log_tail, gate_reported)

    def _loop(self) -> str | None:
        assert self.sup is not None and self.model is not None
        deadline = time.monotonic() + self.duration_s
        while not self.stop.is_set:
            if time.monotonic() >= deadline:
                break
            failure = self._handle_dead(self.sup.poll())
            if failure:
                return failure
            runners = [c for c in self.sup.children if c.spec.role == "runner"]
            if runners and all(c.exit_code == 0 for c in runners):
                break  # every runner finished its duration
            self.on_snapshot(self._snapshot())
            self.stop.wait(self.tick_s)
        return None

    def _snapshot(self, *, scrape: bool = True) -> DashboardSnapshot:
        assert self.model is not None
        return self.model.refresh(
            elapsed_s=time.time() - self._started,
            processes=self._process_rows(),
            notes=self.notes[-3:],
            scrape=scrape,
        )

    def _stop_children(self, reason: str) -> None:
        assert self.sup is not None
        for order in sorted({c.spec.stop_order for c in self.sup.children}):
            group = [c for c in self.sup.children if c.spec.stop_order == order]
            self.sup.stop(group, reason=reason, hurry=lambda: self.stop.hurry)

    def _finish(self, failure: str | None, gate_log_tail: str | None, gate_reported: str | None) -> RunResult:
        assert self.sup is not None and self.model is not None and self.session_dir is not None
        plan = self.plan
        ended = time.time()
        try:
            self.on_snapshot(self._snapshot(scrape=False))  # the last lines the children flushed
        finally:
            self.model.close()
        interrupted = self.stop.is_set
        reports = build_session_reports(
            self.session_dir, plan.root / "reports" / self.session_dir.name, plan.gate, html=self.html
        )
        tally, log_read = read_session_tally(self.session_dir, cvar_alpha=plan.gate.config.risk.cvar_alpha)
        log_read["tail_corrupt_lines"] = self.model.tails.corrupt
        left_alive = [pid for pid in self.sup.alive_pids() if pid_alive(pid)]
        gate = self.sup.get("gate")
        processes = {
            "gate": self._proc_dict(gate) if gate else None,
            "runners": [self._proc_dict(c) for c in self.sup.children if c.spec.role == "runner"],
            "history": [self._proc_dict(c) for c in self.sup.history if c not in self.sup.children],
            "oneclick_pid": os.getpid(),
            "watchdog": {"pid": self.sup.watchdog_pid, "error": self.sup.watchdog_error},
            "left_alive": left_alive,
        }
        if left_alive and failure is None:
            failure = f"processes still alive after shutdown: {left_alive}"
        unclean = [p for p in [processes["gate"], *processes["runners"]] if p and not p["healthy"]]
        if unclean and failure is None:  # a child that crashed on the way out or had to be SIGKILLed
            failure = "did not stop cleanly: " + ", ".join(
                f"{p['name']} (exit {p['exit_code']}{', SIGKILL' if p['killed'] else ''})" for p in unclean
            )
        proof = build_proof(
            plan=plan,
            run_id=self.run_id,
            session_dir=self.session_dir,
            preflight=self.preflight,
            processes=processes,
            tally=tally,
            log_read=log_read,
            reports=reports.pointers(),
            slis=reports.slis,
            sli_source="aurora.analytics summary"
            if reports.slis
            else "one-click (full read of the session logs)",
            gate_reported_version=gate_reported,
            started_at=self._started,
            ended_at=ended,
            planned_s=self.duration_s,
            interrupted=interrupted,
            interrupt_signal=self.stop.signal_name if interrupted else None,
            failure=failure,
        )
        if interrupted:
            exit_code = SIGNAL_EXIT.get(self.stop.signal_name or "", 130)
        elif proof["ok"]:
            exit_code = EXIT_OK
        else:
            exit_code = EXIT_FAILED
        proof["exit_code"] = exit_code
        if not proof["chain"]["complete"] and failure is None and not interrupted:
            proof["failure"] = "the chain MODEL -> POLICY_DECISION -> ORDER never completed"
        elif proof["chain"]["orders_without_allow"] and failure is None:
            proof["failure"] = f"{proof['chain']['orders_without_allow']} order(s) without an allow decision"
        errors = validate_proof(proof)
        paths = write_proof(proof, [self.proof_path, self.session_dir / PROOF_NAME])
        return RunResult(
            exit_code=exit_code,
            proof=proof,
            proof_paths=paths,
            session_dir=self.session_dir,
            interrupted=interrupted,
            failure=proof["failure"],
            gate_log_tail=gate_log_tail,
            schema_errors=errors,
        )

    def _proc_dict(self, child: Child) -> dict[str, Any]:
        d = child.to_dict()
        d["healthy"] = _clean_exit(child) and (
            child.spec.role != "gate" or (d.get("health") or {}).get("http") == 200
        )
        return d
