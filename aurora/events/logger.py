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
from aurora.session.files import GATE_EVENTS_FILE

EVENTS_FILE = GATE_EVENTS_FILE
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

    def record(self, code: str, details: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
        """The canonical record of one event, not yet written (``seq`` is given at write time).

        ``fields`` with a ``None`` value are left out; ``ts_ns`` defaults to now.
        """
        if type(code) is not EventCode:  # members are canonical already
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
        return record

    def write_records(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Write canonical records (from :meth:`record`, or built in the same shape by a hot path) with a
        single ``os.write``: each is still a whole line, and O_APPEND keeps them together. Gives each its
        ``seq``; ``listener`` sees each code after the write.
        """
        seq = self._seq
        dumps = orjson.dumps
        if len(records) == 1:
            rec = records[0]
            rec["seq"] = next(seq)
            data = dumps(rec, default=str) + b"\n"
        else:
            parts = []
            for rec in records:
                rec["seq"] = next(seq)
                parts.append(dumps(rec, default=str))
            parts.append(b"")
            data = b"\n".join(parts)
        self._file.write(data)
        listener = self.listener
        if listener is not None:
            for rec in records:
                listener(rec["event_code"])
        return records

    def emit(self, code: str, details: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
        return self.write_records([self.record(code, details, **fields)])[0]

    def close(self) -> None:
        self._file.close()
