"""Read a session directory (or an exported Parquet dataset) into columns: events and order logs, live and rotated.

Entry points: :func:`read_session` (a session dir), :func:`read_dataset` (``auroractl export parquet``'s
output, many sessions), :func:`iter_records` (whole records one at a time, for folds) and
:func:`decode_line` (one line, for live tails). All of them apply one damage policy.

The engine is DuckDB's JSON reader (why: it parses newline-delimited JSON, gzip included, on every core
about twice as fast as pyarrow's reader, reads the Parquet export with the same code, and the issue's
speed target is DuckDB itself). It is given an explicit schema built from :mod:`aurora.session.fields`, of
only the fields the caller asks for, and streams Arrow batches that are turned into compact numpy columns
(:mod:`aurora.session.frame`) as they come, so memory holds the columns asked for and one batch.

The damage policy (counted, never fatal):

* an unterminated last line that is not a whole record (a write torn by a crash) is skipped and counted
  as *torn*; a line that is not valid UTF-8, not JSON, not an object, or has no integer ``ts_ns`` or
  string ``event_code`` is *corrupt*: counted with ``file:line`` and its reason, and skipped. DuckDB
  (``ignore_errors``) yields such a line as a row without ``ts_ns``/``event_code``, in file order, one
  row per non-blank line: only the files that have such rows are scanned again, to name the lines;
* a truncated gzip part is read as far as it goes and reported (:func:`read_warnings`);
* a record stamped off the session's clock — later than its file was last written (plus
  :data:`CLOCK_SKEW_S`), or so small that its ``ts_ns`` is in another unit — is reported with
  ``file:line`` and left out, so that one bad clock cannot move the session's end (the anchor of every
  window).

No record is counted twice: each file is read once, a rotated file present both plain and gzipped
(compression in progress: the ``.gz`` appears atomically once complete) is read once as ``.gz``, and for
the order logs the consolidated ``orders.jsonl`` is used when present (the per-stream files hold the
same records).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from aurora.events.codes import KNOWN_CODES, normalize_code
from aurora.session import files as names
from aurora.session.fields import EVENT, ORDER_LOG, REQUIRED, SOURCE, Field, Spec
from aurora.session.frame import Frame, Labels

try:  # ISA-L inflates gzip ~2.5x faster than zlib (used where we read bytes ourselves)
    from isal import isal_zlib as _inflate
except ImportError:  # pragma: no cover - a platform without isal wheels
    _inflate = zlib  # type: ignore[assignment]

#: A record more than this far ahead of its file's last write is stamped off the session's clock.
CLOCK_SKEW_S = 300.0
#: ``ts_ns`` below this (1973-03-03 in ns) is a timestamp in another unit (s, ms, µs since the epoch).
MIN_TS_NS = 100_000_000_000_000_000
ORDER_STREAMS = names.ORDER_STREAMS
#: Rows per Arrow batch: large enough to amortise the per-batch work (and a session of a million
#: events in one batch: no concatenation), smaller (:data:`LEAN_BATCH_ROWS`) when memory is the bound.
BATCH_ROWS = 1 << 20
LEAN_BATCH_ROWS = 1 << 18

_MAX_LISTED = 200  # damaged lines listed individually (all are counted)
_SQL_TYPE = {"int": "BIGINT", "float": "DOUBLE", "str": "VARCHAR", "bool": "BOOLEAN"}
_TS, _CODE = REQUIRED

@dataclass(frozen=True)
class LogFile:
    path: Path
    kind: str  # "events" | "orders" | "spool"
    stem: str
    day: str | None
    seq: int | None

    @property
    def rotated(self) -> bool:
        return self.day is not None

    @property
    def sort_key(self) -> tuple:
        # rotated parts in (day, seq) order, then the live file
        return (self.stem, 0 if self.rotated else 1, self.day or "", self.seq or 0)


@dataclass
class FileStats:
    path: str
    records: int = 0
    bytes: int = 0
    torn: int = 0
    corrupt: int = 0
    truncated_gzip: bool = False
    off_clock: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v or k in ("path", "records")}


@dataclass
class ReadReport:
    session: str
    files: list[FileStats] = field(default_factory=list)
    torn: list[dict[str, Any]] = field(default_factory=list)
    corrupt: list[dict[str, Any]] = field(default_factory=list)
    corrupt_count: int = 0
    skipped_files: list[str] = field(default_factory=list)
    orders_source: str | None = None
    notes: list[str] = field(default_factory=list)
    off_clock: list[dict[str, Any]] = field(default_factory=list)
    off_clock_count: int = 0
    spool: list[dict[str, Any]] = field(default_factory=list)
    unknown_codes: dict[str, int] = field(default_factory=dict)
    #: The newest ``ts_ns`` of every record read on the session's clock (those a ``keep`` filter left
    #: out included): the session's end, the anchor of windows and of "in flight".
    last_ts_ns: int | None = None

    @property
    def torn_count(self) -> int:
        return len(self.torn)

    @property
    def truncated_gzip(self) -> list[str]:
        return [f.path for f in self.files if f.truncated_gzip]

    def to_dict(self) -> dict[str, Any]:
        return {
            "session": self.session,
            "files": [f.to_dict() for f in self.files],
            "records": sum(f.records for f in self.files),
            "torn_lines": self.torn_count,
            "torn": self.torn,
            "corrupt_lines": self.corrupt_count,
            "corrupt": self.corrupt,
            "skipped_files": self.skipped_files,
            "orders_source": self.orders_source,
            "truncated_gzip": self.truncated_gzip,
            "off_clock_records": self.off_clock_count,
            "off_clock": self.off_clock,
            "spool": self.spool,
            "unknown_codes": self.unknown_codes,
            "notes": self.notes,
        }


@dataclass
class SessionData:
    """Events and order-log records of a session (or a dataset), as columns (:class:`Frame`), each
    sorted by ``ts_ns`` unless read with ``sort=False``."""

    session_dir: Path
    events: Frame
    orders: Frame
    report: ReadReport
    runner: Frame | None = None
    """The runners' events, when read apart (``runner_apart=True``); else they are in ``events``."""


class SessionReadError(Exception):
    """The session directory cannot be read at all (missing, not a directory, no log files)."""


