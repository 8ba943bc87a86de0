"""GateService.check without HTTP: what a decision writes, and how (one os.write per file)."""

import os

import jsonschema
import pytest

from aurora.config.loader import LoadedAurora
from aurora.events import rotating_jsonl
from aurora.events.logger import load_event_schema
from aurora.gate.gate_service import GateService
from tests.support.faults import CrashingPipeline
from tests.support.logs import read_records

from .conftest import TEST_CALIBRATION_PATH, registry_with


@pytest.fixture
def service(mkcfg, tmp_path):
    cfg = mkcfg(calibration={"path": str(TEST_CALIBRATION_PATH)}, killswitch={"min_outcomes": 10_000})
    svc = GateService(LoadedAurora(config=cfg, layers=[], history={}, mode="development"), tmp_path, run_id="t",
                      state_dir=tmp_path / "state")
    yield svc
    svc.close()


@pytest.fixture
def writes(monkeypatch):
    seen: list[tuple[str, bytes]] = []
    real = os.write

    def counting(fd, data):
        name = os.readlink(f"/proc/self/fd/{fd}").rsplit("/", 1)[-1]
        if not name.startswith("gate_state."):  # the state journal is counted in tests/aurora/gate/test_gate_state.py
            seen.append((name, bytes(data)))
        return real(fd, data)

    monkeypatch.setattr(rotating_jsonl.os, "write", counting)
    return seen


def test_an_allow_is_one_write_of_two_whole_lines(service, req, writes, tmp_path):
    dec = service.check(req(cid="a1"))
    assert dec.allow
    assert [f for f, _ in writes] == ["aurora_events.jsonl"]
    lines = writes[0][1].split(b"\n")
    assert len(lines) == 3 and lines[-1] == b""  # two whole lines, newline-terminated
    recs, _ = read_records(tmp_path, "aurora_events")
    assert [r["event_code"] for r in recs] == ["POLICY_DECISION", "GOVERNANCE.ALLOW"]
    assert recs[1]["seq"] == recs[0]["seq"] + 1 and recs[0]["ts_ns"] == recs[1]["ts_ns"]
    assert recs[0]["cid"] == recs[1]["cid"] == "a1" and recs[0]["run_id"] == "t"
    validator = jsonschema.Draft202012Validator(load_event_schema())
    for r in recs:
        validator.validate(r)


def test_a_deny_coalesces_the_guard_event_and_writes_each_order_log_once(service, req, writes, tmp_path):
    dec = service.check(req(cid="d1", spread_bps=81.0, tp_bps=400.0))
    assert dec.reason == "SPREAD_GUARD"
    assert sorted(f for f, _ in writes) == ["aurora_events.jsonl", "orders.jsonl", "orders_denied.jsonl"]
    recs, _ = read_records(tmp_path, "aurora_events")
    # the trip the guard raised goes out in the same write as the decision it belongs to
    assert [r["event_code"] for r in recs] == ["SPREAD_GUARD_TRIP", "POLICY_DECISION", "GOVERNANCE.DENY"]
    assert [r["seq"] for r in recs] == [1, 2, 3]
    by_file = dict(writes)
    assert by_file["orders.jsonl"] == by_file["orders_denied.jsonl"]  # serialized once, same bytes
    assert recs[1]["details"]["guard"] == "spread" and recs[1]["details"]["why"]["pass"] is False


def test_events_outside_a_decision_are_written_at_once(service, writes, tmp_path):
    service.ops_reset()
    assert [f for f, _ in writes] == ["aurora_events.jsonl"]
    assert service._pending is None


def test_a_crashing_pipeline_still_records_a_guard_error_deny(service, req, writes, tmp_path):
    service.pipeline = CrashingPipeline(service.pipeline, RuntimeError("state corrupted"))
    dec = service.check(req(cid="x1"))
    assert not dec.allow and dec.reason == "GUARD_ERROR"
    recs, _ = read_records(tmp_path, "aurora_events")
    assert [r["event_code"] for r in recs] == ["AURORA.GUARD_ERROR", "POLICY_DECISION", "GOVERNANCE.DENY"]
    assert writes[0][0] == "aurora_events.jsonl" and writes[0][1].count(b"\n") == 3
    assert service._pending is None


def test_state_restored_after_a_crash_amid_background_compactions(mkcfg, req, tmp_path):
    registry = registry_with(tmp_path, *(f"S{i}USDT" for i in range(40)))
    cfg = mkcfg(calibration={"path": str(TEST_CALIBRATION_PATH)}, killswitch={"min_outcomes": 10_000},
                risk={"max_orders_per_sec": 10_000, "max_concurrent": 1000}, instruments={"path": str(registry)})  # fmt: skip
    loaded = LoadedAurora(config=cfg, layers=[], history={}, mode="development")
    svc = GateService(loaded, tmp_path / "s1", run_id="t", state_dir=tmp_path / "state")
    svc.state.journal.compact_every = 7
    allowed = [r.cid for r in (req(cid=f"c{i}", symbol=f"S{i}USDT") for i in range(40)) if svc.check(r).allow]
    assert len(allowed) == 40
    svc.state.journal.close()  # a crash: no final snapshot, whatever compaction was in flight finished or not
    again = GateService(loaded, tmp_path / "s2", run_id="t2", state_dir=tmp_path / "state")
    assert set(again.pipeline.risk.book.seen_cids) == set(allowed)
    assert again.check(req(cid="c3", symbol="S3USDT")).reason == "RISK_DUPLICATE"
    again.close()
