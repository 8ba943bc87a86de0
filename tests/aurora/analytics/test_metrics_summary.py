"""Metrics summary on a hand-built session: counts, rates, percentiles, risk and gates computed by hand."""

from __future__ import annotations

import math
import statistics

import pytest

from aurora.analytics.metrics_summary import summarize_session
from aurora.config.models import AuroraConfig
from tests.aurora.analytics.session_builder import MS, T0, order_log, rec, write_jsonl

HOUR_MS = 3_600_000


def _lifecycle(cid, t, ack, done, pnl=None):
    """SUBMIT at t; ACK after ``ack`` ms (None: no ack); ``done`` = (offset ms, event, fields)."""
    out = [rec(t, "ORDER.SUBMIT", cid, symbol="SOLUSDT", side="buy", qty=1.0, price=100.0)]
    if ack is not None:
        out.append(rec(t + ack, "ORDER.ACK", cid, oid="v" + cid))
    dt, name, fields = done
    if name == "CANCEL.ACK":  # a cancel is requested first (a CANCEL.ACK alone is illegal)
        out.append(rec(t + dt - 5, "ORDER.CANCEL.REQUEST", cid))
    if pnl is not None:
        fields = {**fields, "realized_pnl_usd": pnl[0], "realized_pnl_bps": pnl[1], "entry_p_win": pnl[2]}
    out.append(rec(t + dt, "ORDER." + name, cid, oid="v" + cid, **fields))
    return out


def _session(tmp_path):
    ev = []
    # ten decisions one second apart: 7 allowed (a1..a7), 3 denied
    deny = {2: "SPREAD_GUARD", 5: "SPREAD_GUARD", 8: "KILL_SWITCH"}
    allowed = []
    for i in range(10):
        t = 1000 * (i + 1)
        allow = i not in deny
        cid = f"a{len(allowed) + 1}" if allow else f"d{i}"
        extra = (
            {"spread_bps": 2.0 + i, "vol_std_bps": 10.0 + i, "latency_ms": 20.0 + 5 * i}
            if allow
            else {"spread_bps": 95.0}
        )
        ev.append(rec(t, "POLICY_DECISION", cid, allow=allow, reason="OK" if allow else deny[i], decision_us=100.0 * (i + 1),
                      symbol="SOLUSDT", side="buy", qty=1.0, **extra))  # fmt: skip
        ev.append(
            rec(t, "GOVERNANCE.ALLOW" if allow else "GOVERNANCE.DENY", cid, reason="OK" if allow else deny[i])
        )
        if allow:
            allowed.append(t)
    a = dict(zip([f"a{k}" for k in range(1, 8)], allowed, strict=True))
    ev += _lifecycle("a1", a["a1"] + 1, 10, (100, "FILL", {"fill_qty": 1.0}), pnl=(5.0, 10.0, 0.7))
    ev += _lifecycle("a2", a["a2"] + 1, 20, (300, "FILL", {"fill_qty": 1.0}), pnl=(-3.0, -6.0, 0.6))
    ev += _lifecycle("a3", a["a3"] + 1, None, (15, "REJECT", {"reason": "PRICE_FILTER"}))
    ev += _lifecycle("a4", a["a4"] + 1, None, (5000, "EXPIRE", {"reason": "ACK_TIMEOUT"}))
    ev += _lifecycle("a5", a["a5"] + 1, 40, (1010, "CANCEL.ACK", {}))
    ev += _lifecycle("a6", a["a6"] + 1, 50, (500, "FILL", {"fill_qty": 1.0}), pnl=(2.0, 4.0, 0.55))
    ev += _lifecycle("a7", a["a7"] + 1, 60, (200, "FILL", {"fill_qty": 1.0}), pnl=(-1.0, -2.0, 0.4))
    ev += [rec(3500, "HEALTH.LATENCY_P95_HIGH", p95_ms=41.5, state="WARN"),
           rec(9100, "GOVERNANCE.KILL_SWITCH", trigger="denied_rate", rate_pct=60.0, action="HALT_AND_ALERT"),
           rec(9500, "OPS.RESET")]  # fmt: skip
    # two hours earlier: five denies that only a whole-session window sees
    old = [
        rec(
            -2 * HOUR_MS + i,
            "POLICY_DECISION",
            f"old{i}",
            allow=False,
            reason="LATENCY_GUARD",
            decision_us=50.0,
        )
        for i in range(5)
    ]
    ev = sorted(old + ev, key=lambda r: r["ts_ns"])
    write_jsonl(tmp_path / "aurora_events.20261121-001.jsonl.gz", ev[:12], gz=True)
    write_jsonl(tmp_path / "aurora_events.jsonl", ev[12:], tail=b'{"ts_ns": 1, "event_c')
    # a runner's copy of a decision (not in the contract) must not be counted twice
    write_jsonl(
        tmp_path / "runner_events-sol.jsonl",
        [rec(1000, "MODEL", score=0.3), rec(1000, "POLICY_DECISION", "a1", allow=True)],
    )
    logs = [order_log(r, {"ORDER.FILL": "success", "ORDER.REJECT": "failed", "ORDER.EXPIRE": "failed"}[r["event_code"]])
            for r in ev if r["event_code"] in ("ORDER.FILL", "ORDER.REJECT", "ORDER.EXPIRE")]  # fmt: skip
    logs += [
        order_log(r, "denied")
        for r in ev
        if r["event_code"] == "POLICY_DECISION" and not r["details"]["allow"]
    ]
    write_jsonl(tmp_path / "orders.jsonl", sorted(logs, key=lambda r: r["ts_ns"]))
    return tmp_path


