"""Live tuning's explore arm (runner/explore.py): a tuner's proposal is applied only through the runner's
validated config path, to a seeded, deterministic share of the decisions; a bad one is refused and the
previous parameters kept; decisions and the lifecycle events of their positions carry the arm."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from aurora.calibration import CalibrationMap
from aurora.config.loader import load_runner
from aurora.events.codes import EventCode
from runner.book import L2Book
from runner.config import RunnerConfig
from runner.explore import BASE, EXPLORE, ArmedStrategy, ExploreSettings, explore_share, make_strategy
from runner.features import FeatureParams, SymbolFeatures
from runner.parent_gate import ParentGate
from runner.strategy import Strategy

SYMBOL = "SOLUSDT"


def _feats() -> SymbolFeatures:
    b = L2Book(SYMBOL)
    b.load_snapshot([("100.0", "10"), ("99.9", "10")], [("100.1", "10"), ("100.2", "10")], 1)
    f = SymbolFeatures(SYMBOL, b, FeatureParams())
    f.on_ticker(100.0, 10.0, 100.1, 10.0, 1, 0)
    return f


def _armed(project: Path, ratio: float = 0.3, seed: int = 7) -> tuple[ArmedStrategy, list[tuple[str, dict]]]:
    # the run's own layers: the shipped base and this overlay (what run-runner was started with)
    layer = project / "profiles" / "explore_test.yaml"
    layer.write_text("strategy:\n  warmup_s: 1.0\n  cooldown_ms: 500\n  z_window_s: 5.0\n"
                     "  score_threshold: 0.5\n  enr_threshold_bps: -100.0\n")
    cfg = load_runner(RunnerConfig, overlays=[str(layer)]).config
    seq = iter(range(1, 1_000_000))
    base = Strategy(cfg.strategy, predict=CalibrationMap.load().predict, parent_gate=ParentGate(enabled=False),
                    parents={SYMBOL: None}, tradable={SYMBOL}, new_cid=lambda: f"c{next(seq)}")  # fmt: skip
    emitted: list[tuple[str, dict]] = []

    def load(path: Path) -> RunnerConfig:  # as run-runner does it: the run's layers, the proposal last
        return load_runner(RunnerConfig, overlays=[str(layer), str(path)]).config

    settings = ExploreSettings(ratio=ratio, seed=seed, load=load, baseline=cfg)
    armed = ArmedStrategy(base, cfg, settings, make=make_strategy(base), emit=lambda c, d, **k: emitted.append((c, d)))
    return armed, emitted


def _proposal(tmp_path: Path, trial: int, text: str, *, sha: str | None = None) -> dict[str, Any]:
    path = tmp_path / f"trial-{trial:04d}.yaml"
    path.write_text(text)
    digest = sha or hashlib.sha256(path.read_bytes()).hexdigest()
    return {"event_code": EventCode.OPTUNA_PARAMETER_UPDATE.value,
            "details": {"trial": trial, "overlay": str(path), "overlay_sha256": digest}}  # fmt: skip


def _decisions(armed: ArmedStrategy, n_ticks: int = 400, step_ms: int = 600,
               times: list[int] | None = None) -> list[tuple[str, Any, Any, float]]:
    """Alternating strong imbalances every ``step_ms`` after a warm-up: (cid, arm, trial, score_threshold)."""
    f = _feats()
    out = []
    for i, t in enumerate(range(0, 2_000, 50)):  # warm-up: a balanced, noisy book
        q = 10.0 + (1.0 if i % 2 else -1.0)
        f.on_ticker(100.0, q, 100.1, 20.0 - q, i, t)
        armed.on_tick(SYMBOL, f, t, can_open=False)
    for j in range(n_ticks):
        t = 2_000 + step_ms * j
        bid, ask = (19.0, 1.0) if j % 2 else (1.0, 19.0)
        f.on_ticker(100.0, bid, 100.1, ask, 100 + j, t)
        cand = armed.on_tick(SYMBOL, f, t, can_open=True)
        if cand is not None:
            model = cand.events[0][1]
            out.append((cand.cid, model.get("arm"), model.get("trial"), model["score_threshold"]))
            if times is not None:
                times.append(t)
    return out


def test_the_arm_coin_is_seeded_uniform_and_deterministic() -> None:
    draws = [explore_share(7, SYMBOL, k) for k in range(20_000)]
    assert draws == [explore_share(7, SYMBOL, k) for k in range(20_000)]
    assert draws != [explore_share(8, SYMBOL, k) for k in range(20_000)]
    assert all(0.0 <= d < 1.0 for d in draws)
    share = sum(d < 0.05 for d in draws) / len(draws)
    assert abs(share - 0.05) < 5 * (0.05 * 0.95 / len(draws)) ** 0.5  # five standard deviations


def test_a_valid_overlay_decides_the_seeded_share_of_decisions(project: Path, tmp_path: Path) -> None:
    armed, emitted = _armed(project)
    assert armed.cfg is armed.base.cfg  # what the loop reads of the run's strategy (its entry window)
    before = _decisions(armed, 20)
    assert before and all(arm == BASE and trial is None for _, arm, trial, _ in before)  # nothing to explore yet
    assert armed.apply(_proposal(tmp_path, 3, "strategy:\n  score_threshold: 0.6\n  tp_bps: 15.0\n"))
    assert emitted[-1][0] == EventCode.RUNNER_OVERLAY_APPLIED.value
    assert emitted[-1][1]["trial"] == 3 and emitted[-1][1]["changed"] == {"strategy.score_threshold": 0.6,
                                                                          "strategy.tp_bps": 15.0}
    k0 = len(before)
    after = _decisions(armed)
    assert len(after) > 100
    for k, (_, arm, trial, threshold) in enumerate(after, start=k0):
        explore = explore_share(7, SYMBOL, k) < 0.3  # the k-th decision of the symbol: the seeded coin
        assert (arm, trial, threshold) == ((EXPLORE, 3, 0.6) if explore else (BASE, None, 0.5))
    share = sum(arm == EXPLORE for _, arm, _, _ in after) / len(after)
    assert 0.15 < share < 0.45

    # the same seed and market: the same arms, decision by decision
    again, _ = _armed(project)
    _decisions(again, 20)
    again.apply(_proposal(tmp_path, 3, "strategy:\n  score_threshold: 0.6\n  tp_bps: 15.0\n"))
    assert [a for _, a, _, _ in _decisions(again)] == [a for _, a, _, _ in after]


def test_one_cooldown_holds_both_arms(project: Path, tmp_path: Path) -> None:
    armed, _ = _armed(project, ratio=0.5)
    armed.apply(_proposal(tmp_path, 0, "strategy:\n  score_threshold: 0.6\n"))
    times: list[int] = []
    made = _decisions(armed, 300, step_ms=100, times=times)
    assert {arm for _, arm, _, _ in made} == {BASE, EXPLORE}
    assert min(b - a for a, b in zip(times, times[1:], strict=False)) >= 500  # cooldown_ms, whichever arm


def test_exits_and_lifecycle_events_follow_the_arm_that_opened_the_position(project: Path, tmp_path: Path) -> None:
    armed, _ = _armed(project, ratio=0.5)
    armed.apply(_proposal(tmp_path, 0, "strategy:\n  tp_bps: 18.0\n  max_hold_s: 40.0\n"))
    explored = [d for d in _decisions(armed, 60) if d[1] == EXPLORE]
    assert explored
    # the last decision opened the symbol's episode: its arm tags the position's events and sets its exits
    arm, trial = armed.episode[SYMBOL]
    event: dict[str, Any] = {"event_code": "ORDER.FILL", "symbol": SYMBOL, "cid": "x", "details": {"fill_qty": 1.0}}
    armed.tag_lifecycle(event)
    assert event["details"]["arm"] == arm and event["details"].get("trial") == trial
    if arm == EXPLORE:
        assert armed.sections[SYMBOL].tp_bps == 18.0 and armed.sections[SYMBOL].max_hold_s == 40.0
    else:
        assert SYMBOL not in armed.sections
    other = {"event_code": "ORDER.FILL", "symbol": "BTCUSDT", "cid": "y", "details": {}}
    armed.tag_lifecycle(other)
    assert other["details"] == {}  # no decision of this runner opened it


@pytest.mark.parametrize(
    ("text", "sha", "reason"),
    [
        ("strategy:\n  tp_bps: -1.0\n", None, "does not validate"),
        ("strategy:\n  tp_bps: 15.0\n  sl_bps: [1]\n", None, "does not validate"),
        ("strategy:\n  obi_levels: 7\n", None, "strategy.obi_levels"),
        ("venue:\n  paper:\n    slippage_bps: 0.0\n", None, "venue.paper.slippage_bps"),
        ("strategy:\n  tp_bps: 15.0\n", "0" * 64, "sha256 differs"),
    ],
)
def test_a_bad_proposal_is_refused_and_the_previous_parameters_kept(
    project: Path, tmp_path: Path, text: str, sha: str | None, reason: str
) -> None:
    armed, emitted = _armed(project)
    assert armed.apply(_proposal(tmp_path, 1, "strategy:\n  score_threshold: 0.7\n"))
    live = armed.explore
    assert not armed.apply(_proposal(tmp_path, 2, text, sha=sha))
    code, details = emitted[-1]
    assert code == EventCode.RUNNER_OVERLAY_REFUSED.value and details["trial"] == 2
    assert reason in details["reason"] and details["kept_trial"] == 1
    assert armed.trial == 1 and armed.explore is live and armed.explore.cfg.score_threshold == 0.7


def test_an_old_or_missing_proposal_is_refused(project: Path, tmp_path: Path) -> None:
    armed, emitted = _armed(project)
    assert armed.apply(_proposal(tmp_path, 4, "strategy:\n  score_threshold: 0.7\n"))
    assert not armed.apply(_proposal(tmp_path, 4, "strategy:\n  score_threshold: 0.8\n"))
    assert "not newer" in emitted[-1][1]["reason"]
    gone = {"event_code": EventCode.OPTUNA_PARAMETER_UPDATE.value,
            "details": {"trial": 9, "overlay": str(tmp_path / "nope.yaml"), "overlay_sha256": "0" * 64}}
    assert not armed.apply(gone)
    assert "cannot be read" in emitted[-1][1]["reason"] and armed.trial == 4


def test_the_newest_proposal_is_read_from_the_session_tuner_log(project: Path, tmp_path: Path) -> None:
    import orjson

    armed, _ = _armed(project)
    p1 = _proposal(tmp_path, 1, "strategy:\n  score_threshold: 0.7\n")
    p2 = _proposal(tmp_path, 2, "strategy:\n  score_threshold: 0.9\n")
    log = tmp_path / "tuner_events.jsonl"
    log.write_bytes(b"".join(orjson.dumps({"ts_ns": 1, **r}) + b"\n" for r in (p1, p2)) + b'{"torn')
    newest = armed.newest_proposal(tmp_path)
    assert newest is not None and newest["details"]["trial"] == 2
    assert armed.newest_proposal(tmp_path) is None  # read once
