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
    assert view["anomalies"] == [{"class": "fill_after_cancel", "severity": "warning", "ts": "2026-11-21T09:00:07.125Z",
                                  "event": "ORDER.FILL", "detail": "FILL after CANCEL.ACK", "count": 1}]  # fmt: skip
    assert view["path"] == ["PREPARED", "SUBMITTED", "ACKED", "PENDING_CANCEL", "CANCELED"]
    assert view["events"][-1] == {
        "ts": "2026-11-21T09:00:07.125Z", "offset_ms": 125.0, "event_code": "ORDER.FILL", "qty": None,
        "fill_qty": 1.0, "cum_qty": 1.0, "price": None, "fill_price": None, "trade_id": "f1", "reason": None,
        "oid": "v-fac", "from": "CANCELED", "to": "CANCELED", "kind": "fill_after_cancel",
    }  # fmt: skip
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


def test_order_timeline_is_readable(project, tmp_path):
    session = _session(tmp_path / "s")
    r = CliRunner().invoke(app, ["lifecycle-audit", "--session", str(session), "--order", "dup-fill"],
                           env={"NO_COLOR": "1", "COLUMNS": "200"})  # fmt: skip
    assert r.exit_code == 0, r.output
    lines = [ln.rstrip() for ln in r.output.splitlines()]
    assert lines[0] == "Order dup-fill"
    assert "│ 2026-11-21T09:00:05.030Z │  30 │ ORDER.PARTIAL │     │      0.5 │     0.5 │       │            │ d1       │        │ v-dup-fill │ ok             │" in lines
    assert "│ 2026-11-21T09:00:05.031Z │  31 │ ORDER.PARTIAL │     │      0.5 │         │       │            │ d1       │        │ v-dup-fill │ duplicate_fill │" in lines
    assert "│ 2026-11-21T09:00:05.080Z │  80 │ ORDER.FILL    │     │      0.5 │       1 │       │            │ d2       │        │ v-dup-fill │ ok             │" in lines
    assert lines[-2:] == [
        "path PREPARED → SUBMITTED → ACKED → PARTIALLY_FILLED → FILLED  (final: FILLED)",
        "duplicate_fill: PARTIAL repeats a trade_id — at 2026-11-21T09:00:05.031Z by ORDER.PARTIAL",
    ]
    r = CliRunner().invoke(app, ["lifecycle-audit", "--session", str(session), "--order", "orphan"],
                           env={"NO_COLOR": "1", "COLUMNS": "200"})  # fmt: skip
    assert r.output.splitlines()[-2:] == [
        "path none: the order has no SUBMIT (an orphan; its events are not walked)",
        "orphan_event: 2 event(s), no SUBMIT — at 2026-11-21T09:00:08.000Z by ORDER.ACK",
    ]


def test_every_command_warns_about_a_truncated_gz_part(project, tmp_path):
    session = _session(tmp_path / "s")
    part = session / "aurora_events.20261121-001.jsonl.gz"
    blob = part.read_bytes()
    part.write_bytes(blob[: len(blob) - 20])  # cut the gzip trailer off: a truncated part
    warning = "aurora_events.20261121-001.jsonl.gz: truncated gzip stream; the readable part was used"
    for args in (["lifecycle-audit", "--session", str(session), "--out", str(tmp_path / "o")],
                 ["metrics", "summary", "--session", str(session), "--out", str(tmp_path / "o" / "s.json")]):  # fmt: skip
        r = CliRunner().invoke(app, args, env={"NO_COLOR": "1", "COLUMNS": "200"})
        assert r.exit_code == 0, r.output
        assert warning in " ".join(r.output.split()), args


def test_a_denied_order_shows_the_config_value_that_denied_it(project, tmp_path):
    from tests.support.gate_session import CALIBRATION, START_NS, RecordingGate, load, request

    (project / "configs" / "aurora" / "testnet.yaml").write_text(
        f"# testnet\nguards:\n  spread_bps_limit: 80\ncalibration:\n  path: {CALIBRATION}\n"
        "security:\n  allow_anonymous_trading: true\n"
    )
    session = tmp_path / "s"
    with RecordingGate(load(project, "testnet"), session) as g:
        r = request(START_NS, cid="wide", spread_ticks=93)
        assert g.check(r).reason == "SPREAD_GUARD"
        ok = request(START_NS + 1_000_000_000, cid="ok")
        g.fill(ok, g.check(ok), START_NS + 1_100_000_000)
    spread = (r.best_ask - r.best_bid) / r.mid * 1e4
    res = invoke("--session", str(session), "--order", "wide")
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0].endswith(
        f"deny SPREAD_GUARD: spread {spread:.1f} bps > guards.spread_bps_limit 80 (configs/aurora/testnet.yaml:3)"
    )
    assert lines[1] == "lifecycle none: no ORDER.* events (the order was not placed)"
    res = invoke("--session", str(session), "--order", "wide", "--json")
    (d,) = json.loads(res.output)["decisions"]
    assert d["threshold"] == {"key": "guards.spread_bps_limit", "value": "80.0",
                              "source": "configs/aurora/testnet.yaml:3", "observed": spread}  # fmt: skip
    res = invoke("--session", str(session), "--order", "ok")
    assert res.exit_code == 0 and "allow max_qty 2" in res.output.splitlines()[0]
    assert "path PREPARED → SUBMITTED → ACKED → FILLED  (final: FILLED)" in res.output
    res = CliRunner().invoke(app, ["metrics", "summary", "--session", str(session)], env={"NO_COLOR": "1"})
    assert res.exit_code == 0, res.output
    assert "│ SPREAD_GUARD │     1 │ 100.00% │ guards.spread_bps_limit 80 (configs/aurora/testnet.yaml:3) │" in res.output
