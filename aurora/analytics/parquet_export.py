"""Sessions as one Parquet dataset, for DuckDB, Spark or Trino, the day the logs outgrow one machine.

``export_sessions([DIR, ...], DS)`` reads each session with the session reader (so the damage policy
applies: corrupt, torn and off-clock lines are left out and reported) and writes its events — the gate's
and the runners' — under ``DS/date=YYYY-MM-DD/family=<FAMILY>/<session>-<n>.parquet`` (hive
partitioning: engines prune by day and by event family without opening the other files). One column per
field of :mod:`aurora.session.fields`, flattened as the analytics read them, plus:

* ``session`` — the session dir's name (client order ids are unique per run only: an order is
  ``(session, cid)``), ``source`` — the file stem it came from;
* ``date`` (UTC day of ``ts_ns``) and ``family`` (the event code up to its first dot: ``ORDER``,
  ``POLICY_DECISION``, ``HEALTH``…; codes that are not names go to ``OTHER``) — the partition keys.

Re-exporting a session replaces its files (they are named after it) and leaves the others alone.
``metrics summary --dataset DS`` runs the summary over the whole dataset (:func:`aurora.session.reader.read_dataset`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from aurora.session.fields import EVENT, SOURCE, Field
from aurora.session.frame import Frame, Labels
from aurora.session.reader import DATE, FAMILY, SESSION, read_session, read_warnings

_NAME = re.compile(r"^[A-Za-z0-9_]+$")
NS_PER_DAY = 86_400 * 1_000_000_000


def family_of(code: str) -> str:
    """The partition an event code goes to: its first dotted part, when that is a plain name."""
    head = code.split(".", 1)[0]
    return head if _NAME.match(head) else "OTHER"


def _arrow_column(col: Any, kind: str) -> Any:
    import pyarrow as pa

    if isinstance(col, Labels):
        values = col._values if not isinstance(col._values, list) else pa.array(col.values, pa.string())
        codes = col.codes.astype(np.int32)
        # plain strings: Parquet dictionary-encodes each row group with the values it holds, where an Arrow
        # dictionary would be written whole (every order id of the session) into every row group
        return pa.DictionaryArray.from_arrays(pa.array(codes, mask=codes < 0), values).dictionary_decode()
    if kind == "bool":  # read as 1.0 / 0.0 / NaN: written back as a nullable boolean
        return pa.array(col == 1.0, mask=np.isnan(col))
    if kind == "int":
        return pa.array(col, pa.int64())
    return pa.array(col, pa.float64(), mask=np.isnan(col))


def session_table(frame: Frame, session: str) -> tuple[Any, list[str], list[str]]:
    """The events of one session as an Arrow table in the dataset's layout (partition columns included),
    with the families and days it holds."""
    import pyarrow as pa

    cols: dict[str, Any] = {}
    for f, spec in EVENT.items():
        if f in frame:
            cols[f.value] = _arrow_column(frame[f], spec.kind)
    cols[SOURCE] = _arrow_column(frame.labels(SOURCE), "str")
    cols[SESSION] = pa.DictionaryArray.from_arrays(pa.array(np.zeros(frame.n, dtype=np.int32)), pa.array([session]))
    codes = frame.labels(Field.EVENT_CODE)
    fam = codes.recode(family_of)
    cols[FAMILY] = _arrow_column(fam, "str")
    days = frame[Field.TS_NS] // NS_PER_DAY
    uniq, inv = np.unique(days, return_inverse=True)
    names = [str(np.datetime64(int(d), "D")) for d in uniq.tolist()]
    cols[DATE] = pa.DictionaryArray.from_arrays(pa.array(inv.astype(np.int32)), pa.array(names, pa.string()))
    return pa.table(cols), sorted(fam.counts()), names


def export_sessions(sessions: list[Path], out_dir: Path) -> dict[str, Any]:
    """Write ``sessions`` into the dataset ``out_dir``; what was written and read past, per session."""
    import pyarrow.dataset as ds

    out_dir.mkdir(parents=True, exist_ok=True)
    done = []
    for session in sessions:
        name = session.resolve().name
        data = read_session(session, orders=False, sort=True)
        for old in out_dir.glob(f"{DATE}=*/{FAMILY}=*/{name}-*.parquet"):
            old.unlink()  # a re-export replaces the session's files
        table, families, days = session_table(data.events, name)
        written: list[str] = []
        ds.write_dataset(
            table, out_dir, format="parquet", partitioning=[DATE, FAMILY], partitioning_flavor="hive",
            basename_template=f"{name}-{{i}}.parquet", existing_data_behavior="overwrite_or_ignore",
            min_rows_per_group=1 << 17, max_rows_per_group=1 << 20,
            file_visitor=lambda f, into=written: into.append(f.path),
        )  # fmt: skip
        done.append({
            "session": name, "path": str(session), "events": table.num_rows, "files": len(written),
            "families": families, "days": days,
            "torn_lines": data.report.torn_count, "corrupt_lines": data.report.corrupt_count,
            "off_clock_records": data.report.off_clock_count, "warnings": read_warnings(data.report),
        })  # fmt: skip
    return {
        "out_dir": str(out_dir),
        "sessions": done,
        "events": sum(d["events"] for d in done),
        "files": sum(1 for _ in out_dir.rglob("*.parquet")),
    }
