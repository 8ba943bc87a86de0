import jsonschema
import pytest

from aurora.events.codes import EventCode
from aurora.events.logger import EventLogger, load_event_schema
from tests.support.logs import read_records


@pytest.fixture
def validator():
    schema = load_event_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_canonical_record_and_schema(tmp_path, validator):
    seen = []
    log = EventLogger(tmp_path, run_id="r1", listener=seen.append)
    rec = log.emit("ORDER_CANCEL_REQUEST", {"reason": "stub"}, cid="c1", oid=None, symbol="SOLUSDT", ts_ns=123)
    assert rec == {"ts_ns": 123, "run_id": "r1", "event_code": "ORDER.CANCEL.REQUEST", "details": {"reason": "stub"},
                   "cid": "c1", "symbol": "SOLUSDT", "seq": 1}  # fmt: skip
    log.emit(EventCode.POLICY_DECISION, {"allow": True, "reason": "OK", "max_qty": 1.0, "risk_scale": 1.0,
                                         "decision_us": 12.5, "reduce_only": False}, symbol="SOLUSDT", side="buy", qty=1.0)  # fmt: skip
    log.close()
    records, _ = read_records(tmp_path, "aurora_events")
    assert seen == ["ORDER.CANCEL.REQUEST", "POLICY_DECISION"]
    for r in records:
        validator.validate(r)


@pytest.mark.parametrize(
    "record",
    [
        {"run_id": "r", "event_code": "MODEL", "details": {}},  # no ts_ns
        {"ts_ns": 1, "run_id": "r", "event_code": "ORDER_ACK", "details": {}, "cid": "c"},  # not canonical
        {"ts_ns": 1, "run_id": "r", "event_code": "ORDER.ACK", "details": {}},  # lifecycle without cid
        {"ts_ns": 1, "run_id": "r", "event_code": "ORDER.SUBMIT", "details": {}, "cid": "c"},  # submit w/o symbol
        {"ts_ns": 1, "run_id": "r", "event_code": "POLICY_DECISION", "details": {"allow": True}},
        {"ts_ns": 1, "run_id": "r", "event_code": "POLICY_DECISION",  # a negative spread is no market input
         "details": {"allow": True, "reason": "OK", "max_qty": 1, "risk_scale": 1, "decision_us": 1,
                     "reduce_only": False, "spread_bps": -1.0}},
        {"ts_ns": 1, "run_id": "r", "event_code": "POLICY_DECISION",
         "details": {"allow": True, "reason": "OK", "max_qty": 1, "risk_scale": 1, "decision_us": 1,
                     "reduce_only": False, "p_win": 1.5}},
        {"ts_ns": 1, "run_id": "r", "event_code": "MODEL", "details": {}, "side": "long"},
    ],
)
def test_schema_rejects_bad_records(validator, record):
    assert list(validator.iter_errors(record))


def test_every_known_code_matches_the_schema_pattern(validator):
    for code in EventCode:
        validator.validate({"ts_ns": 1, "run_id": "r", "event_code": code.value, "details": {}, "cid": "c",
                            "symbol": "S", "side": "buy", "qty": 1} if code.value.startswith("ORDER.") else
                           {"ts_ns": 1, "run_id": "r", "event_code": code.value,
                            "details": {"allow": True, "reason": "OK", "max_qty": 0, "risk_scale": 1,
                                        "decision_us": 1, "reduce_only": False}})  # fmt: skip
