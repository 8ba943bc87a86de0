"""Convert other recorders' Binance USD-M files to the replay format (``auroractl feed import``).

The replay format is one JSON record per line, ``{"recv_ts_ns": N, "stream": "<sym>@<type>", "data": {...}}``
(gzip by the ``.gz`` suffix); a REST depth snapshot is the record of the pseudo-stream
``<sym>@depthSnapshot`` whose ``data`` is the REST body (``lastUpdateId, E, T, bids, asks``).

Formats read:

* ``hftbacktest`` — the hftbacktest collector's gzip text: ``<local_receive_ts_ns> <json>`` per line, the json
  a combined-stream message, or a bare REST snapshot (attributed to the file's one symbol).
* ``cryptofeed`` — cryptofeed's raw capture (``AsyncFileCallback``): ``<ts_s>: <message>`` for websocket
  messages, ``<url> -> <ts_s>: <body>`` for REST answers (a ``/fapi/v1/depth?symbol=`` body is a
  snapshot), plus ``configuration:``/``<url> <- ``/``<url> <->`` lines, skipped. The websocket and the REST
  files are separate; several sources are merged in receive-time order.

Message bytes are kept as received (the record is spliced, not re-serialised); a message without the
combined-stream wrapper (a single-stream connection) gets one, its stream named from the event type.
A line that cannot be read is an error naming ``file:line``; implausible receive times (not
nanoseconds, or outside 2015 .. now + 1 day) are warnings.
"""

from __future__ import annotations

import heapq
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from runner.feeds.base import FeedError
from runner.feeds.replay_feed import FeedRecorder, open_recording
from runner.feeds.wire import SNAPSHOT_SUFFIX

FORMATS = ("hftbacktest", "cryptofeed")

_MIN_NS = 1_420_070_400 * 10**9  # 2015-01-01: before Binance
_EVENT_STREAM = {
    "depthUpdate": "depth",
    "bookTicker": "bookTicker",
    "aggTrade": "aggTrade",
    "trade": "trade",
    "markPriceUpdate": "markPrice",
    "kline": "kline",
    "forceOrder": "forceOrder",
}
_SYMBOL_IN_STREAM = re.compile(rb'"stream"\s*:\s*"([a-z0-9]+)@')


class ImportFormatError(FeedError):
    """A source line cannot be read; the message names ``file:line``."""


@dataclass
class ImportReport:
    out: str = ""
    records: int = 0
    snapshots: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    symbols: list[str] = field(default_factory=list)
    by_source: dict[str, int] = field(default_factory=dict)
    first_recv_ns: int | None = None
    last_recv_ns: int | None = None
    warnings: list[str] = field(default_factory=list)
    warning_counts: dict[str, int] = field(default_factory=dict)

    def warn(self, kind: str, message: str, limit: int = 5) -> None:
        """Count every warning of ``kind``; keep the text of the first few (a bad file has thousands)."""
        n = self.warning_counts.get(kind, 0) + 1
        self.warning_counts[kind] = n
        if n <= limit:
            self.warnings.append(message)

    def skip(self, what: str) -> None:
        self.skipped[what] = self.skipped.get(what, 0) + 1

    def as_dict(self) -> dict[str, Any]:
        span = None
        if self.first_recv_ns is not None and self.last_recv_ns is not None:
            span = round((self.last_recv_ns - self.first_recv_ns) / 1e9, 3)
        return {"out": self.out, "records": self.records, "snapshots": self.snapshots, "symbols": self.symbols,
                "by_source": self.by_source, "receive_span_s": span, "skipped": self.skipped,
                "warnings": self.warnings, "warning_counts": self.warning_counts}


#: ``(recv_ts_ns, record bytes)`` of one converted line.
Record = tuple[int, bytes]


