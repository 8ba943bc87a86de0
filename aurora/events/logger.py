"""JSONL event logger: the canonical record (SPEC §9), one whole line per write, with rotation.

The record's JSON Schema ships beside this module (``event_record.schema.json``); ``EVENT_SCHEMA``
loads it for validators and tests.
"""

from __future__ import annotations

import itertools
import json
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from aurora.events.codes import EventCode, normalize_code
from aurora.events.rotating_jsonl import RotatingJsonl

EVENTS_FILE = "aurora_events.jsonl"
SCHEMA_PATH = Path(__file__).with_name("event_record.schema.json")


def load_event_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def new_run_id() -> str:
    return os.environ.get("AURORA_RUN_ID") or time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]


class EventLogger:
    """Appends canonical event records to ``<session_dir>/<filename>`` (default ``aurora_events.jsonl``).

    Each record is serialized first (orjson) and written with a single ``os.write`` on an ``O_APPEND``
    fd, so concurrent writers never interleave or split a line. Records carry ``seq``, a per-logger
    counter, so a reader can prove none is missing. The file's owner rotates it: passing ``max_bytes``
    and/or ``retention_days`` (or ``rotate=True``) turns on daily + size rotation, gzip and retention;
    without them (an occasional writer into someone else's file) lines are only appended.
    ``listener(code)`` is called after each write (the gate counts ``aurora_events_emitted_total``).
    """

    def __init__(
        self,
        session_dir: Path | str,
        run_id: str | None = None,
        filename: str = EVENTS_FILE,
        *,
        max_bytes: int | None = None,
        retention_days: int | None = None,
        listener: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.time,
        rotate: bool | None = None,
    ) -> None:
        self.session_dir = Path(session_dir)
        self.session_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.session_dir / filename
        self.run_id = run_id or new_run_id()
        self.listener = listener
        self._seq = itertools.count(1)
        if rotate is None:  # the owner of a file says so by asking for rotation limits
            rotate = max_bytes is not None or retention_days is not None
        self._file = RotatingJsonl(
            self.path, max_bytes=max_bytes, retention_days=retention_days, clock=clock, rotate=rotate
        )

    @property
    def file(self) -> RotatingJsonl:
        return self._file

    def emit(self, code: str, details: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
        code = normalize_code(str(code))
        record: dict[str, Any] = {
            "ts_ns": fields.pop("ts_ns", None) or time.time_ns(),
            "run_id": self.run_id,
            "event_code": code,
            "details": details or {},
        }
        for k, v in fields.items():
            if v is not None:
                record[k] = v
        record["seq"] = next(self._seq)
        self._file.write(orjson.dumps(record, default=str) + b"\n")
        if self.listener is not None:
            self.listener(code)
        return record

    def emit_many(self, events: list[tuple[str, dict[str, Any] | None, dict[str, Any]]]) -> list[dict[str, Any]]:
        """Several records in one ``os.write`` (each still a whole line; O_APPEND keeps them together).

        ``events`` holds ``(code, details, fields)`` triples. Used on the gate's hot path, where a decision
        owes two records (``POLICY_DECISION`` and ``GOVERNANCE.*``) and one syscall is cheaper than two.
        """
        records = []
        chunks = []
        now = time.time_ns()
        run_id = self.run_id
        seq = self._seq
        dumps = orjson.dumps
        for code, details, fields in events:
            if type(code) is not EventCode:  # members are canonical already
                code = normalize_code(str(code))
            rec: dict[str, Any] = {
                "ts_ns": fields.get("ts_ns") or now,
                "run_id": run_id,
                "event_code": code,
                "details": details or {},
            }
            for k, v in fields.items():
                if v is not None and k != "ts_ns":
                    rec[k] = v
            rec["seq"] = next(seq)
            chunks.append(dumps(rec, default=str))
            records.append(rec)
        self._file.write(b"\n".join(chunks) + b"\n")
        listener = self.listener
        if listener is not None:
            for rec in records:
                listener(rec["event_code"])
        return records

    def close(self) -> None:
        self._file.close()
