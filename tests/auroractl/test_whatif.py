"""``auroractl whatif`` through the CLI: the terminal table, strict JSON, the HTML section, exit codes."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from auroractl.main import app
from tests.support.gate_session import spread_session


def invoke(*args):
    return CliRunner().invoke(app, ["whatif", *args], env={"NO_COLOR": "1", "COLUMNS": "250"})


@pytest.fixture
def session(project, tmp_path):
    spread_session(project, project / "logs" / "20261121-090000", limit_bps=20)
    (project / "cand.yaml").write_text("guards:\n  spread_bps_limit: 10\n")
    return project / "logs" / "20261121-090000"


def test_terminal_report_names_the_flips_keys_and_values(session):
    r = invoke("--session", str(session), "--config", "cand.yaml")
    assert r.exit_code == 0, r.output
    lines = [ln.rstrip() for ln in r.stdout.splitlines()]
    assert lines[0].startswith(f"whatif session {session}  candidate cand.yaml  config ")
    assert lines[1:6] == [
        "decisions 90 replayed, 0 not compared (the gate could not record their state)",
        "changed guards.spread_bps_limit: 20 (configs/aurora/testnet.yaml:2) → 10 (cand.yaml:2)",
        "flips 30 (allow→deny 30, deny→allow 0, reason changed 0)",
        "deny rate 33.33% → 66.67% (+33.33 pp); denies 30 → 60",
        lines[5],
    ]
    assert lines[5].startswith("allowed notional ") and lines[5].endswith("allowed max_qty changed on 0 decision(s) both allowed")
    assert ("│ guards.spread_bps_limit │ 20 (configs/aurora/testnet.yaml:2) │ 10 (cand.yaml:2) │         30 │          0 │"
            "              0 │    30 │") in lines  # fmt: skip
    assert "│ spread │         30 │          0 │              0 │    30 │" in lines
    row = next(ln for ln in lines if "│ s010 " in ln)
    assert "│ allow→deny │ OK      │ SPREAD_GUARD: spread 11.0 bps > guards.spread_bps_limit 10 (cand.yaml:2) │" in row
    assert row.endswith("│ 20 (configs/aurora/testnet.yaml:2) → 10 (cand.yaml:2) │")


def test_json_is_strict_and_html_has_the_section(session, tmp_path):
    html = tmp_path / "out" / "whatif.html"
    r = invoke("--session", str(session), "--config", "cand.yaml", "--json", "--html", str(html))
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)  # one strict document on stdout
    assert data["schema"] == "aurora.whatif/1" and data["flips"]["total"] == 30 and len(data["flip_list"]) == 30
    page = html.read_text()
    assert "<section id='whatif'>" in page and page.count("<td>allow→deny</td>") == 30
    assert "guards.spread_bps_limit 20 (configs/aurora/testnet.yaml:2) → 10 (cand.yaml:2)" in page


def test_own_config_flips_nothing_and_the_newest_session_is_the_default(session, project):
    (project / "same.yaml").write_text("")
    r = invoke("--config", "same.yaml")
    assert r.exit_code == 0, r.output
    assert "flips 0 (allow→deny 0, deny→allow 0, reason changed 0)" in r.stdout and "✓ no decision flips" in r.stdout
    assert "changed nothing: the candidate sets every key to the session's value" in r.stdout


def test_bad_input_is_exit_2_with_file_line_key(session, project, tmp_path):
    (project / "bad.yaml").write_text("guards:\n  spread_bps_limit: -3\n")
    r = invoke("--session", str(session), "--config", "bad.yaml")
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert "• bad.yaml:2 guards.spread_bps_limit: Input should be greater than 0 (expected > 0.0; got -3)" in r.stderr
    r = invoke("--session", str(session), "--config", "bad.yaml", "--json")
    assert r.exit_code == 2 and json.loads(r.stdout)["errors"][0]["line"] == 2
    r = invoke("--session", str(session))
    assert r.exit_code == 2 and "--config: give at least one candidate config file" in r.stderr
    r = invoke("--session", str(tmp_path / "nope"), "--config", "bad.yaml")
    assert r.exit_code == 2 and "--session: session directory not found" in r.stderr
    r = invoke("--session", str(session), "--config", "missing.yaml")
    assert r.exit_code == 2 and "missing.yaml: candidate config file not found" in r.stderr