# --- discovery ------------------------------------------------------------------------------------
def discover(session_dir: Path | str, *, consolidate: bool = True) -> tuple[list[LogFile], list[LogFile], ReadReport]:
    """The event files and the order-log files to read, in reading order (with ``consolidate``, only the
    consolidated ``orders`` log when present: the per-stream logs hold the same records)."""
    d = Path(session_dir)
    report = ReadReport(session=str(d))
    if not d.exists():
        raise SessionReadError(f"session directory not found: {d}")
    if not d.is_dir():
        raise SessionReadError(f"not a directory: {d}")
    found: dict[tuple[str, str | None, int | None], LogFile] = {}
    for p in sorted(d.iterdir()):
        if not p.is_file() or p.name.startswith("."):
            continue
        parsed = names.parse_name(p.name)
        if parsed is None:
            if ".jsonl" in p.name:
                report.skipped_files.append(p.name)
            continue
        key = (parsed.stem, parsed.day, parsed.seq)
        lf = LogFile(p, parsed.kind, parsed.stem, parsed.day, parsed.seq)
        if key in found:
            # A rotated part both plain and gzipped: the .gz is complete once it exists (atomic rename).
            if parsed.gz:
                found[key] = lf
            continue
        found[key] = lf
    report.spool = [_spool_entry(f) for f in sorted(found.values(), key=lambda f: f.sort_key) if f.kind == "spool"]
    events = sorted((f for f in found.values() if f.kind == "events"), key=lambda f: f.sort_key)
    orders = sorted((f for f in found.values() if f.kind == "orders"), key=lambda f: f.sort_key)
    if consolidate and any(f.stem == names.ORDERS for f in orders):
        orders = [f for f in orders if f.stem == names.ORDERS]
        report.orders_source = "orders"
    elif orders:
        report.orders_source = "per-stream"
    return events, orders, report


def _spool_entry(lf: LogFile) -> dict[str, Any]:
    """A runner's spool of undelivered lifecycle events: counted (by code), not merged into the figures."""
    stats = FileStats(path=lf.path.name)
    codes: dict[str, int] = {}
    bad = 0
    data = _load_bytes(lf, stats)
    for line in data.split(b"\n"):
        if not line.strip():
            continue
        rec = decode_line(line)
        if isinstance(rec, str):
            bad += 1
            continue
        code = rec.get("event_code")
        codes[str(code)] = codes.get(str(code), 0) + 1
    return {"file": lf.path.name, "records": sum(codes.values()), "by_code": codes, "corrupt": bad}


#: Families of dot-canonical codes (SPEC §9); a new code in one of them (``RUNNER.BOOK_STALE``) is not
#: unknown, a code outside them (``FOO.BAR``, ``""``, ``123``) or an ``ORDER.*`` the FSM lacks is.
CODE_FAMILIES: frozenset[str] = frozenset(c.split(".")[0] for c in KNOWN_CODES if "." in c) - {"ORDER"}
_CODE_RE = re.compile(r"^[A-Z][A-Z0-9_]*(\.[A-Z0-9_]+)+$")


def is_known_code(code: str) -> bool:
    return code in KNOWN_CODES or (bool(_CODE_RE.match(code)) and code.split(".")[0] in CODE_FAMILIES)


def unknown_codes(codes: Labels) -> dict[str, int]:
    """Counts of the values of an ``event_code`` column that are not Aurora event codes."""
    bad = codes.where(lambda c: not is_known_code(c))
    return codes.counts(bad) if bad.any() else {}


# --- the damage policy, one line at a time ---------------------------------------------------------
def decode_line(line: bytes) -> dict[str, Any] | str:
    """One JSONL line as a record, or why it is not one (invalid UTF-8, not JSON, not an object)."""
    try:
        rec = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        if not line.isascii():
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as ude:
                return f"not valid UTF-8 (byte 0x{line[ude.start]:02x} at column {ude.start + 1})"
        return f"not JSON: {str(exc).split(':')[0]}"
    if not isinstance(rec, dict):
        return f"not a JSON object ({type(rec).__name__})"
    return rec


def _utf8_problem(line: bytes) -> str | None:
    if line.isascii():
        return None
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"not valid UTF-8 (byte 0x{line[exc.start]:02x} at column {exc.start + 1})"
    return None


# --- bytes ----------------------------------------------------------------------------------------
def _load_bytes(lf: LogFile, stats: FileStats) -> bytes:
    raw = lf.path.read_bytes()
    if not lf.path.name.endswith(".gz"):
        return raw
    # a decompressobj (not gzip.open): every member at C speed, and what a truncated stream holds is kept
    out: list[bytes] = []
    rest = raw
    while rest:
        dec = _inflate.decompressobj(wbits=31)
        try:
            out.append(dec.decompress(rest))
        except (zlib.error, _inflate.error):
            stats.truncated_gzip = True
            break
        if not dec.eof:
            stats.truncated_gzip = True
            break
        rest = dec.unused_data
    return b"".join(out) if len(out) != 1 else out[0]




@dataclass
class _Loaded:
    lf: LogFile
    data: bytes
    end: int  # bytes up to the last newline (the rest is a torn fragment)
    stats: FileStats
    torn: list[dict]
    mtime_ns: int = 0


def _load(lf: LogFile) -> _Loaded:
    stats = FileStats(path=lf.path.name)
    mtime_ns = lf.path.stat().st_mtime_ns
    data = _load_bytes(lf, stats)
    stats.bytes = len(data)
    end = data.rfind(b"\n") + 1
    torn: list[dict] = []
    if data[end:].strip():
        stats.torn = 1
        torn.append({"file": lf.path.name, "line": data.count(b"\n", 0, end) + 1})
    return _Loaded(lf, data, end, stats, torn, mtime_ns)



# --- the scan: DuckDB -> Arrow batches -> numpy columns --------------------------------------------
def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _columns_arg(catalogue: Mapping[Field, Spec], fields: Sequence[Field]) -> str:
    """DuckDB's ``columns=`` map (nested STRUCTs for ``details.*``) for ``fields``."""
    tree: dict[str, Any] = {}
    for f in fields:
        spec = catalogue[f]
        *parents, leaf = spec.path.split(".")
        node = tree
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = _SQL_TYPE[spec.kind]

    def render(node: Any) -> str:
        if isinstance(node, str):
            return node
        return "STRUCT(" + ", ".join(f'"{k}" {render(v)}' for k, v in node.items()) + ")"

    return "{" + ", ".join(f"{_sql_str(k)}: {_sql_str(render(v))}" for k, v in tree.items()) + "}"


def _select_expr(catalogue: Mapping[Field, Spec], f: Field, only_codes: str = "", hashed: bool = False) -> str:
    spec = catalogue[f]
    first, *rest = spec.path.split(".")
    expr = f'"{first}"'
    for part in rest:
        expr = f"struct_extract({expr}, {_sql_str(part)})"
    if spec.kind == "bool":  # 1.0 / 0.0 / NaN: a boolean column with gaps stays numeric
        expr = f"CAST({expr} AS DOUBLE)"
    if hashed:  # a 63-bit key (>= 0; -1 once read = absent), see read_session(hashed=)
        expr = f"CASE WHEN {expr} IS NOT NULL THEN CAST(hash({expr}) >> 1 AS BIGINT) END"
    if only_codes:
        expr = f"CASE WHEN event_code IN ({only_codes}) THEN {expr} END"
    if spec.kind in ("float", "bool") and not hashed:  # NaN for absent, in DuckDB's threads, not numpy's
        expr = f"coalesce({expr}, 'NaN'::DOUBLE)"
    return f'{expr} AS "{f.value}"'


