"""A denial names the config value behind it: key, value, where it was set (file:line or env var), and the
value it was compared with, in POLICY_DECISION and orders_denied.jsonl; recomputed on every reload."""

from __future__ import annotations

import orjson
import pytest

from aurora.config.merge import flatten
from aurora.config.models import AuroraConfig
from aurora.gate.thresholds import THRESHOLDS, explain
from tests.support.gate_session import CALIBRATION, START_NS, RecordingGate, load, request
from tests.support.logs import read_records

NS = 1_000_000_000


@pytest.fixture
def testnet(project):
    (project / "configs" / "aurora" / "testnet.yaml").write_text(
        "# testnet\nguards:\n  spread_bps_limit: 80\nrisk:\n  pi_min_bps: 2.0\n"
        f"calibration:\n  path: {CALIBRATION}\nsecurity:\n  allow_anonymous_trading: true\n"
    )
    return project


def decisions(session):
    recs, _ = read_records(session, "aurora_events")
    return [r for r in recs if r["event_code"] == "POLICY_DECISION"]


def test_a_spread_deny_names_the_key_its_value_and_the_file_line(testnet, tmp_path):
    session = tmp_path / "s"
    with RecordingGate(load(testnet, "testnet"), session) as g:
        ok = g.check(request(START_NS, cid="ok", spread_ticks=1))
        wide = g.check(request(START_NS + NS, cid="wide", spread_ticks=93))
    assert ok.allow and wide.reason == "SPREAD_GUARD"
    assert wide.observability["spread"]["key"] == "guards.spread_bps_limit"
    d = decisions(session)[1]["details"]
    spread = d["why"]["spread_bps"]
    assert d["threshold"] == {"key": "guards.spread_bps_limit", "value": 80.0,
                              "source": "configs/aurora/testnet.yaml:3", "observed": spread}  # fmt: skip
    assert explain(d["reason"], d["threshold"]) == (
        f"SPREAD_GUARD: spread {spread:.1f} bps > guards.spread_bps_limit 80 (configs/aurora/testnet.yaml:3)"
    )
    (denied,) = [orjson.loads(x) for x in (session / "orders_denied.jsonl").read_bytes().splitlines()]
    assert denied["cid"] == "wide" and denied["details"]["threshold"] == d["threshold"]
    assert "threshold" not in decisions(session)[0]["details"]  # an allow has no deciding key


def test_an_env_var_is_named_as_the_source_and_a_reload_recomputes_it(testnet, tmp_path):
    session = tmp_path / "s"
    loaded = load(testnet, "testnet", environ={"AURORA_PI_MIN_BPS": "30"})
    with RecordingGate(loaded, session) as g:
        g.check(request(START_NS, cid="a", score=-1.0))
        (testnet / "configs" / "aurora" / "testnet.yaml").write_text(
            f"guards:\n  spread_bps_limit: 50\ncalibration:\n  path: {CALIBRATION}\n"
            "security:\n  allow_anonymous_trading: true\n")
        assert g.gate.reload(lambda: load(testnet, "testnet"))["ok"]
        g.check(request(START_NS + NS, cid="b", score=-1.0))
    a, b = (x["details"]["threshold"] for x in decisions(session))
    assert a["key"] == b["key"] == "risk.pi_min_bps"
    assert (a["value"], a["source"]) == (30.0, "env:AURORA_PI_MIN_BPS")
    assert (b["value"], b["source"]) == (5.0, "configs/aurora/base.yaml:20")  # what the reloaded files say


def test_every_threshold_key_is_a_config_key():
    keys = {k for k, _ in flatten(AuroraConfig().model_dump())}
    for key in THRESHOLDS:
        if "*" in key:
            head, _, tail = key.partition(".*.")
            assert head in keys or head + "." in {k[: len(head) + 1] for k in keys}, key
            assert tail in AuroraConfig.model_fields["risk"].annotation.model_fields["symbols"].annotation.__args__[1].model_fields
        else:
            assert key in keys, key


@pytest.mark.parametrize(("rec", "line"), [
    ({"key": "risk.max_concurrent", "value": 3, "source": "configs/aurora/base.yaml:21", "observed": 3},
     "RISK_MAX_CONCURRENT: open positions 3 >= risk.max_concurrent 3 (configs/aurora/base.yaml:21)"),
    ({"key": "risk.duplicate_window_ms", "value": "500.0", "source": "defaults", "observed": None},
     "RISK_MAX_CONCURRENT: same side, price and qty within risk.duplicate_window_ms 500 (defaults)"),
    ({"key": "risk.symbols.BTCUSDT.max_order_notional", "value": 1000.0, "source": "u.yaml:4", "observed": 1234.5},
     "RISK_MAX_CONCURRENT: notional 1234.5 > risk.symbols.BTCUSDT.max_order_notional 1000 (u.yaml:4)"),
    (None, "RISK_MAX_CONCURRENT"),
])  # fmt: skip
def test_explain_reads_as_one_line(rec, line):
    assert explain("RISK_MAX_CONCURRENT", rec) == line
