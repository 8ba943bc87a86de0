"""Calibration data from the runner's own lifecycle on the synthetic market: labels, a fit on short runs,
and the shipped map."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import orjson
import pytest

from aurora.calibration import CalibrationMap, expected_calibration_error
from aurora.config.loader import load_runner
from runner.calibration_data import (
    LabelledData,
    fit_from_synthetic,
    label_seed,
    main,
    parse_seeds,
    strategy_fingerprint,
)
from runner.config import RunnerConfig

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def shipped_cfg() -> RunnerConfig:
    return load_runner(RunnerConfig, root=REPO, environ={}).config


@pytest.fixture(scope="module")
def held_out(shipped_cfg: RunnerConfig) -> LabelledData:
    """The market the shipped config trades on (its feed seed), held out of every fit here."""
    return label_seed(shipped_cfg, shipped_cfg.feed.seed, 900)


def test_labels_follow_the_runners_exit_rules(shipped_cfg: RunnerConfig, held_out: LabelledData) -> None:
    sc = shipped_cfg.strategy
    d = held_out
    pnl, y, exits = np.array(d.pnl_bps), np.array(d.outcomes), np.array(d.exits)
    assert len(y) > 100 and set(exits) == {"take_profit", "stop_loss", "time_stop"}
    # One label per round trip the runner made: at most one per idea it traded; the end of the data
    # closes at most one position per symbol (not a label).
    assert d.candidates >= len(y) + d.cut_by_end + d.unresolved and d.cut_by_end + d.unresolved <= 1
    # A win is a realised P&L after fees > 0, as in the session's ECE.
    assert np.array_equal(y == 1, pnl > 0)
    tp, sl = exits == "take_profit", exits == "stop_loss"
    # Take-profit: the resting limit fills tp_bps away (rounded to the tick, away from the entry).
    assert y[tp].all() and (pnl[tp] >= sc.tp_bps - sc.fees_bps - 1e-6).all()
    assert (pnl[tp] < sc.tp_bps - sc.fees_bps + 1.0).all()
    # Stop-loss: the mid moved sl_bps against the position, closed at market: a loss beyond it.
    assert not y[sl].any() and (pnl[sl] <= -sc.sl_bps).all()
    assert 0 < y.mean() < 1


def test_the_labels_are_the_runners_own_round_trips(shipped_cfg: RunnerConfig, tmp_path: Path) -> None:
    """The labelling sink reads the lifecycle the gate sees: every label is a closing fill's round trip."""
    import asyncio

    from runner.feeds.synthetic_feed import SyntheticFeed
    from runner.labels import label_run, labelling_config

    cfg = labelling_config(shipped_cfg)
    run = asyncio.run(label_run(cfg, tmp_path, feed=SyntheticFeed(["SOLUSDT"], seed=5, realtime=False,
                                                                  max_market_s=300)))
    assert run.labels and all(x.symbol == "SOLUSDT" and x.opened_ns < x.closed_ns for x in run.labels)
    assert [x.opened_ns for x in run.labels] == sorted(x.opened_ns for x in run.labels)  # one at a time
    closes = [orjson.loads(line) for line in (tmp_path / "runner_events.jsonl").read_bytes().splitlines()]
    models = {e["cid"]: e["details"]["score"] for e in closes if e["event_code"] == "MODEL"}
    assert {round(x.score, 4) for x in run.labels} <= {round(v, 4) for v in models.values()}


def test_fit_on_short_runs_is_monotone_and_calibrated_on_a_held_out_seed(
    shipped_cfg: RunnerConfig, held_out: LabelledData
) -> None:
    cmap, data = fit_from_synthetic(shipped_cfg, [11, 12, 13], 900)
    assert shipped_cfg.feed.seed not in (11, 12, 13)
    assert cmap.meta["n"] == len(data.outcomes) > 300
    assert all(b >= a for a, b in zip(cmap.y, cmap.y[1:], strict=False))
    scores, outcomes = held_out.arrays()
    ece = expected_calibration_error(cmap.predict_many(scores), outcomes)
    assert ece < 0.1, ece
    # The same check fails an overconfident map like one fitted on a model of the market rather than
    # the runner's trades (high scores near-certain wins).
    overconfident = CalibrationMap([0.8, 1.0, 1.5, 2.0, 3.0], [0.6, 0.8, 0.95, 0.98, 0.99])
    assert expected_calibration_error(overconfident.predict_many(scores), outcomes) > 0.25


def test_shipped_map_is_fitted_for_the_shipped_config(
    shipped_cfg: RunnerConfig, held_out: LabelledData
) -> None:
    cmap = CalibrationMap.load()
    meta = cmap.meta
    assert "runner.calibration_data" in meta["source"]
    # Refit the map (see configs/runner/base.yaml) whenever the strategy settings change.
    assert meta["strategy"] == strategy_fingerprint(shipped_cfg)
    seed = shipped_cfg.feed.seed
    assert seed not in meta["seeds"] and seed in meta["holdout"]["seeds"]
    assert meta["holdout"]["ece"] < 0.05
    scores, outcomes = held_out.arrays()
    assert expected_calibration_error(cmap.predict_many(scores), outcomes) < 0.1


def test_cli_writes_a_map_and_its_pairs(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, pairs = project / "maps" / "cal.json", project / "pairs.jsonl"
    code = main(["--seeds", "11", "--holdout", "", "--seconds", "600", "--out", str(out),
                 "--pairs-out", str(pairs), "--json"])  # fmt: skip
    assert code == 0
    res = json.loads(capsys.readouterr().out)
    assert res["pairs"] >= 50 and res["out"] == str(out)
    cmap = CalibrationMap.load(out)
    assert cmap.meta["seeds"] == [11] and cmap.meta["n"] == res["pairs"]
    lines = [json.loads(x) for x in pairs.read_text().splitlines()]
    assert len(lines) == res["pairs"] and set(lines[0]) == {"score", "outcome"}


def test_cli_bad_input_exits_2_with_a_clear_message(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--seeds", "5..1", "--out", str(project / "m.json")]) == 2
    assert "--seeds/--holdout: bad seed list '5..1'" in capsys.readouterr().err
    assert main(["--config", "no_such_config", "--out", str(project / "m.json")]) == 2
    assert "no_such_config" in capsys.readouterr().err
    assert main(["--seconds", "0", "--out", str(project / "m.json")]) == 2
    assert "--seconds must be > 0" in capsys.readouterr().err
    assert not (project / "m.json").exists()


def test_parse_seeds() -> None:
    assert parse_seeds("1..3,7") == [1, 2, 3, 7]
    assert parse_seeds(" 4 ") == [4]
    for bad in ("", "a", "3..1", "1..x"):
        with pytest.raises(ValueError, match="bad seed list"):
            parse_seeds(bad)