def _null_type(kind: str) -> str:
    return "DOUBLE" if kind == "bool" else _SQL_TYPE[kind]


def _connect() -> Any:
    import duckdb

    con = duckdb.connect(":memory:")
    # the rows must come out in file order (ties in time keep read order; damaged lines are named by
    # their position); this is DuckDB's default, stated so that nobody turns it off for speed
    con.execute("SET preserve_insertion_order = true")
    return con


@dataclass
class _FileScan:
    lf: LogFile
    stats: FileStats
    path: Path  # what DuckDB reads (a temp copy of the readable part of a truncated .gz)
    rows: int = 0  # rows DuckDB produced (one per non-blank line)
    bad: list[int] = field(default_factory=list)  # row positions without ts_ns / event_code
    off: list[tuple[int, int, str | None]] = field(default_factory=list)  # (row, ts_ns, code)
    bound_ns: int = 0
    last_kept: int = -1  # index in the output of this file's last row, when that row was kept
    torn_last: bool = False  # the torn last line is one of the rows without ts_ns / event_code
    lines: dict[int, tuple[int, bytes]] = field(default_factory=dict)  # row -> (line number, bytes)


def _np(arr: Any, dtype: Any, fill: Any = None) -> np.ndarray:
    """A primitive Arrow array as numpy, nulls replaced by ``fill``, read straight from its buffer
    (pyarrow's ``to_numpy`` and ``fill_null`` with a Python value import pandas: a third of a second)."""
    dt = np.dtype(dtype)
    data = arr.buffers()[1]
    if data is None:
        return np.full(len(arr), fill, dtype=dt)
    out = np.frombuffer(data, dtype=dt, count=len(arr), offset=arr.offset * dt.itemsize)
    if arr.null_count:
        out = out.copy()
        out[_nulls(arr)] = fill
    return out


def _nulls(arr: Any) -> np.ndarray:
    """Which rows of an Arrow array are null (from its validity bitmap)."""
    if not arr.null_count:
        return np.zeros(len(arr), dtype=bool)
    bits = np.unpackbits(np.frombuffer(arr.buffers()[0], dtype=np.uint8), bitorder="little")
    return bits[arr.offset : arr.offset + len(arr)] == 0


def _to_arrow_mask(mask: np.ndarray) -> Any:
    """A numpy mask as an Arrow boolean array, built from its bits (``pa.array`` imports pandas)."""
    import pyarrow as pa

    return pa.BooleanArray.from_buffers(pa.bool_(), int(mask.size), [None, pa.py_buffer(np.packbits(mask, bitorder="little"))])


def arrow_mask(arr: Any) -> np.ndarray:
    """A boolean Arrow array as a numpy mask, nulls False (for ``keep=`` filters)."""
    bits = np.unpackbits(np.frombuffer(arr.buffers()[1], dtype=np.uint8), bitorder="little")
    out = bits[arr.offset : arr.offset + len(arr)].astype(bool)
    return out & ~_nulls(arr) if arr.null_count else out


def _release_memory() -> None:
    """Hand freed memory back to the OS (glibc's ``malloc_trim``; elsewhere nothing).

    glibc keeps freed blocks of a few MB in its heap once a program has freed some (its mmap threshold
    rises), so a reader that frees a batch's arrays and allocates the next column's grows its resident
    size by what it already freed; the audit promises a memory bound per order, so it trims."""
    global _TRIM
    if _TRIM is None:
        try:
            import ctypes

            _TRIM = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _TRIM = False
    if _TRIM:
        _TRIM(0)


_TRIM: Any = None


class _Columns:
    """Accumulates one column over batches: numbers as numpy, strings dictionary-encoded (in C++)."""

    def __init__(self, kind: str, copy: bool = False) -> None:
        self.kind = kind
        self.copy = copy
        self.parts: list[Any] = []
        self.n = 0

    def add(self, arr: Any, sel: np.ndarray | None) -> None:
        """Append ``arr`` (the rows under the mask ``sel``, or all): selected here, on the numbers and the
        dictionary codes, which is cheaper than filtering the Arrow batch (that copies every string)."""
        n = len(arr) if sel is None else int(sel.sum())
        self.n += n
        if self.kind == "str":
            import pyarrow as pa

            from aurora.session import arrow_kernels as kernels  # pyarrow: loaded when a read needs it

            if arr.null_count == len(arr):
                self.parts.append(n)  # all absent (most state-change fields on most rows)
                return
            pool = pa.system_memory_pool()  # freed memory goes back where numpy can use it again
            if not pa.types.is_string(arr.type):
                arr = kernels.cast(arr, pa.string(), pool)
            self.parts.append((_encode(arr, pool), sel))
            return
        x = _np(arr, np.int64 if self.kind == "int" else np.float64, -1 if self.kind == "int" else float("nan"))
        # lean: a copy, not a view (a view keeps its whole batch alive: DuckDB exports it in one
        # allocation); otherwise the batch's columns are all kept anyway and a view saves the copy
        self.parts.append(x[sel] if sel is not None else x.copy() if self.copy else x)

    def finish(self) -> Any:
        if self.kind != "str":
            dtype = np.int64 if self.kind == "int" else np.float64
            out = np.concatenate(self.parts) if len(self.parts) > 1 else (self.parts[0] if self.parts else np.zeros(0, dtype=dtype))
            self.parts = []
            return out
        import pyarrow as pa

        encoded = [p[0] for p in self.parts if not isinstance(p, int)]
        if not encoded:
            return Labels(np.full(self.n, -1, dtype=np.int32), [])
        # one dictionary for all batches (in C++: no Python string per row)
        chunks = iter(pa.chunked_array(encoded, type=encoded[0].type).unify_dictionaries(pa.system_memory_pool()).chunks)
        codes, values = [], None
        for p in self.parts:
            if isinstance(p, int):
                codes.append(np.full(p, -1, dtype=np.int32))
            else:
                c = next(chunks)
                values = c.dictionary
                idx = _np(c.indices, np.int32, -1)
                codes.append(idx[p[1]] if p[1] is not None else idx)
        self.parts = []
        small = np.int8 if len(values) < 127 else np.int16 if len(values) < 32767 else np.int32
        return Labels((np.concatenate(codes) if len(codes) > 1 else codes[0]).astype(small), values)


