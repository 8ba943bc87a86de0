"""Every decision is re-playable: its POLICY_DECISION carries the whole validated request, the gate clock
and the config version, and lifecycle / operator events carry the gate clock they were applied at."""

from __future__ import annotations

import dataclasses

from aurora.gate.decision_record import REQ_FIELDS, replayable, request_of
from aurora.gate.guard import CheckRequest
from tests.support.gate_session import CALIBRATION, START_NS, RecordingGate, load, request
from tests.support.logs import read_records

NS = 1_000_000_000


def test_the_request_the_clock_and_the_version_round_trip(project, tmp_path):
    (project / "configs" / "aurora" / "development.yaml").write_text(f"calibration:\n  path: {CALIBRATION}\n")
    loaded = load(project)
    sent = [
        request(START_NS, cid="plain"),
        request(START_NS + NS, cid="full", sprt_samples=[0.5, 1.25, -0.125], deadline_ms=250.0, book_age_ms=3.5,
                equity_usd=1e6, side="sell", mid_shift_ticks=7),  # fmt: skip
        request(START_NS + 2 * NS, cid="market", symbol="ETHUSDT", price=None, order_type="market"),
        request(START_NS + 3 * NS, cid="exit", reduce_only=True, side="sell", l2_add_volumes=[], l2_cancel_volumes=[]),
        dataclasses.replace(request(0, cid=None, latency_ms=0.1234567890123), ts_ns=None),  # no cid, no time
        request(START_NS, cid="late"),  # older than the gate clock by now: a stale quote
    ]
    with RecordingGate(loaded, tmp_path / "s") as g:
        decided = [g.check(r) for r in sent]
        g.post("SUBMIT", "plain", START_NS + 6 * NS, symbol="SOLUSDT", side="buy", qty=2.0, account="acc-1")
        g.gate.ops_reset()
    assert decided[-1].reason == "STALE_MARKET_DATA" and decided[2].allow and decided[0].allow
    recs, _ = read_records(tmp_path / "s", "aurora_events")
    decisions = [r for r in recs if r["event_code"] == "POLICY_DECISION"]
    assert len(decisions) == len(sent) and all(replayable(r) for r in decisions)
    for r, rec, dec in zip(sent, decisions, decided, strict=True):
        assert request_of(rec) == r  # every field, floats bit for bit
        assert rec["details"]["config_version"] == loaded.version
        assert (rec["details"]["allow"], rec["details"]["reason"], rec["details"]["max_qty"]) == (
            dec.allow, dec.reason, dec.max_qty)
    # the gate clock the decision was judged at: on the request clock, the latest request time seen
    assert [r["gate_ns"] for r in decisions] == [START_NS + i * NS for i in range(4)] + [START_NS + 3 * NS,
                                                                                        START_NS + 3 * NS]
    (submit,) = [r for r in recs if r["event_code"] == "ORDER.SUBMIT"]
    (reset,) = [r for r in recs if r["event_code"] == "OPS.RESET"]
    assert submit["gate_ns"] == reset["gate_ns"] == START_NS + 6 * NS


def test_the_positional_record_names_every_request_field_once():
    recorded_elsewhere = {"account_id", "symbol", "side", "qty", "spread_bps", "latency_ms", "vol_std_bps", "score",
                          "reduce_only", "cid", "ts_ns"}  # fmt: skip
    fields = {f.name for f in dataclasses.fields(CheckRequest)}
    assert set(REQ_FIELDS) | recorded_elsewhere == fields and not set(REQ_FIELDS) & recorded_elsewhere
    assert len(REQ_FIELDS) == len(set(REQ_FIELDS))
