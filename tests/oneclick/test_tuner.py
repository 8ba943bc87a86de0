"""The live tuner (oneclick/tuner.py) alone, on a seeded fake session: heartbeats, a validated overlay
announced as OPTUNA.PARAMETER_UPDATE, the explore arm's trial scored from the gate's records (and only
those), an invalid candidate refused before any runner sees it, seeded proposals, bad spaces exit 2."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from aurora.config.loader import load_runner
from aurora.events.codes import EventCode
from oneclick.tuner import Tuner, TunerSettings, main
from oneclick.tuner_tally import TunerTally
from oneclick.tuning.objectives import DRAWDOWN_WEIGHT
from oneclick.tuning.space import Overlay, load_space
from runner.config import RunnerConfig

SPACE = "profiles/spaces/btc_small.yaml"


def _rec(ts: int, code: str, cid: str, **details: Any) -> dict[str, Any]:
    return {"ts_ns": ts, "run_id": "fake", "event_code": code, "cid": cid, "symbol": "BTCUSDT", "side": "buy",
            "qty": 1.0, "details": details}  # fmt: skip


def _order(ts: int, cid: str, *, pnl: float | None = None, trade: str, **tags: Any) -> list[dict[str, Any]]:
    fill = {"fill_qty": 1.0, "fill_price": 100.0, "cum_qty": 1.0, "trade_id": trade, **tags}
    if pnl is not None:
        fill["realized_pnl_usd"] = pnl
    return [_rec(ts, "ORDER.SUBMIT", cid, price=100.0, **tags), _rec(ts + 1000, "ORDER.ACK", cid, **tags),
            _rec(ts + 2000, "ORDER.FILL", cid, **fill)]  # fmt: skip


def fake_session(session: Path) -> None:
    """The gate's log of a session with an explore arm: trial 0 closed -1 then +3 USD (one of its fills
    replayed), a base-arm trade and another trial's trade that must not count."""
    t0 = time.time_ns() - 60 * 10**9
    explore0 = {"arm": "explore", "trial": 0}
    recs = [
        *_order(t0, "e1", trade="t1", **explore0),  # the entry: no realized P&L
        *_order(t0 + 10**9, "x1", pnl=-1.0, trade="t2", **explore0),
        *_order(t0 + 2 * 10**9, "e2", trade="t3", **explore0),
        *_order(t0 + 3 * 10**9, "x2", pnl=3.0, trade="t4", **explore0),
        _rec(t0 + 3 * 10**9 + 5000, "ORDER.FILL", "x2", fill_qty=1.0, fill_price=100.0, cum_qty=1.0, trade_id="t4",
             realized_pnl_usd=3.0, **explore0),  # a replayed fill: counted once
        *_order(t0 + 4 * 10**9, "b1", pnl=100.0, trade="t5", arm="base"),
        *_order(t0 + 5 * 10**9, "y1", pnl=50.0, trade="t6", arm="explore", trial=5),
    ]  # fmt: skip
    session.mkdir(parents=True, exist_ok=True)
    (session / "aurora_events.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in recs))


def _events(session: Path) -> list[dict[str, Any]]:
    path = session / "tuner_events.jsonl"
    return [orjson.loads(x) for x in path.read_bytes().splitlines()] if path.exists() else []


def _codes(events: list[dict[str, Any]], code: EventCode) -> list[dict[str, Any]]:
    return [e for e in events if e["event_code"] == code.value]


def test_the_tuner_process_heartbeats_proposes_validated_overlays_and_scores_the_explore_arm(
    project: Path, tmp_path: Path
) -> None:
    session = tmp_path / "session"
    fake_session(session)
    proc = subprocess.Popen(
        [sys.executable, "-m", "oneclick.tuner", "--session", str(session), "--space", SPACE, "--period", "0.3",
         "--trial-s", "0.6", "--patience", "0", "--seed", "3", "--explore-ratio", "0.1"],
        cwd=project, env={**os.environ, "AURORA_ROOT": str(project)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60  # generous: a loaded 2-core box; the asserts are on what happened
        while time.monotonic() < deadline:
            ev = _events(session)
            if len(_codes(ev, EventCode.OPTUNA_TRIAL_TOLD)) >= 2 and len(_codes(ev, EventCode.OPTUNA_HEARTBEAT)) >= 3:
                break
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    ev = _events(session)
    assert ev[0]["event_code"] == EventCode.OPTUNA_START.value and ev[-1]["event_code"] == EventCode.OPTUNA_STOP.value
    start = ev[0]["details"]
    shipped = load_space(project / SPACE)
    assert start["tuned"] == [p.name for p in shipped.parameters if p.target.value == "runner"]
    assert "gate.risk.pi_min_bps" in start["not_applied_live"]  # a gate threshold is never applied live
    beats = _codes(ev, EventCode.OPTUNA_HEARTBEAT)
    assert len(beats) >= 3 and all(b["details"]["period_s"] == 0.3 for b in beats)
    updates = _codes(ev, EventCode.OPTUNA_PARAMETER_UPDATE)
    assert [u["details"]["trial"] for u in updates][:2] == [0, 1]
    space = shipped
    for u in updates:
        d = u["details"]
        path = Path(d["overlay"])
        assert path.parent == session / "tuning" and hashlib.sha256(path.read_bytes()).hexdigest() == d["overlay_sha256"]
        assert d["explore_ratio"] == 0.1 and set(d["params"]) == set(start["tuned"])
        space.check_bounds(Overlay(runner=d["runner"], gate={}, params=d["params"]))
        cfg = load_runner(RunnerConfig, overlays=[str(path)]).config  # the runners' validated path
        assert cfg.strategy.tp_bps == d["params"]["runner.strategy.tp_bps"]
    told = {t["details"]["trial"]: t["details"] for t in _codes(ev, EventCode.OPTUNA_TRIAL_TOLD)}
    # trial 0: the explore arm's two closed trades (-1, +3; the replayed fill once), scored by the offline
    # tuner's default objective: P&L 2 minus 0.5 x the drawdown of 1
    assert start["objective"] == "pnl_dd" and DRAWDOWN_WEIGHT == 0.5
    assert told[0]["state"] == "COMPLETE" and told[0]["trades"] == 2 and told[0]["value"] == pytest.approx(1.5)
    # trial 1: no trade of its own (the trial-5 and base trades are not its): failed, not a zero
    assert told[1]["state"] == "FAIL" and told[1]["trades"] == 0 and "no trade" in told[1]["reason"]
    # the proof's and the dashboard's view of the same events
    tally = TunerTally()
    for e in ev:
        tally.add(e["event_code"], e, e["details"], e["ts_ns"])
    section = tally.section(ev[-1]["ts_ns"])
    assert section["heartbeats"] == len(beats) and section["parameter_updates"] == len(updates)
    assert section["param_tail"][-1]["trial"] == updates[-1]["details"]["trial"]


def _tuner(project: Path, session: Path, seed: int = 3) -> Tuner:
    return Tuner(TunerSettings(session_dir=session, space=project / SPACE, period_s=0.5, trial_s=1.0, seed=seed))


def test_an_invalid_candidate_is_refused_before_any_runner_sees_it(project: Path, tmp_path: Path) -> None:
    tuner = _tuner(project, tmp_path / "s")
    bad = Overlay(runner={"strategy": {"tp_bps": -1.0}}, gate={}, params={"runner.strategy.tp_bps": -1.0})
    assert not tuner.propose(time.time(), overlay=bad)
    tuner.log.close()
    ev = _events(tmp_path / "s")
    refused = _codes(ev, EventCode.OPTUNA_PROPOSAL_REFUSED)
    assert len(refused) == 1 and "tp_bps" in refused[0]["details"]["reason"]
    assert not _codes(ev, EventCode.OPTUNA_PARAMETER_UPDATE) and tuner.live is None
    assert tuner.study.trials[0].state.name == "FAIL"
    # one that passes the space's bounds but would set a gate key: never announced either
    gate = Overlay(runner={"strategy": {"tp_bps": 5.0}}, gate={"risk": {"pi_min_bps": 0.0}},
                   params={"runner.strategy.tp_bps": 5.0})  # fmt: skip
    tuner.log = type(tuner.log)(tmp_path / "s", "again", filename="tuner_events.jsonl")
    assert not tuner.propose(time.time(), overlay=gate)


def test_the_same_seed_proposes_the_same_parameters(project: Path, tmp_path: Path) -> None:
    def first(seed: int, name: str) -> list[dict[str, Any]]:
        tuner = _tuner(project, tmp_path / name, seed)
        for _ in range(3):
            assert tuner.propose(time.time())
            tuner.study.tell(tuner.live.trial, 0.0)  # type: ignore[union-attr]
        tuner.log.close()
        return [u["details"]["params"] for u in _codes(_events(tmp_path / name), EventCode.OPTUNA_PARAMETER_UPDATE)]

    a, b, c = first(3, "a"), first(3, "b"), first(4, "c")
    assert a == b and len(a) == 3 and a != c


def test_the_run_loop_stops_on_its_flag_with_a_stop_event(project: Path, tmp_path: Path) -> None:
    tuner = _tuner(project, tmp_path / "s")
    stop = threading.Event()
    t = threading.Thread(target=tuner.run, args=(stop,))
    t.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not _codes(_events(tmp_path / "s"), EventCode.OPTUNA_HEARTBEAT):
        time.sleep(0.05)
    stop.set()
    t.join(timeout=30)
    assert not t.is_alive()
    assert _events(tmp_path / "s")[-1]["event_code"] == EventCode.OPTUNA_STOP.value


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("parameters:\n  - key: risk.pi_min_bps\n    target: gate\n    low: -1.0\n    high: 1.0\n",
         "no parameter an explore arm can apply live"),
        ("parameters:\n  - key: strategy.tp_bps\n    low: 5.0\n    high: 1.0\n", "space.yaml:4 strategy.tp_bps"),
        ("parameters:\n  - key: strategy.tp_bps\n    low: 1.0\n    high: 5.0\n", "--objective: unknown objective"),
    ],
)
def test_a_space_with_nothing_to_tune_live_or_a_bad_range_exits_2(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    space = tmp_path / "space.yaml"
    space.write_text(text)
    extra = ["--objective", "luck"] if "objective" in message else []
    assert main(["--session", str(tmp_path / "s"), "--space", str(space), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1