def _encode(arr: Any, pool: Any) -> Any:
    """``arr`` (strings) dictionary-encoded. Mostly absent (a state-change field on a batch of decisions):
    only the values present are encoded, their codes put back at their rows under ``arr``'s own validity."""
    import pyarrow as pa

    from aurora.session import arrow_kernels as kernels

    if arr.null_count * 4 < len(arr) * 3 or arr.offset:
        return kernels.dictionary_encode(arr, pool)
    present = ~_nulls(arr)
    enc = kernels.dictionary_encode(kernels.drop_null(arr), pool)
    codes = np.zeros(len(arr), dtype=np.int32)
    codes[present] = _np(enc.indices, np.int32)
    indices = pa.Array.from_buffers(pa.int32(), len(arr), [arr.buffers()[0], pa.py_buffer(codes)], arr.null_count)
    return pa.DictionaryArray.from_arrays(indices, enc.dictionary)


Group = tuple[Sequence[LogFile], Sequence[Field]] | tuple[Sequence[LogFile], Sequence[Field], Sequence[str]]


def _scan(con: Any, groups: Sequence[Group], catalogue: Mapping[Field, Spec], report: ReadReport, *,
          keep: Callable[[Any], Any] | None = None, tmp: list[Path]) -> Frame:  # fmt: skip
    """:func:`_scan_raw`, then what it read past is reported."""
    return _finish_scan(*_scan_raw(con, groups, catalogue, report.session, keep=keep, tmp=tmp), report)


def _kind(catalogue: Mapping[Field, Spec], f: Field, hashed: frozenset[Field]) -> str:
    return "int" if f in hashed else catalogue[f].kind


def _scan_raw(
    con: Any,
    groups: Sequence[Group],
    catalogue: Mapping[Field, Spec],
    session: str,
    *,
    keep: Callable[[Any], Any] | None = None,
    tmp: list[Path],
    hashed: frozenset[Field] = frozenset(),
    lean: bool = False,
) -> tuple[Frame, list[_FileScan], int | None]:
    """Read each group of files (with its own fields) into one frame of all the groups' fields plus
    ``source``, in file order; a field a group does not read is absent (NaN / -1) on its rows.

    One query for all groups, so that the string columns get one dictionary and DuckDB parses the
    groups' files side by side. A group's optional third item names the event codes whose rows carry its
    fields (the others only ``ts_ns`` and ``event_code``): e.g. the runners' markout records among their
    many XAI events. ``keep(batch)`` (an Arrow record batch) may return a boolean mask of the
    rows to keep (after the damaged and off-clock rows are left out): the audit keeps only lifecycle events.
    """
    only = [tuple(g[2]) if len(g) > 2 else None for g in groups if g[0]]  # type: ignore[misc]
    groups = [(list(g[0]), list(dict.fromkeys([*REQUIRED, *g[1]]))) for g in groups if g[0]]
    fields = list(dict.fromkeys(f for _, fs in groups for f in fs)) or list(REQUIRED)
    scans = [_FileScan(lf, FileStats(path=lf.path.name), lf.path) for files, _ in groups for lf in files]
    while True:
        last: list[int | None] = [None]
        try:
            frame = _scan_once(con, scans, [fs for _, fs in groups], [len(f) for f, _ in groups], only, catalogue,
                               fields, keep, last, hashed, lean)
            break
        except Exception as exc:  # a DuckDB IOException names the file it could not read
            scan = next((s for s in scans if str(s.path) in str(exc)), None)
            if scan is None or not scan.lf.path.name.endswith(".gz") or scan.stats.truncated_gzip:
                raise SessionReadError(f"{session}: cannot read the session's logs: {exc}") from None
            # a truncated gzip part: DuckDB stops at the broken stream; read the readable part ourselves
            data = _load_bytes(scan.lf, scan.stats)
            d = Path(tempfile.mkdtemp(prefix="aurora-read-"))
            tmp.append(d)
            scan.path = d / scan.lf.path.name.removesuffix(".gz")
            scan.path.write_bytes(data)
    for sc in scans:
        _locate_damage(sc)
    return frame, scans, last[0]


def _finish_scan(frame: Frame, scans: list[_FileScan], last: int | None, report: ReadReport) -> Frame:
    """Report a scan's files, damage and clock (in file order), and drop a torn last line that parsed."""
    if last is not None:
        report.last_ts_ns = last if report.last_ts_ns is None else max(report.last_ts_ns, last)
    for s in scans:
        _report_damage(s, report)
        report.files.append(s.stats)
    torn_rows = [s.last_kept for s in scans if s.stats.torn and s.last_kept >= 0]
    if torn_rows:  # an unterminated last line that parsed (the write was torn after its closing brace)
        keep_rows = np.ones(frame.n, dtype=bool)
        keep_rows[torn_rows] = False
        frame = frame.take(keep_rows)
    return frame


def _scan_once(con: Any, scans: list[_FileScan], group_fields: list[list[Field]], group_sizes: list[int],
               group_only: list[tuple[str, ...] | None], catalogue: Mapping[Field, Spec], fields: list[Field],
               keep: Callable[[Any], Any] | None, report_last: list[int | None],
               hashed: frozenset[Field] = frozenset(), lean: bool = False) -> Frame:  # fmt: skip

    for s in scans:
        s.rows, s.bad, s.off, s.last_kept = 0, [], [], -1
        s.stats.records = s.stats.off_clock = 0
        st = s.lf.path.stat()
        s.stats.bytes = st.st_size
        s.bound_ns = st.st_mtime_ns + int(CLOCK_SKEW_S * 1e9)
    cols = {f: _Columns(_kind(catalogue, f, hashed), copy=lean) for f in fields}
    source: list[np.ndarray] = []
    stems = list(dict.fromkeys(s.lf.stem for s in scans))
    stem_code = np.array([stems.index(s.lf.stem) for s in scans], dtype=np.int32)
    bounds = np.array([s.bound_ns for s in scans], dtype=np.int64)
    if not scans:
        return Frame({**{f.value: c.finish() for f, c in cols.items()}, SOURCE: Labels(np.zeros(0), [])}, 0)
    queries, offset = [], 0
    for fs, size, only in zip(group_fields, group_sizes, group_only, strict=True):
        group = scans[offset : offset + size]
        codes = "" if only is None else ", ".join(map(_sql_str, only))
        select = ", ".join(_select_expr(catalogue, f, codes if f not in REQUIRED else "", f in hashed) if f in fs else
                         f"CAST(NULL AS {_null_type(_kind(catalogue, f, hashed))})"
                         f' AS "{f.value}"' for f in fields)  # fmt: skip
        queries.append(
            f"SELECT file_index + {offset} AS file_index, {select} FROM read_json("
            f"[{', '.join(_sql_str(str(s.path)) for s in group)}], format='newline_delimited', "
            f"columns={_columns_arg(catalogue, fs)}, ignore_errors=true)"
        )
        offset += size
    sql = " UNION ALL ".join(queries)
    seen = 0  # rows kept so far
    for batch in _prefetched(con.sql(sql).to_arrow_reader(LEAN_BATCH_ROWS if lean else BATCH_ROWS)):
        fi = _np(batch.column(0), np.int64)
        ts_col, code_col = batch.column(1), batch.column(2)
        # row positions within each file (rows come in file order, files in list order)
        firsts = np.flatnonzero(np.r_[True, fi[1:] != fi[:-1]])
        pos = np.arange(fi.size, dtype=np.int64)
        base = np.zeros(fi.size, dtype=np.int64)
        for a, b in zip(firsts.tolist(), [*firsts[1:].tolist(), fi.size], strict=True):
            s = scans[fi[a]]
            base[a:b] = s.rows - a
            s.rows += b - a
        pos += base
        bad = _nulls(ts_col) | _nulls(code_col)
        ts = _np(ts_col, np.int64, 0)
        off = ~bad & ((ts < MIN_TS_NS) | (ts > bounds[fi]))
        for k in np.flatnonzero(bad).tolist():
            scans[fi[k]].bad.append(int(pos[k]))
        for k in np.flatnonzero(off).tolist():
            s = scans[fi[k]]
            s.off.append((int(pos[k]), int(ts[k]), code_col[k].as_py()))
        good = ~(bad | off)
        if good.any():
            newest = int(ts[good].max())
            report_last[0] = newest if report_last[0] is None else max(report_last[0], newest)
        per_file = np.bincount(fi[good], minlength=len(scans))
        for i in np.flatnonzero(per_file).tolist():
            scans[i].stats.records += int(per_file[i])
        if keep is not None:
            good &= np.asarray(keep(batch), dtype=bool)
        idx = np.flatnonzero(good)
        # the output index of each file's last row so far, when it is kept (the torn-line check)
        kept_before = np.cumsum(good) - 1
        for a, b in zip(firsts.tolist(), [*firsts[1:].tolist(), fi.size], strict=True):
            scans[fi[a]].last_kept = seen + int(kept_before[b - 1]) if good[b - 1] else -1
        idx = np.flatnonzero(good)
        if idx.size == 0:
            continue
        sel = good if idx.size < fi.size else None
        for j, f in enumerate(fields):
            cols[f].add(batch.column(j + 1), sel)
        source.append(stem_code[fi[idx]])
        seen += idx.size
    out: dict[str, Any] = {}
    for f, c in cols.items():
        out[f.value] = c.finish()
        if lean:
            _release_memory()
    out[SOURCE] = Labels(np.concatenate(source) if source else np.zeros(0, dtype=np.int32), stems)
    return Frame(out, seen)


