"""The backtest core on a slice of the shared BTC recording: one fresh gate per config, the real runner,
deterministic figures, and the errors a bad input gets."""

from __future__ import annotations

from pathlib import Path

import pytest

from aurora.config.errors import ConfigError
from oneclick.backtest import BacktestError, backtest, report
from tests.support.gate_session import project_config
from tests.support.recordings import btc_slice

TRADER = (
    "runner: {mode: paper, wind_down_s: 1.0}\n"
    "symbols: [{symbol: BTCUSDT, qty: 0.01}]\n"
    "strategy: {score_threshold: 0.3, enr_threshold_bps: -20.0, max_hold_s: 3.0}\n"
)


@pytest.fixture(scope="module")
def btc40(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = btc_slice(tmp_path_factory.mktemp("btc") / "btc40.jsonl.gz", 40)
    if path is None:
        pytest.skip("the shared real recording is absent; see ../shared/data/README.md")
    return path


@pytest.fixture
def inputs(project: Path) -> Path:
    project_config(project, "testnet")
    (project / "trader.yaml").write_text(TRADER)
    (project / "loose.yaml").write_text("risk:\n  pi_min_bps: -50\n")
    (project / "strict.yaml").write_text("risk:\n  pi_min_bps: 8\n")
    return project


def test_two_gate_configs_on_the_same_market_and_the_same_numbers_twice(inputs: Path, btc40: Path) -> None:
    configs = [inputs / "loose.yaml", inputs / "strict.yaml"]
    first = backtest(btc40, configs, out_dir=inputs / "o1", runner_config="trader.yaml", root=inputs)
    again = backtest(btc40, configs, out_dir=inputs / "o2", runner_config="trader.yaml", root=inputs)
    assert [r.row() for r in first] == [r.row() for r in again]
    loose, strict = (r.row() for r in first)
    assert loose["decisions"] > 0 and loose["orders_filled"] > 0 and loose["closed_trades"] > 0
    assert strict["allow"] < loose["allow"] and strict["deny_by_reason"].get("ER_BELOW_MIN", 0) > 0
    assert loose["orders_submitted"] == loose["allow"]  # every allowed order was placed on the paper venue
    data = report(first, btc40)
    assert [r["label"] for r in data["runs"]] == ["1-loose", "2-strict"] and "allow" in data["differs_from_first"][1]
    for r in first:  # each run is a whole session: the gate's log, the runner's, the summary's inputs
        assert (r.session_dir / "aurora_events.jsonl").is_file() and (r.session_dir / "runner_events.jsonl").is_file()
        assert r.summary["session_start"]["mode"] == "testnet"


def test_bad_inputs_are_refused_before_anything_runs(inputs: Path, btc40: Path) -> None:
    (inputs / "bad.yaml").write_text("risk:\n  pi_min_bps: lots\n")
    with pytest.raises(ConfigError) as info:
        backtest(btc40, [inputs / "loose.yaml", inputs / "bad.yaml"], out_dir=inputs / "o", root=inputs)
    assert info.value.issues[0].line == 2 and info.value.issues[0].key == "risk.pi_min_bps"
    assert not (inputs / "o").exists()
    with pytest.raises(BacktestError, match="--recording: .* is not a file"):
        backtest(inputs / "nope.gz", [inputs / "loose.yaml"], out_dir=inputs / "o", root=inputs)
    (inputs / "o" / "1-loose").mkdir(parents=True)
    (inputs / "o" / "1-loose" / "x").write_text("")
    with pytest.raises(BacktestError, match="is not empty"):
        backtest(btc40, [inputs / "loose.yaml"], out_dir=inputs / "o", runner_config="trader.yaml", root=inputs)
