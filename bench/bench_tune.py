"""The tuner's cost on the shared real BTCUSDT recording: a trial's backtest against the plain replay of the
same recording against the gate, and trials per minute.

Goal (issue 16): the backtest a trial runs is not slower than the plain replay against the gate. Measured
side by side in the same run, on the whole recording (imported to the replay format first, not timed),
with the same runner config (BTCUSDT, a threshold low enough that the gate sees a stream of checks) and
the same gate layer:

* ``plain replay`` (the reference) — the real gate as a child process (``start-api --clock request
  --fresh-state``, on the other core) and the real runner in this process replaying the recording at full
  speed over HTTP, as a one-click replay runs them;
* ``backtest`` — :func:`oneclick.backtest.run_one`, what a trial runs: the same runner against a fresh
  :class:`GateService` in process (:class:`InProcessGate`), session files written, summary computed.

Best of ``REPEATS``, interleaved. ``ratio`` = backtest wall / plain replay wall (<= 1 meets the goal). Then
a study of ``TRIALS`` trials (the shipped ``profiles/spaces/btc_small.yaml``, train half in two pruning
segments, the best validated) gives trials per minute. Skipped when the shared recording is absent.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from aurora.config.loader import load_aurora
from bench.bench_runner_tick_to_gate import BENCH_API_TOKEN, ROOT, _start_gate, _stop_gate
from oneclick.backtest import gate_environ, replay_config, run_one
from oneclick.tuning.space import load_space
from oneclick.tuning.study import tune
from runner.app import Runner
from runner.feeds.importers import import_recordings

SHARED = ROOT.parent / "shared" / "data" / "usdm_btcusdt_20240808.gz"
REPEATS = 2
TRIALS = 6
TRADER = (
    "runner: {mode: paper, wind_down_s: 1.0}\n"
    "symbols: [{symbol: BTCUSDT, qty: 0.01}]\n"
    "strategy: {score_threshold: 0.3, enr_threshold_bps: -20.0, max_hold_s: 3.0, warmup_s: 2.0}\n"
)
GATE_LAYER = {"risk": {"pi_min_bps": -50.0}}


def _plain(rec: Path, trader: Path, session: Path) -> tuple[float, dict[str, Any]]:
    proc, url = _start_gate(session / "gate", overlay=GATE_LAYER)
    try:
        cfg = replay_config(rec, str(trader), ROOT, {"AURORA_ROOT": str(ROOT)})
        runner = Runner(cfg, session_dir=session / "runner", gate_url=url, environ={}, api_token=BENCH_API_TOKEN)
        t0 = time.perf_counter()
        summary = asyncio.run(runner.run())
        return time.perf_counter() - t0, summary["gate"]
    finally:
        _stop_gate(proc)


def _backtest(rec: Path, trader: Path, layer: Path, session: Path) -> tuple[float, dict[str, Any]]:
    env = {"AURORA_ROOT": str(ROOT)}
    cfg = replay_config(rec, str(trader), ROOT, env)
    loaded = load_aurora("testnet", file=str(layer), environ=gate_environ(env), root=ROOT)
    session.mkdir(parents=True)
    t0 = time.perf_counter()
    run = run_one(cfg, loaded, session, "bench")
    return time.perf_counter() - t0, run.runner["gate"]


def run() -> dict[str, Any]:
    if not SHARED.is_file():
        return {"skipped": f"the shared recording {SHARED} is absent", "table": []}
    with tempfile.TemporaryDirectory(prefix="aurora-bench-tune-") as tmp:
        d = Path(tmp)
        rec = d / "btc.jsonl.gz"
        import_recordings("hftbacktest", [SHARED], rec)
        trader = d / "trader.yaml"
        trader.write_text(TRADER)
        layer = d / "gate.json"
        layer.write_text(str(GATE_LAYER).replace("'", '"'))  # JSON is YAML
        plain, back = [], []
        for i in range(REPEATS):
            plain.append(_plain(rec, trader, d / f"plain-{i}"))
            back.append(_backtest(rec, trader, layer, d / f"backtest-{i}"))
        best_plain, best_back = min(w for w, _ in plain), min(w for w, _ in back)
        t0 = time.perf_counter()
        result = tune([rec], load_space(ROOT / "profiles" / "spaces" / "btc_small.yaml"), trials=TRIALS, seed=0,
                      runner_config=str(trader), root=ROOT, environ={}, write=False)  # fmt: skip
        study_s = time.perf_counter() - t0
    states = {t.state for t in result.trials}
    checks = {"plain": plain[0][1]["gate_checks"], "backtest": back[0][1]["gate_checks"]}
    ratio = round(best_back / best_plain, 3)
    return {
        "recording": str(SHARED),
        "plain_replay_s": round(best_plain, 3),
        "backtest_s": round(best_back, 3),
        "ratio": ratio,
        "goal_met": ratio <= 1.0,
        "gate_checks": checks,
        "study": {"trials": TRIALS, "wall_s": round(study_s, 2), "trials_per_min": round(TRIALS / study_s * 60, 2),
                  "states": sorted(states), "best_trial": result.best.number if result.best else None},
        "table": [
            {"row": "plain replay vs gate", "wall_s": round(best_plain, 3), "gate_checks": checks["plain"]},
            {"row": "backtest (a trial's run)", "wall_s": round(best_back, 3), "gate_checks": checks["backtest"],
             "ratio": ratio},
            {"row": f"study of {TRIALS} trials", "wall_s": round(study_s, 2),
             "trials_per_min": round(TRIALS / study_s * 60, 2)},
        ],
    }  # fmt: skip
