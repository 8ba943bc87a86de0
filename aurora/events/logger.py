"""JSONL event logger: the canonical record (SPEC §9), one whole line per write."""

from __future__ import annotations

import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import orjson

from aurora.events.codes import normalize_code

EVENTS_FILE = "aurora_events.jsonl"


def new_run_id() -> str:
    return os.environ.get("AURORA_RUN_ID") or time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]


class EventLogger:
    """Appends canonical event records to ``<session_dir>/aurora_events.jsonl``.

    Each record is serialized first and written with a single ``os.write`` on an ``O_APPEND`` fd,
    so concurrent writers (gate and runner processes) never interleave or split a line.
    """

    def __init__(self, session_dir: Path | str, run_id: str | None = None, filename: str = EVENTS_FILE) -> None:
        self.session_dir = Path(session_dir)
        self.session_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.session_dir / filename
        self.run_id = run_id or new_run_id()
        self._lock = threading.Lock()
        self._fd: int | None = None

    def _open(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        return self._fd

    def emit(self, code: str, details: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
        record: dict[str, Any] = {
            "ts_ns": fields.pop("ts_ns", None) or time.time_ns(),
            "run_id": self.run_id,
            "event_code": normalize_code(str(code)),
            "details": details or {},
        }
        record.update({k: v for k, v in fields.items() if v is not None})
        line = orjson.dumps(record, default=str) + b"\n"
        with self._lock:
            os.write(self._open(), line)
        return record

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
