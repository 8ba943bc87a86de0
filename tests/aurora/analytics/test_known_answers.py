"""A session built by hand with every kind of damage, and every figure of the summary computed by hand.

Two symbols; a replayed fill (same trade id); lines written out of time order; a fill after a cancel;
a decision whose ``reason`` holds bytes that are not UTF-8; a decision stamped a day in the future;
a rotated ``.gz`` part cut short. Nothing may abort, and every figure must be the hand-computed one.
"""

from __future__ import annotations

import gzip
import os

import pytest

from aurora import stats
from aurora.analytics.lifecycle_audit import audit_session
from aurora.analytics.metrics_summary import summarize_session
from aurora.config.models import AuroraConfig
from aurora.gate.health_guard import HealthGuard
from aurora.gate.risk_manager import RiskManager
from oneclick.proof import read_session_tally
from tests.aurora.analytics.session_builder import MS, T0, rec

SOL, SOON = "SOLUSDT", "SOONUSDT"


def decision(t, cid, symbol, side, qty, mid, order_type="limit", allow=True, reason="OK"):
    return rec(t, "POLICY_DECISION", cid, symbol=symbol, side=side, qty=qty, allow=allow, reason=reason,
               decision_us=100.0, mid=mid, order_type=order_type, spread_bps=1.0)  # fmt: skip


def submit(t, cid, symbol, side, qty, price):
    return rec(t, "ORDER.SUBMIT", cid, symbol=symbol, side=side, qty=qty, price=price)


def fill(t, cid, name, q, price, trade, pnl=None):
    extra = {} if pnl is None else {"realized_pnl_usd": pnl[0], "realized_pnl_bps": pnl[1], "entry_p_win": pnl[2]}
    return rec(t, "ORDER." + name, cid, fill_qty=q, fill_price=price, trade_id=trade, **extra)


def build(session):
    early = [
        decision(500, "d1", SOL, "buy", 1.0, 100.0, allow=False, reason="SPREAD_GUARD"),
        decision(999, "b1", SOL, "buy", 2.0, 100.0),
        submit(1000, "b1", SOL, "buy", 2.0, 100.2),
    ]
    # filler the truncation eats into (the records above come first and survive it)
    filler = [rec(999 + i / 1000, "RISK.UPDATE", exposure=i) for i in range(3000)]
    live = [
        rec(1010, "ORDER.ACK", "b1", oid="v1"),
        fill(1050, "b1", "PARTIAL", 1.0, 100.05, "s1"),
        fill(1100, "b1", "FILL", 1.0, 100.10, "s2", pnl=(4.0, 20.0, 0.7)),
        fill(1200, "b1", "FILL", 1.0, 100.10, "s2", pnl=(4.0, 20.0, 0.7)),  # replayed: same trade id
        decision(1999, "b2", SOL, "sell", 1.0, 101.0),
        submit(2000, "b2", SOL, "sell", 1.0, 100.9),
        fill(2100, "b2", "FILL", 1.0, 100.9, "s3", pnl=(-2.0, -10.0, 0.6)),  # written before its ACK
        rec(2010, "ORDER.ACK", "b2", oid="v2"),
        decision(2999, "c1", SOON, "buy", 5.0, 2.0),
        submit(3000, "c1", SOON, "buy", 5.0, 2.0),
        rec(3020, "ORDER.REJECT", "c1", reason="PRICE_FILTER"),
        decision(3999, "c2", SOON, "sell", 5.0, 2.0, order_type="market"),
        submit(4000, "c2", SOON, "sell", 5.0, 2.0),
        rec(4010, "ORDER.ACK", "c2", oid="v3"),
        rec(4500, "ORDER.CANCEL.REQUEST", "c2"),
        rec(4520, "ORDER.CANCEL.ACK", "c2"),
        fill(4530, "c2", "FILL", 5.0, 1.99, "s4", pnl=(1.0, 5.0, 0.55)),  # fill after cancel: it happened
        decision(4999, "c3", SOON, "buy", 5.0, 2.0),
        submit(5000, "c3", SOON, "buy", 5.0, 2.0),
        rec(10000, "ORDER.EXPIRE", "c3", reason="ACK_TIMEOUT"),
        decision(86_400_000, "future", SOL, "buy", 1.0, 100.0),  # a day ahead of the session's clock
    ]
    import orjson

    lines = [orjson.dumps(r) for r in live]
    bad = b'{"ts_ns": %d, "event_code": "POLICY_DECISION", "cid": "x", "details": {"allow": false, "reason": "SPREAD\xff\xfe_WIDE"}}'
    lines.insert(3, bad % (T0 + 1150 * MS))
    session.mkdir(parents=True)
    blob = gzip.compress(b"".join(orjson.dumps(r) + b"\n" for r in early + filler))
    part = session / "aurora_events.20261121-001.jsonl.gz"
    part.write_bytes(blob[: int(len(blob) * 0.6)])  # cut short: the tail of the filler is lost
    live_path = session / "aurora_events.jsonl"
    live_path.write_bytes(b"".join(line + b"\n" for line in lines))
    end = T0 + 20_000 * MS  # the files were last written 20 s into the session
    for p in (part, live_path):
        os.utime(p, ns=(end, end))
    return session


