"""``auroractl tune`` through the CLI: a bad space file is exit 2 naming file:line, a study on a slice of the
real recording prints its top trials and writes the overlay, ``--json`` is one strict document, ``--html``
the report with its plots."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.auroractl.test_cli import cli
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
  - key: risk.pi_min_bps
    target: gate
    low: -50.0
    high: 5.0
"""



@pytest.fixture
def inputs(project: Path) -> Path:
    project_config(project, "testnet")
    (project / "trader.yaml").write_text(BTC_SLICE_TRADER)
    (project / "space.yaml").write_text(SPACE)
    return project


def _tune(rec: Path, *args: str):
    return cli("tune", "--recording", str(rec), "--runner-config", "trader.yaml", *args)


@pytest.mark.parametrize(
    ("space", "expected"),
    [
        ("parameters:\n  - key: strategy.tp_bps\n    low: 1\n    high: 5\n  - key: strategy.tp_bpx\n    low: 1\n"
         "    high: 5\n",
         "• space.yaml:5 strategy.tp_bpx: strategy.tp_bpx: unknown key of the RunnerConfig config; did you mean "
         "strategy.tp_bps?\n"),
        ("parameters:\n  - key: strategy.tp_bps\n    low: 5\n    high: 5\n",
         "• space.yaml:4 strategy.tp_bps: empty range: high must be greater than low (expected > 5; got 5)\n"),
    ],
)  # fmt: skip
def test_a_bad_space_file_is_exit_2_naming_the_line(inputs: Path, btc40: Path, space: str, expected: str) -> None:
    (inputs / "space.yaml").write_text(space)
    r = _tune(btc40, "--space", "space.yaml", "--trials", "2")
    assert r.exit_code == 2, r.output
    assert r.stderr == "error: invalid configuration: 1 problem\n" + expected
    assert r.stdout == "" and not list((inputs / "profiles" / "overlays").glob("tune-*"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--objective", "profit"), "error: --objective: unknown objective 'profit'; choose one of pnl_dd, pnl, "
                                    "sharpe, sortino, expectancy (default pnl_dd)\n"),
        (("--study", "../up"), "error: --study: '../up' is not a usable name (letters, digits, '_', '.', '-'; at "
                               "most 64)\n"),
        (("--segments", "0"), "error: --segments: 0 is outside [1, 10]\n"),
    ],
)  # fmt: skip
def test_bad_options_are_exit_2_naming_the_option(inputs: Path, btc40: Path, args: tuple, message: str) -> None:
    r = _tune(btc40, "--space", "space.yaml", "--trials", "2", *args)
    assert r.exit_code == 2 and r.stderr == message, r.output


def test_a_runner_config_for_another_market_is_exit_2_not_a_study_of_zeros(inputs: Path, btc40: Path) -> None:
    r = cli("tune", "--recording", str(btc40), "--space", "space.yaml", "--trials", "2")  # the base: SOLUSDT
    assert r.exit_code == 2, r.output
    assert r.stderr.startswith("error: --recording: ") and r.stderr.endswith(
        " messages, none for the runner config's symbols (SOLUSDT); the recording holds BTCUSDT. Give a "
        "--runner-config whose symbols are in the recording\n"), r.stderr
    assert "Traceback" not in r.output and not list((inputs / "profiles" / "overlays").glob("tune-space*"))


def test_a_study_prints_its_top_trials_and_writes_the_overlay(inputs: Path, btc40: Path) -> None:
    r = _tune(btc40, "--space", "space.yaml", "--trials", "3", "--seed", "1", "--study", "cli")
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert re.fullmatch(r"3 trials run in [0-9.]+ s \([0-9.]+ trials/min\)", lines.pop(4))  # wall time
    assert lines == [
        "trial 0: complete -2.8008 (19 decisions, 6 trades)",
        "trial 1: complete -2.8008 (19 decisions, 6 trades)",
        "trial 2: complete -2.2983 (19 decisions, 5 trades)",
        "tune cli: 3 trials (3 complete), objective pnl_dd",
        "Top trials (training half)",
        "┏━━━━━━━┳━━━━━━━━━┳━━━━━━━━━━━┳━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━┓",
        "┃ trial ┃   value ┃ decisions ┃ trades ┃ runner.strategy.tp_bps ┃ runner.strategy.sl_bps ┃ gate.risk.pi_min_bps ┃",
        "┡━━━━━━━╇━━━━━━━━━╇━━━━━━━━━━━╇━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━┩",
        "│     2 │ -2.2983 │        19 │      5 │                 7.2153 │                 5.8379 │             -28.1778 │",
        "│     0 │ -2.8008 │        19 │      6 │                13.6766 │                11.0845 │             -49.9937 │",
        "│     1 │ -2.8008 │        19 │      6 │                10.4653 │                 3.0546 │             -44.9214 │",
        "└───────┴─────────┴───────────┴────────┴────────────────────────┴────────────────────────┴──────────────────────┘",
        "best trial 2: train -2.2983, validation -1.7588 (on the last 50% of each recording, not tuned on)",
        "✓ runner overlay profiles/overlays/cli.yaml (run-runner --overlay cli)",
        "✓ gate layer profiles/overlays/cli.gate.yaml (AURORA_CONFIG=profiles/overlays/cli.gate.yaml)",
        "provenance profiles/overlays/cli.provenance.json",
        "check before use: auroractl config validate testnet --overlay cli --runner-config trader.yaml --file "
        "profiles/overlays/cli.gate.yaml",
    ]
    check = cli("config", "validate", "testnet", "--overlay", "cli", "--runner-config", "trader.yaml", "--file",
                "profiles/overlays/cli.gate.yaml")  # fmt: skip
    assert check.exit_code == 0, check.output
    assert json.loads((inputs / "profiles" / "overlays" / "cli.provenance.json").read_text())["score"] == {
        "train": pytest.approx(-2.2983, abs=1e-4), "validation": pytest.approx(-1.7588, abs=1e-4)}


def test_json_is_one_strict_document_and_html_has_the_plots(inputs: Path, btc40: Path) -> None:
    r = _tune(btc40, "--space", "space.yaml", "--trials", "3", "--seed", "1", "--study", "j", "--json", "--html",
              "rep/tune.html")  # fmt: skip
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["schema"] == "aurora.tune/1" and data["study"] == "j" and data["trial"] == 2
    assert data["trials"]["total"] == 3 and data["trials"]["by_state"] == {"complete": 3}
    assert [t["number"] for t in data["top"]] == [2, 0, 1] and data["files"]["runner"] == "profiles/overlays/j.yaml"
    assert set(data["best"]["params"]) == {"runner.strategy.tp_bps", "runner.strategy.sl_bps", "gate.risk.pi_min_bps"}
    assert data["validation_figures"][0]["recording"] == "btc40.jsonl.gz"
    assert r.stderr.startswith("trial 0: complete")  # people's lines on stderr with --json
    page = (inputs / "rep" / "tune.html").read_text()
    assert "<h1>Aurora tuning report</h1>" in page and "Best trial: 2" in page
    assert page.count("data:image/png;base64,") == 2  # the history and the importances
