"""Read a whole session directory into columnar frames: events and order logs, live and rotated.

One entry point, :func:`read_session`. It finds every ``*events*.jsonl*`` file (the gate's
``aurora_events`` and each runner's ``runner_events[-group]``) and every ``orders*.jsonl*`` file, live and
rotated (``<stem>.<YYYYMMDD>-<seq:03d>.jsonl.gz``), parses them with pyarrow's multi-threaded JSON reader
against an explicit schema of only the fields the caller asks for (unneeded fields are skipped, which is
most of the cost saved), and merges everything in time order (``ts_ns``; ties keep file order).

Damage is counted, never fatal (the one damage policy, shared with :func:`iter_records` and the live
tails through :func:`decode_line`): an unterminated last line (a write torn by a crash) is skipped and
counted; a corrupt line (not valid UTF-8, not JSON, not an object, no integer ``ts_ns`` or string
``event_code``) is counted with ``file:line`` and skipped, and the rest of the file is still read; a
truncated gzip part is read as far as it goes and reported (:func:`read_warnings`). A record stamped off
the session's clock — later than its file was last written (plus :data:`CLOCK_SKEW_S`), or so small
that its ``ts_ns`` is in another unit — is reported with ``file:line`` and left out, so that one bad
clock cannot move the session's end (the anchor of every window). The fast path parses a whole file at
once; only a file that fails it is bisected so that the bad lines are isolated, and only small ranges
around them (or a file that is broken throughout) are parsed line by line in Python.

No record is counted twice: each file is read once, a rotated file present both plain and gzipped
(compression in progress: the ``.gz`` appears atomically once complete) is read once as ``.gz``, and for
the order logs the consolidated ``orders.jsonl`` is used when present (the per-stream files hold the
same records).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from aurora.events.codes import KNOWN_CODES, normalize_code
from aurora.session import files as names

try:  # ISA-L inflates gzip ~2.5x faster than zlib: rotated logs are most of a long session's bytes
    from isal import isal_zlib as _inflate
except ImportError:  # pragma: no cover - a platform without isal wheels
    _inflate = zlib  # type: ignore[assignment]

# --- the fields we know how to read (flat column name -> JSON path, arrow type) -------------------
_I64, _F64, _STR, _BOOL = pa.int64(), pa.float64(), pa.string(), pa.bool_()

#: Event record fields (SPEC §9). ``details.*`` are flattened to their bare key names.
EVENT_FIELDS: dict[str, tuple[str, pa.DataType]] = {
    "ts_ns": ("ts_ns", _I64),
    "event_code": ("event_code", _STR),
    "run_id": ("run_id", _STR),
    "symbol": ("symbol", _STR),
    "cid": ("cid", _STR),
    "oid": ("oid", _STR),
    "side": ("side", _STR),
    "qty": ("qty", _F64),
    # POLICY_DECISION
    "allow": ("details.allow", _BOOL),
    "reason": ("details.reason", _STR),
    "max_qty": ("details.max_qty", _F64),
    "risk_scale": ("details.risk_scale", _F64),
    "decision_us": ("details.decision_us", _F64),
    "reduce_only": ("details.reduce_only", _BOOL),
    "spread_bps": ("details.spread_bps", _F64),
    "vol_std_bps": ("details.vol_std_bps", _F64),
    "latency_ms": ("details.latency_ms", _F64),
    "mid": ("details.mid", _F64),
    "order_type": ("details.order_type", _STR),
    # ORDER.*
    "price": ("details.price", _F64),
    "fill_qty": ("details.fill_qty", _F64),
    "fill_price": ("details.fill_price", _F64),
    "cum_qty": ("details.cum_qty", _F64),
    "trade_id": ("details.trade_id", _STR),
    "realized_pnl_usd": ("details.realized_pnl_usd", _F64),
    "realized_pnl_bps": ("details.realized_pnl_bps", _F64),
    "entry_p_win": ("details.entry_p_win", _F64),
    "fee_usd": ("details.fee_usd", _F64),
    # health / kill-switch / arm state changes
    "state": ("details.state", _STR),
    "action": ("details.action", _STR),
    "armed": ("details.armed", _BOOL),
    "halted": ("details.halted", _BOOL),
    "p95_ms": ("details.p95_ms", _F64),
    "from_state": ("details.from", _STR),
    "to_state": ("details.to", _STR),
    "trigger": ("details.trigger", _STR),
    "rate_pct": ("details.rate_pct", _F64),
}

#: Order-log record fields (``orders*.jsonl``).
ORDER_FIELDS: dict[str, tuple[str, pa.DataType]] = {
    "ts_ns": ("ts_ns", _I64),
    "event_code": ("event_code", _STR),
    "stream": ("stream", _STR),
    "run_id": ("run_id", _STR),
    "cid": ("cid", _STR),
    "oid": ("oid", _STR),
    "symbol": ("symbol", _STR),
    "side": ("side", _STR),
    "qty": ("qty", _F64),
    "price": ("price", _F64),
    "reason": ("reason", _STR),
    "fill_qty": ("fill_qty", _F64),
    "fill_price": ("fill_price", _F64),
    "trade_id": ("details.trade_id", _STR),
    "realized_pnl_usd": ("details.realized_pnl_usd", _F64),
}

REQUIRED = ("ts_ns", "event_code")
ORDER_STREAMS = names.ORDER_STREAMS

#: A record more than this far ahead of its file's last write is stamped off the session's clock.
CLOCK_SKEW_S = 300.0
#: ``ts_ns`` below this (1973-03-03 in ns) is a timestamp in another unit (s, ms, µs since the epoch).
MIN_TS_NS = 100_000_000_000_000_000

_MAX_LISTED = 200  # corrupt lines listed individually (all are counted)
_LINE_BY_LINE = 64  # ranges this small are parsed line by line instead of bisected further


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
    slow_path: bool = False
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
    """Events and order-log records of one session, each sorted by ``ts_ns``.

    String columns are pandas ``Categorical`` (cheap to build, fast to group); booleans are float
    (1.0 / 0.0 / NaN when absent) so that a missing value never becomes an object column.
    """

    session_dir: Path
    events: pd.DataFrame
    orders: pd.DataFrame
    report: ReadReport
    records: list[dict[str, Any]] = field(default_factory=list)
    """Whole records (``details`` included) of the events asked for by ``records_for``, by time."""


class SessionReadError(Exception):
    """The session directory cannot be read at all (missing, not a directory, no log files)."""


# --- discovery ------------------------------------------------------------------------------------
def discover(session_dir: Path | str) -> tuple[list[LogFile], list[LogFile], ReadReport]:
    """The event files and the order-log files to read, in reading order."""
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
    if any(f.stem == names.ORDERS for f in orders):
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


def unknown_codes(codes: pd.Series) -> dict[str, int]:
    """Counts of the codes of a categorical ``event_code`` column that are not Aurora event codes."""
    cats = codes.cat.categories
    bad = [i for i, c in enumerate(cats) if not is_known_code(str(c))]
    if not bad:
        return {}
    counts = np.bincount(codes.cat.codes.to_numpy()[codes.cat.codes.to_numpy() >= 0], minlength=len(cats))
    return {str(cats[i]): int(counts[i]) for i in bad if counts[i]}


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


# --- parsing ----------------------------------------------------------------------------------------
def _nested_schema(fields: dict[str, tuple[str, pa.DataType]]) -> pa.Schema:
    top: dict[str, Any] = {}
    for path, typ in fields.values():
        parts = path.split(".")
        node = top
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = typ

    def build(node: dict[str, Any]) -> list[pa.Field]:
        return [pa.field(k, pa.struct(build(v)) if isinstance(v, dict) else v) for k, v in node.items()]

    return pa.schema(build(top))


def _flat_schema(fields: dict[str, tuple[str, pa.DataType]]) -> pa.Schema:
    return pa.schema([pa.field(name, typ) for name, (_, typ) in fields.items()])


class _Parser:
    """Parses one kind of file: ``fields`` are read from it, the output has every column of ``out``.

    Output columns: strings dictionary-encoded (done here, per chunk, in the worker threads), booleans as
    float (1.0 / 0.0 / NaN), fields this kind of file does not carry as nulls, plus ``source`` (the stem
    of the file the record came from).
    """

    def __init__(
        self,
        fields: dict[str, tuple[str, pa.DataType]],
        out: dict[str, tuple[str, pa.DataType]] | None = None,
    ) -> None:
        self.fields = fields
        self.out = out or fields
        self.nested = _nested_schema(fields)
        self.flat = _flat_schema(fields)
        self.parse_options = pj.ParseOptions(explicit_schema=self.nested, unexpected_field_behavior="ignore")
        self.paths = {name: tuple(path.split(".")) for name, (path, _) in fields.items()}
        self.schema = _out_schema(self.out)
        self.records_for: tuple[str, ...] = ()

    def fast(self, buf: pa.Buffer) -> pa.Table:
        # one block per call (parallelism comes from parsing chunks side by side), so a failure is
        # confined to the chunk that holds the bad line
        table = pj.read_json(
            pa.BufferReader(buf),
            read_options=pj.ReadOptions(use_threads=False, block_size=max(1 << 16, buf.size + 1)),
            parse_options=self.parse_options,
        )
        flat = table.flatten()
        by_path = {
            name.replace(".", "\x00"): col for name, col in zip(flat.column_names, flat.columns, strict=True)
        }
        cols = [by_path["\x00".join(self.paths[name])] for name in self.fields]
        return pa.Table.from_arrays(cols, schema=self.flat)

    def valid(self, table: pa.Table) -> bool:
        return all(table.column(name).null_count == 0 for name in REQUIRED if name in self.fields)

    def finish(self, table: pa.Table, source: str, stream: str | None = None) -> pa.Table:
        n = table.num_rows
        arrays = []
        for name, (_, typ) in self.out.items():
            if name not in self.fields:
                arrays.append(pa.nulls(n, self.schema.field(name).type))
                continue
            col = table.column(name)
            if name == "stream" and stream is not None:
                col = pc.fill_null(col, stream)
            if typ == _STR:
                col = pc.dictionary_encode(col)
            elif typ == _BOOL:
                col = pc.cast(col, _F64)
            arrays.append(col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col)
        arrays.append(
            pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int32)), pa.array([source]))
        )
        return pa.Table.from_arrays(arrays, schema=self.schema)

    def empty(self) -> pa.Table:
        return self.schema.empty_table()

    def lenient(
        self, lines: Sequence[bytes], first_line: int, path: str, bad: list[tuple[str, int, str]]
    ) -> pa.Table:
        """Parse line by line with type coercion; lines that cannot be records go to ``bad``."""
        cols: dict[str, list[Any]] = {name: [] for name in self.fields}
        for i, line in enumerate(lines):
            if not line.strip():
                continue
            rec = decode_line(line)
            if isinstance(rec, str):
                bad.append((path, first_line + i, rec))
                continue
            row: dict[str, Any] = {}
            problem = None
            for name, (_, typ) in self.fields.items():
                value: Any = rec
                for part in self.paths[name]:
                    value = value.get(part) if isinstance(value, dict) else None
                coerced = _coerce(value, typ)
                if coerced is None and name in REQUIRED:
                    problem = f"{'missing' if value is None else 'invalid'} {name}"
                    break
                row[name] = coerced
            if problem:
                bad.append((path, first_line + i, problem))
                continue
            for name in self.fields:
                cols[name].append(row[name])
        return pa.Table.from_pydict(cols, schema=self.flat)


def _coerce(value: Any, typ: pa.DataType) -> Any:
    if value is None:
        return None
    if typ == _STR:
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        return orjson.dumps(value).decode()
    if typ == _I64:
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
        return None
    if typ == _F64:
        if isinstance(value, bool):
            return None
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                return None
        return None
    if typ == _BOOL:
        return value if isinstance(value, bool) else None
    return None


_CHUNK = 4 << 20  # bytes per parse task: big enough to amortise a call, small enough to re-parse cheaply
_WORKERS = 3  # zlib and pyarrow release the GIL; a third worker hides the Python glue between calls


@dataclass
class _Loaded:
    lf: LogFile
    data: bytes
    end: int  # bytes up to the last newline (the rest is a torn fragment)
    stats: FileStats
    torn: list[dict]
    ascii: bool = True  # pyarrow's JSON reader does not check UTF-8: only non-ASCII data is checked here
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
    return _Loaded(lf, data, end, stats, torn, data.isascii(), mtime_ns)


def _chunks(data: bytes, end: int) -> list[tuple[int, int]]:
    """Split ``data[:end]`` at newlines into ranges of about :data:`_CHUNK` bytes."""
    out, start = [], 0
    while start < end:
        stop = min(end, start + _CHUNK)
        if stop < end:
            cut = data.rfind(b"\n", start, stop) + 1
            stop = cut if cut > start else data.find(b"\n", stop) + 1
        out.append((start, stop))
        start = stop
    return out


def _stream_of(lf: LogFile) -> str | None:
    return names.order_stream_of(lf.stem) if lf.kind == "orders" else None


def _find_records(data: bytes, start: int, stop: int, codes: list[str], source: str) -> list[dict[str, Any]]:
    """Whole records of the (rare) events whose code is in ``codes`` (codes present in this chunk).

    Found by a byte search for each quoted code, then only those lines are parsed and checked:
    cheaper than a column for every detail field of every row when a handful of rows need them.
    """
    lines: set[tuple[int, int]] = set()
    for code in codes:
        needle = b'"' + code.encode() + b'"'
        at = data.find(needle, start, stop)
        while at >= 0:
            lo = data.rfind(b"\n", start, at) + 1
            hi = data.find(b"\n", at, stop)
            hi = stop if hi < 0 else hi
            lines.add((max(lo, start), hi))
            at = data.find(needle, hi, stop)
    out = []
    wanted = set(codes)
    for lo, hi in sorted(lines):
        try:
            rec = orjson.loads(data[lo:hi])
        except orjson.JSONDecodeError:
            continue  # a corrupt line: counted by the columnar parse
        if isinstance(rec, dict) and isinstance(rec.get("ts_ns"), int) and rec.get("event_code") in wanted:
            rec["source"] = source
            out.append(rec)
    return out


def _parse_chunk(
    loaded: _Loaded, start: int, stop: int, parser: _Parser
) -> tuple[pa.Table, list[tuple[str, int, str]], list[dict[str, Any]]]:
    buf = pa.py_buffer(loaded.data).slice(start, stop - start)
    bad: list[tuple[str, int, str]] = []
    try:
        if not loaded.ascii:
            try:
                loaded.data[start:stop].decode("utf-8")
            except UnicodeDecodeError:
                raise pa.ArrowInvalid("invalid UTF-8") from None
        table = parser.fast(buf)
        if not parser.valid(table):
            raise pa.ArrowInvalid("records without ts_ns/event_code")
    except pa.ArrowInvalid:
        loaded.stats.slow_path = True
        first_line = loaded.data.count(b"\n", 0, start) + 1
        table = _salvage(loaded.data[start:stop], parser, loaded.lf.path.name, first_line, bad)
    records: list[dict[str, Any]] = []
    if parser.records_for and table.num_rows:
        codes = pc.unique(table.column("event_code")).to_pylist()
        present = [c for c in codes if c and c.startswith(parser.records_for)]
        if present:
            records = _find_records(loaded.data, start, stop, present, loaded.lf.stem)
    return parser.finish(table, loaded.lf.stem, _stream_of(loaded.lf)), bad, records


def _salvage(
    data: bytes, parser: _Parser, name: str, first_line: int, bad: list[tuple[str, int, str]]
) -> pa.Table:
    """Bisect a range that failed the fast path: good parts stay columnar, bad lines are isolated."""
    lines = data.split(b"\n")[:-1]
    if not data.isascii():
        # pyarrow would take invalid UTF-8 into a string column (and fail much later, converting it):
        # such lines are counted here and blanked, keeping every other line where it was
        for i, line in enumerate(lines):
            why = _utf8_problem(line)
            if why:
                bad.append((name, first_line + i, why))
                lines[i] = b""
        data = b"".join(line + b"\n" for line in lines)
    buf = pa.py_buffer(data)
    offsets = np.zeros(len(lines) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, lines), dtype=np.int64, count=len(lines)) + 1, out=offsets[1:])
    done: list[tuple[int, pa.Table]] = []
    slow: list[tuple[int, int]] = []
    pending = [(0, len(lines))]
    level = 0
    while pending:
        tried = failed = 0
        nxt: list[tuple[int, int]] = []
        for lo, hi in pending:
            if hi - lo <= _LINE_BY_LINE:
                slow.append((lo, hi))
                continue
            tried += 1
            try:
                t = parser.fast(buf.slice(int(offsets[lo]), int(offsets[hi] - offsets[lo])))
                if not parser.valid(t):
                    raise pa.ArrowInvalid("records without ts_ns/event_code")
                done.append((lo, t))
            except pa.ArrowInvalid:
                failed += 1
                mid = (lo + hi) // 2
                nxt += [(lo, mid), (mid, hi)]
        level += 1
        if level >= 3 and tried and failed == tried:
            # every range failed again: the damage is everywhere (e.g. a field of another type on every
            # line), so bisecting further would re-parse the same bytes many times; go line by line
            slow += nxt
            break
        pending = nxt
    for lo, hi in slow:
        done.append((lo, parser.lenient(lines[lo:hi], first_line + lo, name, bad)))
    done.sort(key=lambda x: x[0])
    return pa.concat_tables([t for _, t in done]) if done else parser.flat.empty_table()


def _read_many(
    files: list[LogFile],
    parser_for: Callable[[LogFile], _Parser],
    report: ReadReport,
    records: list[dict[str, Any]],
) -> list[tuple[pa.Table, LogFile]]:
    """Decompress and parse ``files`` on a small thread pool; chunks are parsed as soon as their file is loaded."""
    if not files:
        return []
    chunk_futures: dict[int, list[Future]] = {}
    loaded: dict[int, _Loaded] = {}
    with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
        load_futures = {pool.submit(_load, f): i for i, f in enumerate(files)}
        for fut in as_completed(load_futures):
            i = load_futures[fut]
            ld = loaded[i] = fut.result()
            parser = parser_for(ld.lf)
            chunk_futures[i] = [
                pool.submit(_parse_chunk, ld, a, b, parser) for a, b in _chunks(ld.data, ld.end)
            ]
        results = {i: [f.result() for f in futs] for i, futs in chunk_futures.items()}
    tables: list[tuple[pa.Table, LogFile]] = []
    for i in range(len(files)):
        ld = loaded[i]
        dropped: set[int] = set()
        file_tables = [_on_clock(t, ld, report, dropped) for t, _, _ in results[i]]
        bad = sorted((b for _, bs, _ in results[i] for b in bs), key=lambda b: b[1])
        for _, _, recs in results[i]:
            records.extend(r for r in recs if r["ts_ns"] not in dropped)
        ld.stats.records = sum(t.num_rows for t in file_tables)
        ld.stats.corrupt = len(bad)
        tables.extend((t, ld.lf) for t in file_tables)
        report.files.append(ld.stats)
        report.torn.extend(ld.torn)
        report.corrupt_count += len(bad)
        for path, line, why in bad:
            if len(report.corrupt) < _MAX_LISTED:
                report.corrupt.append({"file": path, "line": line, "error": why})
    return tables


def _on_clock(table: pa.Table, ld: _Loaded, report: ReadReport, dropped: set[int]) -> pa.Table:
    """``table`` without the records stamped off the session's clock; those are reported with file:line."""
    ts = table.column("ts_ns")
    if table.num_rows == 0:
        return table
    bound = ld.mtime_ns + int(CLOCK_SKEW_S * 1e9)
    mm = pc.min_max(ts).as_py()
    if mm["min"] >= MIN_TS_NS and mm["max"] <= bound:
        return table  # the usual case: one pass, no copy
    arr = ts.to_numpy()
    off = (arr < MIN_TS_NS) | (arr > bound)
    codes = table.column("event_code")
    for k in np.flatnonzero(off):
        t = int(arr[k])
        dropped.add(t)
        ld.stats.off_clock += 1
        report.off_clock_count += 1
        if len(report.off_clock) < _MAX_LISTED:
            # the line it came from, found by its stamp (rare rows only)
            m = re.search(rb'"ts_ns"\s*:\s*%d(?![\d.])' % t, ld.data)
            line = ld.data.count(b"\n", 0, m.start()) + 1 if m else None
            if t < MIN_TS_NS:
                unit = "s" if t < 10**11 else "ms" if t < 10**14 else "µs"
                why = f"ts_ns {t} looks like {unit} since the epoch, not ns"
            else:
                why = f"stamped {(t - ld.mtime_ns) / 1e9:.0f} s after {ld.lf.path.name} was last written"
            report.off_clock.append(
                {"file": ld.lf.path.name, "line": line, "ts_ns": t, "event_code": codes[int(k)].as_py(), "error": why}
            )
    return table.filter(pa.array(~off))


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