def test_every_figure_equals_the_hand_computed_one(tmp_path):
    s = summarize_session(build(tmp_path / "s"), AuroraConfig(), 3600)
    d, o, f = s["decisions"], s["orders"], s["fills"]
    # decisions: the non-UTF-8 line is skipped, the future one left out
    assert (d["total"], d["allow"], d["deny"], d["deny_by_reason"]) == (6, 5, 1, {"SPREAD_GUARD": 1})
    assert s["window"]["end_ns"] == T0 + 10_000 * MS  # anchored on the session's clock, not the future record
    assert (o["success"], o["rejected"], o["expired"], o["canceled"], o["open"], o["orphans"]) == (2, 1, 1, 1, 0, 0)
    assert o["conversion"] == 0.4  # 2 / (2 filled + 1 rejected + 1 expired + 1 denied); a cancel is no outcome
    assert (o["venue_outcomes"], o["venue_rejects"]) == (5, 1) and o["reject_rate"] == 0.2
    assert (f["fill_events"], f["replayed_fills"], f["filled_qty"]) == (4, 1, 8.0)
    assert f["fill_ratio_qty"] == pytest.approx(8 / 18, abs=1e-6)  # of orders that ended: 2 + 1 + 5 + 5 + 5
    assert f["time_to_fill_ms"]["n"] == 3 and f["time_to_fill_ms"]["p50"] == 100.0  # 50, 100, 530
    lat = s["latency_ms"]
    assert (lat["submit_to_ack"]["n"], lat["submit_to_ack"]["max"]) == (3, 10.0)
    assert lat["ack_to_done"]["n"] == 3 and lat["ack_to_done"]["p50"] == 90.0 and lat["ack_to_done"]["max"] == 510.0

    sol, soon = s["by_symbol"][SOL], s["by_symbol"][SOON]
    assert (sol["decisions"], sol["deny"], sol["orders_by_final_state"]) == (3, 1, {"FILLED": 2})
    assert (sol["filled_qty"], sol["fill_ratio"], sol["closed_trades"], sol["realized_pnl_usd"]) == (3.0, 1.0, 2, 2.0)
    assert (sol["win_rate"], sol["profit_factor"]) == (0.5, 2.0)
    assert soon["orders_by_final_state"] == {"REJECTED": 1, "CANCELED": 1, "EXPIRED": 1}
    assert (soon["filled_qty"], soon["closed_trades"], soon["realized_pnl_usd"]) == (5.0, 1, 1.0)
    assert soon["fill_ratio"] == pytest.approx(1 / 3, abs=1e-6)
    assert s["by_side"]["buy"]["orders_by_final_state"] == {"FILLED": 1, "REJECTED": 1, "EXPIRED": 1}

    pnl = [4.0, -2.0, 1.0]
    r, p = s["risk"], s["pnl"]
    assert (r["closed_trades"], r["realized_pnl_usd"]) == (3, 3.0)
    assert r["cvar_usd"] == 2.0 == stats.cvar_loss(pnl, 0.1)  # the worst ceil(0.1 * 3) = 1 trade
    assert r["cvar_bps"] == 10.0
    assert p["max_drawdown_usd"] == 2.0 and p["curve"]["cum_pnl_usd"]["value"] == [4.0, 2.0, 3.0]
    assert p["per_trade"]["profit_factor"] == 2.5 and p["per_trade"]["expectancy"] == 1.0
    assert s["calibration"]["ece"] == pytest.approx((0.3 + 0.6 + 0.45) / 3)
    assert s["hourly"] == [{"hour": "2026-11-21T09:00:00.000Z", "decisions": 6, "deny": 1, "fills": 4,
                            "closed_trades": 3, "realized_pnl_usd": 3.0}]  # fmt: skip

    sl = s["slippage"]  # buy above / sell below the decision's mid is a cost (positive bps)
    sol_bps = [5.0, 10.0, (101.0 - 100.9) / 101.0 * 1e4]
    assert sl["n"] == 4
    assert sl["by_symbol"][SOL]["mean"] == pytest.approx(sum(sol_bps) / 3, abs=1e-3)
    assert sl["by_symbol"][SOL]["max"] == 10.0 and sl["by_symbol"][SOON]["p50"] == pytest.approx(50.0)
    assert sl["by_order_type"]["market"]["n"] == 1 and sl["by_order_type"]["limit"]["n"] == 3

    rd = s["read"]
    assert rd["truncated_gzip"] == ["aurora_events.20261121-001.jsonl.gz"]
    assert rd["corrupt_lines"] == 1 and rd["corrupt"][0]["line"] == 4
    assert rd["corrupt"][0]["error"].startswith("not valid UTF-8")
    assert rd["off_clock_records"] == 1 and rd["off_clock"][0]["line"] == 22


