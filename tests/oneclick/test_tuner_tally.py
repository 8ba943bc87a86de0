"""The tuner's record as the proof and the dashboard see it (oneclick/tuner_tally.py), fed through the
session tally: heartbeats on time or not, the parameter tail and which runners took each update."""

from __future__ import annotations

from typing import Any

from oneclick.dashboard_model import tuner_line
from oneclick.session_tally import SessionTally

S = 1_000_000_000
T0 = 1_800_000_000 * S


def _rec(ts: int, code: str, **details: Any) -> dict[str, Any]:
    return {"ts_ns": ts, "run_id": "r", "event_code": code, "details": details}


def _tally(beats_s: list[float], *, stop_s: float | None = None, period: float = 1.0) -> SessionTally:
    t = SessionTally()
    t.add(_rec(T0, "OPTUNA.START", period_s=period, explore_ratio=0.1, tuned=["runner.strategy.tp_bps"],
               not_applied_live={"gate.risk.pi_min_bps": "a gate threshold"}, space="s.yaml"))  # fmt: skip
    t.add(_rec(T0 + S // 10, "OPTUNA.PARAMETER_UPDATE", trial=0, params={"runner.strategy.tp_bps": 9.0},
               overlay="/s/tuning/trial-0000.yaml", overlay_sha256="ab" * 32, explore_ratio=0.1))  # fmt: skip
    t.add(_rec(T0 + S // 5, "RUNNER.OVERLAY_APPLIED", trial=0))
    t.add(_rec(T0 + S // 5, "RUNNER.OVERLAY_APPLIED", trial=0))
    t.add(_rec(T0 + S // 4, "RUNNER.OVERLAY_REFUSED", trial=0, reason="sha256 differs"))
    for b in beats_s:
        t.add(_rec(T0 + int(b * S), "OPTUNA.HEARTBEAT", period_s=period, trial=0, trials_told=0))
    if stop_s is not None:
        t.add(_rec(T0 + int(stop_s * S), "OPTUNA.STOP", trials_told=0))
    return t


def test_heartbeats_at_the_period_and_recent_at_the_stop_are_ok() -> None:
    sec = _tally([0.0, 1.0, 2.1, 3.0], stop_s=3.5).tuner.section(T0 + 100 * S)  # judged at its stop
    assert sec["heartbeat_ok"] is True and sec["heartbeats"] == 4 and sec["max_gap_s"] == 1.1
    assert sec["last_heartbeat_age_s"] == 0.5 and sec["allowed_gap_s"] == 3.0  # 2 periods + 1 s
    assert sec["param_tail"] == [{"ts_ns": T0 + S // 10, "trial": 0, "params": {"runner.strategy.tp_bps": 9.0},
                                  "overlay": "/s/tuning/trial-0000.yaml", "overlay_sha256": "ab" * 32,
                                  "explore_ratio": 0.1, "applied_by_runners": 2}]  # fmt: skip
    assert sec["applied_by_runners"] == 2 and sec["refused_by_runners"] == 1
    assert sec["not_applied_live"] == {"gate.risk.pi_min_bps": "a gate threshold"}


def test_a_long_gap_a_stale_last_heartbeat_or_none_is_not_ok() -> None:
    assert _tally([0.0, 1.0, 2.9, 3.5], stop_s=3.7).tuner.section(0)["heartbeat_ok"] is True  # 1.9 s: within 3 s
    assert _tally([0.0, 1.0, 4.5, 5.0], stop_s=5.2).tuner.section(0)["heartbeat_ok"] is False  # a 3.5 s gap
    assert _tally([0.0, 1.0, 2.0], stop_s=5.5).tuner.section(0)["heartbeat_ok"] is False  # silent 3.5 s before its stop
    assert _tally([0.0, 1.0, 2.0]).tuner.section(T0 + 6 * S)["heartbeat_ok"] is False  # no stop: judged at the time given
    assert _tally([]).tuner.section(T0)["heartbeat_ok"] is False


def test_the_dashboard_line_comes_from_the_same_tally() -> None:
    t = _tally([0.0, 1.0])
    line = tuner_line(t, [{"name": "tuner", "pid": 7, "state": "running", "restarts": 0}], T0 + 3 * S)
    assert line is not None and line.running and line.heartbeats == 2 and line.last_heartbeat_age_s == 2.0
    assert line.last_update_trial == 0 and line.updates == 1 and line.refused_by_runners == 1
    assert tuner_line(SessionTally(), [{"name": "runner-default", "state": "running"}], T0) is None