def _prefetched(reader: Any) -> Iterator[Any]:
    """The batches of ``reader``, the next one fetched on a thread while the caller works on this one:
    DuckDB parses with the GIL released, so parsing overlaps with turning batches into columns."""
    import queue
    import threading

    q: queue.Queue = queue.Queue(maxsize=1)
    done = object()
    stop = threading.Event()

    def pump() -> None:
        try:
            for b in reader:
                if stop.is_set():
                    return
                q.put(b)
            q.put(done)
        except BaseException as exc:  # handed to the consumer, who raises it (e.g. a truncated .gz)
            q.put(exc)

    t = threading.Thread(target=pump, name="aurora-read", daemon=True)
    t.start()
    try:
        while (item := q.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while t.is_alive():  # unblock a pump waiting on a full queue, then let it end
            try:
                q.get_nowait()
            except queue.Empty:
                t.join(0.01)


def _locate_damage(s: _FileScan) -> None:
    """Find the lines of one file's damaged and off-clock rows (its bytes are read only when it has some).

    Done on the scan's own thread, while the other streams are still parsing; the report is written
    afterwards, in file order (:func:`_report_damage`)."""
    ends_with_newline = _ends_with_newline(s)
    torn_last = False
    if not ends_with_newline and s.rows:
        # the last non-blank line is unterminated: torn, unless it parsed as a whole record
        torn_last = bool(s.bad) and s.bad[-1] == s.rows - 1
        if torn_last or s.last_kept >= 0:
            s.stats.torn = 1
    if not s.stats.torn:
        s.last_kept = -1
    s.torn_last = torn_last
    wanted = sorted({*s.bad, *(p for p, _, _ in s.off)} | ({s.rows - 1} if s.stats.torn else set()))
    s.lines = _lines_at(s, wanted) if wanted else {}


def _report_damage(s: _FileScan, report: ReadReport) -> None:
    lines, torn_last = s.lines, s.torn_last
    if not lines:
        return
    if s.stats.torn:
        report.torn.append({"file": s.lf.path.name, "line": lines[s.rows - 1][0]})
    for p in s.bad:
        if torn_last and p == s.rows - 1:
            continue
        lineno, raw = lines[p]
        s.stats.corrupt += 1
        report.corrupt_count += 1
        if len(report.corrupt) < _MAX_LISTED:
            report.corrupt.append({"file": s.lf.path.name, "line": lineno, "error": _why_not_a_record(raw)})
    for p, t, code in s.off:
        s.stats.off_clock += 1
        report.off_clock_count += 1
        if len(report.off_clock) < _MAX_LISTED:
            if t < MIN_TS_NS:
                unit = "s" if t < 10**11 else "ms" if t < 10**14 else "µs"
                why = f"ts_ns {t} looks like {unit} since the epoch, not ns"
            else:
                why = f"stamped {(t - s.bound_ns) / 1e9 + CLOCK_SKEW_S:.0f} s after {s.lf.path.name} was last written"
            report.off_clock.append({"file": s.lf.path.name, "line": lines[p][0], "ts_ns": t, "event_code": code,
                                     "error": why})  # fmt: skip


def _ends_with_newline(s: _FileScan) -> bool:
    if s.path.name.endswith(".gz"):
        if not (s.bad and s.bad[-1] == s.rows - 1):
            return True  # the last line parsed: whole, whatever follows it (decompressing to check costs)
        data = _load_bytes(s.lf, FileStats(path=s.lf.path.name))
        return not data.rstrip(b" \t\r") or data.rstrip(b" \t\r").endswith(b"\n")
    with open(s.path, "rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        back = min(size, 1 << 16)
        fh.seek(size - back)
        tail = fh.read(back)
    stripped = tail.rstrip(b" \t\r")
    return not stripped or stripped.endswith(b"\n") or (b"\n" not in stripped and size > back)


def _lines_at(s: _FileScan, rows: list[int]) -> dict[int, tuple[int, bytes]]:
    """(1-based line number, bytes) of the given rows; a row is a non-blank line, as DuckDB counts them.

    Streamed when no line is blank: only as much of the file is read (and inflated) as the last row
    wanted needs, a block at a time, never the whole file in memory (a torn last line is the common case)."""
    fast = _lines_streamed(s, rows)
    if fast is not None:
        return fast
    data = s.path.read_bytes() if not s.path.name.endswith(".gz") else _load_bytes(s.lf, FileStats(path=""))
    nl = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 0x0A)
    starts = np.r_[0, nl + 1]
    stops = np.r_[nl, len(data)]
    length = stops - starts
    blank = length == 0
    for i in np.flatnonzero((length > 0) & (length <= 8)).tolist():  # short lines: maybe only whitespace
        blank[i] = not data[starts[i] : stops[i]].strip()
    nonblank = np.flatnonzero(~blank)
    out = {}
    for r in rows:
        if r < nonblank.size:
            i = int(nonblank[r])
            out[r] = (i + 1, data[int(starts[i]) : int(stops[i])])
        else:
            out[r] = (int(nonblank.size), b"")
    return out


def _blocks(s: _FileScan, size: int = 1 << 20) -> Iterator[bytes]:
    """The file's bytes (inflated, every gzip member) a block at a time; a truncated stream ends early."""
    gz = s.path.name.endswith(".gz")
    with open(s.path, "rb") as fh:
        dec = _inflate.decompressobj(wbits=31) if gz else None
        while raw := fh.read(size):
            if dec is not None:
                try:
                    out = dec.decompress(raw)
                    while dec.eof and dec.unused_data:  # the next gzip member
                        rest = dec.unused_data
                        dec = _inflate.decompressobj(wbits=31)
                        out += dec.decompress(rest)
                except (zlib.error, _inflate.error):
                    return  # a truncated stream: what came out so far
                raw = out
            yield raw


def _lines_streamed(s: _FileScan, rows: list[int]) -> dict[int, tuple[int, bytes]] | None:
    """:func:`_lines_at` when no line is empty: row r is line r + 1, found from the newlines' positions
    block by block (numpy). ``None`` when a line is empty or a line found is only whitespace (DuckDB
    skips those, so the count is off): the caller then maps every line."""
    want = sorted(set(rows))
    out: dict[int, tuple[int, bytes]] = {}
    k, line, carry = 0, 0, b""  # next wanted row; index of the block's first line; unterminated tail
    for block in _blocks(s):
        nl = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 0x0A)
        if nl.size and ((nl[0] == 0 and not carry) or bool((nl[1:] - nl[:-1] == 1).any())):
            return None  # an empty line
        cnt = int(nl.size)
        while k < len(want) and want[k] < line + cnt:  # row r ends at this block's (r - line)-th newline
            i = want[k] - line
            start = int(nl[i - 1]) + 1 if i else 0
            raw = (carry if not i else b"") + block[start : int(nl[i])]
            if not raw.strip():
                return None
            out[want[k]] = (want[k] + 1, raw)
            k += 1
        if k == len(want):
            return out
        carry = block[int(nl[-1]) + 1 :] if cnt else carry + block
        line += cnt
    for r in want[k:]:  # past the last newline: the unterminated last line, or beyond the file
        if r == line and carry.strip():
            out[r] = (r + 1, carry)
        elif r == line and carry:
            return None
        else:
            out[r] = (line + (1 if carry.strip() else 0), b"")
    return out


