"""Backtest a risk config: the runner on a recorded feed against a fresh gate, once per gate config.

Each run is a session of its own (``<out>/<n>-<config name>/``): a :class:`GateService` with a fresh state
on the request clock (the recording's time, as one-click starts the gate for a replay) and the real
runner (feed → book/features → strategy → gate → paper venue) on the recording at full speed, on the
data's clock. The runner talks to the gate in process (:class:`InProcessGate`): the same validation as
the HTTP API (its request models), the same ``GateService.check``/``posttrade`` — without a port, a
transport timeout or a second process, so a run is deterministic (the paper venue is seeded, every
window runs on the recording's time, the cids come from a fixed run id): the same inputs give the same
numbers. The session's metrics summary (:mod:`aurora.analytics.metrics_summary`) is what is compared.

Only the gate config differs between runs; a backtest never trades (the runner's venue is the paper
venue whatever its config says).
"""

from __future__ import annotations

import asyncio
import secrets
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from aurora.analytics.metrics_summary import summarize_session
from aurora.api.schemas import PosttradeEvent, PretradeCheck
from aurora.config.loader import LoadedAurora, load_aurora, load_runner
from aurora.errors import InputError
from aurora.gate.gate_service import GateService
from runner.app import Runner
from runner.config import RunnerConfig
from runner.gate_client import GateDecision

SCHEMA = "aurora.backtest/1"


class BacktestError(InputError):
    """A backtest cannot run with these inputs (the message names the option and the file)."""


class InProcessGate:
    """The runner's gate interface (:class:`runner.gate_client.GateAPI`) over a :class:`GateService` in this
    process: bodies validated by the API's own models, then ``check``/``posttrade`` as the endpoints call
    them. A body the API would refuse (422) is refused here too: no order, counted."""

    base_url = "in-process"

    def __init__(self, gate: GateService) -> None:
        self.gate = gate
        self.stats: dict[str, int] = {"checks": 0, "allowed": 0, "denied": 0, "errors_4xx": 0, "posted": 0}
        self._ticks: deque[int] = deque(maxlen=1)

    @property
    def tick_to_request_ns(self) -> deque[int]:
        return self._ticks  # nothing travels: there is no tick-to-request time to measure

    async def start(self) -> None:
        return None

    async def aclose(self, timeout_s: float | None = None) -> None:
        return None

    async def describe(self) -> dict[str, Any] | None:
        return self.gate.health()

    async def check(self, body: dict[str, Any], *, tick_ns: int = 0) -> GateDecision | None:
        self.stats["checks"] += 1
        try:
            r = PretradeCheck.model_validate(body).to_request()
        except ValidationError:
            self.stats["errors_4xx"] += 1
            return None
        data = self.gate.response_for(r, self.gate.check(r))
        self.stats["allowed" if data["allow"] else "denied"] += 1
        return GateDecision(allow=bool(data["allow"]), reason=str(data["reason"]), max_qty=data["max_qty"],
                            risk_scale=data["risk_scale"], cooldown_ms=data["cooldown_ms"],
                            observability=data["observability"])  # fmt: skip

    async def trading_state(self, account: str, *, since: int | None = None,
                            wait_ms: float = 0.0) -> dict[str, Any] | None:
        return await self.gate.await_trading_state(account, since, wait_ms)

    def post_lifecycle(self, event: dict[str, Any]) -> None:
        try:
            ev = PosttradeEvent.model_validate(event).to_event()
        except ValidationError:
            self.stats["errors_4xx"] += 1
            return
        self.gate.posttrade(ev)
        self.stats["posted"] += 1


@dataclass
class BacktestRun:
    label: str
    config: str  # the gate config file as given
    session_dir: Path
    config_version: str
    summary: dict[str, Any]
    runner: dict[str, Any]

    def row(self) -> dict[str, Any]:
        """The figures compared side by side (only numbers the inputs determine: no wall time)."""
        s = self.summary
        d, o, f, r = s["decisions"], s["orders"], s["fills"], s["risk"]
        sl = (s.get("slippage") or {}).get("bps") or {}
        return {
            "decisions": d["total"], "allow": d["allow"], "deny": d["deny"], "deny_rate": d["deny_rate"],
            "deny_by_reason": d["deny_by_reason"], "orders_submitted": o["submitted"], "orders_filled": o["success"],
            "orders_rejected": o["rejected"], "orders_expired": o["expired"], "orders_canceled": o["canceled"],
            "orders_open": o["open"], "fill_events": f["fill_events"], "filled_qty": f["filled_qty"],
            "closed_trades": r["closed_trades"], "realized_pnl_usd": r["realized_pnl_usd"],
            "max_drawdown_usd": s["pnl"]["max_drawdown_usd"], "slippage_n": (s.get("slippage") or {}).get("n", 0),
            "slippage_bps_p50": sl.get("p50"), "slippage_bps_mean": sl.get("mean"),
        }  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "config": self.config, "session_dir": str(self.session_dir),
                "config_version": self.config_version, "figures": self.row()}  # fmt: skip


@dataclass(frozen=True)
class TradeWindow:
    """Where in a recording a run may open positions (seconds since its first message), and where the replay
    ends. Before ``entries_from_s`` the book and features are built from the recording's snapshot on, so a
    window in the middle of a recording trades on a synced book (the runner's ``strategy.entries_from_s``,
    ``strategy.entries_until_s`` and ``feed.replay_until_s``)."""

    entries_from_s: float = 0.0
    entries_until_s: float | None = None
    replay_until_s: float | None = None