def test_counts_rates_and_percentiles_equal_hand_computed_values(tmp_path):
    s = summarize_session(_session(tmp_path), AuroraConfig(), 3600)
    d, o = s["decisions"], s["orders"]
    assert (d["total"], d["allow"], d["deny"]) == (10, 7, 3)
    assert d["deny_rate"] == pytest.approx(0.3)
    assert d["deny_by_reason"] == {"SPREAD_GUARD": 2, "KILL_SWITCH": 1}
    assert (o["success"], o["rejected"], o["expired"], o["failed"], o["denied"], o["canceled"], o["submitted"]) == (
        4, 1, 1, 2, 3, 1, 7,
    )  # fmt: skip
    assert o["by_final_state"] == {"FILLED": 4, "REJECTED": 1, "EXPIRED": 1, "CANCELED": 1}
    assert o["conversion"] == pytest.approx(4 / 9, abs=1e-6)
    # the kill-switch's reject rate: 7 venue outcomes (each order's first response), one of them a REJECT
    assert (o["venue_outcomes"], o["venue_rejects"]) == (7, 1) and o["reject_rate"] == pytest.approx(1 / 7, abs=1e-6)
    assert (
        o["order_logs"] == {"success": 4, "failed": 2, "denied": 3, "source": "orders"} and s["notes"] == []
    )

    dec_ms = [0.1 * (i + 1) for i in range(10)]
    q = statistics.quantiles(dec_ms, n=100, method="inclusive")
    lat = s["latency_ms"]
    assert lat["decision"]["n"] == 10 and lat["decision"]["p50"] == pytest.approx(
        statistics.median(dec_ms), abs=1e-4
    )
    assert lat["decision"]["p95"] == pytest.approx(q[94], abs=1e-4) and lat["decision"][
        "p99"
    ] == pytest.approx(q[98], abs=1e-4)
    s2a = [10, 20, 40, 50, 60]
    a2d = [90, 280, 970, 450, 140]
    for name, vals in (("submit_to_ack", s2a), ("ack_to_done", a2d)):
        qq = statistics.quantiles(vals, n=100, method="inclusive")
        assert lat[name]["n"] == 5 and lat[name]["p50"] == pytest.approx(statistics.median(vals), abs=1e-3)
        assert lat[name]["p99"] == pytest.approx(qq[98], abs=1e-3) and lat[name]["max"] == max(vals)
    assert sum(s["latency_histograms_ms"]["submit_to_ack"]["counts"]) == 5


