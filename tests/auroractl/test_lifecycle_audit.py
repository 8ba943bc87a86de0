"""``auroractl lifecycle-audit`` through the CLI: files, tables, one order, exit codes."""

from __future__ import annotations

import json

import networkx as nx
from typer.testing import CliRunner

from auroractl.main import app
from tests.aurora.analytics.test_lifecycle_audit import EXPECTED, _session


def invoke(*args):
    return CliRunner().invoke(app, ["lifecycle-audit", *args], env={"NO_COLOR": "1"})


def test_audit_writes_json_graphml_dot_and_prints_anomalies(project):
    _session(project / "logs" / "20261121-090000")
    r = invoke()
    assert r.exit_code == 0, r.output
    for cls, ids in EXPECTED.items():
        line = next(ln for ln in r.output.splitlines() if f" {cls} " in ln)
        assert str(len(ids)) in line and all(i in line for i in ids)
    assert "in flight at the end of the log (not flagged): 1" in r.output
    data = json.loads((project / "reports" / "lifecycle_audit.json").read_text())
    assert {c: sorted(o["cid"] for o in v["orders"]) for c, v in data["anomalies"].items()} == {
        c: sorted(v) for c, v in EXPECTED.items()
    }
    assert data["ok"] is False and data["ack_ttl_s"] == 5.0
    assert nx.read_graphml(project / "reports" / "lifecycle_transitions.graphml").number_of_nodes() == 9
    assert (project / "reports" / "lifecycle_transitions.dot").read_text().startswith("digraph")


def test_json_order_view_and_fail_on_anomaly(project, tmp_path):
    session = _session(tmp_path / "s")
    r = invoke("--session", str(session), "--out-dir", str(tmp_path / "out"), "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["anomaly_counts"]["overfill"] == 2
    r = invoke("--session", str(session), "--order", "fac", "--json")
    assert r.exit_code == 0, r.output
    view = json.loads(r.output)
    assert [e["event_code"] for e in view["events"]][-2:] == ["ORDER.CANCEL.ACK", "ORDER.FILL"]
    assert view["anomalies"] == {"fill_after_cancel": "FILL after CANCEL.ACK"}
    r = invoke("--session", str(session), "--order", "ok-fill")
    assert r.exit_code == 0 and "no anomaly on this order" in r.output
    r = invoke("--session", str(session), "--order", "nope")
    assert r.exit_code == 2 and "no ORDER.* events for client order id 'nope'" in r.output
    r = invoke("--session", str(session), "--out-dir", str(tmp_path / "out"), "--fail-on-anomaly")
    assert r.exit_code == 1


def test_report_command_writes_one_html_file(project):
    _session(project / "logs" / "20261121-090000")
    r = CliRunner().invoke(app, ["report"], env={"NO_COLOR": "1"})
    assert r.exit_code == 0, r.output
    page = project / "reports" / "20261121-090000.html"
    assert page.is_file() and "wrote reports/20261121-090000.html" in r.output
    assert page.read_text().count("data:image/png;base64,") >= 4
