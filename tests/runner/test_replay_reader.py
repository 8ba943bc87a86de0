"""Reading a recording: every line, in order, with its line number and receive time, whatever the
block boundaries; a truncated gzip keeps every whole line before the cut and then says where."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import pytest

from runner.feeds import replay_feed
from runner.feeds.base import FeedError
from runner.feeds.replay_feed import iter_numbered


def lines(n: int) -> list[bytes]:
    return [b'{"recv_ts_ns":%d,"stream":"btcusdt@trade","data":{"i":%d}}' % (10**18 + i, i) for i in range(n)]


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(replay_feed, "_BLOCK", 97)  # lines straddle every block boundary


@pytest.mark.parametrize("name", ["r.jsonl", "r.jsonl.gz"])
def test_every_line_with_its_number_and_time(tmp_path: Path, name: str) -> None:
    body = b"\n".join(lines(200)[:100]) + b"\n\n\r\n" + b"\r\n".join(lines(200)[100:])  # blanks, CRLF, no final \n
    path = tmp_path / name
    path.write_bytes(gzip.compress(body) if name.endswith(".gz") else body)
    got = list(iter_numbered(path))
    assert [line for _, _, line in got] == lines(200)
    assert [ts for _, ts, _ in got] == [10**18 + i for i in range(200)]
    assert [no for no, _, _ in got] == [*range(1, 101), *range(103, 203)]


def test_concatenated_gzip_members_are_one_recording(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl.gz"
    path.write_bytes(gzip.compress(b"\n".join(lines(50)) + b"\n") + gzip.compress(b"\n".join(lines(80)[50:]) + b"\n"))
    assert [line for _, _, line in iter_numbered(path)] == lines(80)


def test_a_truncated_gzip_keeps_every_whole_line_before_the_cut(tmp_path: Path) -> None:
    body = b"\n".join(lines(3000)) + b"\n"
    co = zlib.compressobj(6, zlib.DEFLATED, 31)
    whole = co.compress(body) + co.flush()
    path = tmp_path / "r.jsonl.gz"
    path.write_bytes(whole[: len(whole) * 2 // 3])
    got = []
    with pytest.raises(FeedError, match=r"r\.jsonl\.gz:\d+: recording is damaged"):
        for _, _, line in iter_numbered(path):
            got.append(line)
    # the stream decompresses to at least ~2/3 of the lines, all of them intact and in order
    assert len(got) > 1500 and got == lines(3000)[: len(got)]
    expected = zlib.decompressobj(31).decompress(whole[: len(whole) * 2 // 3]).count(b"\n")
    assert len(got) == expected