def _out_schema(fields: dict[str, tuple[str, pa.DataType]]) -> pa.Schema:
    out = []
    for name, (_, typ) in fields.items():
        if typ == _STR:
            typ = pa.dictionary(pa.int32(), _STR)
        elif typ == _BOOL:
            typ = _F64
        out.append(pa.field(name, typ))
    out.append(pa.field("source", pa.dictionary(pa.int32(), _STR)))
    return pa.schema(out)


def _to_frame(tables: list[pa.Table], schema: pa.Schema, *, sort: bool = True) -> pd.DataFrame:
    """Merge in time order (stable: ties keep file order) into pandas: strings become ``Categorical``."""
    table = pa.concat_tables(tables).unify_dictionaries().combine_chunks() if tables else schema.empty_table()
    ts = table.column("ts_ns").to_numpy()
    if sort and ts.size > 1 and not bool(np.all(ts[1:] >= ts[:-1])):
        table = table.take(np.argsort(ts, kind="stable"))
    frame = table.to_pandas()
    if "event_code" in frame and len(frame):
        if any(c.startswith("ORDER_") for c in frame["event_code"].cat.categories):  # legacy spelling: rare
            frame["event_code"] = frame["event_code"].astype(object).map(normalize_code).astype("category")
    return frame


def _select(
    catalogue: dict[str, tuple[str, pa.DataType]], columns: Iterable[str] | None
) -> dict[str, tuple[str, pa.DataType]]:
    if columns is None:
        return dict(catalogue)
    wanted = set(columns) | set(REQUIRED)
    unknown = wanted - set(catalogue)
    if unknown:
        raise ValueError(f"unknown columns: {sorted(unknown)}")
    return {k: v for k, v in catalogue.items() if k in wanted}