def replay_config(recording: Path, runner_config: str | None, root: Path, environ: Mapping[str, str],
                   overlays: Sequence[str] = (), window: TradeWindow | None = None) -> RunnerConfig:  # fmt: skip
    """The runner config of a backtest: the layers (``overlays`` as ``--overlay`` files, validated by the loader),
    then the recording as a fast replay, the paper venue and the trade window."""
    loaded = load_runner(RunnerConfig, config=runner_config, overlays=overlays, environ=environ, root=root)
    data = loaded.config.model_dump()
    data["feed"].update(source=f"replay:{recording}", realtime=False)
    data["runner"].update(mode="paper")
    if window is not None:
        data["feed"].update(replay_until_s=window.replay_until_s)
        data["strategy"].update(entries_from_s=window.entries_from_s, entries_until_s=window.entries_until_s)
    return RunnerConfig.model_validate(data)


def check_recording(recording: Path) -> None:
    if not recording.is_file():
        raise BacktestError(f"--recording: {recording} is not a file (record one with `auroractl feed record`, or "
                            "convert another recorder's with `auroractl feed import`)")  # fmt: skip


def gate_environ(env: Mapping[str, str]) -> dict[str, str]:
    """The environment an in-process gate's config is loaded with.

    Nothing can reach an in-process gate; a throwaway token lets it start in any mode without
    security.allow_anonymous_trading (secrets are redacted in the config version, so it is the same)."""
    return {**env, "AURORA_API_TOKEN": env.get("AURORA_API_TOKEN") or secrets.token_hex(16)}


def _labels(configs: Sequence[Path]) -> list[str]:
    return [f"{i}-{p.stem}" for i, p in enumerate(configs, 1)]


def run_one(recording_cfg: RunnerConfig, loaded: LoadedAurora, session_dir: Path, label: str) -> BacktestRun:
    gate = GateService(loaded, session_dir, run_id=f"backtest-{label}", state_dir=session_dir / "gate_state",
                       fresh_state=True, clock="request")  # fmt: skip
    try:
        gate.startup_events()
        runner = Runner(recording_cfg, session_dir=session_dir, run_id=f"backtest-{label}", mode="paper",
                        gate_client=InProcessGate(gate), environ={})  # fmt: skip
        runner_summary = asyncio.run(runner.run())
    finally:
        gate.close()
    _require_traded_symbols(recording_cfg, runner_summary)
    summary = summarize_session(session_dir, loaded.config, 0.0)
    return BacktestRun(label, "", session_dir, loaded.version, summary, runner_summary)


def _require_traded_symbols(cfg: RunnerConfig, runner_summary: Mapping[str, Any]) -> None:
    """A recording that holds none of the runner's symbols is refused: every figure would be a silent 0.

    (One symbol of several missing is not: the run shows it unsynced, as one-click does.)"""
    market = runner_summary.get("market") or {}
    if market.get("by_kind") or not market.get("messages"):
        return
    held = sorted({stream.split("@", 1)[0] for stream in market.get("ignored_streams") or {}})
    trades = ", ".join(s.symbol for s in cfg.symbols)
    raise BacktestError(f"--recording: {market['messages']} messages, none for the runner config's symbols "
                        f"({trades}); the recording holds {', '.join(held) or 'no known stream'}. Give a "
                        "--runner-config whose symbols are in the recording")  # fmt: skip


def backtest(
    recording: Path,
    configs: Sequence[Path],
    *,
    out_dir: Path,
    runner_config: str | None = None,
    mode: str = "testnet",
    root: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> list[BacktestRun]:
    """One run per gate config (each a layer over ``mode``'s files, like ``AURORA_CONFIG``); see the module doc.

    Raises :class:`aurora.config.errors.ConfigError` for a config that does not validate (file, line, key),
    :class:`BacktestError` for a recording or output dir that cannot be used."""
    root = root or Path.cwd()
    env = dict(environ or {})
    env.setdefault("AURORA_ROOT", str(root))
    check_recording(recording)
    if not configs:
        raise BacktestError("--config: give at least one gate config file to run")
    rcfg = replay_config(recording, runner_config, root, env)
    gate_env = gate_environ(env)
    loaded = [load_aurora(mode, file=str(p), environ=gate_env, root=root) for p in configs]  # all valid first
    runs = []
    for path, label, cfg in zip(configs, _labels(configs), loaded, strict=True):
        session = out_dir / label
        if session.exists() and any(session.iterdir()):
            raise BacktestError(f"--out-dir: {session} is not empty; a backtest writes fresh sessions (choose "
                                "another --out-dir or remove it)")  # fmt: skip
        session.mkdir(parents=True, exist_ok=True)
        run = run_one(rcfg, cfg, session, label)
        run.config = str(path)
        runs.append(run)
    return runs


def report(runs: Sequence[BacktestRun], recording: Path) -> dict[str, Any]:
    """The JSON of a backtest: each run's figures, and where they differ from the first's."""
    first = runs[0].row() if runs else {}
    return {
        "schema": SCHEMA,
        "recording": str(recording),
        "runs": [r.to_dict() for r in runs],
        "differs_from_first": [sorted(k for k, v in r.row().items() if v != first.get(k)) for r in runs],
    }