def test_the_audit_reads_the_same_session_and_agrees(tmp_path):
    session = build(tmp_path / "s")
    a = audit_session(session, 5.0)
    assert a.final_states == {"FILLED": 2, "REJECTED": 1, "CANCELED": 1, "EXPIRED": 1}
    found = {c: [x.cid for x in v] for c, v in a.anomalies.items() if v}
    assert found == {"duplicate_fill": ["b1"], "fill_after_cancel": ["c2"]}
    assert a.read["truncated_gzip"] == ["aurora_events.20261121-001.jsonl.gz"]


def test_summary_dashboard_tally_and_stats_agree_on_the_same_samples(tmp_path):
    """One definition: the summary's CVaR, ECE and decision percentiles, the one-click tally's, the
    gate's own (its risk manager's CVaR, its health guard's p95) and aurora.stats' on the same samples."""
    session = build(tmp_path / "s")
    s = summarize_session(session, AuroraConfig(), 0)
    tally, _ = read_session_tally(session, cvar_alpha=0.1)
    slis = tally.slis()
    # the tally counts every closing fill event (it has no order walk): the replay is in its samples
    bps_tally = [20.0, 20.0, -10.0, 5.0]
    assert slis["cvar_bps"] == stats.cvar_loss(bps_tally, 0.1) == 10.0 == s["risk"]["cvar_bps"]
    assert slis["gate_latency_p99_ms"] == stats.percentile([0.1] * 6, 99) == s["latency_ms"]["decision"]["p99"]
    cfg = AuroraConfig()
    assert RiskManager(cfg).cvar_pct("acc", bps_tally) == s["risk"]["cvar_bps"]  # the gate's CVaR, alpha 0.1
    latencies = [3.0, 7.0, 1.0, 12.0, 40.0, 5.0, 9.0, 2.0, 8.0, 30.0]
    health = HealthGuard(cfg.model_copy(update={"aurora": cfg.aurora.model_copy(update={"min_samples": 1})}))
    for i, v in enumerate(latencies):
        health.observe(v, i)
    assert health.p95() == stats.percentile(latencies, 95) == pytest.approx(35.5)