def _why_not_a_record(line: bytes) -> str:
    """The damage policy's reason for a line DuckDB could not read as a record."""
    rec = decode_line(line.rstrip(b"\r"))
    if isinstance(rec, str):
        return rec
    for name in REQUIRED:
        v = rec.get(name)
        if v is None:
            return f"missing {name}"
        ok = isinstance(v, str) if name == _CODE else isinstance(v, int) and not isinstance(v, bool)
        if not ok and not (name == _TS and isinstance(v, float | str) and _as_int(v) is not None):
            return f"invalid {name}"
    return "not readable as a record"


def _as_int(v: Any) -> int | None:
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, str) and v.strip().lstrip("-").isdigit():
        return int(v)
    return None


def _normalized(frame: Frame) -> Frame:
    codes = frame.get(_CODE.value)
    if isinstance(codes, Labels) and any(c.startswith("ORDER_") for c in codes.values):  # legacy spelling: rare
        frame[_CODE.value] = codes.recode(normalize_code)
    return frame


def _sorted(frame: Frame) -> Frame:
    ts = frame[_TS.value]
    if ts.size > 1 and not bool(np.all(ts[1:] >= ts[:-1])):
        return frame.take(np.argsort(ts, kind="stable"))
    return frame


def _pick(catalogue: Mapping[Field, Spec], columns: Sequence[str] | None) -> list[Field]:
    if columns is None:
        return list(catalogue)
    wanted = [Field(c) if c in Field._value2member_map_ else c for c in columns]
    unknown = [c for c in wanted if not isinstance(c, Field) or c not in catalogue]
    if unknown:
        raise ValueError(f"unknown columns: {sorted(map(str, unknown))}")
    return list(dict.fromkeys([*REQUIRED, *wanted]))  # type: ignore[list-item]