def _check_ts(ts: int, where: str, report: ImportReport, now_ns: int) -> None:
    if ts < 10**17:
        unit = "milliseconds" if ts >= 10**11 else "seconds" if ts >= 10**8 else "an unknown unit"
        report.warn("not_ns", f"{where}: receive time {ts} looks like {unit}, not nanoseconds since the epoch; "
                              "a replay of it would not keep the recorded pace")
    elif not _MIN_NS <= ts <= now_ns + 86_400 * 10**9:
        report.warn("out_of_range", f"{where}: receive time {ts} ns is outside 2015 .. now + 1 day")


def _record(ts: int, stream: bytes, data: bytes) -> bytes:
    return b'{"recv_ts_ns":%d,"stream":"%s","data":%s}' % (ts, stream, data)


def _convert_message(ts: int, raw: bytes, where: str, symbol_of_snapshot: Callable[[], str | None],
                     report: ImportReport) -> bytes | None:
    """One websocket message or bare REST snapshot as a replay record; ``None`` when it is not market data."""
    try:
        msg = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ImportFormatError(f"{where}: the message is not JSON ({exc}): {raw[:80]!r}") from None
    if not isinstance(msg, dict):
        raise ImportFormatError(f"{where}: expected a JSON object, got {type(msg).__name__}")
    if "stream" in msg:
        if not isinstance(msg.get("data"), dict) or not isinstance(msg["stream"], str):
            raise ImportFormatError(f"{where}: a combined-stream message needs a string 'stream' and an object 'data'")
        return b'{"recv_ts_ns":%d,' % ts + raw.lstrip()[1:]  # splice: the message bytes stay as received
    if "lastUpdateId" in msg:
        sym = symbol_of_snapshot()
        if sym is None:
            raise ImportFormatError(f"{where}: a REST depth snapshot without a symbol, in a file of several "
                                    "symbols (or none): it cannot be attributed; pass --symbol")
        report.snapshots += 1
        return _record(ts, f"{sym.lower()}{SNAPSHOT_SUFFIX}".encode(), raw.strip())
    kind = _EVENT_STREAM.get(str(msg.get("e")))
    if kind is not None and isinstance(msg.get("s"), str):
        return _record(ts, f"{msg['s'].lower()}@{kind}".encode(), raw.strip())
    report.skip("not market data (e.g. a subscription answer)")
    return None


def _scan_symbols(path: Path, limit: int = 20_000) -> list[str]:
    found: list[str] = []
    with _open(path) as fh:
        for i, line in enumerate(fh):
            if i >= limit:
                break
            for m in _SYMBOL_IN_STREAM.finditer(line):
                s = m.group(1).decode().upper()
                if s not in found:
                    found.append(s)
    return found


def _open(path: Path):  # noqa: ANN202 - a binary file object
    try:
        return open_recording(path)
    except OSError as exc:
        raise FeedError(f"cannot open {path}: {exc.strerror or exc}") from None


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    no = 0
    with _open(path) as fh:
        try:
            for line in fh:
                no += 1
                line = line.rstrip(b"\r\n")
                if line.strip():
                    yield no, line
        except (OSError, EOFError) as exc:  # e.g. a gzip cut short by a killed recorder
            raise ImportFormatError(f"{path}:{no + 1}: the file is damaged here ({exc})") from None


def read_hftbacktest(path: Path, report: ImportReport, *, symbol: str | None = None,
                     now_ns: int | None = None) -> Iterator[Record]:
    now_ns = now_ns or time.time_ns()
    symbols = [symbol.upper()] if symbol else _scan_symbols(path)
    only = symbols[0] if len(symbols) == 1 else None
    for no, line in _lines(path):
        where = f"{path}:{no}"
        head, sep, body = line.partition(b" ")
        if not sep or not head.isdigit():
            raise ImportFormatError(f"{where}: expected '<receive_ts_ns> <json>' (the hftbacktest collector's "
                                    f"format), got {line[:60]!r}")
        ts = int(head)
        _check_ts(ts, where, report, now_ns)
        rec = _convert_message(ts, body, where, lambda: only, report)
        if rec is not None:
            yield ts, rec


_CF_TS = re.compile(rb"^(\d+)(?:\.(\d{1,9})\d*)?$")


