"""What the live tuner did, folded from its events (``OPTUNA.*``) and the runners' answers to them
(``RUNNER.OVERLAY_APPLIED`` / ``RUNNER.OVERLAY_REFUSED``): the dashboard's tuner line and the proof's
``optuna`` section, fed by :class:`oneclick.session_tally.SessionTally` (one fold for both).

``heartbeat_ok`` is computed from the heartbeats themselves: at least one, no gap between two
consecutive ones longer than :data:`HEARTBEAT_SLACK` periods plus :data:`HEARTBEAT_SLACK_S` (the tuner
beats from the loop that also scores trials and asks the study, which can take a moment on a loaded
box: the heartbeat says that loop is alive), and the last one no older than that at the time the tuner
stopped (its ``OPTUNA.STOP``, else the time asked about).
"""

from __future__ import annotations

from collections import deque
from typing import Any

from aurora.events.codes import EventCode
from aurora.session.fields import PARAMS_KEY, Field

#: A heartbeat may come this many periods after the previous one (a busy 2-core box) and still be on time.
HEARTBEAT_SLACK = 2.0
HEARTBEAT_SLACK_S = 1.0
CODES = frozenset({
    EventCode.OPTUNA_START, EventCode.OPTUNA_HEARTBEAT, EventCode.OPTUNA_PARAMETER_UPDATE,
    EventCode.OPTUNA_PROPOSAL_REFUSED, EventCode.OPTUNA_TRIAL_TOLD, EventCode.OPTUNA_STOP,
    EventCode.RUNNER_OVERLAY_APPLIED, EventCode.RUNNER_OVERLAY_REFUSED,
})  # fmt: skip
NS = 1_000_000_000


class TunerTally:
    def __init__(self, tail_n: int = 5) -> None:
        self.started: dict[str, Any] | None = None  # OPTUNA.START details
        self.heartbeats = 0
        self.period_s: float | None = None
        self.trials_told = 0
        self.told_tail: deque[dict[str, Any]] = deque(maxlen=tail_n)
        self.updates = 0
        self.param_tail: deque[dict[str, Any]] = deque(maxlen=tail_n)
        self.refused_by_tuner = 0
        self.refused_tail: deque[dict[str, Any]] = deque(maxlen=tail_n)
        self.applied: dict[int, int] = {}  # trial -> runner records that switched to it
        self.refused_by_runners = 0
        self.runner_refusals: deque[dict[str, Any]] = deque(maxlen=tail_n)
        self.stopped_ns: int | None = None
        self._hb: list[int] = []

    def add(self, code: str, rec: dict[str, Any], details: dict[str, Any], ts: int) -> None:
        trial = details.get(Field.TRIAL.value)
        if code == EventCode.OPTUNA_HEARTBEAT:
            self.heartbeats += 1
            self._hb.append(ts)
            period = details.get(Field.PERIOD_S.value)
            if isinstance(period, int | float):
                self.period_s = float(period)
            told = details.get(Field.TRIALS_TOLD.value)
            if isinstance(told, int):
                self.trials_told = max(self.trials_told, told)
        elif code == EventCode.OPTUNA_START:
            self.started = dict(details)
            period = details.get(Field.PERIOD_S.value)
            if isinstance(period, int | float):
                self.period_s = float(period)
        elif code == EventCode.OPTUNA_PARAMETER_UPDATE:
            self.updates += 1
            self.param_tail.append({
                "ts_ns": ts, Field.TRIAL.value: trial, PARAMS_KEY: details.get(PARAMS_KEY),
                Field.OVERLAY.value: details.get(Field.OVERLAY.value),
                Field.OVERLAY_SHA256.value: details.get(Field.OVERLAY_SHA256.value),
                Field.EXPLORE_RATIO.value: details.get(Field.EXPLORE_RATIO.value),
            })  # fmt: skip
        elif code == EventCode.OPTUNA_PROPOSAL_REFUSED:
            self.refused_by_tuner += 1
            self.refused_tail.append({"ts_ns": ts, Field.TRIAL.value: trial,
                                      Field.REASON.value: details.get(Field.REASON.value)})  # fmt: skip
        elif code == EventCode.OPTUNA_TRIAL_TOLD:
            self.trials_told += 1
            self.told_tail.append({"ts_ns": ts, **{k: details.get(k) for k in (
                Field.TRIAL.value, Field.STATE.value, Field.VALUE.value, "trades", Field.REASON.value)}})  # fmt: skip
        elif code == EventCode.OPTUNA_STOP:
            self.stopped_ns = ts
        elif code == EventCode.RUNNER_OVERLAY_APPLIED and isinstance(trial, int):
            self.applied[trial] = self.applied.get(trial, 0) + 1
        elif code == EventCode.RUNNER_OVERLAY_REFUSED:
            self.refused_by_runners += 1
            self.runner_refusals.append({"ts_ns": ts, Field.TRIAL.value: trial,
                                         Field.REASON.value: details.get(Field.REASON.value)})  # fmt: skip

    @property
    def seen(self) -> bool:
        return self.started is not None or self.heartbeats > 0

    def heartbeat_age_s(self, now_ns: int) -> float | None:
        last = max(self._hb) if self._hb else None
        return None if last is None else max(0.0, (now_ns - last) / NS)

    def heartbeat_check(self, until_ns: int) -> dict[str, Any]:
        """Heartbeats at the configured period, the last one recent at ``until_ns`` (or the tuner's stop)."""
        hb = sorted(self._hb)
        end = self.stopped_ns if self.stopped_ns is not None else until_ns
        gaps = [(b - a) / NS for a, b in zip(hb, hb[1:], strict=False)]
        max_gap = max(gaps) if gaps else None
        age = max(0.0, (end - hb[-1]) / NS) if hb else None
        period = self.period_s
        bound = None if period is None else HEARTBEAT_SLACK * period + HEARTBEAT_SLACK_S
        ok = bool(hb) and bound is not None and (max_gap is None or max_gap <= bound) and age is not None \
            and age <= bound  # fmt: skip
        return {"heartbeat_ok": ok, "heartbeats": len(hb), "period_s": period, "max_gap_s": _r(max_gap),
                "last_heartbeat_age_s": _r(age), "allowed_gap_s": _r(bound)}  # fmt: skip

    def section(self, until_ns: int) -> dict[str, Any]:
        """The proof's ``optuna`` section (with tuning on)."""
        tail = [{**u, "applied_by_runners": self.applied.get(u[Field.TRIAL.value], 0)
                 if isinstance(u.get(Field.TRIAL.value), int) else 0} for u in self.param_tail]  # fmt: skip
        started = self.started or {}
        return {
            "enabled": True,
            **self.heartbeat_check(until_ns),
            "parameter_updates": self.updates,
            "param_tail": tail,
            "trials_told": self.trials_told,
            "told_tail": list(self.told_tail),
            "refused_by_tuner": self.refused_by_tuner,
            "refused_by_tuner_tail": list(self.refused_tail),
            "applied_by_runners": sum(self.applied.values()),
            "refused_by_runners": self.refused_by_runners,
            "refused_by_runners_tail": list(self.runner_refusals),
            "explore_ratio": started.get(Field.EXPLORE_RATIO.value),
            "space": started.get("space"),
            "tuned": started.get("tuned", []),
            "not_applied_live": started.get("not_applied_live", {}),
        }


def not_enabled() -> dict[str, Any]:
    """The proof's ``optuna`` section without ``--tune``."""
    return {"enabled": False, "heartbeat_ok": None, "param_tail": [],
            "note": "not enabled (one-click --tune starts the live tuner)"}  # fmt: skip


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 3)