def read_session(
    session_dir: Path | str,
    *,
    event_columns: Sequence[str] | None = None,
    runner_columns: Sequence[str] | None = None,
    runner_codes: Sequence[str] | None = None,
    runner_apart: bool = False,
    order_columns: Sequence[str] | None = None,
    runner_events: bool = True,
    orders: bool = True,
    sort: bool = True,
    keep: Callable[[Any], Any] | None = None,
    hashed: Sequence[Field] = (),
    lean: bool = False,
) -> SessionData:
    """Read every event and order log of ``session_dir``; see the module docstring for the rules.

    ``hashed`` string fields of the events (order and trade ids) come as 63-bit keys (int64, -1 =
    absent) instead of :class:`Labels`: for callers that only group and join by them, which saves
    dictionary-encoding a string per row; the odds that two of n ids share a key are about n²/2⁶⁴
    (3e-8 for a million orders). Names need Labels: the audit does not hash. ``lean`` trades some speed
    for memory (smaller batches, columns copied out of them, freed memory handed back): the audit.

    ``event_columns`` / ``order_columns`` name the fields wanted (:class:`aurora.session.fields.Field`
    values of :data:`~aurora.session.fields.EVENT` / :data:`~aurora.session.fields.ORDER_LOG`; ``ts_ns``
    and ``event_code`` always come, plus ``source``, the file stem); ``None`` reads them all.
    ``runner_columns`` (default: ``event_columns``) are the fields read from the runners' files, on the
    rows of ``runner_codes`` only when given; ``runner_apart`` returns those rows in
    :attr:`SessionData.runner` instead of among the gate's (callers that count them apart save copying
    every gate column for them). Parsing only what is needed is the main speed lever on large logs.
    ``sort=False`` leaves records in file order (each file is in time order; files of different writers
    interleave), for callers that only aggregate. ``keep(batch)`` filters the gate's event rows as they
    stream (see :func:`_scan`).
    """
    event_files, order_files, report = discover(session_dir)
    # spool files are counted by discover() and never merged: their events did not reach the gate
    if not runner_events:
        event_files = [f for f in event_files if not is_runner_file(f)]
    if not orders:
        order_files = []
    if not event_files and not order_files:
        raise SessionReadError(f"no event or order logs (aurora_events*.jsonl*, runner_events*.jsonl*, orders*.jsonl*) in {session_dir}")
    ev_fields = _pick(EVENT, event_columns)
    rn_fields = ev_fields if runner_columns is None else _pick(EVENT, runner_columns)
    gate = [f for f in event_files if not is_runner_file(f)]
    runner = [f for f in event_files if is_runner_file(f)]
    rn_group = (runner, rn_fields) if runner_codes is None else (runner, rn_fields, tuple(runner_codes))
    con = _connect()
    tmp: list[Path] = []
    runner_frame = None
    if keep is not None and runner and not runner_apart:
        raise ValueError("keep= filters the gate's events: read with runner_events=False or runner_apart=True")
    or_fields = _pick(ORDER_LOG, order_columns) + [Field.STREAM]
    jobs: list[tuple[list[Group], Mapping[Field, Spec], Callable[[Any], Any] | None]] = [
        ([(gate, ev_fields)] if runner_apart else [(gate, ev_fields), rn_group], EVENT, keep),
        ([rn_group] if runner_apart else [], EVENT, None),
        ([(order_files, or_fields)], ORDER_LOG, None),
    ]
    try:
        # the three streams side by side, each on its own cursor: while one file's tail is parsed on one
        # core, the next stream's files keep the other busy, and turning batches into columns (Python)
        # overlaps with parsing (DuckDB, GIL released)
        with ThreadPoolExecutor(max_workers=3, thread_name_prefix="aurora-scan") as pool:
            futures = [pool.submit(_scan_raw, con.cursor(), groups, cat, report.session, keep=k, tmp=tmp,
                                   hashed=frozenset(hashed) if cat is EVENT else frozenset(), lean=lean)
                       for groups, cat, k in jobs]  # fmt: skip
            raw = [f.result() for f in futures]
        events, runner_raw, order_frame = (_finish_scan(*r, report) for r in raw)
        if runner_apart:
            runner_frame = runner_raw
    finally:
        con.close()
        for d in tmp:
            shutil.rmtree(d, ignore_errors=True)
    _fill_streams(order_frame)
    events, order_frame = _normalized(events), _normalized(order_frame)
    if runner_frame is not None:
        runner_frame = _normalized(runner_frame)
    if sort:
        events, order_frame = _sorted(events), _sorted(order_frame)
        runner_frame = _sorted(runner_frame) if runner_frame is not None else None
    codes = [f[_CODE.value] for f in (events, runner_frame) if f is not None and len(f)]
    report.unknown_codes = unknown_codes(codes[0] if len(codes) == 1 else Labels.concat(codes)) if codes else {}
    return SessionData(Path(session_dir), events, order_frame, report, runner_frame)


def _fill_streams(orders: Frame) -> None:
    """A per-stream file's records carry their stream in the file name, not always in the record."""
    stream, src = orders.labels(Field.STREAM.value), orders.labels(SOURCE)
    missing = stream.codes < 0
    if not missing.any():
        return
    values = list(stream.values)
    for s in src.values:
        tail = names.order_stream_of(s)
        if tail is not None and tail not in values:
            values.append(tail)
    of_source = np.array([values.index(t) if (t := names.order_stream_of(s)) else -1 for s in src.values] + [-1],
                         dtype=np.int32)  # fmt: skip
    codes = stream.codes.copy()
    codes[missing] = of_source[src.codes[missing]]
    orders[Field.STREAM.value] = Labels(codes, values)


def is_runner_file(lf: LogFile) -> bool:
    return names.is_runner_stem(lf.stem)


# --- a dataset: the Parquet export of many sessions -------------------------------------------------
#: Columns the export adds to every event: where it came from, and its partition keys.
SESSION, DATE, FAMILY = "session", "date", "family"


def dataset_files(dataset: Path | str) -> list[Path]:
    d = Path(dataset)
    if not d.is_dir():
        raise SessionReadError(f"dataset directory not found: {d}")
    found = sorted(p for p in d.rglob("*.parquet") if p.is_file())
    if not found:
        raise SessionReadError(f"no Parquet files under {d} (write them with auroractl export parquet)")
    return found


def read_dataset(dataset: Path | str, *, event_columns: Sequence[str] | None = None, sort: bool = True,
                 keep: Callable[[Any], Any] | None = None) -> SessionData:  # fmt: skip
    """Read an exported dataset (``auroractl export parquet``) into the frames :func:`read_session` gives.

    An order is keyed by (session, cid): client order ids are unique per run, not across runs, so the
    ``cid`` column reads ``<session>/<cid>``. There are no order logs in a dataset (events only).
    """
    paths = dataset_files(dataset)
    fields = _pick(EVENT, event_columns)
    report = ReadReport(session=str(dataset))
    con = _connect()
    try:
        have = {r[0] for r in con.execute(
            f"DESCRIBE SELECT * FROM read_parquet([{', '.join(_sql_str(str(p)) for p in paths)}], "
            "hive_partitioning=true, union_by_name=true)").fetchall()}  # fmt: skip
        missing = [c for c in (*REQUIRED, SOURCE, SESSION) if c not in have]
        if missing:
            raise SessionReadError(f"{dataset}: not an Aurora dataset (no column {', '.join(missing)})")

        def expr(f: Field) -> str:
            if f == Field.CID:
                return f"CASE WHEN cid IS NULL THEN NULL ELSE \"{SESSION}\" || '/' || cid END AS cid"
            kind = EVENT[f].kind
            if f.value not in have:
                return f'CAST(NULL AS {_null_type(kind)}) AS "{f.value}"'
            return f'CAST("{f.value}" AS DOUBLE) AS "{f.value}"' if kind == "bool" else f'"{f.value}"'

        sql = (f"SELECT {', '.join(expr(f) for f in fields)}, \"{SOURCE}\", \"{SESSION}\" FROM read_parquet("
               f"[{', '.join(_sql_str(str(p)) for p in paths)}], hive_partitioning=true, union_by_name=true)")  # fmt: skip
        cols = {f.value: _Columns("bool" if EVENT[f].kind == "bool" else EVENT[f].kind) for f in fields}
        cols[SOURCE] = _Columns("str")
        cols[SESSION] = _Columns("str")
        n = 0
        for batch in con.sql(sql).to_arrow_reader(BATCH_ROWS):
            if keep is not None:
                batch = batch.filter(_to_arrow_mask(np.asarray(keep(batch), dtype=bool)))
            for j, name in enumerate(cols):
                cols[name].add(batch.column(j), None)
            n += batch.num_rows
    finally:
        con.close()
    frame = Frame({k: c.finish() for k, c in cols.items()}, n)
    sessions = frame.labels(SESSION)
    report.files = [FileStats(path=str(p.relative_to(dataset)), bytes=p.stat().st_size) for p in paths]
    report.notes.append(f"dataset of {len(sessions.values)} session(s): {', '.join(map(str, sessions.values[:5]))}"
                        + (" …" if len(sessions.values) > 5 else ""))  # fmt: skip
    frame = _normalized(frame)
    if sort:
        frame = _sorted(frame)
    report.files[0].records = n if report.files else 0
    report.unknown_codes = unknown_codes(frame[_CODE.value]) if n else {}
    empty = Frame({Field.TS_NS.value: np.zeros(0, dtype=np.int64), Field.EVENT_CODE.value: Labels(np.zeros(0), []),
                   Field.STREAM.value: Labels(np.zeros(0), [])}, 0)  # fmt: skip
    return SessionData(Path(dataset), frame, empty, report)


