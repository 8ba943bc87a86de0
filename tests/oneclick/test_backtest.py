"""The backtest core on a slice of the shared BTC recording: one fresh gate per config, the real runner,
deterministic figures, and the errors a bad input gets."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from aurora.config.errors import ConfigError
from oneclick.backtest import BacktestError, backtest, report
from tests.support.gate_session import project_config

TRADER = (
    "runner: {mode: paper, wind_down_s: 1.0}\n"
    "symbols: [{symbol: BTCUSDT, qty: 0.01}]\n"
    "strategy: {score_threshold: 0.3, enr_threshold_bps: -20.0, max_hold_s: 3.0}\n"
)



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
    # the runner base trades SOLUSDT: on a BTC recording every figure would be a silent zero
    with pytest.raises(BacktestError, match=r"none for the runner config's symbols \(SOLUSDT\); the recording "
                                            r"holds BTCUSDT\. Give a --runner-config"):
        backtest(btc40, [inputs / "loose.yaml"], out_dir=inputs / "o2", root=inputs)


def test_a_trade_window_keeps_entries_inside_it_and_stops_the_replay_at_its_end(inputs: Path, btc40: Path) -> None:
    import orjson

    from aurora.config.loader import load_aurora
    from oneclick.backtest import TradeWindow, gate_environ, replay_config, run_one
    from runner.feeds.replay_feed import first_recorded_ns

    (inputs / "loose.yaml").write_text("risk:\n  pi_min_bps: -50\n")
    env = {"AURORA_ROOT": str(inputs)}
    gate = load_aurora("testnet", file=str(inputs / "loose.yaml"), environ=gate_environ(env), root=inputs)
    whole = replay_config(btc40, "trader.yaml", inputs, env)
    cfg = replay_config(btc40, "trader.yaml", inputs, env, window=TradeWindow(15.0, 30.0, 30.0))
    assert (cfg.strategy.entries_from_s, cfg.strategy.entries_until_s, cfg.feed.replay_until_s) == (15.0, 30.0, 30.0)
    first = first_recorded_ns(btc40)

    def decided(name: str) -> list[int]:
        records = map(orjson.loads, (inputs / name / "aurora_events.jsonl").read_bytes().splitlines())
        return [r["details"]["request_ts_ns"] for r in records if r["event_code"] == "POLICY_DECISION"]

    (inputs / "early").mkdir()
    run_one(replay_config(btc40, "trader.yaml", inputs, env, window=TradeWindow(0.0, 15.0, 15.0)), gate,
            inputs / "early", "w")  # fmt: skip
    assert min(decided("early")) < first + 15e9  # without the window's start, this market trades before 15 s
    (inputs / "w").mkdir()
    run = run_one(cfg, gate, inputs / "w", "w")
    assert run.row()["closed_trades"] > 0
    # no entry before 15 s (exits follow entries); nothing after 30 s but the wind-down's closes at the cut
    assert min(decided("w")) >= first + 15e9 and max(decided("w")) < first + 31e9
    assert run.runner["feed"]["messages"] < sum(1 for _ in gzip.open(btc40))
    assert whole.strategy.entries_from_s == 0.0 and whole.feed.replay_until_s is None
