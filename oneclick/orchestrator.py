"""Run the whole system for a while: session dir, gate, runners, dashboard refreshes, shutdown, proof.

The order of things (SPEC §6), each a timed phase in the proof: **startup** — create the session dir,
start the gate and wait for ``/health`` and ``/metrics``, start one runner per symbol group and wait
until each logs ``RUNNER.START`` (it trades from then); **trading** — the run's duration, counted from
that moment, while the dashboard model refreshes at ≤ 4 Hz and the children are supervised until the
deadline, a stop signal, or a child's death (stop or restart, by flag); **shutdown** — the runners, then
the gate (SIGTERM, SIGKILL after the grace period; the runners' grace covers their own stop with the
gate gone); **reports** — summary, audit, proof.

The proof is honest about trouble: every gate outage or hang the supervisor's probes or the runners
saw, restarts and SIGKILLs, positions left open and books not synced at the end; the run fails when the
gate was unreachable longer than the outage budget or a position was left open (or may have been: a
runner that left no summary). It is always written — also after an interrupt, and when the session
dir cannot be written (then at ``--proof`` only, or on stdout by the caller) — unless one-click itself
is SIGKILLed.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

from aurora.config.paths import overlays_dir, profiles_dir, resolve_named, runner_configs
from aurora.events.logger import new_run_id
from aurora.session import create_session_dir
from oneclick.availability import GateWatch, availability, probe_kind
from oneclick.dashboard_model import DashboardModel, DashboardSnapshot
from oneclick.preflight import Check, Plan
from oneclick.process_table import pid_alive
from oneclick.prometheus_targets import TARGETS_NAME, file_sd, write_file_sd
from oneclick.proof import (
    PROOF_NAME,
    build_proof,
    fallback_proof,
    read_session_tally,
    validate_proof,
    write_proof,
)
from oneclick.runner_results import RunnerResult, kill_report, read_runner
from oneclick.session_reports import build_session_reports
from oneclick.supervisor import Child, ChildSpec, Supervisor
from oneclick.tuner import DEFAULT_EXPLORE_RATIO, DEFAULT_PERIOD_S, DEFAULT_SPACE, TRIAL_PERIODS
from oneclick.tuner_tally import not_enabled
from runner.feeds import runs_on_market_clock

EXIT_OK, EXIT_FAILED = 0, 1
SIGNAL_EXIT = {"SIGINT": 130, "SIGTERM": 143, "SIGHUP": 129}
TICK_S = 0.25  # dashboard refresh: 4 Hz at most
READY_TIMEOUT_S = 30.0
MAX_RESTARTS = 3
DEFAULT_RUNNER_CONFIG = "base"  # the shipped offline config: synthetic feed, paper venue
#: How long the gate may be unreachable over a whole run before the run fails (``--outage-budget``).
OUTAGE_BUDGET_S = 5.0
#: Beyond its own stop budget, time for a runner to close its feed, write its summary and exit.
RUNNER_STOP_SLACK_S = 5.0


def runner_stop_budget_s(cfg: Any) -> float:
    """The longest a runner's stop may take with the gate gone, from its config.

    A runner with ``runner.stop_timeout_s`` bounds its whole stop by it; one without spends up to its
    wind-down (``runner.wind_down_s``: cancel and flatten through the gate) and then the lifecycle
    flush (``gate.flush_timeout_s``), plus the closing checks that time out in between (the slack is
    doubled for those). SIGKILL before the end would lose its summary and its pending lifecycle events.
    """
    runner = cfg.runner
    bounded = getattr(runner, "stop_timeout_s", None)
    if isinstance(bounded, int | float):
        return float(bounded) + RUNNER_STOP_SLACK_S
    return float(runner.wind_down_s) + float(cfg.gate.flush_timeout_s) + 2 * RUNNER_STOP_SLACK_S


@dataclass(frozen=True)
class TuneOptions:
    """``one-click --tune``: the live tuner beside the runners (:mod:`oneclick.tuner`)."""

    explore_ratio: float = DEFAULT_EXPLORE_RATIO
    space: str = DEFAULT_SPACE
    period_s: float = DEFAULT_PERIOD_S
    trial_s: float | None = None  # default: TRIAL_PERIODS periods
    seed: int = 0


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
    #: where the proof could not be written (path: error); when every path failed, print it instead
    write_errors: list[str] = field(default_factory=list)


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
        outage_budget_s: float = OUTAGE_BUDGET_S,
        tune: TuneOptions | None = None,
    ) -> None:
        self.plan = plan
        self.tune = tune
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
        self.outage_budget_s = outage_budget_s
        # never less than the runner's own stop needs with the gate gone (--grace may be shorter)
        self.runner_grace_s = max(grace_s, runner_stop_budget_s(plan.runner.config))
        self.run_id = plan.child_env.get("AURORA_RUN_ID") or new_run_id()
        self.notes: list[str] = []
        self.session_dir: Path | None = None
        self.sup: Supervisor | None = None
        self.model: DashboardModel | None = None
        self.watch = GateWatch()
        self._started = 0.0
        self._trading_started: float | None = None
        self._trading_ended: float | None = None
        self._shutdown_ended: float | None = None
        self._probe_seen: float | None = None
        self._processes_error: str | None = None
        self._registered: dict[str, str] = {}  # group -> the /metrics URL registered as a target

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

    def _runner_env(self) -> dict[str, str]:
        """A runner's /metrics wants the gate's metrics token, when it has one: one scraper credential."""
        env = self._child_env()
        token = self.plan.gate.config.security.metrics_token
        if token is not None:
            env["AURORA_METRICS_TOKEN"] = token.get_secret_value()
        return env

    def _register_runner_metrics(self, *, final: bool = False) -> None:
        """Each runner's announced /metrics: on its child (processes.json, the proof) and as a Prometheus
        target (``prometheus_runners.json``, file_sd); emptied at the end, when they stop on purpose."""
        if self.sup is None or self.session_dir is None or self.model is None:
            return
        urls = {} if final else dict(self.model.tally.runner_metrics)
        if urls == self._registered and not final:
            return
        for c in self.sup.children:
            group = c.spec.name.removeprefix("runner-")
            if c.spec.role == "runner" and group in urls:
                c.extra["metrics_url"] = urls[group]
        try:
            write_file_sd(self.session_dir / TARGETS_NAME,
                          file_sd(urls, run_id=self.run_id, session=self.session_dir.name))  # fmt: skip
        except OSError as exc:  # a full or unwritable session dir must not stop the run or its proof
            note = f"{TARGETS_NAME} could not be written ({exc.strerror or exc})"
            if note not in self.notes:
                self.notes.append(note)
            return
        if not final:
            self._registered = urls
            self._write_processes_file()

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

    def tuner_spec(self) -> ChildSpec:
        """The live tuner (``--tune``). Stopped first (stop order -1: before the runners it feeds, then the
        gate): no proposal arrives while the runners wind down, so their last decisions and exits run on
        parameters they had already validated, and the tuner's last heartbeat precedes their stop."""
        assert self.session_dir is not None and self.tune is not None
        root, t = self.plan.root, self.tune
        argv = [
            sys.executable, "-m", "oneclick.tuner", "--session", str(self.session_dir),
            "--space", self._resolved(t.space, [root], "--space"),
            "--explore-ratio", f"{t.explore_ratio:g}", "--period", f"{t.period_s:g}",
            "--trial-s", f"{(t.trial_s if t.trial_s is not None else t.period_s * TRIAL_PERIODS):g}",
            "--seed", str(t.seed), *self._runner_layers(),
        ]  # fmt: skip
        return ChildSpec("tuner", "tuner", argv, self._child_env(), self.session_dir / "tuner.log", root, -1)

    def _runner_layers(self) -> list[str]:
        """The runners' config layers (``--runner-config``, ``--profile``, ``--overlay``), resolved."""
        root = self.plan.root
        config = self._resolved(self.runner_config, [runner_configs(root)], "--runner-config")
        extra = ["--runner-config", config]
        if self.profile:
            extra += ["--profile", self._resolved(self.profile, [profiles_dir(root)], "--profile")]
        for o in self.overlays:
            extra += ["--overlay", self._resolved(o, [overlays_dir(root), profiles_dir(root)], "--overlay")]
        return extra

    def runner_specs(self) -> list[ChildSpec]:
        assert self.session_dir is not None
        root = self.plan.root
        extra = self._runner_layers()
        if self.tune is not None:  # a share of the decisions on the tuner's proposals (runner/explore.py)
            extra += ["--explore-ratio", f"{self.tune.explore_ratio:g}", "--explore-seed", str(self.tune.seed)]
        specs = []
        for group in self.plan.groups:
            argv = [
                sys.executable, "-m", "auroractl", "run-runner", *extra,
                "--venue", self.plan.venue, "--gate-url", self.plan.gate_url,
                "--session", str(self.session_dir), "--group", group,
                "--duration", f"{self.duration_s:g}",
                "--metrics-port", "0",  # a free port each, announced in RUNNER.START and registered
            ]  # fmt: skip
            spec = ChildSpec(
                f"runner-{group}",
                "runner",
                argv,
                self._runner_env(),
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
                    **({"metrics_url": c.extra["metrics_url"]} if "metrics_url" in c.extra else {}),
                }
                for c in self.sup.history
            ],
        }
        path = self.session_dir / "processes.json"
        tmp = path.with_suffix(".json.tmp")
        try:
            tmp.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
            os.replace(tmp, path)
        except OSError as exc:  # a full or unwritable session dir must not stop the run or its proof
            if self._processes_error is None:
                self._processes_error = f"{path}: {exc.strerror or exc}"
                self.notes.append(f"processes.json could not be written ({exc.strerror or exc})")

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
            if child.spec.role == "gate":
                self.watch.observe(False, child.ended_at or time.time(), kind="exited", detail=what)
            if self.restart_dead and child.incarnation < MAX_RESTARTS:
                self.notes.append(what + "; restarting")
                self.on_status(what + "; restarting")
                new = self.sup.restart(child)
                self._write_processes_file()
                if new.spec.role == "gate":
                    why = self.wait_gate_ready(new)
                    if why:
                        return why
                    self.watch.observe(True, time.time())
                    self.on_status(f"gate back (pid {new.pid}) after restart")
                continue
            self.notes.append(what)
            return what + ("" if self.restart_dead else " (use --restart-dead to restart dead children)")
        return None

    # --- the run -----------------------------------------------------------------------------------

    def _open_session(self) -> str | None:
        """Create the session dir; on failure the run goes on to its proof (at ``--proof``) and says why."""
        plan = self.plan
        try:
            if plan.session_dir is not None:
                plan.session_dir.mkdir(parents=True, exist_ok=True)
                self.session_dir = plan.session_dir.resolve()
            else:
                self.session_dir = create_session_dir(plan.session_parent).resolve()
        except OSError as exc:
            self.session_dir = (plan.session_dir or plan.session_parent).resolve()
            return f"the session dir {self.session_dir} could not be created: {exc.strerror or exc}"
        return None

    def run(self) -> RunResult:
        self._started = time.time()
        gate_log_tail: str | None = None
        gate_reported: str | None = None
        plan = self.plan
        failure = self._open_session()
        assert self.session_dir is not None
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
            if failure is None:
                failure, gate_log_tail, gate_reported = self._start_and_supervise()
        except Exception as exc:  # the children must still be stopped and the proof written
            if os.environ.get("AURORA_DEBUG") == "1":
                self.sup.close()
                raise
            what = "" if isinstance(exc, OSError) else "internal error: "
            failure = f"{what}{type(exc).__name__}: {exc}"
        finally:
            self._trading_ended = time.time()
            self.watch.close(self._trading_ended)  # from here on the gate is stopped on purpose
            reason = "interrupt" if self.stop.is_set else ("failure" if failure else "deadline")
            self.on_status(("stopping the tuner, then " if self.tune else "stopping ")
                           + f"runners (up to {self.runner_grace_s:g} s each), then the gate")
            self._stop_children(reason)
            self.sup.close()
            self._shutdown_ended = time.time()
            self._register_runner_metrics(final=True)
            self._write_processes_file()
        return self._finish(failure, gate_log_tail, gate_reported)

    def _start_and_supervise(self) -> tuple[str | None, str | None, str | None]:
        """Startup and trading: (failure, the gate's log tail when it never got ready, its config version)."""
        assert self.sup is not None and self.model is not None
        plan = self.plan
        gate_log_tail = gate_reported = None
        gate = self.sup.start(self.gate_spec())
        self._write_processes_file()
        self.on_status(f"gate started (pid {gate.pid}) on {plan.gate_url}; waiting for /health and /metrics")
        failure = self.wait_gate_ready(gate)
        if failure:
            gate_log_tail = tail_text(gate.spec.log_path)
        else:
            self.on_status(f"gate ready in {gate.extra.get('ready_after_s', 0):.1f} s")
            for spec in self.runner_specs():
                child = self.sup.start(spec)
                child.extra["group"] = spec.name.removeprefix("runner-")
                child.extra["symbols"] = plan.groups.get(child.extra["group"], [])
                self.on_status(f"{spec.name} started (pid {child.pid}): {', '.join(child.extra['symbols'])}")
            if self.tune is not None:
                tuner = self.sup.start(self.tuner_spec())
                self.on_status(f"tuner started (pid {tuner.pid}): explore ratio {self.tune.explore_ratio:g}, "
                               f"heartbeat every {self.tune.period_s:g} s")
            self._write_processes_file()
            failure = self._loop()
        gate = self.sup.get("gate") or gate  # the current incarnation after a restart
        if gate.exit_code is None and gate.reap() is None:  # its health at the end, before stopping it
            status = self.model.probe_gate()
            self._watch_probe()
            gate_reported = status.health.get("config_version") if status.health else None
            gate.extra["health"] = {
                "http": status.health_http,
                "metrics_http": status.metrics_http,
                "status": status.health.get("status"),
                "armed": status.health.get("armed"),
                "halted": status.health.get("halted"),
                "health_state": status.health.get("health_state"),
                **self._readiness(),
            }
        return failure, gate_log_tail, gate_reported

    def _readiness(self) -> dict[str, Any]:
        """``/readiness`` at the end: false after a failed write (disk full), while halted, … with reasons."""
        headers = {"X-OPS-TOKEN": self.plan.ops_token} if self.plan.ops_token else {}
        try:
            with httpx.Client(timeout=1.0) as client:
                r = client.get(self.plan.gate_url + "/readiness", headers=headers)
            body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
        except (httpx.HTTPError, ValueError) as exc:
            return {"ready": None, "ready_reasons": [f"no answer ({type(exc).__name__})"]}
        if not isinstance(body, dict) or r.status_code not in (200, 503):
            return {"ready": None, "ready_reasons": [f"/readiness answered {r.status_code}"]}
        return {"ready": bool(body.get("ready")), "ready_reasons": list(body.get("reasons") or [])}

    def _trading_groups(self) -> list[str]:
        assert self.model is not None
        return [g for g in self.plan.groups if g in self.model.tally.runner_started]

    def _loop(self) -> str | None:
        """Supervise: first until every runner trades (its RUNNER.START is in its log; bounded by the
        ready timeout), then for the run's duration from that moment."""
        assert self.sup is not None and self.model is not None
        start_deadline = time.monotonic() + self.ready_timeout_s
        deadline: float | None = None
        while not self.stop.is_set:
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                break
            failure = self._handle_dead(self.sup.poll())
            if failure:
                return failure
            runners = [c for c in self.sup.children if c.spec.role == "runner"]
            if runners and all(c.exit_code == 0 for c in runners):
                break  # every runner finished its duration
            trading = deadline is not None
            snap = self._snapshot(phase="trading" if trading else "starting")
            self._watch_probe()
            self._register_runner_metrics()
            if not trading:
                started = self._trading_groups()
                if len(started) == len(self.plan.groups):
                    self._trading_started = time.time()
                    deadline = time.monotonic() + self.duration_s
                    self.on_status(
                        f"runners trading after {self._trading_started - self._started:.1f} s; "
                        f"running for {self.duration_s:g} s"
                    )
                elif now >= start_deadline:
                    waiting = [f"runner-{g}" for g in self.plan.groups if g not in started]
                    return (f"{', '.join(waiting)} did not start trading within {self.ready_timeout_s:g} s "
                            "(no RUNNER.START in its event log; see its log)")  # fmt: skip
            self.on_snapshot(snap)
            self.stop.wait(self.tick_s)
        return None

    def _watch_probe(self) -> None:
        """Feed each new probe of the dashboard model to the supervisor's outage record; say when the
        gate stops or starts answering again."""
        assert self.model is not None
        at = self.model.probed_at
        if at is None or at == self._probe_seen:
            return
        self._probe_seen = at
        g = self.model.gate
        before = self.watch.current
        kind = probe_kind(g.error, g.health_http)
        detail = g.error or f"/health answered {g.health_http}"
        self.watch.observe(g.reachable, at, kind=kind, detail=detail)
        if before is None and self.watch.current is not None:
            message = f"gate not answering ({kind}: {detail})"
        elif before is not None and self.watch.current is None:
            message = f"gate answering again after {before.length(at):.1f} s"
        else:
            return
        self.notes.append(message)
        self.on_status(message)

    def _elapsed(self) -> float:
        """The run's clock: from the moment the runners trade (0 while they start)."""
        return 0.0 if self._trading_started is None else time.time() - self._trading_started

    def _snapshot(
        self, *, scrape: bool = True, phase: str = "trading", final: bool = False
    ) -> DashboardSnapshot:
        assert self.model is not None
        elapsed = self._elapsed() if phase != "stopping" else (
            (self._trading_ended or time.time()) - self._trading_started if self._trading_started else 0.0
        )  # fmt: skip
        return self.model.refresh(
            elapsed_s=elapsed if phase != "starting" else time.time() - self._started,
            processes=self._process_rows(),
            notes=self.notes[-3:],
            scrape=scrape,
            phase=phase,
            final=final,
        )

    def _stop_children(self, reason: str) -> None:
        assert self.sup is not None
        for order in sorted({c.spec.stop_order for c in self.sup.children}):
            group = [c for c in self.sup.children if c.spec.stop_order == order]
            runners_only = all(c.spec.role == "runner" for c in group)
            grace = self.runner_grace_s if runners_only else self.grace_s
            self.sup.stop(group, reason=reason, grace_s=grace, hurry=lambda: self.stop.hurry)

    # --- the proof ---------------------------------------------------------------------------------

    def _finish(self, failure: str | None, gate_log_tail: str | None, gate_reported: str | None) -> RunResult:
        assert self.sup is not None and self.model is not None and self.session_dir is not None
        try:
            self.on_snapshot(self._snapshot(scrape=False, phase="stopping", final=True))  # what was flushed
        except Exception as exc:  # a dashboard failure must not cost the proof
            self.notes.append(f"the last dashboard refresh failed: {type(exc).__name__}: {exc}")
        finally:
            self.model.close()
        interrupted = self.stop.is_set
        try:
            proof = self._build_proof(failure, gate_reported, interrupted)
        except Exception as exc:
            if os.environ.get("AURORA_DEBUG") == "1":
                raise
            why = f"internal error while building the proof: {type(exc).__name__}: {exc}"
            proof = fallback_proof(
                run_id=self.run_id, plan=self.plan, session_dir=self.session_dir, started_at=self._started,
                ended_at=time.time(), interrupted=interrupted, failures=[why, *([failure] if failure else [])],
            )  # fmt: skip
        if interrupted:
            exit_code = SIGNAL_EXIT.get(self.stop.signal_name or "", 130)
        else:
            exit_code = EXIT_OK if proof["ok"] else EXIT_FAILED
        proof["exit_code"] = exit_code
        paths, write_errors = self._write_proof(proof)
        return RunResult(
            exit_code=proof["exit_code"],
            proof=proof,
            proof_paths=paths,
            session_dir=self.session_dir,
            interrupted=interrupted,
            failure=proof["failure"],
            gate_log_tail=gate_log_tail,
            schema_errors=validate_proof(proof),
            write_errors=write_errors,
        )

    def _write_proof(self, proof: dict[str, Any]) -> tuple[list[Path], list[str]]:
        """The session dir's copy first: if it cannot be written (disk full, dir gone), the run failed and
        the copy at ``--proof`` says so. Nothing written anywhere: the caller prints it."""
        assert self.session_dir is not None
        paths, errors = write_proof(proof, [self.session_dir / PROOF_NAME])
        if errors:
            why = f"the proof could not be written to the session dir ({errors[0]})"
            proof["failures"].append(why)
            proof["failure"] = proof["failure"] or why
            proof["ok"] = False
            if proof["exit_code"] == EXIT_OK:
                proof["exit_code"] = EXIT_FAILED
        more, more_errors = write_proof(proof, [self.proof_path])
        return [*more, *paths], [*errors, *more_errors]

    def _runner_results(self) -> list[RunnerResult]:
        assert self.sup is not None and self.session_dir is not None
        seen: dict[str, Child] = {}
        for c in self.sup.history:  # every runner that was started, its last incarnation
            if c.spec.role == "runner":
                seen[c.name] = c
        return [read_runner(self.session_dir, name, c.extra.get("group") or name.removeprefix("runner-"))
                for name, c in seen.items()]  # fmt: skip

    def _timing(self, ended: float) -> dict[str, Any]:
        t0, ts = self._started, self._trading_started
        te = self._trading_ended or ended
        se = self._shutdown_ended or te
        return {
            "started_at": _iso(t0),
            "ended_at": _iso(ended),
            "planned_s": self.duration_s,
            "elapsed_s": round(max(0.0, ended - t0), 3),
            "trading_started_at": _iso(ts) if ts else None,
            "trading_ended_at": _iso(te) if ts else None,
            "phases": {
                "startup_s": round((ts or te) - t0, 3),
                "trading_s": round(te - ts, 3) if ts else 0.0,
                "shutdown_s": round(se - te, 3),
                "reports_s": round(max(0.0, ended - se), 3),
            },
        }

    def _build_proof(
        self, failure: str | None, gate_reported: str | None, interrupted: bool
    ) -> dict[str, Any]:
        assert self.sup is not None and self.model is not None and self.session_dir is not None
        plan = self.plan
        reports = build_session_reports(
            self.session_dir, plan.root / "reports" / self.session_dir.name, plan.gate, html=self.html
        )
        tally, log_read = read_session_tally(self.session_dir, cvar_alpha=plan.gate.config.risk.cvar_alpha)
        log_read["tail_corrupt_lines"] = self.model.tails.corrupt
        runners = self._runner_results()
        outages = [*self.watch.outages, *(o for r in runners for o in r.outages)]
        gate_avail = availability(
            outages, budget_s=self.outage_budget_s, until=self._trading_ended or time.time()
        )
        left_alive = [pid for pid in self.sup.alive_pids() if pid_alive(pid)]
        gate = self.sup.get("gate")
        tuner = self.sup.get("tuner")
        optuna, tuner_proc = self._optuna_section(tally, tuner)
        processes = {
            "gate": self._proc_dict(gate, gate_avail) if gate else None,
            "runners": [self._proc_dict(c) for c in self.sup.children if c.spec.role == "runner"],
            "optuna": tuner_proc,
            "history": [self._proc_dict(c) for c in self.sup.history if c not in self.sup.children],
            "oneclick_pid": os.getpid(),
            "watchdog": {"pid": self.sup.watchdog_pid, "error": self.sup.watchdog_error},
            "left_alive": left_alive,
            "grace_s": {"gate": self.grace_s, "runners": self.runner_grace_s},
        }
        positions = [p for r in runners for p in r.open_positions]
        unknown = [{"runner": r.name, "why": r.summary_error} for r in runners if r.summary is None]
        incidents = {
            "gate": gate_avail,
            "checks_unanswered": {r.name: r.checks_unanswered() for r in runners},
            "restarts": [
                {
                    "name": c.name,
                    "pid": c.pid,
                    "exit_code": c.exit_code,
                    "at": _iso(c.ended_at) if c.ended_at else None,
                }
                for c in self.sup.history
                if c not in self.sup.children
            ],  # fmt: skip
            "sigkills": [
                {"name": c.name, "pid": c.pid, "stop_reason": c.stop_reason}
                for c in self.sup.history
                if c.killed
            ],  # fmt: skip
            "continued_at_shutdown": [c.name for c in self.sup.history if c.continued],
            "open_positions": positions,
            "open_positions_unknown": unknown,
            "unsynced_symbols": [b for r in runners for b in r.untrusted_books],
            "kills": kill_report(runners),
            "notes": list(self.notes),
        }

        failures = [failure] if failure else []
        if left_alive:
            failures.append(f"processes still alive after shutdown: {left_alive}")
        unclean = [p for p in [processes["gate"], *processes["runners"], tuner_proc.get("process")]
                   if p and not p["clean_stop"]]  # fmt: skip
        if unclean:  # a child that crashed on the way out or had to be SIGKILLed
            failures.append("did not stop cleanly: " + ", ".join(
                f"{p['name']} (exit {p['exit_code']}{', SIGKILL' if p['killed'] else ''})" for p in unclean
            ))  # fmt: skip
        if gate_avail["over_budget"]:
            n = len(gate_avail["outages"])
            failures.append(f"the gate was unreachable for {gate_avail['unreachable_s']:.1f} s "
                            f"({n} outage record{'s' if n != 1 else ''}; budget {self.outage_budget_s:g} s)")  # fmt: skip
        real = [p for p in positions if not p.get("dust")]
        if real:
            failures.append("positions left open: " + ", ".join(
                f"{p.get('symbol')} {p.get('qty')} ({p['runner']})" for p in real))  # fmt: skip
        if unknown:
            failures.append(
                "open positions unknown: " + "; ".join(f"{u['runner']}: {u['why']}" for u in unknown)
            )
        unsettled = [k for k in incidents["kills"]["events"] if k.get("settled") is False]
        if unsettled:  # orders a kill cancelled that the venue never confirmed done
            failures.append("kill cancels not confirmed: " + ", ".join(
                f"{k['runner']} kill {k['kill']} ({k['reason']}): {k.get('unanswered')} order(s)" for k in unsettled))  # fmt: skip
        health = (processes["gate"] or {}).get("health") or {}
        if health.get("ready") is False:
            failures.append(
                "the gate was not ready at the end: " + "; ".join(health.get("ready_reasons") or [])
            )
        chain = tally.chain()
        if chain is None and not interrupted and not failures:
            failures.append("the chain MODEL -> POLICY_DECISION -> ORDER never completed: " + tally.why_no_chain())
        without_allow = tally.orders_without_allow()
        if without_allow:
            failures.append(f"{len(without_allow)} order(s) without an allow decision")
        if optuna["enabled"] and not interrupted:
            if not optuna["heartbeat_ok"]:
                failures.append(f"the live tuner's heartbeats were missing or late ({optuna['heartbeats']} seen, "
                                f"longest gap {optuna['max_gap_s']} s, last {optuna['last_heartbeat_age_s']} s "
                                f"before it stopped; allowed {optuna['allowed_gap_s']} s)")
            if not optuna["parameter_updates"]:
                failures.append("the live tuner announced no parameter update")
        ended = time.time()
        return build_proof(
            plan=plan,
            run_id=self.run_id,
            session_dir=self.session_dir,
            preflight=self.preflight,
            processes=processes,
            tally=tally,
            log_read=log_read,
            reports=reports.pointers(),
            slis=reports.slis,
            counts=reports.counts,
            sli_source="aurora.analytics summary"
            if reports.slis
            else "one-click (full read of the session logs)",
            gate_reported_version=gate_reported,
            timing=self._timing(ended),
            ended_at=ended,
            interrupted=interrupted,
            interrupt_signal=self.stop.signal_name if interrupted else None,
            failures=failures,
            incidents=incidents,
            runners=[r.to_dict() for r in runners],
            optuna=optuna,
        )

    def _optuna_section(self, tally: Any, tuner: Child | None) -> tuple[dict[str, Any], dict[str, Any]]:
        """The proof's ``optuna`` section and ``processes.optuna``; "not enabled" without ``--tune``."""
        if self.tune is None:
            return not_enabled(), {"enabled": False, "running": False, "process": None}
        # running: it was up until one-click stopped it (the supervisor names a stop reason only for a
        # child still running when asked; one that died on its way has none)
        running = tuner is not None and tuner.stop_reason is not None
        until = int((tuner.ended_at if tuner and tuner.ended_at else time.time()) * 1e9)
        proc = {"enabled": True, "running": bool(running), "process": self._proc_dict(tuner) if tuner else None}
        return tally.tuner.section(until), proc

    def _proc_dict(self, child: Child, gate_avail: dict[str, Any] | None = None) -> dict[str, Any]:
        """A child for the proof. ``clean_stop``: it stopped when asked (or finished) without SIGKILL.
        ``healthy``: that, and for the gate also answering and ready at the end and never unreachable
        beyond the outage budget (a hung gate that came back is not healthy)."""
        d = child.to_dict()
        d["clean_stop"] = _clean_exit(child)
        healthy = d["clean_stop"]
        if child.spec.role == "gate":
            health = d.get("health") or {}
            healthy = healthy and health.get("http") == 200 and health.get("ready") is not False
            if gate_avail is not None:
                d["outages"] = sum(1 for o in gate_avail["outages"] if o["seen_by"] == "supervisor")
                d["unreachable_s"] = gate_avail["unreachable_s"]
                healthy = healthy and not gate_avail["over_budget"]
        d["healthy"] = healthy
        return d


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")