def is_runner_file(lf: LogFile) -> bool:
    return names.is_runner_stem(lf.stem)


def read_session(
    session_dir: Path | str,
    *,
    event_columns: Iterable[str] | None = None,
    runner_columns: Iterable[str] | None = None,
    order_columns: Iterable[str] | None = None,
    runner_events: bool = True,
    orders: bool = True,
    sort: bool = True,
    records_for: tuple[str, ...] = (),
) -> SessionData:
    """Read every event and order log of ``session_dir``; see the module docstring for the rules.

    ``event_columns`` / ``order_columns`` name the fields wanted (keys of :data:`EVENT_FIELDS` /
    :data:`ORDER_FIELDS`; ``ts_ns`` and ``event_code`` always come, plus ``source``, the file stem);
    ``None`` reads them all. ``runner_columns`` (default: ``event_columns``) are the fields read from the
    runners' files, whose other columns are left null. Parsing only what is needed is the main speed
    lever on large logs. ``sort=False`` leaves records in file order (each file is in time order; files
    of different writers interleave): for callers that only aggregate, or sort the few rows they need,
    this saves reordering every column. ``records_for`` (event-code prefixes, e.g. ``("HEALTH.",)``)
    also returns those events whole in :attr:`SessionData.records`: for rare events whose details are
    wanted in full, without a column per detail field for every row.
    """
    event_files, order_files, report = discover(session_dir)
    # spool files are counted by discover() and never merged: their events did not reach the gate
    if not runner_events:
        event_files = [f for f in event_files if not is_runner_file(f)]
    if not event_files and not order_files:
        raise SessionReadError(f"no event or order logs (aurora_events*.jsonl*, runner_events*.jsonl*, orders*.jsonl*) in {session_dir}")
    ev_fields = _select(EVENT_FIELDS, event_columns)
    gate_parser = _Parser(ev_fields)
    runner_parser = (
        gate_parser if runner_columns is None else _Parser(_select(EVENT_FIELDS, runner_columns), ev_fields)
    )
    or_parser = _Parser(_select(ORDER_FIELDS, order_columns) | {"stream": ORDER_FIELDS["stream"]})
    if not orders:
        order_files = []

    def parser_for(f: LogFile) -> _Parser:
        if f.kind == "orders":
            return or_parser
        return runner_parser if is_runner_file(f) else gate_parser

    gate_parser.records_for = runner_parser.records_for = tuple(records_for)
    records: list[dict[str, Any]] = []
    # one pool for every file, so decompressing one file overlaps with parsing another
    tables = _read_many(event_files + order_files, parser_for, report, records)
    records.sort(key=lambda r: r["ts_ns"])
    events = _to_frame([t for t, f in tables if f.kind == "events"], gate_parser.schema, sort=sort)
    order_frame = _to_frame([t for t, f in tables if f.kind == "orders"], or_parser.schema, sort=sort)
    report.unknown_codes = unknown_codes(events["event_code"]) if len(events) else {}
    return SessionData(Path(session_dir), events, order_frame, report, records)


