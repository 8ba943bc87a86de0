"""Replay a recording, and record any feed.

Format: JSONL (optionally gzip, by the ``.gz`` suffix), one record per line,
``{"recv_ts_ns": N, "stream": "...", "data": {...}}`` — the combined-stream message with the local
receipt time spliced in front. Depth snapshots are recorded in-band (``<sym>@depthSnapshot``) where
the recorder's book sync asked for them, so a replay resyncs exactly where the recording did.

The replay hands each line to the runner as it is (the decoder ignores ``recv_ts_ns``); a torn line
stays torn and is counted downstream (``line_no`` says where the feed is). Real-time replay keeps the
recorded inter-arrival times (divided by ``speed``); otherwise it goes as fast as the consumer reads.
``recorded_ns`` is the current line's recorded receive time (the recording's clock).

Other recorders' files are refused with a pointer to ``auroractl feed import`` (see
:mod:`runner.feeds.importers`), so that a foreign file is never replayed as "all lines torn".
"""

from __future__ import annotations

import asyncio
import gzip
import re
import time
import zlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

from runner.feeds import wire
from runner.feeds.base import Feed, FeedError

if TYPE_CHECKING:
    from runner.registry import FeedRequest


_RECV = re.compile(rb'^\{"recv_ts_ns":\s*(\d+)')
_PREFIX = b'{"recv_ts_ns":'  # what _RECV starts with (checked first: most lines are records)
_STREAM_SYMBOL = re.compile(rb'"stream"\s*:\s*"([a-z0-9]+)@')


def open_recording(path: Path, mode: str = "rb") -> IO[bytes]:
    if path.suffix == ".gz":
        return gzip.open(path, mode)  # type: ignore[return-value]
    return open(path, mode)  # noqa: SIM115 - the caller closes it


_BLOCK = 1 << 20


def _blocks(path: Path) -> Iterator[bytes]:
    """The recording's bytes in blocks of about 1 MB, gunzipped when the name ends in ``.gz``.

    zlib directly rather than ``gzip.GzipFile``: a truncated file then still gives every byte before
    the cut (GzipFile loses the block it was reading), and then ``EOFError``; concatenated gzip
    members (appended recordings) are read one after the other.
    """
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise FeedError(f"cannot open recording {path}: {exc.strerror or exc}") from None
    with fh:
        if path.suffix != ".gz":
            while block := fh.read(_BLOCK):
                yield block
            return
        inflate = zlib.decompressobj(31)
        started = False
        while chunk := fh.read(_BLOCK):
            while chunk:
                started = True
                try:
                    out = inflate.decompress(chunk)
                except zlib.error as exc:
                    raise OSError(f"not a valid gzip stream ({exc})") from None
                if out:
                    yield out
                if not inflate.eof:
                    break
                chunk = inflate.unused_data.lstrip(b"\x00")  # gzip tolerates zero padding between members
                inflate = zlib.decompressobj(31)
                started = False
        if started:
            raise EOFError("compressed file ended before the end-of-stream marker was reached")


def _line_lists(path: Path) -> Iterator[list[bytes]]:
    """The recording's lines, a block's worth at a time, as split, each without its ``\r\n``'s ``\r``
    (blank lines left to the caller, who counts them); the last line without its newline comes last.
    Raises ``OSError`` / ``EOFError`` from :func:`_blocks` after every whole line before a cut."""
    tail = b""
    for block in _blocks(path):
        buf = tail + block if tail else block
        if b"\r" in buf:  # CRLF files: one pass in C per block, not a test per line in the callers
            buf = buf.replace(b"\r\n", b"\n")
        lines = buf.split(b"\n")
        tail = lines.pop()  # a "\r" at its end meets its "\n" in the next block's buffer
        yield lines
    if tail:
        yield [tail.rstrip(b"\r")]


def iter_numbered(path: Path) -> Iterator[tuple[int, int, bytes]]:
    """``(line_no, recv_ts_ns, line)`` for every non-empty line; ``recv_ts_ns`` is 0 where it cannot be read.

    Blocks split into lines: a gzip file's own line iterator costs about as much per line as the book
    update that follows it. A truncated gzip yields every whole line before the cut, then ``FeedError``.
    """
    no = 0
    match = _RECV.match
    try:
        for lines in _line_lists(path):
            for line in lines:
                no += 1
                if not line:
                    continue
                m = match(line)
                yield no, (int(m.group(1)) if m else 0), line
    except (OSError, EOFError) as exc:  # truncated or damaged: what was read has been yielded
        raise FeedError(f"{path}:{no + 1}: recording is damaged ({exc})") from None


def iter_recording(path: Path) -> Iterator[tuple[int, bytes]]:
    """``(recv_ts_ns, line)`` for every non-empty line; ``recv_ts_ns`` is 0 where it cannot be read."""
    for _, ts, line in iter_numbered(path):
        yield ts, line


_FOREIGN = (
    (re.compile(rb"^\d{9,} [\[{]"), "hftbacktest", "the hftbacktest collector's '<receive_ts_ns> <json>'"),
    (re.compile(rb"^(configuration: |\d+(\.\d+)?: |(wss?|https?)://)"), "cryptofeed", "cryptofeed's raw capture"),
)


