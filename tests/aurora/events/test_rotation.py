import gzip
import os
import threading
from datetime import UTC, datetime

import orjson

from aurora.events.logger import EventLogger
from aurora.events.rotating_jsonl import RotatingJsonl
from aurora.session.reader import discover
from tests.support.logs import read_records

DAY = 86_400
T0 = datetime(2026, 11, 21, 23, 0, tzinfo=UTC).timestamp()


class Clock:
    def __init__(self, t):
        self.t = t

    def __call__(self):
        return self.t


def test_every_record_exactly_once_across_size_rotations_and_a_day_change(tmp_path):
    clock = Clock(T0)
    log = EventLogger(tmp_path, run_id="rot", max_bytes=20_000, clock=clock)
    n = 6000
    for i in range(n):
        if i == 4000:
            clock.t = T0 + 3600  # 2026-11-22 00:00 UTC: the day changes mid-stream
        log.emit("POLICY_DECISION", {"i": i, "pad": "x" * (i % 50)}, cid=f"c{i}")
    log.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    day1 = [x for x in names if ".20261121-" in x]
    day2 = [x for x in names if ".20261122-" in x]
    assert len(day1) > 5 and len(day2) > 2, names
    assert all(x.endswith(".jsonl.gz") for x in day1 + day2)  # compressed, none left plain
    assert day1[0] == "aurora_events.20261121-001.jsonl.gz"
    assert "aurora_events.jsonl" in names
    # size rotations on one day count up without gaps
    seqs = [int(x.split("-")[1].split(".")[0]) for x in day1]
    assert seqs == list(range(1, len(day1) + 1))
    records, stats = read_records(tmp_path, "aurora_events")
    assert [r["details"]["i"] for r in records] == list(range(n))
    assert [r["seq"] for r in records] == list(range(1, n + 1))
    assert stats.torn == []
    # the day boundary is respected: nothing from the 22nd in a file of the 21st
    for name in day1:
        with gzip.open(tmp_path / name) as fh:
            assert all(orjson.loads(line)["details"]["i"] < 4000 for line in fh)
    for p in tmp_path.iterdir():
        if p.name.endswith(".gz"):
            assert p.stat().st_size < 20_000  # each rotated file respected the size limit (compressed)


def test_no_record_split_under_concurrent_writers(tmp_path):
    log = EventLogger(tmp_path, run_id="mt", max_bytes=50_000)

    def worker(k):
        for i in range(500):
            log.emit("GOVERNANCE.ALLOW", {"k": k, "i": i, "blob": "y" * 200})

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log.close()
    records, stats = read_records(tmp_path, "aurora_events")
    assert len(records) == 2000 and stats.torn == []
    assert sorted((r["details"]["k"], r["details"]["i"]) for r in records) == [(k, i) for k in range(4) for i in range(500)]


def test_retention_deletes_only_files_older_than_the_limit(tmp_path):
    for name in ("aurora_events.20261110-001.jsonl.gz", "aurora_events.20261113-001.jsonl.gz",
                 "aurora_events.20261114-001.jsonl.gz", "aurora_events.20261114-002.jsonl",
                 "aurora_events.20261121-001.jsonl.gz", "orders.20261101-001.jsonl.gz", "notes.txt"):  # fmt: skip
        (tmp_path / name).write_bytes(b"")
    # today is 2026-11-21; 7 days -> the 14th is kept, the 13th and older go
    w = RotatingJsonl(tmp_path / "aurora_events.jsonl", retention_days=7, clock=Clock(T0))
    w.close()
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == [
        "aurora_events.20261114-001.jsonl.gz", "aurora_events.20261114-002.jsonl",
        "aurora_events.20261121-001.jsonl.gz", "aurora_events.jsonl", "notes.txt", "orders.20261101-001.jsonl.gz",
    ]  # fmt: skip


def test_live_file_from_an_earlier_day_is_rotated_on_open(tmp_path):
    live = tmp_path / "aurora_events.jsonl"
    live.write_bytes(b'{"ts_ns": 1, "event_code": "OPS.RESET"}\n')
    yesterday = T0 - DAY
    os.utime(live, (yesterday, yesterday))
    w = RotatingJsonl(live, clock=Clock(T0))
    w.write(b'{"ts_ns": 2, "event_code": "OPS.RESUME"}\n')
    w.close()
    assert (tmp_path / "aurora_events.20261120-001.jsonl.gz").is_file()
    records, _ = read_records(tmp_path, "aurora_events")
    assert records == [{"ts_ns": 1, "event_code": "OPS.RESET"}, {"ts_ns": 2, "event_code": "OPS.RESUME"}]


def test_reader_prefers_gz_when_compression_just_finished(tmp_path):
    plain = tmp_path / "aurora_events.20261121-001.jsonl"
    plain.write_bytes(b'{"a": 1}\n')
    with gzip.open(tmp_path / "aurora_events.20261121-001.jsonl.gz", "wb") as fh:
        fh.write(b'{"a": 1}\n')
    (tmp_path / ".aurora_events.20261121-002.jsonl.gz.partial").write_bytes(b"junk")
    files, _, _ = discover(tmp_path)
    assert [f.path.name for f in files] == ["aurora_events.20261121-001.jsonl.gz"]


def test_a_non_owner_writer_never_rotates(tmp_path):
    live = tmp_path / "aurora_events.jsonl"
    live.write_bytes(b'{"ts_ns": 1, "event_code": "OPS.RESET"}\n')
    yesterday = T0 - DAY
    os.utime(live, (yesterday, yesterday))
    log = EventLogger(tmp_path, run_id="switch", clock=Clock(T0))  # no limits: an occasional writer
    log.emit("CONFIG.SWITCHED", {"name": "testnet"})
    log.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["aurora_events.jsonl"]
    records, _ = read_records(tmp_path, "aurora_events")
    assert records[0] == {"ts_ns": 1, "event_code": "OPS.RESET"} and records[1]["event_code"] == "CONFIG.SWITCHED"
