"""``auroractl export parquet`` and ``metrics summary --dataset`` through the CLI: output, files, exit codes."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from auroractl.main import app
from tests.aurora.analytics.test_metrics_summary import _session


def invoke(*args):
    return CliRunner().invoke(app, list(args), env={"NO_COLOR": "1", "COLUMNS": "200"})


def test_export_then_summarize_the_dataset(project):
    _session(project / "logs" / "20261121-090000")
    r = invoke("export", "parquet", "--session", "logs/20261121-090000", "--out-dir", "datasets/aurora")
    assert r.exit_code == 0, r.output
    lines = [ln.rstrip() for ln in r.output.splitlines()]
    assert lines[0] == "Dataset datasets/aurora"
    assert "│ 20261121-090000 │     50 │     6 │ 2026-11-21 │ GOVERNANCE, HEALTH, MODEL, OPS, ORDER, POLICY_DECISION │" in lines
    assert lines[-2:] == ["20261121-090000: 1 torn last line(s) left out",
                          "✓ wrote 50 events of 1 session(s) to datasets/aurora (6 Parquet files in the dataset)"]  # fmt: skip
    assert (project / "datasets/aurora/date=2026-11-21/family=ORDER/20261121-090000-0.parquet").is_file()
    r = invoke("metrics", "summary", "--dataset", "datasets/aurora", "--out", "reports/all.json")
    assert r.exit_code == 0, r.output
    assert "a dataset of many sessions: thresholds of mode 'development' (--mode chooses)" in r.output
    assert "dataset 1 session(s): 20261121-090000" in r.output
    saved = json.loads((project / "reports" / "all.json").read_text())
    assert saved["dataset"]["sessions"] == {"20261121-090000": 50} and saved["window"]["whole_session"] is True
    assert saved["decisions"]["total"] == 15 and saved["orders"]["success"] == 4


def test_bad_input_is_named_and_exits_2(project):
    _session(project / "s")
    r = invoke("export", "parquet", "--session", "nope", "--out-dir", "ds")
    assert r.exit_code == 2 and "--session: session directory not found: nope" in r.output
    (project / "file").write_text("x")
    r = invoke("export", "parquet", "--session", "s", "--out-dir", "file")
    assert r.exit_code == 2 and "--out-dir: file is not a directory" in r.output
    r = invoke("metrics", "summary", "--dataset", "ds", "--session", "s")
    assert r.exit_code == 2 and "--dataset summarizes an exported dataset: it goes without --session" in r.output
    r = invoke("metrics", "summary", "--dataset", "missing")
    assert r.exit_code == 2 and "dataset directory not found: missing" in r.output