def read_warnings(read: ReadReport | dict[str, Any]) -> list[str]:
    """What every command says about the damage it read past (from a report or its ``to_dict()``):
    truncated gzip parts, corrupt lines, records off the session's clock, unknown event codes,
    undelivered spool records."""
    rd = read.to_dict() if isinstance(read, ReadReport) else read
    out = [f"{name}: truncated gzip stream; the readable part was used" for name in rd.get("truncated_gzip", [])]
    for key, count, what in (("corrupt", "corrupt_lines", "corrupt line(s) skipped"),
                             ("off_clock", "off_clock_records", "record(s) off the session's clock left out")):  # fmt: skip
        n = rd.get(count, 0)
        if n:
            shown = ", ".join(f"{c['file']}:{c['line']} ({c['error']})" for c in rd.get(key, [])[:3])
            out.append(f"{n} {what}: {shown}" + (f" and {n - 3} more" if n > 3 else ""))
    unknown = rd.get("unknown_codes") or {}
    if unknown:
        shown = ", ".join(f"{c!r} {n}" for c, n in list(unknown.items())[:5])
        out.append(f"{sum(unknown.values())} event(s) with an unknown event code: {shown}")
    for sp in rd.get("spool", []):
        if sp["records"]:
            out.append(
                f"{sp['file']}: {sp['records']} lifecycle event(s) spooled by the runner, never delivered to the"
                " gate (not in these figures)"
            )
    return out + list(rd.get("notes", []))


def iter_records(
    session_dir: Path | str,
    report: ReadReport | None = None,
    *,
    kinds: tuple[str, ...] = ("events",),
    stems: Iterable[str] | None = None,
    on_clock: bool = True,
) -> Iterator[dict[str, Any]]:
    """Every whole record of the session's logs of ``kinds``, file by file (rotated parts, then the live
    file), for consumers that fold records one at a time. Same files and the same damage policy as
    :func:`read_session`; what was skipped is counted in ``report`` (pass one to see it). ``stems``
    narrows it to the logs named (e.g. one runner's ``runner_events-<group>``, or ``orders_denied``),
    rotated parts included. ``on_clock=False`` keeps records stamped off the session's clock (a writer's
    test reading back the stamps it was given)."""
    event_files, order_files, rep = discover(session_dir, consolidate=stems is None)
    if report is not None:
        report.skipped_files, report.orders_source, report.spool = rep.skipped_files, rep.orders_source, rep.spool
    report = report if report is not None else rep
    if stems is not None:  # the logs named, whatever their kind
        wanted = set(stems)
        files = [f for f in event_files + order_files if f.stem in wanted]
    else:
        files = (event_files if "events" in kinds else []) + (order_files if "orders" in kinds else [])
    for lf in files:
        ld = _load(lf)
        report.files.append(ld.stats)
        report.torn.extend(ld.torn)
        low, bound = (MIN_TS_NS, ld.mtime_ns + int(CLOCK_SKEW_S * 1e9)) if on_clock else (-(1 << 63), 1 << 63)
        for lineno, line in enumerate(ld.data[: ld.end].split(b"\n")[:-1], 1):
            if not line.strip():
                continue
            rec = decode_line(line)
            if isinstance(rec, dict):
                ts, code = rec.get("ts_ns"), rec.get("event_code")
                if not isinstance(ts, int) or isinstance(ts, bool) or not isinstance(code, str):
                    rec = "missing or invalid ts_ns/event_code"
                elif ts < low or ts > bound:
                    ld.stats.off_clock += 1
                    report.off_clock_count += 1
                    if len(report.off_clock) < _MAX_LISTED:
                        report.off_clock.append({"file": lf.path.name, "line": lineno, "ts_ns": ts,
                                                 "event_code": code, "error": "off the session's clock"})  # fmt: skip
                    continue
            if isinstance(rec, str):
                ld.stats.corrupt += 1
                report.corrupt_count += 1
                if len(report.corrupt) < _MAX_LISTED:
                    report.corrupt.append({"file": lf.path.name, "line": lineno, "error": rec})
                continue
            ld.stats.records += 1
            yield rec


def start_record(session_dir: Path | str, max_lines: int = 10_000) -> dict[str, Any] | None:
    """The gate's first ``AURORA.START`` record (mode and config version the session ran with), found
    near the start of its event log; ``None`` when there is none."""
    try:
        event_files, _, _ = discover(session_dir)
    except SessionReadError:
        return None
    for lf in (f for f in event_files if f.stem == names.GATE_EVENTS):
        data = _head_bytes(lf, 4 << 20)  # the first lines only: a long session's first part is large
        for line in data.split(b"\n", max_lines)[:max_lines]:
            if b'"AURORA.START"' not in line:
                continue
            rec = decode_line(line)
            if isinstance(rec, dict) and rec.get("event_code") == "AURORA.START":
                return rec
        return None  # only the earliest part of the gate's log can hold the first START
    return None


def _head_bytes(lf: LogFile, limit: int) -> bytes:
    """About the first ``limit`` bytes of a log (decompressed), cut at a line end."""
    with open(lf.path, "rb") as fh:
        raw = fh.read(limit if not lf.path.name.endswith(".gz") else limit // 4)
    if lf.path.name.endswith(".gz"):
        try:
            raw = _inflate.decompressobj(wbits=31).decompress(raw, limit)
        except (zlib.error, _inflate.error):
            return b""
    return raw[: raw.rfind(b"\n") + 1]


def latest_session(logs_dir: Path | str) -> Path:
    """The newest session dir under ``logs_dir``: by name (``YYYYMMDD-hhmmss[-n]`` sorts by time), else mtime."""
    d = Path(logs_dir)
    if not d.is_dir():
        raise SessionReadError(f"no session directory: {d} does not exist (pass --session DIR)")
    dirs = [p for p in d.iterdir() if p.is_dir() and not p.name.startswith(".")]
    named = [p for p in dirs if names.SESSION_DIR_RE.match(p.name)]
    if named:
        return max(named, key=lambda p: (p.name[:15], int(p.name[16:] or 1)))
    if dirs:
        return max(dirs, key=lambda p: p.stat().st_mtime)
    raise SessionReadError(
        f"no session directory under {d} (pass --session DIR, or create one with auroractl init-run)"
    )