def iter_records(
    session_dir: Path | str,
    report: ReadReport | None = None,
    *,
    kinds: tuple[str, ...] = ("events",),
    stems: Iterable[str] | None = None,
) -> Iterator[dict[str, Any]]:
    """Every whole record of the session's logs of ``kinds``, file by file (rotated parts, then the live
    file), for consumers that fold records one at a time. Same files and the same damage policy as
    :func:`read_session`; what was skipped is counted in ``report`` (pass one to see it). ``stems``
    narrows it to some logs (e.g. one runner's ``runner_events-<group>``), rotated parts included."""
    event_files, order_files, rep = discover(session_dir)
    if stems is not None:
        wanted = set(stems)
        event_files = [f for f in event_files if f.stem in wanted]
        order_files = [f for f in order_files if f.stem in wanted]
    if report is not None:
        report.skipped_files, report.orders_source, report.spool = rep.skipped_files, rep.orders_source, rep.spool
    report = report if report is not None else rep
    files = (event_files if "events" in kinds else []) + (order_files if "orders" in kinds else [])
    for lf in files:
        ld = _load(lf)
        report.files.append(ld.stats)
        report.torn.extend(ld.torn)
        bound = ld.mtime_ns + int(CLOCK_SKEW_S * 1e9)
        for lineno, line in enumerate(ld.data[: ld.end].split(b"\n")[:-1], 1):
            if not line.strip():
                continue
            rec = decode_line(line)
            if isinstance(rec, dict):
                ts, code = rec.get("ts_ns"), rec.get("event_code")
                if not isinstance(ts, int) or isinstance(ts, bool) or not isinstance(code, str):
                    rec = "missing or invalid ts_ns/event_code"
                elif ts < MIN_TS_NS or ts > bound:
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
        data = _load_bytes(lf, FileStats(path=lf.path.name))
        for line in data.split(b"\n", max_lines)[:max_lines]:
            if b'"AURORA.START"' not in line:
                continue
            rec = decode_line(line)
            if isinstance(rec, dict) and rec.get("event_code") == "AURORA.START":
                return rec
        return None  # only the earliest part of the gate's log can hold the first START
    return None


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