def sniff_recording(path: Path) -> list[str]:
    """Refuse another recorder's file (``FeedError`` naming file:line and the import command); return
    warnings about the recording (receive times that are not nanoseconds replay at the wrong pace)."""
    for no, ts, line in iter_numbered(path):
        for pattern, fmt, what in _FOREIGN:
            if pattern.match(line):
                raise FeedError(
                    f"{path}:{no}: not a replay file: this line is in {what} format. Convert it first: "
                    f"auroractl feed import --format {fmt} {path} --out {path.name.split('.')[0]}.jsonl.gz"
                )
        if ts and ts < 10**17:
            return [f"{path}:{no}: recv_ts_ns {ts} is not in nanoseconds (milliseconds?): a paced replay "
                    "would not keep the recorded timing"]
        return []
    return []


def first_recorded_ns(path: Path, limit: int = 1_000) -> int:
    """The first recorded receive time in the first ``limit`` lines (0: none): where its clock starts."""
    for i, (_, ts, _) in enumerate(iter_numbered(path)):
        if ts or i >= limit:
            return ts
    return 0


def recording_symbols(path: Path, limit: int = 5_000) -> list[str]:
    """The symbols present in the first ``limit`` lines of a recording."""
    found: list[str] = []
    for i, (_, line) in enumerate(iter_recording(path)):
        if i >= limit:
            break
        m = _STREAM_SYMBOL.search(line)
        if m:
            s = m.group(1).decode().upper()
            if s not in found:
                found.append(s)
    return found


class ReplayFeed(Feed):
    name = "replay"

    def __init__(self, path: str | Path, symbols: list[str] | None = None, *, realtime: bool = False,
                 speed: float = 1.0, until_s: float | None = None) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise FeedError(f"recording not found: {self.path}")
        self.warnings = sniff_recording(self.path)
        super().__init__(symbols or recording_symbols(self.path))
        self.clock_offset_ns = None  # derived by the consumer from the first message's event time
        self.realtime = realtime
        self.speed = speed
        self.line_no = 0
        self._recorded_ns = 0
        self._ts_line: bytes | None = None  # the last line with a receive time, not parsed yet
        self.first_recorded_ns = first_recorded_ns(self.path)
        #: the replay ends after this much recorded time from its first line (feed.replay_until_s)
        self.until_ns = None if until_s is None else int(until_s * 1e9)
        self._closed = False

    @property
    def recorded_ns(self) -> int:
        """The recorded receive time of the current line (of the last line that had one).

        Parsed when asked (the clock asks once; a paced replay on every line), not for every line."""
        line = self._ts_line
        if line is not None:
            self._ts_line = None
            m = _RECV.match(line)
            self._recorded_ns = int(m.group(1)) if m else 0
        return self._recorded_ns

    async def aclose(self) -> None:
        self._closed = True

    async def __aiter__(self) -> AsyncIterator[tuple[int, bytes]]:
        # one loop over the split blocks (no generator per line in between: this is the replay's hot path)
        wall0 = time.time_ns()
        first = 0
        n = no = 0
        stats = self.stats
        realtime, until_ns = self.realtime, self.until_ns
        timed = realtime or until_ns is not None
        match = _RECV.match
        time_ns = time.time_ns
        try:
            for lines in _line_lists(self.path):
                for line in lines:
                    no += 1
                    if not line:
                        continue
                    if self._closed:
                        return
                    self.line_no = no
                    if line[:14] == _PREFIX:
                        c = line[14:15]
                        if c.isdigit() and c != b"0":  # a non-zero receive time: parsed when asked
                            self._ts_line = line
                        elif (m := match(line)) and int(m.group(1)):
                            self._ts_line = line
                    if timed:  # this line's own receive time, on every line
                        m = match(line)
                        recorded_ns = int(m.group(1)) if m else 0
                        if not first and recorded_ns:
                            first = recorded_ns
                        if until_ns is not None and recorded_ns and recorded_ns - first > until_ns:
                            return
                        if realtime and recorded_ns and first:
                            due = wall0 + int((recorded_ns - first) / self.speed)
                            lag = due - time_ns()
                            if lag > 0:
                                await asyncio.sleep(lag / 1e9)
                        elif n % 256 == 0:
                            await asyncio.sleep(0)
                    elif n % 256 == 0:
                        await asyncio.sleep(0)
                    if n % 256 == 0:
                        stats["messages"] = n  # counted every 256 and at the end, not per message (the hot path)
                    n += 1
                    yield time_ns(), line
        except (OSError, EOFError) as exc:  # truncated or damaged: what was read has been yielded
            raise FeedError(f"{self.path}:{no + 1}: recording is damaged ({exc})") from None
        finally:
            stats["messages"] = n


class FeedRecorder:
    """Appends ``(recv_ts_ns, raw)`` messages to a recording (gzip when the name ends in ``.gz``)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open_recording(self.path, "wb")
        self.count = 0
        self.bytes = 0

    def write(self, recv_ts_ns: int, raw: bytes) -> None:
        if raw[:14] == b'{"recv_ts_ns":':
            line = raw  # already a record (re-recording a replay)
        else:
            line = wire.with_recv_ts(recv_ts_ns, raw)
        self._fh.write(line + b"\n")
        self.count += 1
        self.bytes += len(line) + 1

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> FeedRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_replay(req: FeedRequest) -> ReplayFeed:
    """``feed.source: replay:PATH`` (registered in :mod:`runner.registry`)."""
    return ReplayFeed(req.arg or "", req.symbols, realtime=req.realtime, speed=req.cfg.speed,
                      until_s=req.cfg.replay_until_s)
