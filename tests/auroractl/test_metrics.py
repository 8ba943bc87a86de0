"""``auroractl metrics summary`` through the CLI: output, files, exit codes, default session."""

from __future__ import annotations

import json
import re
import shutil

from typer.testing import CliRunner

from auroractl.main import app
from tests.aurora.analytics.test_metrics_summary import _session


def invoke(*args):
    return CliRunner().invoke(app, ["metrics", "summary", *args], env={"NO_COLOR": "1"})


def test_summary_of_the_newest_session_writes_json_and_prints_tables(project):
    _session(project / "logs" / "20261121-090000")
    older = project / "logs" / "20261120-090000"
    older.mkdir()
    r = invoke("--window-sec", "3600")
    assert r.exit_code == 0, r.output
    out = r.output
    assert "logs/20261121-090000" in out and "gates: RED" in out  # allowed spreads' p95 is above 8 bps
    assert re.search(
        r"│ spread_bps +│ 10.4 +│ 8 bps +│ red +│ 7 +│ p95 of allowed decisions. spread_bps", out
    )
    assert "deny rate" in out and "30.00%" in out and "conversion" in out and "44.44%" in out
    assert "SPREAD_GUARD" in out and "submit→ack" in out and "torn last lines 1" in out
    assert "wrote reports/summary_gate_status.json" in out
    saved = json.loads((project / "reports" / "summary_gate_status.json").read_text())
    assert saved["decisions"]["total"] == 10 and saved["config"]["mode"] == "development"
    assert set(saved["gates"]) == {
        "reject_rate",
        "denied_rate",
        "spread_bps",
        "vol_std_bps",
        "latency_ms",
        "dd_day_pct",
        "cvar_day_pct",
    }
    assert all(g["status"] in {"green", "red", "n/a"} for g in saved["gates"].values())


def test_json_output_and_custom_out_and_html(project, tmp_path):
    session = _session(tmp_path / "s")
    out = tmp_path / "o" / "summary.json"
    html = tmp_path / "o" / "report.html"
    r = invoke(
        "--session", str(session), "--window-sec", "0", "--out", str(out), "--json", "--html", str(html)
    )
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["window"]["whole_session"] is True and data["decisions"]["total"] == 15
    assert json.loads(out.read_text())["decisions"] == data["decisions"]
    assert html.read_text().count("data:image/png;base64,") >= 3


def test_fail_on_red_exits_1(project):
    _session(project / "logs" / "20261121-090000")
    (project / "configs" / "aurora" / "development.yaml").write_text("gates:\n  spread_bps_max: 1.0\n")
    r = invoke("--fail-on-red")
    assert r.exit_code == 1, r.output
    assert "red" in r.output


def test_bad_input_is_a_clear_exit_2(project, tmp_path):
    r = invoke("--session", str(tmp_path / "missing"))
    assert (
        r.exit_code == 2
        and "--session: session directory not found" in r.output
        and "Traceback" not in r.output
    )
    r = invoke("--window-sec", "-5")
    assert r.exit_code == 2 and "--window-sec must be a number >= 0" in r.output
    r = invoke()  # no logs/ at all
    assert r.exit_code == 2 and "no session directory" in r.output
    (tmp_path / "empty").mkdir()
    r = invoke("--session", str(tmp_path / "empty"))
    assert r.exit_code == 2 and "no event or order logs" in r.output
    r = invoke("--mode", "staging", "--session", str(tmp_path / "empty"))
    assert r.exit_code == 2 and "unknown mode" in r.output
    shutil.rmtree(project / "reports")
    (project / "reports").write_text("a file where a directory should be")
    _session(tmp_path / "s2")
    r = invoke("--session", str(tmp_path / "s2"))
    assert r.exit_code == 2 and "--out" in r.output


def test_thresholds_come_from_the_mode_the_session_ran_in(project):
    from tests.aurora.analytics.session_builder import rec, write_jsonl

    session = _session(project / "logs" / "20261121-090000")
    write_jsonl(session / "aurora_events.20261121-000.jsonl",
                [rec(-3 * 3_600_000, "AURORA.START", mode="testnet", config_version="v-old")])  # fmt: skip
    r = invoke("--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["config"]["mode"] == "testnet" and data["session_start"]["mode"] == "testnet"
    assert data["config"]["notes"][0] == "thresholds of mode 'testnet', the mode this session's gate ran in (AURORA.START)"
    assert data["config"]["notes"][1].startswith("the session ran config v-old; the current files of mode 'testnet' are ")
    r = invoke("--json", "--mode", "development")
    assert json.loads(r.output)["config"]["notes"] == [
        "the session's gate ran in mode 'testnet'; thresholds of --mode 'development' are applied"
    ]