def test_risk_calibration_and_state_changes(tmp_path):
    s = summarize_session(_session(tmp_path), AuroraConfig(), 3600)
    r = s["risk"]
    pnl = [5.0, -3.0, 2.0, -1.0]  # in time order
    k = max(1, math.ceil(0.1 * len(pnl)))
    assert r["closed_trades"] == 4 and r["realized_pnl_usd"] == pytest.approx(sum(pnl))
    assert r["cvar_usd"] == pytest.approx(-sum(sorted(pnl)[:k]) / k) and r[
        "cvar_pct_equity"
    ] == pytest.approx(0.03)
    cum, peak, dd = 0.0, 0.0, 0.0
    for x in pnl:
        cum += x
        peak = max(peak, cum)
        dd = max(dd, peak - cum)
    assert r["max_daily_drawdown_usd"] == pytest.approx(dd) == pytest.approx(3.0)
    p, y = [0.7, 0.6, 0.55, 0.4], [1, 0, 1, 0]
    bins: dict[int, list] = {}
    for pi, yi in zip(p, y, strict=True):
        bins.setdefault(min(int(pi * 10), 9), []).append((pi, yi))
    ece = sum(abs(sum(a for a, _ in v) - sum(b for _, b in v)) for v in bins.values()) / len(p)
    assert s["calibration"]["ece"] == pytest.approx(ece) and s["calibration"]["n"] == 4
    sc = s["state_changes"]
    assert sc["counts"] == {"HEALTH.LATENCY_P95_HIGH": 1, "GOVERNANCE.KILL_SWITCH": 1, "OPS.RESET": 1}
    assert [i["event_code"] for i in sc["timeline"]] == [
        "HEALTH.LATENCY_P95_HIGH",
        "GOVERNANCE.KILL_SWITCH",
        "OPS.RESET",
    ]
    assert sc["timeline"][1]["trigger"] == "denied_rate" and sc["timeline"][0]["p95_ms"] == 41.5
    assert s["gate_trips"] == {"GOVERNANCE.KILL_SWITCH": 1}
    assert (
        s["events_by_code"]["MODEL"] == 1 and s["events_by_code"]["POLICY_DECISION"] == 11
    )  # 10 + the runner's copy
    assert s["read"]["torn_lines"] == 1


def test_gates_green_red_against_config_thresholds(tmp_path):
    cfg = AuroraConfig(
        killswitch={"window_trades": 4, "min_outcomes": 4},
        gates={"spread_bps_max": 8.0, "latency_ms_max": 40.0},
    )
    s = summarize_session(_session(tmp_path), cfg, 3600)
    g = s["gates"]
    # the gate's kill-switch rule: reject rate over the last 4 venue outcomes (each order's first
    # response, in time order: a1 ACK, a2 ACK, a3 REJECT, a4 EXPIRE, a5..a7 ACK), denied rate over the
    # last 4 decisions (denies at decisions 3, 6 and 9); judged from 4 entries, the worst window shown
    venue = sorted([(1011, 0), (2021, 0), (3016, 1), (4041 + 4960, 0), (5041, 0), (8051, 0), (10061, 0)])
    flags_r = [k for _, k in venue]
    flags_d = [1 if i in (2, 5, 8) else 0 for i in range(10)]

    def worst(flags):
        return max(sum(flags[i - 3 : i + 1]) / 4 * 100 for i in range(3, len(flags)))

    assert g["reject_rate"]["value"] == pytest.approx(worst(flags_r)) == 25.0
    assert g["denied_rate"]["value"] == pytest.approx(worst(flags_d)) == 50.0
    assert g["reject_rate"]["status"] == "green" and g["denied_rate"]["status"] == "green"  # 50% is not above 50%
    assert g["denied_rate"]["last_window_pct"] == pytest.approx(sum(flags_d[-4:]) / 4 * 100)
    allowed_spread = [2.0 + i for i in range(10) if i not in (2, 5, 8)]
    assert g["spread_bps"]["value"] == pytest.approx(
        statistics.quantiles(allowed_spread, n=100, method="inclusive")[94]
    )
    assert g["spread_bps"]["status"] == "red" and g["vol_std_bps"]["status"] == "green"
    assert g["latency_ms"]["status"] == "red"  # p95 of 20 + 5i over allowed i is above 40 ms
    assert g["dd_day_pct"]["status"] == "green" and g["cvar_day_pct"]["status"] == "green"
    assert s["status"] == "red"
    # default thresholds: 9 outcomes < min_outcomes=20 -> not judged
    s = summarize_session(tmp_path, AuroraConfig(), 3600)
    assert (
        s["gates"]["reject_rate"]["status"] == "n/a" and "min_outcomes" in s["gates"]["reject_rate"]["reason"]
    )


def test_window_selects_the_last_seconds_of_the_session(tmp_path):
    _session(tmp_path)
    whole = summarize_session(tmp_path, AuroraConfig(), 0)
    assert whole["window"]["whole_session"] is True
    assert whole["decisions"]["total"] == 15 and whole["decisions"]["deny_by_reason"]["LATENCY_GUARD"] == 5
    short = summarize_session(
        tmp_path, AuroraConfig(), 1.0
    )  # last second: a7's decision, its fill, a4's expiry
    assert short["window"]["end_ns"] - short["window"]["start_ns"] == 1_000_000_000
    assert (
        short["decisions"]["total"] == 1
        and short["orders"]["success"] == 1
        and short["orders"]["expired"] == 1 and short["orders"]["rejected"] == 0
    )
    assert short["window"]["end_ns"] == T0 + (10_000 + 1 + 200) * MS
    assert sum(short["series"]["allow"]) == 1
