"""Markouts at 1 s / 5 s / 30 s from the runner's RUNNER.MARKOUT records, against hand-computed bps."""

from __future__ import annotations

import pytest

from aurora.analytics.metrics_summary import summarize_session
from aurora.config.models import AuroraConfig
from aurora.session.fields import MARKOUT_CODE, Field
from tests.aurora.analytics.session_builder import rec, write_jsonl


def _order(cid, t, side, symbol, fills):
    out = [rec(t, "POLICY_DECISION", cid, allow=True, reason="OK", symbol=symbol, side=side, qty=2.0, mid=100.0),
           rec(t + 1, "ORDER.SUBMIT", cid, symbol=symbol, side=side, qty=2.0, price=100.0),
           rec(t + 5, "ORDER.ACK", cid, oid="v" + cid)]  # fmt: skip
    for k, (dt, q, px, tid) in enumerate(fills):
        name = "FILL" if k == len(fills) - 1 else "PARTIAL"
        out.append(rec(t + dt, "ORDER." + name, cid, oid="v" + cid, fill_qty=q, fill_price=px, trade_id=tid))
    return out


def _mark(t, cid, tid, horizon, mid):
    return rec(t, MARKOUT_CODE, cid, symbol="?", **{Field.TRADE_ID.value: tid, Field.HORIZON_S.value: horizon,
                                                  Field.MID.value: mid})


@pytest.fixture()
def session(tmp_path):
    gate = []
    gate += _order("b1", 0, "buy", "SOLUSDT", [(10, 1.0, 100.0, "t1"), (20, 1.0, 100.5, "t2")])
    gate += _order("s1", 100, "sell", "SOLUSDT", [(110, 2.0, 101.0, "t3")])
    gate += _order("b2", 200, "buy", "SOONUSDT", [(210, 2.0, 200.0, "t4")])
    gate += _order("b3", 300, "buy", "SOONUSDT", [(310, 2.0, 50.0, "t5")])  # no markout logged for it
    runner = [
        _mark(1_010, "b1", "t1", 1, 100.2), _mark(5_010, "b1", "t1", 5, 99.9), _mark(30_010, "b1", "t1", 30, 101.0),
        _mark(1_020, "b1", "t2", 1, 100.5), _mark(5_020, "b1", "t2", 5, 100.0),  # no 30 s: the runner stopped
        _mark(1_110, "s1", "t3", 1, 100.8), _mark(1_111, "s1", "t3", 1, 90.0),  # a repeated record counts once
        _mark(5_110, "s1", "t3", 5, 101.5), _mark(30_110, "s1", "t3", 30, 99.0),
        _mark(1_210, "b2", "t4", 1, 201.0), _mark(30_210, "b2", "t4", 30, 198.0),
        _mark(1_300, "zz", "t9", 1, 1.0),  # names no fill of the session: ignored
        rec(0, "MODEL", symbol="SOLUSDT"),
    ]  # fmt: skip
    write_jsonl(tmp_path / "aurora_events.jsonl", sorted(gate, key=lambda r: r["ts_ns"]))
    write_jsonl(tmp_path / "runner_events-sol.jsonl", sorted(runner, key=lambda r: r["ts_ns"]))
    return tmp_path


def bps(side, mid, fill):
    return round(side * (mid - fill) / fill * 1e4, 3)


def test_markouts_equal_hand_computed_bps_per_horizon_and_symbol(session):
    s = summarize_session(session, AuroraConfig(), 0)
    m = s["markouts"]
    assert m["unit"] == "bps" and m["horizons_s"] == [1, 5, 30] and "note" not in m
    one = sorted([bps(1, 100.2, 100.0), bps(1, 100.5, 100.5), bps(-1, 100.8, 101.0), bps(1, 201.0, 200.0)])
    assert one == [0.0, 19.802, 20.0, 50.0]  # 0, +20 (buy, mid rose), +19.802 (sell, mid fell), +50
    h1 = m["by_horizon"]["1s"]
    assert h1["n"] == 4 and h1["bps"]["mean"] == round(sum(one) / 4, 3) and h1["bps"]["max"] == 50.0
    h5 = m["by_horizon"]["5s"]
    five = [bps(1, 99.9, 100.0), bps(1, 100.0, 100.5), bps(-1, 101.5, 101.0)]
    assert five == [-10.0, -49.751, -49.505]
    assert h5["n"] == 3 and h5["bps"]["p50"] == -49.505 and h5["bps"]["mean"] == round(sum(five) / 3, 3)
    h30 = m["by_horizon"]["30s"]
    thirty = [bps(1, 101.0, 100.0), bps(-1, 99.0, 101.0), bps(1, 198.0, 200.0)]
    assert h30["n"] == 3 and sorted(thirty) == [-100.0, 100.0, 198.02]
    assert h30["by_symbol"]["SOLUSDT"]["n"] == 2 and h30["by_symbol"]["SOONUSDT"]["mean"] == -100.0
    assert s["events_by_code"][MARKOUT_CODE] == 12  # counted as the runner's events, not as fills


def test_without_markout_records_the_view_says_what_it_needs(tmp_path):
    write_jsonl(tmp_path / "aurora_events.jsonl", _order("b1", 0, "buy", "SOLUSDT", [(10, 2.0, 100.0, "t1")]))
    m = summarize_session(tmp_path, AuroraConfig(), 0)["markouts"]
    assert m["by_horizon"]["1s"]["n"] == 0 and MARKOUT_CODE in m["note"]


def test_the_html_report_shows_slippage_and_markouts(session):
    from aurora.analytics.html_report import render_report

    page = render_report(str(session), summarize_session(session, AuroraConfig(), 0))
    assert "<h3>Markouts after the fill (bps, positive = the price moved the fill's way)</h3>" in page
    assert "<td>30s</td><td>3</td>" in page
    assert 'alt="Slippage by symbol and markouts by horizon (bps)"' in page
