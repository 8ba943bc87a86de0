"""``auroractl backtest`` through the CLI on a slice of the shared BTC recording: both summaries side by
side, the same numbers on a second run, strict JSON, exit 2 on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from auroractl.main import app
from tests.oneclick.test_backtest import TRADER
from tests.support.gate_session import project_config
from tests.support.recordings import btc_slice


def invoke(*args: str):
    return CliRunner().invoke(app, ["backtest", *args], env={"NO_COLOR": "1"})


@pytest.fixture
def setup(project: Path, tmp_path: Path) -> Path:
    rec = btc_slice(tmp_path / "btc30.jsonl.gz", 30)
    if rec is None:
        pytest.skip("the shared real recording is absent; see ../shared/data/README.md")
    project_config(project, "testnet")
    (project / "trader.yaml").write_text(TRADER)
    (project / "a.yaml").write_text("risk:\n  pi_min_bps: -50\n")
    (project / "b.yaml").write_text("guards:\n  spread_bps_limit: 0.01\n")
    return rec


def test_both_summaries_side_by_side_and_identical_numbers_twice(setup: Path, project: Path) -> None:
    args = ["--recording", str(setup), "--config", "a.yaml", "--config", "b.yaml", "--runner-config", "trader.yaml"]
    one = invoke(*args, "--out-dir", "o1")
    two = invoke(*args, "--out-dir", "o2")
    assert one.exit_code == 0 and two.exit_code == 0, one.output + two.output
    table = [ln for ln in one.stdout.splitlines() if ln.startswith(("│", "┃"))]
    assert table == [ln for ln in two.stdout.splitlines() if ln.startswith(("│", "┃"))]
    rows = {ln.split("│")[1].strip(): [c.strip() for c in ln.split("│")[2:4]] for ln in table if ln.startswith("│")}
    assert {"decisions", "denied", "orders filled", "realized PnL USD", "max drawdown USD", "slippage p50 bps"} <= set(rows)
    a, b = rows["orders filled"]
    assert int(a) > 0 and b == "0"  # b's spread limit denies every entry
    assert rows["deny SPREAD_GUARD"][0] == "0" and int(rows["deny SPREAD_GUARD"][1]) > 0
    assert one.stdout.splitlines()[-2:] == ["1-a a.yaml → session o1/1-a", "2-b b.yaml → session o1/2-b"]
    r = invoke(*args, "--out-dir", "o3", "--json")
    data = json.loads(r.stdout)
    assert [x["figures"] for x in data["runs"]] == [x["figures"] for x in json.loads(invoke(*args, "--out-dir", "o4",
                                                                                             "--json").stdout)["runs"]]


def test_bad_input_exits_2(setup: Path, project: Path) -> None:
    (project / "bad.yaml").write_text("guards:\n  spread_bps_limt: 3\n")
    r = invoke("--recording", str(setup), "--config", "bad.yaml")
    assert r.exit_code == 2 and "• bad.yaml:2 guards.spread_bps_limt: unknown key" in r.stderr
    r = invoke("--recording", "missing.gz", "--config", "a.yaml")
    assert r.exit_code == 2 and "--recording: missing.gz is not a file" in r.stderr
    r = invoke("--recording", str(setup))
    assert r.exit_code == 2 and "--config: give at least one gate config file" in r.stderr
