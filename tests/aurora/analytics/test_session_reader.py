"""The session reader: rotated + live files in time order, torn and corrupt lines, no double counting."""

from __future__ import annotations

import gzip
import random

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aurora.session import reader as sr
from aurora.session.reader import SessionReadError, latest_session, read_session
from tests.aurora.analytics.session_builder import MS, T0, rec, write_jsonl
from tests.support.session_log_generator import ANOMALY_CLASSES, generate_session


def _codes(frame):
    return frame["event_code"].tolist()


def test_rotated_gz_and_live_merge_in_time_order_without_double_counting(tmp_path):
    gate = [rec(i * 10, "POLICY_DECISION", f"c{i}", allow=True, reason="OK") for i in range(9)]
    runner = [rec(i * 10 + 5, "MODEL", symbol="SOLUSDT") for i in range(6)]
    # gate: two rotated parts (one still present plain as well: compression just finished) + the live file
    write_jsonl(tmp_path / "aurora_events.20261121-001.jsonl.gz", gate[:3], gz=True)
    write_jsonl(tmp_path / "aurora_events.20261121-002.jsonl.gz", gate[3:6], gz=True)
    write_jsonl(tmp_path / "aurora_events.20261121-002.jsonl", gate[3:6])
    write_jsonl(tmp_path / "aurora_events.jsonl", gate[6:])
    write_jsonl(tmp_path / "runner_events-sol.20261121-001.jsonl.gz", runner[:4], gz=True)
    write_jsonl(tmp_path / "runner_events-sol.jsonl", runner[4:])
    (tmp_path / ".aurora_events.20261121-003.jsonl.gz.partial").write_bytes(
        b"half a gzip"
    )  # writer's temp file
    (tmp_path / "notes.txt").write_text("not a log")

    data = read_session(tmp_path)
    ts = data.events["ts_ns"].tolist()
    assert len(ts) == 15  # 9 + 6, the duplicated rotated part counted once
    assert ts == sorted(ts)
    assert ts == sorted([r["ts_ns"] for r in gate + runner])
    assert _codes(data.events)[:3] == ["POLICY_DECISION", "MODEL", "POLICY_DECISION"]
    assert set(data.events["source"].tolist()) == {"aurora_events", "runner_events-sol"}
    names = [f["path"] for f in data.report.to_dict()["files"]]
    assert "aurora_events.20261121-002.jsonl.gz" in names and "aurora_events.20261121-002.jsonl" not in names
    assert data.report.torn_count == 0 and data.report.corrupt_count == 0


def test_torn_last_line_and_corrupt_middle_line_are_counted_and_the_rest_read(tmp_path):
    records = [rec(i, "ORDER.ACK", f"c{i}") for i in range(6)]
    write_jsonl(
        tmp_path / "aurora_events.jsonl",
        records,
        insert={2: b'{"ts_ns": 5, "event_code": "ORDER.AC', 4: b"[1, 2, 3]"},
        tail=b'{"ts_ns": 99, "event_code": "ORDER.FI',
    )
    data = read_session(tmp_path)
    assert data.events["cid"].tolist() == [f"c{i}" for i in range(6)]
    rep = data.report.to_dict()
    assert rep["torn_lines"] == 1 and rep["torn"] == [{"file": "aurora_events.jsonl", "line": 9}]
    assert rep["corrupt_lines"] == 2
    assert [(c["file"], c["line"]) for c in rep["corrupt"]] == [
        ("aurora_events.jsonl", 3),
        ("aurora_events.jsonl", 6),
    ]
    assert "not JSON" in rep["corrupt"][0]["error"] and "not a JSON object" in rep["corrupt"][1]["error"]


def test_records_without_time_or_code_are_corrupt_but_other_types_are_coerced(tmp_path):
    lines = [
        rec(1, "ORDER.SUBMIT", "c1", qty=1.0),
        {"ts_ns": "yesterday", "event_code": "ORDER.ACK", "cid": "c1"},  # unusable time
        {"ts_ns": T0 + 3 * MS, "cid": "c1"},  # no event code
        {
            "ts_ns": T0 + 4 * MS,
            "event_code": "ORDER.ACK",
            "cid": "c1",
            "oid": 123456789,
            "details": {"trade_id": 77},
        },
        {
            "ts_ns": T0 + 5 * MS,
            "event_code": "ORDER_FILL",
            "cid": "c1",
            "qty": "1.5",
            "details": {"fill_qty": 1},
        },
    ]
    write_jsonl(tmp_path / "aurora_events.jsonl", lines)
    data = read_session(tmp_path)
    ev = data.events
    assert _codes(ev) == ["ORDER.SUBMIT", "ORDER.ACK", "ORDER.FILL"]  # legacy ORDER_FILL normalized
    assert ev["oid"].tolist()[1] == "123456789"  # a numeric venue id is read as its string
    assert ev["trade_id"].tolist()[1] == "77"
    assert ev["qty"].tolist()[2] == 1.5 and ev["fill_qty"].tolist()[2] == 1.0
    rep = data.report.to_dict()
    assert [(c["line"], c["error"]) for c in rep["corrupt"]] == [
        (2, "invalid ts_ns"),
        (3, "missing event_code"),
    ]