def _cf_ts(text: bytes, where: str) -> int:
    m = _CF_TS.match(text.strip())
    if m is None:
        raise ImportFormatError(f"{where}: expected a receive time in seconds (like 1723161255.0303), got {text[:40]!r}")
    whole, frac = m.group(1), m.group(2) or b""
    return int(whole) * 10**9 + int(frac.ljust(9, b"0"))  # exact: no float round-off


def read_cryptofeed(path: Path, report: ImportReport, *, symbol: str | None = None,
                    now_ns: int | None = None) -> Iterator[Record]:
    now_ns = now_ns or time.time_ns()
    fixed = symbol.upper() if symbol else None
    for no, line in _lines(path):
        where = f"{path}:{no}"
        if line.startswith(b"configuration:"):
            continue
        if line.startswith((b"ws://", b"wss://")) and (b" <- " in line or b" <-> " in line):
            continue  # what cryptofeed sent (subscriptions) or a connect marker
        url_sym: str | None = None
        if line.startswith((b"http://", b"https://")):
            url, arrow, rest = line.partition(b" -> ")
            if not arrow:
                report.skip("REST request without an answer")
                continue
            parts = urlsplit(url.decode(errors="replace"))
            if not parts.path.endswith("/depth"):
                report.skip(f"REST {parts.path}")
                continue
            url_sym = (parse_qs(parts.query).get("symbol") or [None])[0]
            line = rest
        ts_text, sep, body = line.partition(b": ")
        if not sep:
            raise ImportFormatError(f"{where}: expected '<ts_s>: <message>' or '<url> -> <ts_s>: <body>' "
                                    f"(cryptofeed's raw capture), got {line[:60]!r}")
        ts = _cf_ts(ts_text, where)
        _check_ts(ts, where, report, now_ns)
        sym = fixed or url_sym
        rec = _convert_message(ts, body, where, lambda s=sym: s, report)
        if rec is not None:
            yield ts, rec


READERS = {"hftbacktest": read_hftbacktest, "cryptofeed": read_cryptofeed}


def import_recordings(fmt: str, sources: Iterable[Path], out: Path, *, symbol: str | None = None) -> dict[str, Any]:
    """Convert ``sources`` (merged in receive-time order) into the replay file ``out``."""
    reader = READERS.get(fmt)
    if reader is None:
        raise FeedError(f"unknown import format {fmt!r} (expected one of {', '.join(FORMATS)})")
    sources = list(sources)
    for src in sources:
        if not src.is_file():
            raise FeedError(f"source not found: {src}")
    report = ImportReport(out=str(out))
    now_ns = time.time_ns()

    def tagged(i: int, src: Path) -> Iterator[tuple[int, int, bytes]]:
        last = 0
        n = 0
        for ts, rec in reader(src, report, symbol=symbol, now_ns=now_ns):
            if ts < last:
                report.warn("backwards", f"{src}: receive time goes backwards ({ts} after {last}); "
                                         "the merge keeps the file's order")
            last = max(last, ts)
            n += 1
            report.by_source[str(src)] = n
            yield last, i, rec  # the running max keeps a file's own order inside the merge

    symbols: list[str] = []
    tmp = out.with_name(".partial-" + out.name)  # same suffix: gzip or not by the final name
    try:
        with FeedRecorder(tmp) as rec_out:
            for ts, _, rec in heapq.merge(*(tagged(i, s) for i, s in enumerate(sources))):
                rec_out.write(ts, rec)
                report.records += 1
                if report.first_recv_ns is None:
                    report.first_recv_ns = ts
                report.last_recv_ns = ts
                m = _SYMBOL_IN_STREAM.search(rec)
                if m:
                    s = m.group(1).decode().upper()
                    if s not in symbols:
                        symbols.append(s)
        if report.records == 0:
            raise FeedError(f"no market data in {', '.join(map(str, sources))} (is it {fmt} format?)")
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    report.symbols = symbols
    return report.as_dict()
