"""``auroractl calibrate --from-replay``: the runner's own trades on the shared BTC recording become a map
for BTCUSDT that the gate and the runner both use for that symbol (and only for it)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import orjson
import pytest
import yaml
from typer.testing import CliRunner

from aurora.api import create_app
from aurora.calibration import CalibrationMap
from aurora.config.loader import load_aurora
from auroractl.main import app
from tests.aurora.api.conftest import API_TOKEN, OPS_TOKEN, LiveGate, check_body
from tests.runner.conftest import SHARED_BTC


def invoke(*args: str):  # noqa: ANN201
    return CliRunner().invoke(app, ["calibrate", *args], env={"NO_COLOR": "1"})


@pytest.fixture(scope="module")
def btc_map(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, Path]:
    if not SHARED_BTC.is_file():
        pytest.skip(f"the shared real recording is absent ({SHARED_BTC})")
    from runner.feeds.importers import import_recordings

    where = tmp_path_factory.mktemp("calibrate")
    rec = where / "btc.jsonl.gz"
    import_recordings("hftbacktest", [SHARED_BTC], rec)
    out = where / "btc_map.json"
    r = invoke("--from-replay", str(rec), "--profile", "base", "--symbols", "BTCUSDT", "--passes", "3",
               "--min-pairs", "10", "--out", str(out), "--json")
    assert r.exit_code == 0, r.output
    return out, json.loads(r.output), rec


def test_a_map_for_btc_fitted_on_the_first_half_and_scored_on_the_second(btc_map) -> None:  # noqa: ANN001
    out, res, _ = btc_map
    row = res["symbols"]["BTCUSDT"]
    assert row["train"] >= 10 and row["holdout"] >= 10 and res["labels"] == row["train"] + row["holdout"] + res[
        "cut_by_end"]
    assert 0 <= row["ece_holdout"] <= 1 and 0 <= row["ece_holdout_base"] <= 1
    assert set(row["exits"]) <= {"take_profit", "stop_loss", "time_stop"}
    cmap = CalibrationMap.load(out)
    btc = cmap.for_symbol("BTCUSDT")
    assert btc is not cmap and btc.meta["symbol"] == "BTCUSDT"
    assert btc.meta["holdout"]["ece_holdout"] == row["ece_holdout"]
    # every other symbol keeps the profile's map (the shipped one)
    assert cmap.for_symbol("ETHUSDT") is cmap and cmap.x == CalibrationMap.load().x


def test_the_gate_uses_the_symbols_own_map(btc_map, project: Path, tmp_path: Path) -> None:  # noqa: ANN001
    out, _, _ = btc_map
    cmap = CalibrationMap.load(out)
    overlay = tmp_path / "gate.yaml"
    overlay.write_text(yaml.safe_dump({"calibration": {"path": str(out)}}))
    environ = {"AURORA_ROOT": str(project), "AURORA_API_TOKEN": API_TOKEN, "OPS_TOKEN": OPS_TOKEN,
               "AURORA_CONFIG": str(overlay)}
    gate = LiveGate(create_app(load_aurora("development", environ=environ, root=project), tmp_path / "g",
                               run_id="cal", handle_sighup=False, state_dir=tmp_path / "st"), tmp_path / "g").start()
    try:
        for i, sym in enumerate(("BTCUSDT", "ETHUSDT")):
            body = check_body(cid=f"c{i}", score=1.4)
            body["order"]["symbol"] = sym
            assert gate.post("/pretrade/check", body).status_code == 200
    finally:
        gate.stop()
    p = {d["symbol"]: d["details"]["p_win"] for d in gate.events("POLICY_DECISION")}
    assert p["BTCUSDT"] == pytest.approx(cmap.for_symbol("BTCUSDT").predict(1.4))
    assert p["ETHUSDT"] == pytest.approx(cmap.predict(1.4))
    assert p["BTCUSDT"] != pytest.approx(p["ETHUSDT"])


def test_the_runner_uses_the_symbols_own_map(btc_map, project: Path, tmp_path: Path) -> None:  # noqa: ANN001
    from aurora.config.loader import load_runner
    from runner.app import Runner
    from runner.config import RunnerConfig
    from runner.labels import LabellingGate

    out, _, rec = btc_map
    data = load_runner(RunnerConfig, profile="base", environ={"AURORA_ROOT": str(project)}, root=project)
    cfg = data.config.model_dump()
    cfg["symbols"] = [s for s in cfg["symbols"] if s["symbol"] == "BTCUSDT"]
    cfg["feed"].update(source=f"replay:{rec}", realtime=False)
    cfg["strategy"]["calibration_path"] = str(out)
    runner = Runner(RunnerConfig.model_validate(cfg), session_dir=tmp_path, environ={}, gate_client=LabellingGate())
    asyncio.run(runner.run(0.5))
    btc = CalibrationMap.load(out).for_symbol("BTCUSDT")
    models = [orjson.loads(x) for x in (tmp_path / "runner_events.jsonl").read_bytes().splitlines()
              if b'"MODEL"' in x]
    pooled = CalibrationMap.load(out)
    got = [(m["details"]["p_win"], m["details"]["score"]) for m in models]  # both rounded to 4 places
    assert got and all(p == pytest.approx(btc.predict(s), abs=1e-3) for p, s in got)
    assert any(abs(p - pooled.predict(s)) > 0.01 for p, s in got)  # not the pooled map


def test_bad_input_exits_2(tmp_path: Path) -> None:
    r = invoke("--out", str(tmp_path / "m.json"))
    assert r.exit_code == 2 and "--from LOG or --from-replay PATH" in r.output
    foreign = tmp_path / "raw.txt"
    foreign.write_text('1723161256000000000 {"stream":"btcusdt@trade","data":{}}\n')
    r = invoke("--from-replay", str(foreign), "--out", str(tmp_path / "m.json"))
    assert r.exit_code == 2 and "feed import --format hftbacktest" in r.output
    r = invoke("--from-replay", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "m.json"))
    assert r.exit_code == 2 and "recording not found" in r.output
    assert "Traceback" not in r.output and not (tmp_path / "m.json").exists()


def test_too_few_trades_is_a_clear_error(btc_map, tmp_path: Path) -> None:  # noqa: ANN001
    _, _, rec = btc_map
    r = invoke("--from-replay", str(rec), "--symbols", "BTCUSDT", "--profile", "base", "--passes", "1",
               "--out", str(tmp_path / "m.json"))
    assert r.exit_code == 2 and "BTCUSDT: only" in r.output and "--passes" in r.output