def test_truncated_gzip_keeps_the_readable_part(tmp_path):
    blob = gzip.compress(b"".join(orjson.dumps(rec(i, "MODEL")) + b"\n" for i in range(2000)))
    (tmp_path / "runner_events.20261121-001.jsonl.gz").write_bytes(blob[: len(blob) // 2])
    data = read_session(tmp_path)
    assert 0 < len(data.events) < 2000
    assert data.report.torn_count <= 1
    assert data.report.truncated_gzip == ["runner_events.20261121-001.jsonl.gz"]
    assert sr.read_warnings(data.report)[0] == (
        "runner_events.20261121-001.jsonl.gz: truncated gzip stream; the readable part was used"
    )


def test_order_logs_use_the_consolidated_file_else_the_per_stream_files(tmp_path):
    succ = [{"ts_ns": T0 + i, "event_code": "ORDER.FILL", "cid": f"s{i}"} for i in range(3)]
    fail = [{"ts_ns": T0 + 10, "event_code": "ORDER.REJECT", "cid": "f0"}]
    write_jsonl(tmp_path / "orders_success.jsonl", succ)
    write_jsonl(tmp_path / "orders_failed.20261121-001.jsonl.gz", fail, gz=True)
    data = read_session(tmp_path)
    assert data.report.orders_source == "per-stream"
    assert data.orders["stream"].tolist() == ["success"] * 3 + ["failed"]
    write_jsonl(
        tmp_path / "orders.jsonl",
        [dict(r, stream="success") for r in succ] + [dict(fail[0], stream="failed")],
    )
    data = read_session(tmp_path)
    assert data.report.orders_source == "orders" and len(data.orders) == 4  # not 8


def test_errors_for_missing_or_empty_sessions(tmp_path):
    with pytest.raises(SessionReadError, match="not found"):
        read_session(tmp_path / "nope")
    with pytest.raises(SessionReadError, match="no event or order logs"):
        read_session(tmp_path)
    (tmp_path / "logs" / "20261121-090000").mkdir(parents=True)
    (tmp_path / "logs" / "20261121-101500").mkdir()
    (tmp_path / "logs" / "20261121-101500-2").mkdir()
    (tmp_path / "logs" / "scratch").mkdir()
    assert latest_session(tmp_path / "logs").name == "20261121-101500-2"
    with pytest.raises(SessionReadError, match="no session directory"):
        latest_session(tmp_path / "empty")


def test_generated_session_matches_its_ground_truth(tmp_path):
    g = generate_session(tmp_path, n_orders=150, rotations=2, torn_last_line=True, corrupt_lines=3,
                         anomalies={c: 1 for c in ANOMALY_CLASSES})  # fmt: skip
    data = read_session(tmp_path)
    assert len(data.events) == g.events and len(data.orders) == g.order_records
    rep = data.report.to_dict()
    assert sorted((c["file"], c["line"]) for c in rep["corrupt"]) == sorted(g.corrupt)
    assert [t["file"] for t in rep["torn"]] == g.torn
    ts = data.events["ts_ns"]
    assert (ts[1:] >= ts[:-1]).all()


def test_bad_lines_deep_in_large_files_are_named_across_batches(tmp_path, monkeypatch):
    monkeypatch.setattr(sr, "BATCH_ROWS", 256)  # many Arrow batches: positions carry over between them
    records = [rec(i, "POLICY_DECISION", f"c{i}", allow=i % 2 == 0, reason="OK") for i in range(3000)]
    write_jsonl(tmp_path / "aurora_events.jsonl", records, insert={1000: b"garbage", 2500: b'{"ts_ns": 1,'})
    data = read_session(tmp_path)
    assert len(data.events) == 3000
    assert [c["line"] for c in data.report.corrupt] == [1001, 2502]
    assert data.events["allow"].sum() == 1500


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    n=st.integers(1, 120),
    parts=st.integers(0, 3),
    bad=st.lists(st.integers(0, 119), max_size=4),
    torn=st.booleans(),
    seed=st.integers(0, 10_000),
)
def test_property_every_valid_record_read_once_in_time_order(tmp_path_factory, n, parts, bad, torn, seed):
    d = tmp_path_factory.mktemp("s")
    rnd = random.Random(seed)
    times = sorted(rnd.sample(range(10_000), n))
    records = [rec(t, "ORDER.ACK", f"c{i}") for i, t in enumerate(times)]
    cuts = sorted(rnd.sample(range(n + 1), min(parts, n + 1)))
    bounds = [0, *cuts, n]
    chunks = [records[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]
    for k, chunk in enumerate(chunks[:-1], 1):
        write_jsonl(d / f"aurora_events.20261121-{k:03d}.jsonl.gz", chunk, gz=True)
    inserts = {k % (len(chunks[-1]) + 1): b"#garbage" for k in bad}
    write_jsonl(d / "aurora_events.jsonl", chunks[-1], insert=inserts, tail=b'{"ts' if torn else b"")
    data = read_session(d)
    assert data.events["cid"].tolist() == [r["cid"] for r in records]
    assert data.report.corrupt_count == len(inserts) and data.report.torn_count == int(torn)


def test_a_non_utf8_byte_is_a_corrupt_line_with_file_and_line_and_the_rest_is_read(tmp_path):
    records = [rec(i, "POLICY_DECISION", f"c{i}", allow=False, reason="SPREAD_GUARD") for i in range(6)]
    bad = b'{"ts_ns": %d, "event_code": "POLICY_DECISION", "details": {"allow": false, "reason": "SPREAD\xff\xfe_WIDE"}}'
    write_jsonl(tmp_path / "aurora_events.jsonl", records, insert={3: bad % (T0 + 3 * MS)})
    for columns in (None, ("cid", "reason")):
        data = read_session(tmp_path, event_columns=columns)
        assert data.events["cid"].tolist() == [f"c{i}" for i in range(6)]
        assert set(data.events["reason"].tolist()) == {"SPREAD_GUARD"}
        assert data.report.corrupt == [
            {"file": "aurora_events.jsonl", "line": 4, "error": "not valid UTF-8 (byte 0xff at column 110)"}
        ]
    # the record-at-a-time reader applies the same policy
    report = sr.ReadReport(session=str(tmp_path))
    assert [r["cid"] for r in sr.iter_records(tmp_path, report)] == [f"c{i}" for i in range(6)]
    assert report.corrupt == data.report.corrupt


def test_decode_line_names_the_damage():
    assert sr.decode_line(b'{"a": 1}') == {"a": 1}
    assert sr.decode_line(b'{"a": "\xc3"}') == "not valid UTF-8 (byte 0xc3 at column 8)"
    assert sr.decode_line(b"[1]") == "not a JSON object (list)"
    assert sr.decode_line(b'{"a": ').startswith("not JSON")


def test_records_off_the_session_clock_are_reported_with_file_line_and_left_out(tmp_path):
    import os

    records = [rec(i * 1000, "POLICY_DECISION", f"c{i}", allow=True, reason="OK") for i in range(5)]
    future = rec(86_400_000, "POLICY_DECISION", "future", allow=True, reason="OK")  # a day ahead
    millis = rec(0, "ORDER.ACK", "ms")
    millis["ts_ns"] = (T0 + 2000 * MS) // 1_000_000  # milliseconds written as ts_ns
    path = write_jsonl(tmp_path / "aurora_events.jsonl", records[:2] + [future] + records[2:] + [millis])
    last = records[-1]["ts_ns"]
    os.utime(path, ns=(last, last))  # the file was last written with its last record
    data = read_session(tmp_path)
    assert data.events["cid"].tolist() == [f"c{i}" for i in range(5)]
    rep = data.report.to_dict()
    assert rep["off_clock_records"] == 2
    assert [(c["line"], c["event_code"]) for c in rep["off_clock"]] == [(3, "POLICY_DECISION"), (7, "ORDER.ACK")]
    assert rep["off_clock"][0]["error"] == "stamped 86396 s after aurora_events.jsonl was last written"
    assert rep["off_clock"][1]["error"] == f"ts_ns {millis['ts_ns']} looks like ms since the epoch, not ns"
    assert "2 record(s) off the session's clock left out: aurora_events.jsonl:3" in sr.read_warnings(data.report)[0]


def test_the_runner_spool_is_counted_not_merged_and_unknown_files_are_listed(tmp_path):
    write_jsonl(tmp_path / "aurora_events.jsonl", [rec(0, "ORDER.SUBMIT", "c1")])
    write_jsonl(tmp_path / "posttrade_pending-sol.jsonl", [rec(1, "ORDER.ACK", "c1"), rec(2, "ORDER.FILL", "c1")])
    write_jsonl(tmp_path / "custom_events.jsonl", [rec(3, "MODEL")])
    data = read_session(tmp_path)
    assert len(data.events) == 1
    assert data.report.spool == [
        {"file": "posttrade_pending-sol.jsonl", "records": 2, "by_code": {"ORDER.ACK": 1, "ORDER.FILL": 1}, "corrupt": 0}
    ]
    assert data.report.skipped_files == ["custom_events.jsonl"]
    assert sr.read_warnings(data.report) == [
        "posttrade_pending-sol.jsonl: 2 lifecycle event(s) spooled by the runner, never delivered to the gate"
        " (not in these figures)"
    ]
