"""The field definition and the DuckDB engine's edge cases: blank lines, unterminated lines, hashed keys."""

from __future__ import annotations

import gzip

import numpy as np
import orjson

from aurora.session import reader as sr
from aurora.session.fields import EVENT, ORDER_LOG, REQUIRED, Field
from aurora.session.reader import read_session
from tests.aurora.analytics.session_builder import rec, write_jsonl


def test_every_field_is_defined_once_with_a_path_and_a_type():
    assert set(EVENT) == set(Field) - {Field.STREAM}  # the stream is the order logs' own field
    assert EVENT[Field.FROM_STATE].path == "details.from" and EVENT[Field.CID].path == "cid"
    assert ORDER_LOG[Field.FILL_QTY].path == "fill_qty" and ORDER_LOG[Field.TRADE_ID].path == "details.trade_id"
    assert all(s.kind in ("int", "float", "str", "bool") for s in (*EVENT.values(), *ORDER_LOG.values()))
    assert REQUIRED == (Field.TS_NS, Field.EVENT_CODE)


def test_blank_and_whitespace_lines_do_not_shift_the_lines_named(tmp_path):
    records = [orjson.dumps(rec(i, "ORDER.ACK", f"c{i}")) for i in range(5)]
    lines = [records[0], b"", records[1], b"   \t", records[2], b"{broken", b"", records[3], b"[1]", records[4]]
    (tmp_path / "aurora_events.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    data = read_session(tmp_path)
    assert data.events["cid"].tolist() == [f"c{i}" for i in range(5)]
    assert [(c["line"], c["error"].split(":")[0]) for c in data.report.corrupt] == [
        (6, "not JSON"), (9, "not a JSON object (list)")]  # fmt: skip


def test_an_unterminated_last_line_is_torn_even_when_it_parses(tmp_path):
    body = b"".join(orjson.dumps(rec(i, "MODEL")) + b"\n" for i in range(3)) + orjson.dumps(rec(9, "MODEL"))
    (tmp_path / "runner_events.jsonl").write_bytes(body)
    data = read_session(tmp_path)
    assert len(data.events) == 3 and data.report.torn == [{"file": "runner_events.jsonl", "line": 4}]
    report = sr.ReadReport(session=str(tmp_path))
    assert len(list(sr.iter_records(tmp_path, report, kinds=("events",)))) == 3  # the same policy, one at a time


def test_a_truncated_part_among_others_is_read_as_far_as_it_goes(tmp_path):
    recs = [rec(i, "ORDER.ACK", f"c{i}") for i in range(3000)]
    blob = gzip.compress(b"".join(orjson.dumps(r) + b"\n" for r in recs[:2000]))
    write_jsonl(tmp_path / "aurora_events.20261121-001.jsonl.gz", recs[2000:2500], gz=True)
    (tmp_path / "aurora_events.20261121-002.jsonl.gz").write_bytes(blob[: len(blob) // 2])
    write_jsonl(tmp_path / "aurora_events.jsonl", recs[2500:])
    data = read_session(tmp_path, sort=False)  # file order: part 1, the readable part of 2, the live file
    assert data.report.truncated_gzip == ["aurora_events.20261121-002.jsonl.gz"]
    cids = data.events["cid"].tolist()
    assert cids[:500] == [f"c{i}" for i in range(2000, 2500)] and cids[-500:] == [f"c{i}" for i in range(2500, 3000)]
    assert 500 + 500 < len(cids) < 3000


def test_hashed_keys_agree_across_the_gate_and_the_runners_and_absent_is_minus_one(tmp_path):
    write_jsonl(tmp_path / "aurora_events.jsonl", [rec(0, "ORDER.FILL", "c1", trade_id="t1"), rec(1, "ORDER.ACK")])
    write_jsonl(tmp_path / "runner_events-a.jsonl", [rec(2, "RUNNER.MARKOUT", "c1", trade_id="t1", horizon_s=1, mid=1.0)])
    data = read_session(tmp_path, event_columns=("cid", "trade_id"), runner_columns=("cid", "trade_id"),
                        runner_apart=True, hashed=(Field.CID, Field.TRADE_ID))  # fmt: skip
    gate, runner = data.events, data.runner
    assert gate["cid"].dtype == np.int64 and gate["cid"][0] >= 0 and gate["cid"][1] == -1
    assert gate["cid"][0] == runner["cid"][0] and gate["trade_id"][0] == runner["trade_id"][0]
    assert gate["cid"][0] != gate["trade_id"][0]


def test_keep_filters_rows_as_they_stream_and_the_clock_still_sees_all(tmp_path):
    write_jsonl(tmp_path / "aurora_events.jsonl",
                [rec(0, "ORDER.SUBMIT", "c1"), rec(5, "POLICY_DECISION", "c2"), rec(9, "ORDER.ACK", "c1")])  # fmt: skip
    data = read_session(tmp_path, runner_events=False, orders=False,
                        keep=lambda b: sr.arrow_mask(__import__("pyarrow.compute").compute.starts_with(
                            b.column("event_code"), "ORDER.")))  # fmt: skip
    assert data.events["event_code"].tolist() == ["ORDER.SUBMIT", "ORDER.ACK"]
    assert data.report.last_ts_ns == rec(9, "X")["ts_ns"]
