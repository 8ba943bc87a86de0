"""The search-space file: validated like a config (every problem with file:line), typed parameters, trial
overlays that load through the normal loaders, and bounds that an overlay cannot leave."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from aurora.config.errors import ConfigError
from aurora.config.loader import load_aurora, load_runner
from oneclick.tuning.space import Kind, Overlay, Target, load_space
from runner.config import RunnerConfig

REPO = Path(__file__).resolve().parents[3]
GOOD = """\
description: a test space
parameters:
  - key: strategy.tp_bps
    low: 4.0
    high: 20.0
    step: 0.5
  - key: strategy.obi_levels
    low: 2
    high: 10
  - key: strategy.vol_window_s
    low: 1.0
    high: 30.0
    log: true
  - key: strategy.entry
    choices: [cross, join]
  - key: risk.pi_min_bps
    target: gate
    low: -5
    high: 5
"""


def _space(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "space.yaml"
    path.write_text(text)
    return path


def _issues(tmp_path: Path, text: str) -> list[tuple[int | None, str | None, str]]:
    with pytest.raises(ConfigError) as info:
        load_space(_space(tmp_path, text))
    return [(i.line, i.key, i.message) for i in info.value.issues]


def test_a_good_space_has_typed_parameters_in_file_order(tmp_path: Path) -> None:
    space = load_space(_space(tmp_path, GOOD))
    assert [(p.name, p.kind, p.line) for p in space.parameters] == [
        ("runner.strategy.tp_bps", Kind.FLOAT, 3), ("runner.strategy.obi_levels", Kind.INT, 7),
        ("runner.strategy.vol_window_s", Kind.FLOAT, 10), ("runner.strategy.entry", Kind.CATEGORICAL, 14),
        ("gate.risk.pi_min_bps", Kind.FLOAT, 16),
    ]  # fmt: skip
    tp, levels, vol, entry, pi = space.parameters
    assert (tp.low, tp.high, tp.step, tp.log) == (4.0, 20.0, 0.5, False)
    assert (levels.low, levels.high) == (2, 10) and vol.log and entry.choices == ("cross", "join")
    assert pi.target is Target.GATE and (pi.low, pi.high) == (-5.0, 5.0) and space.tunes_gate
    assert space.description == "a test space" and len(space.sha256) == 64


def test_the_shipped_space_loads(tmp_path: Path) -> None:
    space = load_space(REPO / "profiles" / "spaces" / "btc_small.yaml")
    assert {p.target for p in space.parameters} == {Target.RUNNER, Target.GATE}
    assert 2 <= sum(p.target is Target.RUNNER for p in space.parameters) <= 4


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("parameters:\n  - key: strategy.tp_bpz\n    low: 1\n    high: 2\n",
         [(2, "strategy.tp_bpz", "strategy.tp_bpz: unknown key of the RunnerConfig config; did you mean strategy.tp_bps?")]),
        ("parameters:\n  - key: strategy.tp_bps\n    low: 1\n    high: 2\n  - key: risk.pi_min_bps\n    low: 1\n"
         "    high: 2\n",
         [(5, "risk.pi_min_bps", "risk.pi_min_bps: unknown key of the RunnerConfig config")]),
        ("parameters:\n  - key: strategy.weights\n    low: 1\n    high: 2\n",
         [(2, "strategy.weights", "strategy.weights: not a scalar key (a section, a list or a mapping cannot be "
          "tuned)")]),
        ("parameters:\n  - key: strategy.tp_bps\n    low: 5\n    high: 5\n",
         [(4, "strategy.tp_bps", "empty range: high must be greater than low")]),
        ("parameters:\n  - key: strategy.tp_bps\n    low: 9\n    high: 5\n",
         [(4, "strategy.tp_bps", "inverted range: high is below low")]),
        ("parameters:\n  - key: strategy.tp_bps\n    low: 4\n    hihg: 5\n",
         [(4, "strategy.tp_bps", "hihg: unknown field (a parameter has key, target, low, high, step, log, choices)")]),
        ("parameters:\n  - key: strategy.tp_bps\n    low: 0\n    high: 5\n",
         [(3, "strategy.tp_bps", "RunnerConfig does not accept 0 for strategy.tp_bps: Input should be greater "
          "than 0")]),
        ("parameters:\n  - key: risk.size_scale\n    target: gate\n    low: 0.5\n    high: 2\n",
         [(5, "risk.size_scale", "AuroraConfig does not accept 2 for risk.size_scale: Input should be less than "
          "or equal to 1")]),
        ("parameters:\n  - key: strategy.vol_window_s\n    low: 0.0\n    high: 5\n    log: true\n",
         [(3, "strategy.vol_window_s", "a log range needs low > 0")]),
        ("parameters:\n  - key: strategy.tp_bps\n    low: 1\n    high: 5\n    step: 1\n    log: true\n",
         [(5, "strategy.tp_bps", "step and log cannot be combined (optuna samples one or the other)")]),
        ("parameters:\n  - key: strategy.obi_levels\n    low: 1.5\n    high: 5\n",
         [(3, "strategy.obi_levels", "strategy.obi_levels is an integer key")]),
        ("parameters:\n  - key: strategy.entry\n    low: 1\n    high: 2\n",
         [(2, "strategy.entry", "strategy.entry is not a number: give its choices")]),
        ("parameters:\n  - key: strategy.entry\n    choices: [cross, sideways]\n",
         [(3, "strategy.entry", "RunnerConfig does not accept 'sideways' for strategy.entry: Input should be "
          "'cross' or 'join'")]),
        ("parameters:\n  - key: strategy.tp_bps\n    low: 1\n    high: 2\n  - key: strategy.tp_bps\n"
         "    choices: [3.0]\n", [(5, "strategy.tp_bps", "strategy.tp_bps is tuned twice (first at line 2)")]),
        ("parameters:\n  - key: strategy.tp_bps\n    low: 1\n    high: 2\n    target: venue\n",
         [(5, "strategy.tp_bps", "target: Input should be 'runner' or 'gate'")]),
        ("params: []\n", [(None, "parameters", "Field required"),
                          (1, "params", "unknown field (a space file has description and parameters)")]),
        ("parameters:\n  - key: strategy.tp_bps\n    low: 1\n    high: 2\n  - key: strategy.sl_bps\n"
         "    low: 3\n    high: 1\n", [(7, "strategy.sl_bps", "inverted range: high is below low")]),
        ("parameters:\n  - key: strategy.tp_bps\n    low: 1\n    high: 1e308\n",  # YAML: text, not a float
         [(4, "strategy.tp_bps", "high: Input should be a number (YAML reads an exponent without a dot as text: "
                                 "write 1.0e+5)")]),
        ("parameters:\n  - key: strategy.tp_bps\n    low: true\n    high: .inf\n",
         [(3, "strategy.tp_bps", "low: Input should be a number"),
          (4, "strategy.tp_bps", "high: Input should be a finite number")]),
    ],
)  # fmt: skip
def test_a_bad_space_names_the_line_and_key(tmp_path: Path, text: str, expected: list) -> None:
    assert _issues(tmp_path, text) == expected


def test_every_problem_is_reported_at_once_and_yaml_errors_are_the_config_readers(tmp_path: Path) -> None:
    text = ("parameters:\n  - key: strategy.nope\n    low: 1\n    high: 2\n  - key: strategy.tp_bps\n"
            "    low: 5\n    high: 1\n")  # fmt: skip
    assert [line for line, _, _ in _issues(tmp_path, text)] == [2, 7]
    dup = _issues(tmp_path, "parameters:\n  - key: strategy.tp_bps\n    low: 1\n    low: 2\n    high: 3\n")
    assert dup[0][0] == 4 and "duplicate key 'low'" in dup[0][2]
    assert _issues(tmp_path, "parameters: [\n")[0][2].startswith("YAML syntax error")


def test_a_trial_overlay_loads_through_the_validated_loaders(project: Path) -> None:
    space = load_space(_space(project, GOOD))
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    trial = study.ask()
    ov = space.suggest(trial)
    assert isinstance(ov, Overlay) and set(ov.params) == {p.name for p in space.parameters}
    assert ov.params == trial.params
    assert set(ov.runner["strategy"]) == {"tp_bps", "obi_levels", "vol_window_s", "entry"}
    assert ov.gate == {"risk": {"pi_min_bps": ov.params["gate.risk.pi_min_bps"]}}
    runner_file = ov.write_runner(project / "profiles" / "overlays" / "t.yaml", header="tuned\nby a test")
    gate_file = ov.write_gate(project / "configs" / "t_gate.yaml")
    assert runner_file.read_text().startswith("# tuned\n# by a test\n")
    cfg = load_runner(RunnerConfig, overlays=["t"], environ={}, root=project).config
    assert cfg.strategy.tp_bps == ov.params["runner.strategy.tp_bps"] and cfg.strategy.entry == ov.params[
        "runner.strategy.entry"]
    gate = load_aurora("development", file=str(gate_file), environ={}, root=project).config
    assert gate.risk.pi_min_bps == ov.params["gate.risk.pi_min_bps"]
    assert yaml.safe_load(gate_file.read_text()) == ov.gate


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_suggested_values_never_leave_the_bounds(tmp_path_factory: pytest.TempPathFactory, seed: int) -> None:
    space = load_space(_space(tmp_path_factory.mktemp("s"), GOOD))
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    ov = space.suggest(study.ask())
    space.check_bounds(ov)
    for p in space.parameters:
        assert p.contains(ov.params[p.name])


def test_check_bounds_refuses_a_value_outside_and_a_key_not_tuned(tmp_path: Path) -> None:
    space = load_space(_space(tmp_path, GOOD))
    good = {p.name: (p.choices[0] if p.choices else p.low) for p in space.parameters}
    ov = space.overlay(good)
    wide = Overlay(runner=ov.runner, gate={"risk": {"pi_min_bps": -50.0}}, params=ov.params)
    with pytest.raises(ConfigError) as info:
        space.check_bounds(wide)
    issue = info.value.issues[0]
    assert (issue.line, issue.key, issue.expected) == (16, "risk.pi_min_bps", "within [-5.0, 5.0]")
    extra = Overlay(runner=ov.runner, gate={"risk": {"pi_min_bps": 0.0, "size_scale": 1.0}}, params=ov.params)
    with pytest.raises(ConfigError, match="size_scale, which the space does not tune"):
        space.check_bounds(extra)
    with pytest.raises(ConfigError, match="outside the space's bounds"):
        space.overlay({**good, "runner.strategy.obi_levels": 11})
    with pytest.raises(ConfigError, match="missing runner.strategy.entry"):
        space.overlay({k: v for k, v in good.items() if k != "runner.strategy.entry"})


@pytest.mark.parametrize("key", ["strategy.fees_bps", "venue.paper.slippage_bps", "feed.replay_until_s",
                                 "strategy.entries_from_s"])
def test_what_measures_the_result_is_not_tunable(tmp_path: Path, key: str) -> None:
    ((line, got, message),) = _issues(tmp_path, f"parameters:\n  - key: {key}\n    low: 1\n    high: 2\n")
    assert (line, got) == (2, key) and "not tunable" in message
