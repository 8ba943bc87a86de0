"""The state journal: strict reading, whole records only, one gate per state dir."""

import errno
import os

import pytest

from aurora.gate import state_store
from aurora.gate.state_store import StateCorrupt, StateError, StateJournal, StateWriteError


def opened(path, **kw):
    j = StateJournal(path, **kw)
    j.open()
    j.load()
    j.start_journal()
    return j


def test_records_survive_and_compaction_keeps_them(tmp_path):
    j = opened(tmp_path)
    for i in range(5):
        j.append({"k": "arm", "v": i})
    j.compact({"x": 1})
    j.append({"k": "arm", "v": 99})
    j.close()
    again = StateJournal(tmp_path)
    again.open()
    snap, records = again.load()
    assert snap["state"] == {"x": 1} and snap["n"] == 5
    assert [r["v"] for r in records] == [99] and again.n == 6


@pytest.mark.parametrize(
    ("damage", "why"),
    [(lambda b: b[:-3], "torn"), (lambda b: b.replace(b'"v":1', b'"v":1,,'), "does not parse"),
     (lambda b: b"\n".join(x for i, x in enumerate(b.split(b"\n")) if i != 1), "missing")],
)  # fmt: skip
def test_a_damaged_journal_is_refused_naming_file_and_line(tmp_path, damage, why):
    j = opened(tmp_path)
    for i in range(3):
        j.append({"k": "arm", "v": i})
    j.close()
    path = tmp_path / state_store.JOURNAL_FILE
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(StateCorrupt, match=why) as info:
        StateJournal(tmp_path).load()
    assert str(path) in str(info.value)


def test_a_truncated_snapshot_is_refused(tmp_path):
    j = opened(tmp_path)
    j.compact({"book": {"positions": {"a": {"X": 1.0}}}})
    j.close()
    snap = tmp_path / state_store.SNAPSHOT_FILE
    snap.write_bytes(snap.read_bytes()[:20])
    with pytest.raises(StateCorrupt, match="not valid JSON"):
        StateJournal(tmp_path).load()


def test_a_short_write_leaves_no_fragment(tmp_path, monkeypatch):
    j = opened(tmp_path)
    j.append({"k": "arm", "v": 1})
    real = os.write

    def half(fd, data):
        return real(fd, data[: len(data) // 2])

    monkeypatch.setattr(state_store.os, "write", half)
    with pytest.raises(StateWriteError):
        j.append({"k": "arm", "v": 2})

    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(state_store.os, "write", full)
    with pytest.raises(StateWriteError, match="No space"):
        j.append({"k": "arm", "v": 3})
    monkeypatch.setattr(state_store.os, "write", real)
    j.append({"k": "arm", "v": 4})
    j.close()
    _, records = StateJournal(tmp_path).load()
    assert [(r["n"], r["v"]) for r in records] == [(1, 1), (2, 4)]


def test_one_gate_per_state_dir(tmp_path):
    first = opened(tmp_path)
    with pytest.raises(StateError, match="in use by another gate"):
        StateJournal(tmp_path).open()
    first.close()
    StateJournal(tmp_path).open()


def test_background_compaction_never_loses_a_record(tmp_path):
    j = opened(tmp_path)
    for i in range(10):
        j.append({"k": "arm", "v": i})
    assert j.compact_in_background({"upto": 10})
    for i in range(10, 15):  # written while the snapshot is being made
        j.append({"k": "arm", "v": i})
    j.wait_compaction()
    assert not list(tmp_path.glob(state_store.SEALED_GLOB))  # dropped once the snapshot was durable
    j.close()
    snap, records = StateJournal(tmp_path).load()
    assert snap["n"] == 10 and snap["state"] == {"upto": 10}
    assert [r["v"] for r in records] == list(range(10, 15))


def test_a_crash_before_the_background_snapshot_lands_replays_the_sealed_segment(tmp_path, monkeypatch):
    j = opened(tmp_path)
    for i in range(4):
        j.append({"k": "arm", "v": i})

    def crash(state, n):
        raise StateWriteError("killed before the snapshot was written")

    monkeypatch.setattr(j, "_write_snapshot", crash)
    assert j.compact_in_background({"lost": True})
    j.append({"k": "arm", "v": 4})
    j.wait_compaction()
    j.close()
    assert len(list(tmp_path.glob(state_store.SEALED_GLOB))) == 1
    snap, records = StateJournal(tmp_path).load()
    assert snap is None and [r["v"] for r in records] == [0, 1, 2, 3, 4]
