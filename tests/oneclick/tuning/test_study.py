"""The tuner on a slice of the shared BTC recording: deterministic, resumable, pruning, time-split, and an
overlay that loads through the validated loaders with its provenance."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import optuna
import pytest

from aurora.config.loader import load_aurora, load_runner
from oneclick.tuning.space import load_space
from oneclick.tuning.study import Recording, Split, TuneError, tune
from runner.config import RunnerConfig
from tests.support.gate_session import project_config
from tests.support.recordings import BTC_SLICE_TRADER

SPACE = """\
parameters:
  - key: strategy.tp_bps
    low: 2.0
    high: 30.0
  - key: strategy.sl_bps
    low: 1.0
    high: 15.0
  - key: strategy.score_threshold
    low: 0.3
    high: 8.0
  - key: risk.pi_min_bps
    target: gate
    low: -50.0
    high: 5.0
"""
#: On this slice: never trades (score 0) / trades and loses from the first segment on
QUIET = {"runner.strategy.tp_bps": 12.0, "runner.strategy.sl_bps": 8.0, "runner.strategy.score_threshold": 8.0,
         "gate.risk.pi_min_bps": -50.0}  # fmt: skip
HOPELESS = {"runner.strategy.tp_bps": 30.0, "runner.strategy.sl_bps": 1.0, "runner.strategy.score_threshold": 0.3,
            "gate.risk.pi_min_bps": -50.0}  # fmt: skip



@pytest.fixture
def inputs(project: Path) -> Path:
    project_config(project, "testnet")
    (project / "trader.yaml").write_text(BTC_SLICE_TRADER)
    (project / "space.yaml").write_text(SPACE)
    return project


def _tune(root: Path, rec: Path, trials: int, **kw):
    return tune([rec], load_space(root / "space.yaml"), trials=trials, runner_config="trader.yaml", root=root,
                **kw)  # fmt: skip


def test_same_seed_same_trials_and_best_and_the_overlay_loads_with_its_provenance(inputs: Path, btc40: Path) -> None:
    first = _tune(inputs, btc40, 4, seed=7, study="s1")
    again = _tune(inputs, btc40, 4, seed=7, study="s1")
    assert [t.to_dict() for t in first.trials] == [t.to_dict() for t in again.trials]
    assert first.best is not None and first.best.to_dict() == again.best.to_dict()
    assert first.validation == again.validation and first.validation is not None
    assert any(t.value for t in first.trials)  # some trial traded: the figures compared are not all zeros
    other = _tune(inputs, btc40, 2, seed=8, study="s2", write=False)
    assert [t.params for t in other.trials] != [t.params for t in first.trials[:2]]
    space = first.space
    for t in first.trials:  # every sampled value stayed inside the space file's bounds
        assert all(space.parameter(k).contains(v) for k, v in t.params.items())
    # the runner overlay is a runner overlay (by name), the gate part a gate layer: the validated loaders take them
    assert first.files == {"runner": "profiles/overlays/s1.yaml", "gate": "profiles/overlays/s1.gate.yaml",
                           "provenance": "profiles/overlays/s1.provenance.json"}  # fmt: skip
    cfg = load_runner(RunnerConfig, config="trader.yaml", overlays=["s1"], environ={}, root=inputs).config
    assert cfg.strategy.tp_bps == first.best.params["runner.strategy.tp_bps"]
    gate = load_aurora("testnet", file=str(inputs / first.files["gate"]), environ={"AURORA_API_TOKEN": "t" * 20},
                       root=inputs).config  # fmt: skip
    assert gate.risk.pi_min_bps == first.best.params["gate.risk.pi_min_bps"]
    prov = json.loads((inputs / first.files["provenance"]).read_text())
    assert prov["study"] == "s1" and prov["trial"] == first.best.number and prov["seed"] == 7
    assert prov["recordings"][0]["sha256"] == hashlib.sha256(btc40.read_bytes()).hexdigest()
    assert prov["space"]["sha256"] == hashlib.sha256((inputs / "space.yaml").read_bytes()).hexdigest()
    assert prov["score"] == {"train": first.best.value, "validation": first.validation}
    header = (inputs / first.files["runner"]).read_text()
    assert header.startswith(f"# Tuned by `auroractl tune`: study s1, trial {first.best.number}, seed 7")
    assert f"sha256 {prov['recordings'][0]['sha256']}" in header


def test_resumed_from_sqlite_it_runs_only_the_missing_trials_and_refuses_other_inputs(inputs: Path,
                                                                                     btc40: Path) -> None:
    db = f"sqlite:///{inputs / 'tune.db'}"
    part = _tune(inputs, btc40, 2, seed=3, study="r", storage=db, write=False)
    assert (part.ran, len(part.trials)) == (2, 2)
    full = _tune(inputs, btc40, 4, seed=3, study="r", storage=db, write=False)
    assert (full.ran, len(full.trials)) == (2, 4)
    assert [t.to_dict() for t in full.trials[:2]] == [t.to_dict() for t in part.trials]
    assert full.trials[2].params != full.trials[0].params  # re-seeded: the resumed trials are new draws
    done = _tune(inputs, btc40, 4, seed=3, study="r", storage=db, write=False)
    assert done.ran == 0 and done.best == full.best
    with pytest.raises(TuneError, match=r"--study: study 'r' .* was made with other inputs \(objective differ\)"):
        _tune(inputs, btc40, 5, seed=3, study="r", storage=db, objective_name="sharpe")


def test_a_hopeless_trial_is_pruned_after_its_first_segment(inputs: Path, btc40: Path) -> None:
    db = f"sqlite:///{inputs / 'prune.db'}"
    study = optuna.create_study(study_name="p", storage=db, direction="maximize")
    for params in (QUIET, QUIET, QUIET, HOPELESS):
        study.enqueue_trial(params)
    result = _tune(inputs, btc40, 4, study="p", storage=db, write=False)
    assert [t.state for t in result.trials] == ["complete", "complete", "complete", "pruned"]
    assert [t.value for t in result.trials[:3]] == [0.0, 0.0, 0.0]
    hopeless = result.trials[3]
    assert list(hopeless.steps) == [0] and hopeless.steps[0] < 0  # stopped after the first of two segments


def test_the_split_is_by_time_and_each_training_window_stops_the_replay(btc40: Path) -> None:
    rec = Recording.read(btc40)
    assert 39 < rec.duration_s <= 40
    split = Split(train_fraction=0.6, segments=3)
    half = rec.duration_s * 0.6
    wins = split.train_windows(rec)
    assert [(w.entries_from_s, w.replay_until_s) for w in wins] == [(0.0, half / 3), (0.0, half * 2 / 3), (0.0, half)]
    assert all(w.entries_until_s == w.replay_until_s for w in wins)
    val = split.validation_window(rec)  # replays from the start (the snapshot), trades only after the cut
    assert (val.entries_from_s, val.entries_until_s, val.replay_until_s) == (half, None, None)
    with pytest.raises(TuneError, match="--train-fraction"):
        Split(train_fraction=0.95)
